"""security: login throttling per origin, known origins, aggregated failed-login audit, rate
counters, browser sessions apart from API tokens, open tasks bounded to their instance's unit

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 14:00:00.000000
"""

import json

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # consecutive failures are short-lived state: the table is rebuilt with the origin in its key
    op.drop_table('bpm_login_throttle')
    op.create_table('bpm_login_throttle',
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('origin', sa.String(length=64), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('last_failed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('username', 'origin')
    )
    op.create_table('bpm_login_origin',
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('address', sa.String(length=64), nullable=False),
    sa.Column('last_login_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('username', 'address')
    )
    op.create_table('bpm_login_failures',
    sa.Column('address', sa.String(length=64), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('usernames', sa.JSON(), nullable=False),
    sa.Column('first_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('audited_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('address')
    )
    op.create_table('bpm_rate_counter',
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('expires_at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )
    with op.batch_alter_table('bpm_rate_counter', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_bpm_rate_counter_expires_at'), ['expires_at'], unique=False)
    with op.batch_alter_table('bpm_api_token', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=16), server_default='api', nullable=False))
    _bound_open_tasks()


def _bound_open_tasks() -> None:
    """Open tasks of older versions that named no candidateScope were open to the role in every
    unit; the unit boundary applies to them too (engine/identity/policy.py): their instance's unit."""
    conn = op.get_bind()
    rows = conn.execute(sa.text(
        "SELECT t.id, t.properties, i.org_unit FROM bpm_task t JOIN bpm_process_instance i ON i.id = t.instance_id "
        "WHERE t.status = 'open' AND t.org_unit IS NULL AND i.org_unit IS NOT NULL")).all()
    for task_id, props, unit in rows:
        props = json.loads(props) if isinstance(props, str) else (props or {})
        if props.get("candidateScope") in (None, "starter_unit", "instance_unit"):
            conn.execute(sa.text("UPDATE bpm_task SET org_unit = :unit WHERE id = :id"), {"unit": unit, "id": task_id})


def downgrade() -> None:
    with op.batch_alter_table('bpm_api_token', schema=None) as batch_op:
        batch_op.drop_column('kind')
    with op.batch_alter_table('bpm_rate_counter', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_bpm_rate_counter_expires_at'))
    op.drop_table('bpm_rate_counter')
    op.drop_table('bpm_login_failures')
    op.drop_table('bpm_login_origin')
    op.drop_table('bpm_login_throttle')
    op.create_table('bpm_login_throttle',
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('last_failed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('username')
    )
