"""task-local data: what one task of a multi-instance activity sees beyond the instance's data
(its element variable and loop counter)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 17:40:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('bpm_task', schema=None) as batch_op:
        batch_op.add_column(sa.Column('local_data', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('bpm_task', schema=None) as batch_op:
        batch_op.drop_column('local_data')
