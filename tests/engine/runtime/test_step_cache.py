"""What a process keeps between steps (the live workflow of an instance, the audit chain's
head) never decides an outcome: another process's step, a step that rolled back, or an
audit append by someone else is seen, and the result is what a fresh load gives."""

from __future__ import annotations

import pytest
from sqlalchemy import select

import engine.app as app_module
from engine.app import BpmEngine
from engine.audit.chain import verify_chain
from engine.identity.actor import Actor
from engine.runtime import tasks
from engine.store.models import AuditEvent, Task

NOTE = {"note": "ok", "amount": 1}
ROLES = ("counter_staff", "duty_manager", "hall_manager", "info_clerk")


def who(role: str) -> Actor:
    return Actor(role, frozenset({role}), org_unit="hall-1")


def open_task(engine, instance_id: str) -> tuple[str, str]:
    with engine.read() as session:
        row = session.execute(select(Task.id, Task.element_id).where(Task.instance_id == instance_id,
                                                                    Task.status == "open")).one()
    return row.id, row.element_id


def complete(engine, role: str, task_id: str, data: dict) -> dict:
    with engine.uow(who(role)) as uow:
        _task, inst = tasks.complete(engine, uow, task_id, data)
        return inst.data


def audit_actions(engine, instance_id: str) -> list[str]:
    with engine.read() as session:
        return list(session.execute(select(AuditEvent.action).where(AuditEvent.instance_id == instance_id)
                                    .order_by(AuditEvent.seq)).scalars())


@pytest.fixture
def started(four_step, engine):
    r = four_step.post("/api/process-definitions/four_step/instances", "counter_staff", json={"data": {}})
    assert r.status_code == 201, r.get_json()
    return r.get_json()["id"]


def test_two_processes_take_turns_on_one_instance_and_each_sees_the_others_step(engine, started):
    other = BpmEngine(engine.settings)  # a second web or worker process on the same database
    try:
        order = [(engine, "first"), (other, "second"), (engine, "third"), (other, "fourth")]
        for (eng, note), role in zip(order, ROLES, strict=True):
            task_id, _element = open_task(eng, started)
            data = complete(eng, role, task_id, {"note": note, "amount": 1})
            assert data["note"] == note
        with engine.read() as session:
            rows = session.execute(select(Task.element_id, Task.completed_by, Task.submitted)
                                   .where(Task.instance_id == started).order_by(Task.created_at)).all()
        assert [(r.element_id, r.completed_by, r.submitted["note"]) for r in rows] == [
            ("t1", "counter_staff", "first"), ("t2", "duty_manager", "second"),
            ("t3", "hall_manager", "third"), ("t4", "info_clerk", "fourth")]
        assert audit_actions(engine, started).count("instance_completed") == 1
        # both processes appended to the one chain, each from the head the other left: no fork, no gap
        with engine.read() as session:
            assert verify_chain(session)["ok"]
        assert engine.workflows.hits >= 1 and other.workflows.hits >= 0
    finally:
        other.close()


def test_a_step_that_rolled_back_leaves_nothing_behind_for_the_next_one(engine, started, monkeypatch):
    first, _ = open_task(engine, started)
    complete(engine, "counter_staff", first, NOTE)  # the workflow is now kept by this process
    second, element = open_task(engine, started)
    assert element == "t2"
    real_append = app_module.append_events

    def dying_append(session, events, **kw):
        raise RuntimeError("the process died before the commit")

    with monkeypatch.context() as m:
        m.setattr(app_module, "append_events", dying_append)
        with pytest.raises(RuntimeError):
            complete(engine, "duty_manager", second, {"note": "lost", "amount": 1})
    monkeypatch.setattr(app_module, "append_events", real_append)
    # the rolled-back step ran t2 on the kept workflow; the retry must start from the stored state
    data = complete(engine, "duty_manager", second, {"note": "kept", "amount": 1})
    assert data["note"] == "kept"
    assert open_task(engine, started)[1] == "t3"
    assert audit_actions(engine, started).count("task_completed") == 2
    with engine.read() as session:
        assert verify_chain(session)["ok"]


def test_an_audit_append_by_another_process_moves_the_head_this_one_remembers(engine, started):
    other = BpmEngine(engine.settings)
    try:
        task_id, _ = open_task(engine, started)
        complete(engine, "counter_staff", task_id, NOTE)
        remembered = engine.audit_head
        with other.uow(who("admin")) as uow:  # any audited change elsewhere
            uow.audit("test_marker", instance_id=started)
        assert other.audit_head[0] > remembered[0]
        task_id, _ = open_task(engine, started)
        complete(engine, "duty_manager", task_id, NOTE)  # from a stale remembered head: re-reads it
        assert engine.audit_head[0] > other.audit_head[0]
        with engine.read() as session:
            assert verify_chain(session)["ok"]
    finally:
        other.close()


def test_without_the_cache_every_step_reloads(four_step, engine, started):
    engine.workflows.size = 0
    engine.workflows.clear()
    for role in ROLES:
        task_id, _ = open_task(engine, started)
        complete(engine, role, task_id, NOTE)
    assert engine.workflows.hits == 0
    assert audit_actions(engine, started).count("instance_completed") == 1


def test_the_instance_list_reads_the_same_number_of_statements_for_3_or_12_rows(four_step, engine):
    """No statement per row (N+1): the page's definitions are read at once."""
    from sqlalchemy import event

    api = four_step

    def statements_for_list() -> int:
        seen = []
        listener = lambda *args: seen.append(args[2])  # noqa: E731 - (conn, cursor, statement, ...)
        event.listen(engine.db.engine, "before_cursor_execute", listener)
        try:
            r = api.get("/api/process-instances?per_page=50", "admin")
        finally:
            event.remove(engine.db.engine, "before_cursor_execute", listener)
        assert r.status_code == 200, r.get_json()
        return len([s for s in seen if s.lstrip().upper().startswith("SELECT")]), r.get_json()["total"]

    for _ in range(3):
        assert api.post("/api/process-definitions/four_step/instances", "counter_staff", json={"data": {}}).status_code == 201
    statements_for_list()  # the caller's first request reads what later ones find cached
    few, total_few = statements_for_list()
    for _ in range(9):
        assert api.post("/api/process-definitions/four_step/instances", "counter_staff", json={"data": {}}).status_code == 201
    many, total_many = statements_for_list()
    assert (total_few, total_many) == (3, 12)
    assert many == few


def test_the_cache_keeps_the_most_recently_stepped_within_its_count_and_bytes():
    from engine.runtime.spiff import WorkflowCache

    cache = WorkflowCache(size=3, max_bytes=1000)
    for n in range(5):
        cache.keep(f"i{n}", 1, 7, f"wf{n}", state_bytes=100)
    assert [cache.take(f"i{n}", 1, 7) for n in range(5)] == [None, None, "wf2", "wf3", "wf4"]  # by count
    cache.keep("a", 1, 7, "A", state_bytes=600)
    cache.keep("b", 1, 7, "B", state_bytes=600)  # over the byte budget: the older one goes
    assert (cache.take("a", 1, 7), cache.take("b", 1, 7)) == (None, "B")
    cache.keep("huge", 1, 7, "H", state_bytes=5000)  # bigger than the whole budget: never kept
    assert cache.take("huge", 1, 7) is None
    cache.keep("c", 2, 7, "C", state_bytes=10)
    assert cache.take("c", 1, 7) is None  # another version: a miss, and the entry is gone
    assert cache.take("c", 2, 7) is None
