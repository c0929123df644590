"""called instances (parent_id, parent_element); task-local data (what one task of a multi-instance activity sees beyond the instance's data:
its element variable and loop counter); event subscriptions (what running instances wait for by
message or signal name)

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
    with op.batch_alter_table('bpm_process_instance', schema=None) as batch_op:
        batch_op.add_column(sa.Column('parent_id', sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column('parent_element', sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column('parent_task', sa.String(length=36), nullable=True))
        batch_op.create_index(batch_op.f('ix_bpm_process_instance_parent_id'), ['parent_id'], unique=False)
    op.create_table('bpm_event_subscription',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('instance_id', sa.String(length=36), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=256), nullable=False),
    sa.Column('element_id', sa.String(length=128), nullable=False),
    sa.Column('task_id', sa.String(length=36), nullable=True),
    sa.Column('business_key', sa.String(length=128), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['instance_id'], ['bpm_process_instance.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_event_subscription_name', 'bpm_event_subscription', ['kind', 'name'], unique=False)
    op.create_index(op.f('ix_bpm_event_subscription_instance_id'), 'bpm_event_subscription', ['instance_id'],
                    unique=False)


def downgrade() -> None:
    with op.batch_alter_table('bpm_process_instance', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_bpm_process_instance_parent_id'))
        batch_op.drop_column('parent_task')
        batch_op.drop_column('parent_element')
        batch_op.drop_column('parent_id')
    op.drop_index(op.f('ix_bpm_event_subscription_instance_id'), table_name='bpm_event_subscription')
    op.drop_index('ix_event_subscription_name', table_name='bpm_event_subscription')
    op.drop_table('bpm_event_subscription')
    with op.batch_alter_table('bpm_task', schema=None) as batch_op:
        batch_op.drop_column('local_data')
