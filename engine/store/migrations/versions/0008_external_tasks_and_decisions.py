"""external tasks (work handed to workers by topic) and DMN decision definitions

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 20:20:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('bpm_external_task',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('instance_id', sa.String(length=36), nullable=False),
    sa.Column('process_key', sa.String(length=128), nullable=False),
    sa.Column('element_id', sa.String(length=128), nullable=False),
    sa.Column('name', sa.String(length=256), nullable=True),
    sa.Column('topic', sa.String(length=128), nullable=False),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('worker_id', sa.String(length=128), nullable=True),
    sa.Column('locked_by', sa.String(length=64), nullable=True),
    sa.Column('lock_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('retries', sa.Integer(), nullable=True),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('retry_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('backoff', sa.JSON(), nullable=True),
    sa.Column('error_message', sa.String(length=1000), nullable=True),
    sa.Column('error_details', sa.Text(), nullable=True),
    sa.Column('business_key', sa.String(length=128), nullable=True),
    sa.Column('org_unit', sa.String(length=64), nullable=True),
    sa.Column('local_data', sa.JSON(), nullable=True),
    sa.Column('result', sa.JSON(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['instance_id'], ['bpm_process_instance.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_external_task_fetch', 'bpm_external_task',
                    ['state', 'topic', sa.text('priority DESC'), 'created_at', 'id'], unique=False)
    op.create_index(op.f('ix_bpm_external_task_instance_id'), 'bpm_external_task', ['instance_id'], unique=False)
    op.create_table('bpm_decision_definition',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=128), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=256), nullable=True),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('xml', sa.Text(), nullable=False),
    sa.Column('deployed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('deployed_by', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key', 'version')
    )
    op.create_index(op.f('ix_bpm_decision_definition_key'), 'bpm_decision_definition', ['key'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_bpm_decision_definition_key'), table_name='bpm_decision_definition')
    op.drop_table('bpm_decision_definition')
    op.drop_index(op.f('ix_bpm_external_task_instance_id'), table_name='bpm_external_task')
    op.drop_index('ix_external_task_fetch', table_name='bpm_external_task')
    op.drop_table('bpm_external_task')
