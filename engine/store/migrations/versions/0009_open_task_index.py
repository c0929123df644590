"""the open tasks in due order, a partial index, and candidate rows for open tasks only: the
tasklists never read completed history

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 21:10:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # closed tasks keep their roles in bpm_task.candidate_groups; their candidate rows only slowed the tasklist
    op.execute("DELETE FROM bpm_task_candidate WHERE task_id IN (SELECT id FROM bpm_task WHERE status <> 'open')")
    op.create_index('ix_task_open', 'bpm_task', ['due_at', 'created_at', 'id'], unique=False,
                    sqlite_where=sa.text("status = 'open'"), postgresql_where=sa.text("status = 'open'"))


def downgrade() -> None:
    op.drop_index('ix_task_open', table_name='bpm_task')
    # the candidate rows of closed tasks are not recreated: no query of version 0008 reads them
