"""scoring and reporting jobs: job runs, results, facts, score sheets, inspections

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 09:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

BIGID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('bpm_job_run',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('job', sa.String(length=64), nullable=False),
    sa.Column('period', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('rows', sa.Integer(), nullable=False),
    sa.Column('flow_run_id', sa.String(length=64), nullable=True),
    sa.Column('triggered_by', sa.String(length=64), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('job', 'period', name='uq_job_run_job_period')
    )
    op.create_table('bpm_job_result',
    sa.Column('id', BIGID, autoincrement=True, nullable=False),
    sa.Column('job', sa.String(length=64), nullable=False),
    sa.Column('period', sa.String(length=16), nullable=False),
    sa.Column('unit_key', sa.String(length=64), nullable=True),
    sa.Column('subject_type', sa.String(length=16), nullable=False),
    sa.Column('subject_key', sa.String(length=200), nullable=False),
    sa.Column('subject_label', sa.String(length=200), nullable=True),
    sa.Column('metrics', sa.JSON(), nullable=False),
    sa.Column('rank', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('bpm_job_result', schema=None) as batch_op:
        batch_op.create_index('ix_job_result_job_period', ['job', 'period'], unique=False)
        batch_op.create_index('ix_job_result_subject', ['subject_type', 'subject_key'], unique=False)

    op.create_table('bpm_fact',
    sa.Column('id', BIGID, autoincrement=True, nullable=False),
    sa.Column('period', sa.String(length=16), nullable=False),
    sa.Column('subject_key', sa.String(length=64), nullable=False),
    sa.Column('metric', sa.String(length=64), nullable=False),
    sa.Column('value', sa.Float(), nullable=False),
    sa.Column('source', sa.String(length=200), nullable=False),
    sa.Column('imported_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('imported_by', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('period', 'subject_key', 'metric', name='uq_fact_period_subject_metric')
    )
    op.create_table('bpm_score_sheet',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('job', sa.String(length=64), nullable=False),
    sa.Column('period', sa.String(length=16), nullable=False),
    sa.Column('unit_key', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('instance_id', sa.String(length=36), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decided_by', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('job', 'period', 'unit_key', name='uq_score_sheet')
    )
    op.create_table('bpm_inspection',
    sa.Column('id', BIGID, autoincrement=True, nullable=False),
    sa.Column('instance_id', sa.String(length=36), nullable=False),
    sa.Column('inspected_user', sa.String(length=64), nullable=False),
    sa.Column('inspector', sa.String(length=64), nullable=False),
    sa.Column('unit_key', sa.String(length=64), nullable=True),
    sa.Column('inspected_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('day', sa.String(length=10), nullable=False),
    sa.Column('items', sa.JSON(), nullable=False),
    sa.Column('score', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('instance_id')
    )
    with op.batch_alter_table('bpm_inspection', schema=None) as batch_op:
        batch_op.create_index('ix_inspection_user_day', ['inspected_user', 'day'], unique=False)

    # Indexes the reporting jobs' range scans use.
    with op.batch_alter_table('bpm_task', schema=None) as batch_op:
        batch_op.create_index('ix_task_created', ['created_at'], unique=False)
        batch_op.create_index('ix_task_completed', ['completed_at'], unique=False)
    with op.batch_alter_table('bpm_process_instance', schema=None) as batch_op:
        batch_op.create_index('ix_instance_key_started', ['process_key', 'started_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('bpm_process_instance', schema=None) as batch_op:
        batch_op.drop_index('ix_instance_key_started')
    with op.batch_alter_table('bpm_task', schema=None) as batch_op:
        batch_op.drop_index('ix_task_completed')
        batch_op.drop_index('ix_task_created')
    with op.batch_alter_table('bpm_inspection', schema=None) as batch_op:
        batch_op.drop_index('ix_inspection_user_day')
    op.drop_table('bpm_inspection')
    op.drop_table('bpm_score_sheet')
    op.drop_table('bpm_fact')
    with op.batch_alter_table('bpm_job_result', schema=None) as batch_op:
        batch_op.drop_index('ix_job_result_subject')
        batch_op.drop_index('ix_job_result_job_period')
    op.drop_table('bpm_job_result')
    op.drop_table('bpm_job_run')
