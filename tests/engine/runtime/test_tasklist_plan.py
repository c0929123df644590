"""The tasklists' queries read open tasks only, whatever the history behind them: their plans
(EXPLAIN, on both databases) go through the open-task index ``ix_task_open`` or the status-led
``ix_task_status_assignee``, and the candidate rows they check are those of open tasks (a closed
task's rows are gone), so neither side grows with the history."""

from __future__ import annotations

import pytest
from sqlalchemy import event, text

from engine.identity.auth import actor_by_name
from engine.runtime import tasks


def _statements(engine, actor, scope: str) -> list[tuple[str, object]]:
    """The SQL the tasklist of ``scope`` runs, with its parameters."""
    seen = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        if "bpm_task" in statement and statement.lstrip().upper().startswith("SELECT"):
            seen.append((statement, parameters))

    sa_engine = engine.db.engine
    event.listen(sa_engine, "before_cursor_execute", capture)
    try:
        with engine.read() as session:
            tasks.list_tasks(session, actor, scope, None, 2, 1)  # a later page: the count runs too
    finally:
        event.remove(sa_engine, "before_cursor_execute", capture)
    return seen


def _plan(engine, statement: str, parameters) -> str:
    with engine.db.engine.connect() as conn:
        raw = conn.connection.driver_connection
        if engine.settings.is_sqlite:
            rows = raw.execute("EXPLAIN QUERY PLAN " + statement, parameters).fetchall()
            return "\n".join(str(r[-1]) for r in rows)
        with raw.cursor() as cur:
            cur.execute("SET enable_seqscan = off")  # tiny test tables: ask what it does at scale
            cur.execute("EXPLAIN " + statement, parameters)
            return "\n".join(r[0] for r in cur.fetchall())


@pytest.mark.parametrize("scope", ["candidate", "all", "mine"])
def test_the_tasklist_reads_open_tasks_through_an_open_index_and_candidates_per_task(four_step, engine, scope):
    api = four_step
    for _ in range(3):  # some history: completed tasks and their candidate rows
        inst = api.post("/api/process-definitions/four_step/instances", "counter_staff", json={"data": {}}).get_json()
        task = inst["open_tasks"][0]["id"]
        api.post(f"/api/tasks/{task}/claim", "counter_staff")
        api.post(f"/api/tasks/{task}/complete", "counter_staff", json={"data": {"note": "x"}})
    with engine.read() as session:
        actor = actor_by_name(session, "counter_staff")
    statements = _statements(engine, actor, scope)
    assert len(statements) == 2  # the page and its count
    for statement, parameters in statements:
        plan = _plan(engine, statement, parameters)
        assert "ix_task_open" in plan or "ix_task_status_assignee" in plan, plan
        assert "bpm_task_candidate" in plan or scope == "mine", plan
        assert "SCAN bpm_task\n" not in plan + "\n" and "Seq Scan on bpm_task " not in plan, plan
    # what the candidate side reads: the open tasks' rows only (3 completed tasks left none behind)
    with engine.read() as session:
        rows = session.execute(text("SELECT t.status, COUNT(*) FROM bpm_task_candidate c "
                                    "JOIN bpm_task t ON t.id = c.task_id GROUP BY t.status")).all()
    assert dict(rows) == {"open": 3}  # the next open task of each of the 3 instances
