"""case references: a unique human reference per instance (GH-2026-000123), a counter per
prefix and year, and the list fields' values for the case and task lists

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 05:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'bpm_reference_counter',
        sa.Column('prefix', sa.String(length=16), nullable=False),
        sa.Column('year', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('last_number', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('prefix', 'year'),
    )
    with op.batch_alter_table('bpm_process_instance', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reference', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('summary', sa.Text(), nullable=True))
        batch_op.create_unique_constraint('uq_bpm_process_instance_reference', ['reference'])


def downgrade() -> None:
    with op.batch_alter_table('bpm_process_instance', schema=None) as batch_op:
        batch_op.drop_constraint('uq_bpm_process_instance_reference', type_='unique')
        batch_op.drop_column('summary')
        batch_op.drop_column('reference')
    op.drop_table('bpm_reference_counter')
