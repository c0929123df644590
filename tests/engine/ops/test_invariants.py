"""``bpm check`` (engine/ops/invariants.py) on SQLite and PostgreSQL: a clean history passes,
each kind of damage is reported by the check that names it, and the acknowledgement log
of the load generator is compared with what the database holds.

The history: timer_burst instances (two BPMN timers fired, then a user task) and
one_counter cases through the API, one of them left until its SLA warned, breached and
escalated (timers fired by ``fire_due`` under the pinned engine clock).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import select, text, update

from bpm_cli.main import main as cli
from engine.clock import clock
from engine.identity.actor import SYSTEM
from engine.ops.invariants import check_invariants
from engine.scheduling.timers import fire_due
from engine.store.models import Task, Timer
from tests.conftest import deploy_fixture_forms, fixture_text
from tests.support.business import deploy, open_task, start, work

NOW = datetime(2026, 3, 6, 1, 0, tzinfo=UTC)  # a Friday morning in Beijing


def failing(report: dict) -> set[str]:
    return {name for name, check in report["checks"].items() if not check["ok"]}


@pytest.fixture
def history(api, engine):
    """A small finished-and-running history; returns what a client saw acknowledged."""
    clock.set(NOW)
    deploy_fixture_forms(api)
    assert api.deploy_xml(fixture_text("timer_burst.bpmn")).status_code == 201
    deploy(api, "one_counter")
    ack = {"starts": {}, "completions": {}}
    wake = (NOW + timedelta(seconds=5)).isoformat()
    for _ in range(2):
        inst = start(api, "counter_staff", "timer_burst", {"wake_a": wake, "wake_b": wake})
        ack["starts"][inst["id"]] = "timer_burst"
    cleared = start(api, "counter_staff", "one_counter", {"category": "payment", "customer_phone": "13900139000",
                                                           "description": "缴费", "amount": 50})
    late = start(api, "counter_staff", "one_counter", {"category": "unlock", "customer_phone": "13900139001",
                                                        "description": "解锁"})
    ack["starts"].update({cleared["id"]: "one_counter", late["id"]: "one_counter"})
    task = open_task(api, cleared["id"], "handle")
    work(api, "counter_staff", cleared["id"], "handle", {"outcome": "cleared", "handle_note": "已办结"})
    ack["completions"][task["id"]] = cleared["id"]
    clock.set(NOW + timedelta(minutes=3, seconds=10))  # past the timers and the 3-minute SLA
    assert fire_due(engine) >= 4  # two instance timers steps, SLA warning, breach, escalation
    first = next(iter(ack["starts"]))
    after = open_task(api, first, "after")
    work(api, "counter_staff", first, "after", {"note": "到点办理"})
    ack["completions"][after["id"]] = first
    return {"starts": ack["starts"], "completions": ack["completions"], "late": late["id"], "first": first}


def ack_file(tmp_path, history, extra=()):
    path = tmp_path / "ack.jsonl"
    lines = [{"op": "begin", "at": (NOW - timedelta(minutes=1)).isoformat()}]
    lines += [{"op": "start", "instance_id": i, "process": p, "user": "counter_staff"} for i, p in history["starts"].items()]
    lines += [{"op": "complete", "task_id": t, "instance_id": i, "user": "counter_staff"}
              for t, i in history["completions"].items()]
    path.write_text("\n".join(json.dumps(x) for x in [*lines, *extra]) + "\n")
    return path


def test_a_clean_history_passes_every_check(engine, history, tmp_path):
    report = check_invariants(engine, ack=ack_file(tmp_path, history), overdue_tolerance=None)
    assert report["ok"], json.dumps(report, indent=2, default=str)
    checks = report["checks"]
    assert checks["instances"]["states_loaded"] == checks["instances"]["unfinished"] == 2
    assert checks["timers_fired_once"]["fired"] == {"bpmn": 4, "sla": 3}
    assert checks["completed_once"]["completed_tasks"] == 2
    assert checks["acknowledged"]["acknowledged_starts"] == 4
    assert checks["acknowledged"]["db_completions_by_load_users"] == 2
    assert checks["audit_chain"]["checked"] > 0
    assert checks["completed_at_an_end"]["completed"] == 2


def test_task_row_left_open_for_a_finished_instance(engine, history):
    iid = next(i for i, p in history["starts"].items() if p == "one_counter" and i != history["late"])
    with engine.db.transaction() as session:
        session.execute(update(Task).where(Task.instance_id == iid).values(status="open"))
    report = check_invariants(engine, overdue_tolerance=None)
    assert failing(report) == {"finished", "completed_once"}
    assert report["checks"]["finished"]["examples"][0]["instance"] == iid
    assert "row is open" in report["checks"]["completed_once"]["examples"][0]["problem"]


def test_an_instance_completed_with_a_token_still_active(engine, history):
    """What an engine that stops early leaves behind (a loop cut short at tree depth 1000 used
    to end 'completed' halfway): status completed, no end event reached, a task still active."""
    from engine.store.models import ProcessInstance

    with engine.db.transaction() as session:
        session.execute(update(Task).where(Task.instance_id == history["late"], Task.status == "open")
                        .values(status="cancelled"))
        session.execute(update(Timer).where(Timer.instance_id == history["late"], Timer.state == "pending")
                        .values(state="cancelled"))
        session.execute(update(ProcessInstance).where(ProcessInstance.id == history["late"])
                        .values(status="completed", ended_at=NOW))
    report = check_invariants(engine, overdue_tolerance=None)
    assert "completed_at_an_end" in failing(report)
    [example] = report["checks"]["completed_at_an_end"]["examples"]
    assert example["instance"] == history["late"]
    assert example["end_event"] == "no end event among the elements that ran" and example["still_active"]


def test_timer_fired_twice_and_task_completed_twice(engine, history):
    """A second timer_fired / task_completed event in a valid chain: the engine did it twice."""
    with engine.read() as session:
        timer = session.execute(select(Timer.instance_id, Timer.element_id, Timer.fire_at)
                                .where(Timer.instance_id == history["first"], Timer.kind == "bpmn")).first()
        done = session.execute(select(Task.id, Task.instance_id, Task.element_id).where(Task.status == "completed")).first()
    with engine.uow(SYSTEM) as uow:
        uow.audit("timer_fired", instance_id=timer.instance_id, element_id=timer.element_id, due=timer.fire_at.isoformat())
        uow.audit("task_completed", instance_id=done.instance_id, task_id=done.id, element_id=done.element_id, data={})
    report = check_invariants(engine, overdue_tolerance=None)
    assert failing(report) == {"timers_fired_once", "completed_once"}
    [fired] = report["checks"]["timers_fired_once"]["examples"]
    assert fired["key"] == [timer.instance_id, timer.element_id] and (fired["fired_rows"], fired["audit_events"]) == (1, 2)
    assert report["checks"]["completed_once"]["examples"][0] == {
        "task": done.id, "problem": "completed twice", "task_completed_events": 2}


def test_sla_threshold_fired_without_its_event_and_a_missing_open_task(engine, history):
    with engine.db.transaction() as session:
        warning = session.execute(select(Timer).where(Timer.kind == "sla", Timer.state == "cancelled")).scalars().first()
        warning.state = "fired"
        warning.fired_at = warning.fire_at + timedelta(seconds=1)
        # the escalated task of the late case disappears from the tasklist
        session.execute(text("DELETE FROM bpm_task_candidate WHERE task_id IN "
                             "(SELECT id FROM bpm_task WHERE instance_id = :i AND status = 'open')"), {"i": history["late"]})
        session.execute(text("DELETE FROM bpm_task WHERE instance_id = :i AND status = 'open'"), {"i": history["late"]})
    report = check_invariants(engine, overdue_tolerance=None)
    assert failing(report) == {"timers_fired_once", "instances"}
    assert report["checks"]["timers_fired_once"]["violations"] == 1
    assert report["checks"]["timers_fired_once"]["examples"][0]["problem"] == "fired row without its audit event"
    [live] = report["checks"]["instances"]["examples"]
    assert live["instance"] == history["late"] and live["open_tasks"]["rows_only"] == []
    assert len(live["open_tasks"]["workflow_only"]) == 1


def test_overdue_timer_is_reported_when_no_worker_fires_it(api, engine, history):
    assert check_invariants(engine, overdue_tolerance=60)["ok"]  # fired at the pinned clock: nothing overdue
    wake = (NOW + timedelta(hours=1)).isoformat()
    inst = start(api, "counter_staff", "timer_burst", {"wake_a": wake, "wake_b": wake})
    with engine.db.transaction() as session:  # as if no worker had run for two hours
        session.execute(update(Timer).where(Timer.instance_id == inst["id"]).values(fire_at=NOW - timedelta(hours=1)))
    report = check_invariants(engine, overdue_tolerance=60)
    assert failing(report) == {"timers_on_time"}
    assert {e["instance"] for e in report["checks"]["timers_on_time"]["examples"]} == {inst["id"]}
    assert report["checks"]["timers_on_time"]["violations"] == 2


def test_acknowledgements_missing_from_the_database_or_unexplained(engine, history, tmp_path):
    ghost = {"op": "complete", "task_id": "00000000-0000-0000-0000-000000000000", "instance_id": "x", "user": "counter_staff"}
    report = check_invariants(engine, ack=ack_file(tmp_path, history, [ghost]), overdue_tolerance=None)
    assert failing(report) == {"acknowledged"}
    assert report["checks"]["acknowledged"]["examples"] == [
        {"problem": "acknowledged completion not in the database", "task": ghost["task_id"], "row_status": None}]
    # a start the client never saw acknowledged: explained only by a lost request
    unacked = dict(history, starts={k: v for k, v in history["starts"].items() if k != history["late"]})
    report = check_invariants(engine, ack=ack_file(tmp_path, unacked), overdue_tolerance=None)
    assert failing(report) == {"acknowledged"}
    lost = {"op": "lost", "what": "start", "process": "one_counter", "user": "counter_staff", "status": None}
    report = check_invariants(engine, ack=ack_file(tmp_path, unacked, [lost]), overdue_tolerance=None)
    assert report["ok"] and report["checks"]["acknowledged"]["starts_committed_but_response_lost"] == 1


def test_bpm_check_prints_json_and_exits_1_on_a_violation(engine, history, db, monkeypatch):
    url, _ = db
    monkeypatch.setenv("BPM_DATABASE_URL", url)
    monkeypatch.setenv("BPM_VAR_DIR", str(engine.settings.var_dir))
    runner = CliRunner()
    result = runner.invoke(cli, ["check", "--overdue-tolerance", "-1"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["ok"] is True
    with engine.uow(SYSTEM) as uow:
        done = uow.session.execute(select(Task.id, Task.instance_id, Task.element_id).where(Task.status == "completed")).first()
        uow.audit("task_completed", instance_id=done.instance_id, task_id=done.id, element_id=done.element_id, data={})
    result = runner.invoke(cli, ["check", "--overdue-tolerance", "-1"])
    assert result.exit_code == 1
    assert json.loads(result.output)["checks"]["completed_once"]["violations"] == 1


def test_suspended_and_called_instances_pass_every_check(engine, api, tmp_path):
    """A suspended instance (its timers held) and a caller waiting for its called instance are
    consistent states, not findings."""
    from tests.conformance.models import after, boundary, chain, document, user_task

    deploy_fixture_forms(api)
    child = document("checked_child", '<bpmn:startEvent id="s" />' + user_task("review") + '<bpmn:endEvent id="e" />'
                     + chain("s", "review", "e"), starters="").replace(' camunda:candidateStarterGroups=""', "")
    parent = document("checked_parent", '<bpmn:startEvent id="s" /><bpmn:callActivity id="call" calledElement="checked_child" />'
                      '<bpmn:endEvent id="e" />' + chain("s", "call", "e"))
    timed = document("checked_timed", "\n".join(['<bpmn:startEvent id="s" />', user_task("work"),
                                                  boundary("late", "work", after("PT1H"), False), user_task("chase"),
                                                  '<bpmn:endEvent id="e" /><bpmn:endEvent id="e2" />',
                                                  chain("s", "work", "e"), chain("late", "chase", "e2", prefix="l")]))
    for xml in (child, parent, timed):
        assert api.deploy_xml(xml).status_code == 201
    api.post("/api/process-definitions/checked_parent/instances", "counter_staff", json={"data": {}})
    iid = api.post("/api/process-definitions/checked_timed/instances", "counter_staff", json={"data": {}}).get_json()["id"]
    assert api.post(f"/api/process-instances/{iid}/suspend", "admin", json={"reason": "check"}).status_code == 200
    report = check_invariants(engine, overdue_tolerance=None)
    assert report["ok"], json.dumps(report, indent=2, default=str)
    assert report["checks"]["instances"]["states_loaded"] == 3
