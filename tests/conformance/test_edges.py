"""Edges of calls, signals and messages found in review: an incident or a suspension elsewhere
does not touch a called instance; a called instance's end waits for a caller that cannot go on
yet; a call activity in a loop or a multi-instance body starts one child per pass; a called
instance ends with its call activity whatever its state; a receiver's payload form does not
block a thrower; message correlation compares only what the sender may send to; compensation
sees work of every parallel branch; a moved token carries the current data; instances from
before event subscriptions are found again after `bpm init`."""

from __future__ import annotations

from sqlalchemy import delete, select

from engine.scheduling.timers import fire_due
from engine.store.models import EventSubscription
from tests.conformance.models import after, boundary, catch, chain, document, flow, script, throw, user_task
from tests.conformance.runner import Run, deploy, start
from tests.conformance.runner import instance as _inst
from tests.conformance.runner import open_elements as _open
from tests.conformance.test_calls import ERRORS, _call, _child, _complete, _parent
from tests.conformance.test_compensation import _compensable
from tests.conformance.test_signals_messages import _sendable, _sig

START, END, END2 = '<bpmn:startEvent id="start" />', '<bpmn:endEvent id="end" />', '<bpmn:endEvent id="end2" />'


def _statuses(api, parent):
    return [c["status"] for c in _inst(api, parent)["children"]]


def test_an_incident_in_another_branch_keeps_the_called_instance(api):
    deploy(api, _child(), document("pp", "\n".join([
        START, '<bpmn:parallelGateway id="fork" />', '<bpmn:parallelGateway id="join" />',
        _call(), user_task("u"), script("bad", "y = missing + 1"), END,
        flow("f0", "start", "fork"), flow("f1", "fork", "call"), flow("f2", "fork", "u"),
        flow("f3", "u", "bad"), flow("f4", "bad", "join"), flow("f5", "call", "join"), flow("f6", "join", "end")]), ERRORS))
    parent = start(api, "pp", "BK-1")
    _complete(api, parent, "u", "counter_staff")
    assert _inst(api, parent)["status"] == "incident" and _statuses(api, parent) == ["running"]
    r = api.post(f"/api/process-instances/{parent}/retry", "admin", json={"data": {"missing": 1}})
    assert r.status_code == 200, r.get_json()
    assert _statuses(api, parent) == ["running"]  # the same child, not a second one
    assert _inst(api, parent)["waiting_at"] == ["call"]


def test_a_suspended_caller_keeps_its_called_instance_and_gets_its_end_on_resume(api, engine):
    deploy(api, _child(), document("sp", "\n".join([START, _call(), user_task("after"), END,
                                                    chain("start", "call", "after", "end")]), ERRORS))
    parent = start(api, "sp", "BK-2")
    child = _inst(api, parent)["children"][0]["id"]
    assert api.post(f"/api/process-instances/{parent}/suspend", "admin", json={"reason": "check"}).status_code == 200
    r = api.post(f"/api/process-instances/{parent}/variables", "admin", json={"data": {"z": 1}, "reason": "fix"})
    assert r.status_code == 200 and _inst(api, parent)["waiting_at"] == ["call"]
    assert _inst(api, child)["status"] == "running"
    _complete(api, child, "review", "hall_manager", {"amount": 1})
    assert _inst(api, child)["status"] == "completed" and _open(api, parent) == []  # held while suspended
    assert api.post(f"/api/process-instances/{parent}/resume", "admin", json={"reason": "done"}).status_code == 200
    assert fire_due(engine) == 1
    assert _open(api, parent) == ["after"] and _inst(api, parent)["data"]["approved"] is True


def test_a_call_activity_in_a_loop_starts_one_child_per_pass(api):
    deploy(api, _child(), document("looped", "\n".join([
        START, script("init", "n = 0"), _call(), script("inc", "n = n + 1"),
        '<bpmn:exclusiveGateway id="more" default="done" />', user_task("after"), END,
        chain("start", "init", "call", "inc", "more"), flow("again", "more", "call", "n &lt; 2"),
        flow("done", "more", "after"), flow("fe", "after", "end")]), ERRORS))
    parent = start(api, "looped", "BK-L")
    for turn in range(2):
        children = _inst(api, parent)["children"]
        assert len(children) == turn + 1 and children[-1]["status"] == "running"
        _complete(api, children[-1]["id"], "review", "hall_manager", {"amount": 1})
    assert _open(api, parent) == ["after"] and _statuses(api, parent) == ["completed", "completed"]


def test_a_call_activity_in_a_parallel_multi_instance_subprocess(api):
    sub = ('<bpmn:subProcess id="each" name="each">'
           '<bpmn:multiInstanceLoopCharacteristics camunda:collection="items" camunda:elementVariable="amount" />'
           '<bpmn:startEvent id="s_in" />' + _call() + '<bpmn:endEvent id="e_in" />'
           + chain("s_in", "call", "e_in", prefix="in") + "</bpmn:subProcess>")
    deploy(api, _child(), document("mi", "\n".join([START, script("set", "items = [1, 2, 3]"), sub, user_task("after"),
                                                    END, chain("start", "set", "each", "after", "end")]), ERRORS))
    parent = start(api, "mi", "BK-MI")
    children = _inst(api, parent)["children"]
    assert len(children) == 3
    for c in children:
        assert _open(api, parent) == []
        _complete(api, c["id"], "review", "hall_manager")
    assert _open(api, parent) == ["after"]


