"""Timers on the injected clock: an intermediate timer and an interrupting boundary timer.

Nothing sleeps: the clock is pinned, ``fire_due`` is called by hand, and the clock is
moved past each due time.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

import engine.runtime.tasks as task_service
import engine.scheduling.timers as timer_service
from engine.clock import clock
from engine.scheduling.timers import fire_due
from engine.store.models import Timer
from tests.conftest import deploy_fixture_forms, fixture_text

NOTE = {"note": "ok"}


# --------------------------------------------------------------------------- helpers


def at(value: str) -> datetime:
    return datetime.fromisoformat(value).astimezone(UTC)


def get(api, instance_id):
    r = api.get(f"/api/process-instances/{instance_id}", "admin")
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def complete(api, task_id, user="counter_staff"):
    r = api.post(f"/api/tasks/{task_id}/complete", user, json={"data": NOTE})
    assert r.status_code == 200, r.get_json()
    return r.get_json()["instance"]


def open_elements(inst):
    return [t["element_id"] for t in inst["open_tasks"]]


def timer_rows(engine, instance_id):
    with engine.read() as session:
        rows = session.execute(select(Timer).where(Timer.instance_id == instance_id).order_by(Timer.id)).scalars().all()
        return [(r.element_id, r.state, r.fire_at) for r in rows]


def audit(api, instance_id, action):
    events = api.get(f"/api/process-instances/{instance_id}/timeline", "auditor").get_json()["events"]
    return [e for e in events if e["action"] == action]


@pytest.fixture
def t0():
    """Pin the clock (near real time: the seeded API tokens expire after 24 h)."""
    pinned = datetime.now(UTC).replace(microsecond=0)
    clock.set(pinned)
    yield pinned
    clock.reset()


@pytest.fixture
def timers(api, t0):
    deploy_fixture_forms(api)
    r = api.deploy_xml(fixture_text("timers.bpmn"))
    assert r.status_code == 201, r.get_json()
    return api


def start_and_wait(api):
    """Start an instance and complete ``first``: it now waits on the 1 h timer (due t0 + 1 h)."""
    r = api.post("/api/process-definitions/timers/instances", "counter_staff", json={"data": {}})
    assert r.status_code == 201, r.get_json()
    inst = r.get_json()
    assert open_elements(inst) == ["first"] and inst["pending_timers"] == []
    return complete(api, inst["open_tasks"][0]["id"])


def complete_while_firing(app, engine, token, task_id):
    """Complete ``task_id`` and run the timer worker at the same moment; return the request's outcome."""
    start_line = threading.Barrier(2)
    result = {}

    def user():
        client = app.test_client()
        start_line.wait(timeout=10)
        r = client.post(f"/api/tasks/{task_id}/complete", json={"data": NOTE}, headers={"Authorization": f"Bearer {token}"})
        result["user"] = r.status_code, r.get_json()

    def worker():
        start_line.wait(timeout=10)
        result["fired"] = fire_due(engine)

    threads = [threading.Thread(target=user), threading.Thread(target=worker)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a request or the worker hung"
    return result["user"]


@pytest.fixture
def hold_after_load(engine, monkeypatch):
    """On PostgreSQL: hold the completing request and the timer worker once both have
    loaded the instance, so both work from the same version. (SQLite serializes writers:
    there the second one always starts after the first has committed.)"""
    state = {"barrier": None, "met": 0}
    if not engine.db.is_postgres:
        return state

    def holding(original):
        def load(*args, **kwargs):
            workflow = original(*args, **kwargs)
            if state["barrier"] is not None:
                try:
                    state["barrier"].wait(timeout=5)
                    state["met"] += 1
                except threading.BrokenBarrierError:
                    pass
            return workflow
        return load

    monkeypatch.setattr(task_service, "load_workflow", holding(task_service.load_workflow))
    monkeypatch.setattr(timer_service, "load_workflow", holding(timer_service.load_workflow))
    return state


# --------------------------------------------------------------------------- tests


def test_intermediate_timer_fires_once_when_due(timers, engine, t0):
    api = timers
    inst = start_and_wait(api)
    iid = inst["id"]
    assert inst["open_tasks"] == [] and inst["status"] == "running"
    [pending] = get(api, iid)["pending_timers"]
    assert pending["element_id"] == "wait" and pending["kind"] == "bpmn"
    assert at(pending["fire_at"]) == t0 + timedelta(hours=1)
    assert len(audit(api, iid, "timer_scheduled")) == 1

    clock.advance(timedelta(minutes=59, seconds=59))
    assert fire_due(engine) == 0
    assert get(api, iid)["open_tasks"] == [] and timer_rows(engine, iid) == [("wait", "pending", t0 + timedelta(hours=1))]
    # at the due instant itself the timer is not past due yet (and must not be lost)
    clock.set(t0 + timedelta(hours=1))
    assert fire_due(engine) == 0
    assert get(api, iid)["open_tasks"] == [] and timer_rows(engine, iid) == [("wait", "pending", t0 + timedelta(hours=1))]

    clock.advance(timedelta(milliseconds=1))
    assert fire_due(engine) == 1
    moved = get(api, iid)
    assert open_elements(moved) == ["second"]
    assert "wait" in moved["completed_elements"]
    rows = timer_rows(engine, iid)
    assert rows[0] == ("wait", "fired", t0 + timedelta(hours=1))
    [fired] = audit(api, iid, "timer_fired")
    assert fired["element_id"] == "wait" and fired["actor"] == "system"

    # exactly once: nothing more is due, the task is not duplicated
    assert fire_due(engine) == 0
    assert len(audit(api, iid, "timer_fired")) == 1
    assert open_elements(get(api, iid)) == ["second"]
    assert api.get(f"/api/tasks?scope=candidate&instance={iid}", "counter_staff").get_json()["total"] == 1


def test_boundary_timer_cancels_the_task_and_escalates(timers, engine, t0):
    api = timers
    iid = start_and_wait(api)["id"]
    clock.advance(timedelta(hours=1, seconds=1))
    assert fire_due(engine) == 1
    inst = get(api, iid)
    [second] = inst["open_tasks"]
    assert second["element_id"] == "second"
    [boundary] = inst["pending_timers"]
    assert boundary["element_id"] == "second_timeout"
    assert at(boundary["fire_at"]) == t0 + timedelta(hours=1, minutes=30, seconds=1)
    assert api.post(f"/api/tasks/{second['id']}/claim", "counter_staff").status_code == 200

    clock.advance(timedelta(minutes=29))
    assert fire_due(engine) == 0
    clock.advance(timedelta(minutes=1, seconds=1))
    assert fire_due(engine) == 1
    assert fire_due(engine) == 0

    inst = get(api, iid)
    assert open_elements(inst) == ["escalate"] and inst["pending_timers"] == []
    task = api.get(f"/api/tasks/{second['id']}", "admin").get_json()
    assert task["status"] == "cancelled"
    assert api.get("/api/tasks?scope=mine", "counter_staff").get_json()["items"] == []
    assert api.get("/api/tasks?scope=candidate", "counter_staff").get_json()["items"] == []
    escalations = api.get("/api/tasks?scope=candidate", "duty_manager").get_json()["items"]
    assert [t["element_id"] for t in escalations] == ["escalate"]
    cancelled = audit(api, iid, "task_cancelled")
    assert [e["task_id"] for e in cancelled] == [second["id"]]
    # the cancelled task can no longer be completed
    r = api.post(f"/api/tasks/{second['id']}/complete", "counter_staff", json={"data": NOTE})
    assert r.status_code == 409, r.get_json()

    done = complete(api, escalations[0]["id"], "duty_manager")
    assert done["status"] == "completed" and "end_escalated" in done["completed_elements"]
    assert [s for _, s, _ in timer_rows(engine, iid)] == ["fired", "fired"]


def test_completing_the_task_in_time_cancels_the_boundary_timer(timers, engine):
    api = timers
    iid = start_and_wait(api)["id"]
    clock.advance(timedelta(hours=1, seconds=1))
    assert fire_due(engine) == 1
    [second] = get(api, iid)["open_tasks"]
    clock.advance(timedelta(minutes=10))
    done = complete(api, second["id"])
    assert done["status"] == "completed" and done["pending_timers"] == []
    assert [(e, s) for e, s, _ in timer_rows(engine, iid)] == [("wait", "fired"), ("second_timeout", "cancelled")]
    clock.advance(timedelta(hours=5))
    assert fire_due(engine) == 0
    assert audit(api, iid, "timer_fired")[-1]["element_id"] == "wait"
    assert get(api, iid)["status"] == "completed"


def test_due_timers_of_many_instances_each_fire_once(timers, engine):
    api = timers
    ids = [start_and_wait(api)["id"] for _ in range(3)]
    clock.advance(timedelta(minutes=30))
    late = start_and_wait(api)["id"]  # due 30 minutes after the others
    clock.advance(timedelta(minutes=31))
    assert fire_due(engine) == 3
    assert fire_due(engine) == 0
    for iid in ids:
        assert open_elements(get(api, iid)) == ["second"]
    assert get(api, late)["open_tasks"] == []
    # 31 minutes on: the three "second" tasks time out (boundary timers) and the late
    # instance's wait ends, each timer once
    clock.advance(timedelta(minutes=31))
    assert fire_due(engine) == 4
    assert fire_due(engine) == 0
    for iid in ids:
        assert open_elements(get(api, iid)) == ["escalate"]
    assert open_elements(get(api, late)) == ["second"]
    fired = [state for iid in ids + [late] for _, state, _ in timer_rows(engine, iid)]
    assert fired.count("fired") == 7 and fired.count("pending") == 1


def test_boundary_timer_racing_the_user_completing_the_task(timers, engine, app, tokens, hold_after_load):
    """The worker fires the boundary timer while the user completes the task: exactly one wins."""
    api = timers
    for _ in range(5):
        iid = start_and_wait(api)["id"]
        clock.advance(timedelta(hours=1, seconds=1))
        assert fire_due(engine) == 1
        [second] = get(api, iid)["open_tasks"]
        clock.advance(timedelta(minutes=31))  # the boundary timer is due now
        if engine.db.is_postgres:
            hold_after_load.update(barrier=threading.Barrier(2), met=0)
        status, body = complete_while_firing(app, engine, tokens["counter_staff"], second["id"])
        hold_after_load["barrier"] = None
        assert hold_after_load["met"] == (2 if engine.db.is_postgres else 0)
        assert status in (200, 409), body
        fire_due(engine)  # a worker that lost the race fires (or drops) its timer on the next poll
        inst = get(api, iid)
        rows = {e: s for e, s, _ in timer_rows(engine, iid)}
        if status == 200:  # the user was first: the timer is cancelled and never fires
            assert inst["status"] == "completed" and inst["open_tasks"] == []
            assert rows["second_timeout"] == "cancelled"
            assert [e["element_id"] for e in audit(api, iid, "timer_fired")] == ["wait"]
            assert audit(api, iid, "task_cancelled") == []
        else:  # the timer was first: the task is cancelled and escalated
            assert open_elements(inst) == ["escalate"]
            assert rows["second_timeout"] == "fired"
            assert api.get(f"/api/tasks/{second['id']}", "admin").get_json()["status"] == "cancelled"
            assert [e["element_id"] for e in audit(api, iid, "task_completed")] == ["first"]
        assert inst["pending_timers"] == []


def test_two_timers_of_one_instance_due_together_both_count_as_fired(timers, engine, t0):
    """One worker step fires every due timer of the instance; each row must say so."""
    api = timers
    r = api.deploy_xml(fixture_text("parallel_timers.bpmn"))
    assert r.status_code == 201, r.get_json()
    r = api.post("/api/process-definitions/parallel_timers/instances", "counter_staff", json={"data": {}})
    assert r.status_code == 201, r.get_json()
    iid = r.get_json()["id"]
    pending = get(api, iid)["pending_timers"]
    assert sorted(p["element_id"] for p in pending) == ["wait_a", "wait_b"]
    assert {at(p["fire_at"]) for p in pending} == {t0 + timedelta(hours=1)}

    clock.advance(timedelta(hours=1, seconds=1))
    fire_due(engine)
    assert fire_due(engine) == 0
    assert sorted(open_elements(get(api, iid))) == ["task_a", "task_b"]
    assert sorted((e, s) for e, s, _ in timer_rows(engine, iid)) == [("wait_a", "fired"), ("wait_b", "fired")]
    assert sorted(e["element_id"] for e in audit(api, iid, "timer_fired")) == ["wait_a", "wait_b"]