def test_a_suspended_called_instance_ends_with_its_call_activity(api, engine):
    deploy(api, _child())
    run = Run(api, engine, _parent("timed", extra=[boundary("late", "call", after("PT2H")), user_task("chase"), END2,
                                                   chain("late", "chase", "end2", prefix="l")]), "timed")
    child = run.instance["children"][0]["id"]
    assert api.post(f"/api/process-instances/{child}/suspend", "admin", json={"reason": "x"}).status_code == 200
    run.wait(hours=3)
    assert run.open == ["chase"] and _inst(api, child)["status"] == "cancelled"


def test_a_receivers_payload_form_does_not_block_a_thrower(api):
    deploy(api, document("waiter_f", "\n".join([START, catch("wait", _sig("ping")), user_task("after"), END,
                                                chain("start", "wait", "after", "end")]),
                         _sendable("signal", "ping", form="simple_note")))
    waiting = start(api, "waiter_f")
    deploy(api, document("shouter2", "\n".join([START, throw("shout", _sig("ping", 1)), user_task("x"), END,
                                                 chain("start", "shout", "x", "end")]), _sendable("signal", "ping", None)))
    r = api.post("/api/process-definitions/shouter2/instances", "counter_staff", json={"data": {}})
    assert r.status_code == 201, r.get_json()
    assert _open(api, waiting) == ["after"]  # reached, without a payload it could not validate


def test_correlation_compares_only_what_the_sender_may_send_to(api):
    deploy(api, document("keyed", "\n".join([START, script("set", "secret_amount = 73000"),
                                              '<bpmn:receiveTask id="rt" messageRef="message_reply" />',
                                              user_task("after"), END, chain("start", "set", "rt", "after", "end")]),
                         _sendable("message", "reply")))
    start(api, "keyed")  # hall-1's
    start(api, "keyed")
    answers = {amount: api.post("/api/messages", "counter_hall2", json={"name": "reply",
                                                                        "correlation": {"secret_amount": amount}})
               for amount in (1000, 73000)}
    assert {a: r.status_code for a, r in answers.items()} == {1000: 404, 73000: 404}  # hall-2 learns nothing
    r = api.post("/api/messages", "counter_staff", json={"name": "reply", "correlation": {"secret_amount": 73000}})
    assert r.status_code == 409 and "instances wait" in r.get_json()["message"]


def test_compensation_sees_the_work_of_every_parallel_branch(api, engine):
    a = _compensable("a", "undo_a", script("undo_a", "undone_a = True"))
    b = _compensable("b", "undo_b", script("undo_b", "undone_b = True"))
    xml = document("par_comp", "\n".join([
        START, '<bpmn:parallelGateway id="fork" />', '<bpmn:parallelGateway id="join" />',
        script("a", "did_a = True"), user_task("b_wait"), script("b", "did_b = True"), user_task("decide"),
        '<bpmn:endEvent id="cancelled"><bpmn:compensateEventDefinition id="c1" /></bpmn:endEvent>', a[0], b[0],
        flow("f0", "start", "fork"), flow("f1", "fork", "a"), flow("f2", "fork", "b_wait"), flow("f3", "b_wait", "b"),
        flow("f4", "a", "join"), flow("f5", "b", "join"), flow("f6", "join", "decide"), flow("f7", "decide", "cancelled")]))
    run = Run(api, engine, xml.replace("</bpmn:process>", a[1] + b[1] + "</bpmn:process>"), "par_comp")
    run.complete("b_wait")
    run.complete("decide")
    assert run.status == "completed" and run.data.get("undone_a") and run.data.get("undone_b")


def test_a_moved_token_carries_the_current_data(api, engine):
    run = Run(api, engine, document("mod_data", "\n".join([
        START, '<bpmn:parallelGateway id="fork" />', user_task("u1"), script("set", "x = 5"), user_task("u2"),
        user_task("u3"), END, END2, '<bpmn:endEvent id="end3" />',
        flow("f0", "start", "fork"), flow("f1", "fork", "u1"), flow("f2", "fork", "set"), flow("f3", "set", "u2"),
        flow("f4", "u1", "end"), flow("f5", "u2", "u3"), flow("f6", "u3", "end3")])), "mod_data")
    r = api.post(f"/api/process-instances/{run.id}/modification", "admin",
                 json={"reason": "redo", "instructions": [{"type": "cancel", "element_id": "u2"},
                                                          {"type": "start_before", "element_id": "u3"}]})
    assert r.status_code == 200, r.get_json()
    task = run.task("u3")
    assert api.get(f"/api/tasks/{task['id']}", "counter_staff").get_json()["data"]["x"] == 5


def test_bpm_init_records_what_older_instances_wait_for(api, engine):
    from engine.runtime.events import backfill_subscriptions

    deploy(api, document("old_waiter", "\n".join([START, catch("wait", _sig("ping")), user_task("after"), END,
                                                  chain("start", "wait", "after", "end")]), _sendable("signal", "ping")))
    iid = start(api, "old_waiter")
    with engine.db.transaction() as session:  # as after an upgrade from before the table existed
        session.execute(delete(EventSubscription))
    assert api.post("/api/signals", "counter_staff", json={"name": "ping"}).get_json()["delivered"] == []
    assert backfill_subscriptions(engine) == 1 and backfill_subscriptions(engine) == 0
    with engine.read() as session:
        assert session.execute(select(EventSubscription.element_id)).scalars().all() == ["wait"]
    assert api.post("/api/signals", "counter_staff", json={"name": "ping"}).get_json()["delivered"] == [iid]
