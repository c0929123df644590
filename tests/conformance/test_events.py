"""Events in the positions the modeler's palette offers, each a small model with its exact path.

Messages are sent through the API as a user would (the model declares who may send them);
timers fire through the injected clock."""

from __future__ import annotations

from tests.conformance.models import (
    after,
    boundary,
    catch,
    chain,
    document,
    flow,
    link,
    message,
    on_message,
    on_signal,
    script,
    signal,
    throw,
    user_task,
    when,
)
from tests.conformance.runner import Run

START, END, END2 = '<bpmn:startEvent id="start" />', '<bpmn:endEvent id="end" />', '<bpmn:endEvent id="end2" />'
ERRORS = ('<bpmn:error id="err_stock" name="缺货 out of stock" errorCode="OUT_OF_STOCK" />'
          '<bpmn:escalation id="esc_late" name="超时 late" escalationCode="LATE" />')


def _doc(key, *parts, defs=""):
    return document(key, "\n".join(parts), defs + message("go") + message("poke") + signal("ping") + ERRORS)


# ------------------------------------------------------------------------------ link events


def test_link_throw_goes_on_at_the_catch_of_the_same_name(api, engine):
    run = Run(api, engine, _doc(
        "links", START, script("a", "x = 1"), throw("to_b", link("B")), catch("from_b", link("B", 1)),
        user_task("after"), END, chain("start", "a", "to_b"), chain("from_b", "after", "end", prefix="d")), "links")
    assert run.status == "running" and run.open == ["after"]
    assert {"a", "to_b", "from_b"} <= run.completed and run.data == {"x": 1}
    run.complete("after")
    assert run.status == "completed"


def test_a_link_without_its_catch_is_refused_at_deploy(api):
    r = api.deploy_xml(_doc("links_bad", START, throw("to_b", link("B")), flow("f", "start", "to_b")))
    assert r.status_code == 422
    errors = r.get_json()["details"]["errors"]
    assert [e["element_id"] for e in errors] == ["to_b"]
    assert "'B'" in errors[0]["message"] and "link catch" in errors[0]["message"]


# ------------------------------------------------------------------------------ event-based gateway


def _race(key, *branches):
    """start -> event-based gateway -> one catch per branch -> a user task named after it -> end."""
    parts = [START, '<bpmn:eventBasedGateway id="g" />', flow("f0", "start", "g")]
    for i, (eid, definition) in enumerate(branches):
        parts += [catch(eid, definition), user_task(f"by_{eid}"), f'<bpmn:endEvent id="end_{eid}" />',
                  flow(f"g{i}", "g", eid), chain(eid, f"by_{eid}", f"end_{eid}", prefix=f"b{i}")]
    return _doc(key, *parts)


def test_event_based_gateway_message_wins_and_the_timer_is_dropped(api, engine):
    run = Run(api, engine, _race("race_msg", ("got_go", on_message("go")), ("hour", after("PT1H"))), "race_msg")
    assert run.status == "running" and run.open == [] and run.timers == ["g"]
    r = run.message("go", {})
    assert r.status_code == 200, r.get_json()
    assert run.open == ["by_got_go"] and run.timers == []
    assert run.wait(hours=2) == 0  # the timer branch is gone
    assert run.open == ["by_got_go"]
    assert run.message("go").status_code == 409  # nothing waits for it any more


def test_event_based_gateway_timer_wins_and_the_message_is_refused(api, engine):
    run = Run(api, engine, _race("race_timer", ("got_go", on_message("go")), ("hour", after("PT1H"))), "race_timer")
    assert run.wait(minutes=59) == 0 and run.open == []
    assert run.wait(minutes=2) == 1
    assert run.open == ["by_hour"] and run.timers == []
    assert run.message("go").status_code == 409


def _race_condition(key):
    """A parallel task ``decide`` sets ``note``; an event-based gateway races ``note == "yes"`` against an hour."""
    return _doc(
        key, START, '<bpmn:parallelGateway id="fork" />', user_task("decide"), END2,
        '<bpmn:eventBasedGateway id="g" />', catch("approved", when('note == "yes"')), catch("hour", after("PT1H")),
        user_task("by_approved"), user_task("by_hour"), END, '<bpmn:endEvent id="end3" />',
        flow("f0", "start", "fork"), flow("f1", "fork", "decide"), flow("f2", "decide", "end2"), flow("f3", "fork", "g"),
        flow("g1", "g", "approved"), flow("g2", "g", "hour"), chain("approved", "by_approved", "end", prefix="a"),
        chain("hour", "by_hour", "end3", prefix="h"))


def test_event_based_gateway_conditional_branch_fires_when_the_data_arrives(api, engine):
    run = Run(api, engine, _race_condition("race_cond"), "race_cond")
    assert run.open == ["decide"] and run.timers == ["g"]
    run.complete("decide", {"note": "no"})
    assert run.open == [] and run.timers == ["g"]  # false: still waiting
    # nothing else can change the data now; a condition that is false stays false until the timer
    assert run.wait(hours=2) == 1
    assert run.open == ["by_hour"]


def test_event_based_gateway_conditional_branch_true(api, engine):
    run = Run(api, engine, _race_condition("race_cond2"), "race_cond2")
    run.complete("decide", {"note": "yes"})
    assert run.open == ["by_approved"] and run.timers == []
    assert run.data["note"] == "yes"


# ------------------------------------------------------------------------------ catch events


def test_catch_event_with_message_or_timer_goes_on_at_whichever_comes_first(api, engine):
    both = on_message("go") + after("PT1H")
    run = Run(api, engine, _doc("either", START, catch("c", both), user_task("after"), END,
                                chain("start", "c", "after", "end")), "either")
    assert run.timers == ["c"]
    assert run.wait(hours=2) == 1 and run.open == ["after"]
    run2 = Run(api, engine, _doc("either2", START, catch("c", both), user_task("after"), END,
                                 chain("start", "c", "after", "end")), "either2")
    assert run2.message("go").status_code == 200
    assert run2.open == ["after"] and run2.timers == []


def test_receive_task_waits_for_its_message_and_keeps_the_payload(api, engine):
    run = Run(api, engine, _doc("receive", START, '<bpmn:receiveTask id="rt" name="等回执" messageRef="msg_go" />',
                                user_task("after"), END, chain("start", "rt", "after", "end")), "receive")
    assert run.open == [] and run.status == "running"
    assert run.message("poke").status_code == 409
    r = run.message("go")
    assert r.status_code == 200, r.get_json()
    assert run.open == ["after"] and "rt" in run.completed


def test_conditional_catch_waits_for_data_set_by_a_parallel_task(api, engine):
    run = Run(api, engine, _doc(
        "cond_catch", START, '<bpmn:parallelGateway id="fork" />', user_task("fill"), END2,
        catch("ready", when('note == "go"')), user_task("after"), END,
        flow("f0", "start", "fork"), flow("f1", "fork", "fill"), flow("f2", "fill", "end2"), flow("f3", "fork", "ready"),
        chain("ready", "after", "end", prefix="r")), "cond_catch")
    assert run.status == "running" and run.open == ["fill"]  # the condition names data not there yet: false
    run.complete("fill", {"note": "go"})
    assert run.open == ["after"] and run.data["note"] == "go"
    run.complete("after")
    assert run.status == "completed"


# ------------------------------------------------------------------------------ boundary events


def test_non_interrupting_timer_boundary_adds_a_reminder_and_keeps_the_task(api, engine):
    run = Run(api, engine, _doc("reminder", START, user_task("work"), boundary("tb", "work", after("PT1H"), False),
                                user_task("remind"), END, END2, chain("start", "work", "end"),
                                chain("tb", "remind", "end2", prefix="b")), "reminder")
    assert run.timers == ["tb"]
    assert run.wait(hours=2) == 1
    assert run.open == ["remind", "work"]
    run.complete("work")
    run.complete("remind")
    assert run.status == "completed"


def test_interrupting_message_boundary_cancels_the_task(api, engine):
    run = Run(api, engine, _doc("withdraw", START, user_task("work"), boundary("mb", "work", on_message("go")),
                                user_task("handle"), END, END2, chain("start", "work", "end"),
                                chain("mb", "handle", "end2", prefix="b")), "withdraw")
    assert run.message("go").status_code == 200
    assert run.open == ["handle"]
    assert len(run.actions("task_cancelled")) == 1


def test_conditional_boundary_interrupts_when_a_parallel_task_sets_the_data(api, engine):
    run = Run(api, engine, _doc(
        "cond_boundary", START, '<bpmn:parallelGateway id="fork" />', user_task("work"), user_task("flag"),
        boundary("stop", "work", when('note == "stop"')), user_task("stopped"), END, END2, '<bpmn:endEvent id="end3" />',
        flow("f0", "start", "fork"), flow("f1", "fork", "work"), flow("f2", "fork", "flag"), flow("f3", "work", "end"),
        flow("f4", "flag", "end2"), chain("stop", "stopped", "end3", prefix="s")), "cond_boundary")
    assert run.open == ["flag", "work"]
    run.complete("flag", {"note": "stop"})
    assert run.open == ["stopped"]


# ------------------------------------------------------------------------------ signal, error, escalation, terminate


def test_signal_end_event_reaches_the_catch_in_another_branch(api, engine):
    run = Run(api, engine, _doc(
        "signal_end", START, '<bpmn:parallelGateway id="fork" />', catch("heard", on_signal("ping")),
        user_task("first"), throw("shout", on_signal("ping", 1), tag="endEvent"), user_task("after"), END,
        flow("f0", "start", "fork"), flow("f1", "fork", "heard"), flow("f2", "fork", "first"),
        flow("f3", "first", "shout"), chain("heard", "after", "end", prefix="h")), "signal_end")
    assert run.open == ["first"]
    run.complete("first")
    assert run.open == ["after"] and {"shout", "heard"} <= run.completed


def test_signal_throw_interrupts_a_task_through_its_boundary(api, engine):
    run = Run(api, engine, _doc(
        "signal_boundary", START, '<bpmn:parallelGateway id="fork" />', user_task("work"),
        boundary("sb", "work", on_signal("ping")), user_task("trigger"), throw("shout", on_signal("ping", 1)),
        user_task("handled"), END, END2, '<bpmn:endEvent id="end3" />',
        flow("f0", "start", "fork"), flow("f1", "fork", "work"), flow("f2", "fork", "trigger"),
        chain("trigger", "shout", "end2", prefix="t"), flow("f3", "work", "end"), chain("sb", "handled", "end3", prefix="s")),
        "signal_boundary")
    run.complete("trigger")
    assert run.open == ["handled"]


def _sub(*inner):
    return '<bpmn:subProcess id="sub" name="sub"><bpmn:startEvent id="s_start" />' + "".join(inner) + "</bpmn:subProcess>"


def test_error_end_event_leaves_the_subprocess_through_the_error_boundary(api, engine):
    err = '<bpmn:errorEventDefinition id="e1" errorRef="err_stock" />'
    run = Run(api, engine, _doc(
        "error_path", START, _sub(user_task("check"), throw("fail", err, tag="endEvent"),
                                  chain("s_start", "check", "fail", prefix="s")),
        boundary("on_error", "sub", '<bpmn:errorEventDefinition id="e2" errorRef="err_stock" />'),
        user_task("normal"), user_task("handle"), END, END2, chain("start", "sub", "normal", "end"),
        chain("on_error", "handle", "end2", prefix="e")), "error_path")
    assert run.open == ["check"]
    run.complete("check")
    assert run.open == ["handle"] and "normal" not in run.completed


def test_escalation_reaches_a_non_interrupting_boundary_and_the_subprocess_goes_on(api, engine):
    esc = '<bpmn:escalationEventDefinition id="x1" escalationRef="esc_late" />'
    run = Run(api, engine, _doc(
        "escalate", START, _sub(throw("raise_it", esc), user_task("check"), '<bpmn:endEvent id="s_end" />',
                                chain("s_start", "raise_it", "check", "s_end", prefix="s")),
        boundary("on_late", "sub", '<bpmn:escalationEventDefinition id="x2" escalationRef="esc_late" />', False),
        user_task("normal"), user_task("notify"), END, END2, chain("start", "sub", "normal", "end"),
        chain("on_late", "notify", "end2", prefix="e")), "escalate")
    assert run.open == ["check", "notify"]
    run.complete("check")
    assert run.open == ["normal", "notify"]


def test_terminate_end_event_ends_everything(api, engine):
    run = Run(api, engine, _doc(
        "terminate", START, '<bpmn:parallelGateway id="fork" />', user_task("waits"), user_task("decide"),
        throw("stop", '<bpmn:terminateEventDefinition id="t1" />', tag="endEvent"), END,
        flow("f0", "start", "fork"), flow("f1", "fork", "waits"), flow("f2", "fork", "decide"),
        flow("f3", "decide", "stop"), flow("f4", "waits", "end")), "terminate")
    assert run.open == ["decide", "waits"]
    run.complete("decide")
    assert run.status == "completed" and run.open == []
    assert len(run.actions("task_cancelled")) == 1


# ------------------------------------------------------------------------------ event subprocesses


def _event_sub(start_definition: str, interrupting: bool):
    flag = "true" if interrupting else "false"
    return ('<bpmn:subProcess id="on_event" name="on_event" triggeredByEvent="true">'
            f'<bpmn:startEvent id="e_start" isInterrupting="{flag}">{start_definition}</bpmn:startEvent>'
            + script("react", "poked = True") + user_task("handle") + '<bpmn:endEvent id="e_end" />'
            + chain("e_start", "react", "handle", "e_end", prefix="e") + "</bpmn:subProcess>")


def test_message_event_subprocess_non_interrupting(api, engine):
    run = Run(api, engine, _doc("evsub_msg", START, user_task("work"), END, chain("start", "work", "end"),
                                _event_sub(on_message("poke"), False)), "evsub_msg")
    assert run.message("poke").status_code == 200
    assert run.open == ["handle", "work"] and run.data["poked"] is True
    run.complete("handle")
    run.complete("work")
    assert run.status == "completed"


def test_message_event_subprocess_interrupting(api, engine):
    run = Run(api, engine, _doc("evsub_msg_i", START, user_task("work"), END, chain("start", "work", "end"),
                                _event_sub(on_message("poke"), True)), "evsub_msg_i")
    assert run.message("poke").status_code == 200
    assert run.open == ["handle"]
    run.complete("handle")
    assert run.status == "completed" and "end" not in run.completed


def test_timer_event_subprocess_interrupting(api, engine):
    run = Run(api, engine, _doc("evsub_timer", START, user_task("work"), END, chain("start", "work", "end"),
                                _event_sub(after("PT2H"), True)), "evsub_timer")
    assert run.open == ["work"] and run.timers == ["e_start"]
    run.wait(hours=3)
    assert run.open == ["handle"]
    run.complete("handle")
    assert run.status == "completed" and "end" not in run.completed


# ------------------------------------------------------------------------------ multi-instance


def _each(key, sequential: bool):
    seq = ' isSequential="true"' if sequential else ""
    return _doc(key, START, script("init", 'halls = ["一厅", "二厅", "三厅"]'),
                '<bpmn:userTask id="each" name="each" camunda:formKey="simple_note" camunda:candidateGroups="counter_staff">'
                f'<bpmn:multiInstanceLoopCharacteristics{seq} camunda:collection="${{halls}}" camunda:elementVariable="hall" />'
                "</bpmn:userTask>", user_task("after"), END, chain("start", "init", "each", "after", "end"))


def _task_data(run, task_id):
    return run.api.get(f"/api/tasks/{task_id}", "counter_staff").get_json()["data"]


def test_parallel_multi_instance_gives_each_task_its_own_item(api, engine):
    run = Run(api, engine, _each("each_parallel", False), "each_parallel")
    tasks = run.instance["open_tasks"]
    assert [t["element_id"] for t in tasks] == ["each"] * 3
    seen = sorted((_task_data(run, t["id"])["loopCounter"], _task_data(run, t["id"])["hall"]) for t in tasks)
    assert seen == [(0, "一厅"), (1, "二厅"), (2, "三厅")]
    for t in tasks:
        assert api.post(f"/api/tasks/{t['id']}/complete", "counter_staff", json={"data": {"note": "ok"}}).status_code == 200
    assert run.open == ["after"]


def test_sequential_multi_instance_goes_one_item_at_a_time(api, engine):
    run = Run(api, engine, _each("each_sequential", True), "each_sequential")
    order = []
    for _ in range(3):
        tasks = run.instance["open_tasks"]
        assert len(tasks) == 1 and tasks[0]["element_id"] == "each"
        order.append(_task_data(run, tasks[0]["id"])["hall"])
        run.complete("each")
    assert order == ["一厅", "二厅", "三厅"] and run.open == ["after"]


def test_an_event_subprocess_inside_a_subprocess_is_refused(api):
    inner = ('<bpmn:subProcess id="sub"><bpmn:startEvent id="s1" />' + user_task("work") + '<bpmn:endEvent id="s2" />'
             + chain("s1", "work", "s2", prefix="s") + _event_sub(after("PT1H"), True).replace('id="on_event"', 'id="nested"')
             + "</bpmn:subProcess>")
    r = api.deploy_xml(_doc("nested_evsub", START, inner, END, chain("start", "sub", "end")))
    assert r.status_code == 422
    assert [e["element_id"] for e in r.get_json()["details"]["errors"]] == ["nested"]


def test_multi_instance_outputs_are_gathered(api, engine):
    each = ('<bpmn:scriptTask id="double" scriptFormat="python"><bpmn:multiInstanceLoopCharacteristics>'
            "<bpmn:loopDataInputRef>amounts</bpmn:loopDataInputRef><bpmn:loopDataOutputRef>doubled</bpmn:loopDataOutputRef>"
            '<bpmn:inputDataItem id="amount" name="amount" /><bpmn:outputDataItem id="twice" name="twice" />'
            "</bpmn:multiInstanceLoopCharacteristics><bpmn:script>twice = amount * 2</bpmn:script></bpmn:scriptTask>")
    run = Run(api, engine, _doc("gathered", START, script("init", "amounts = [1, 2, 3]"), each, user_task("after"), END,
                                chain("start", "init", "double", "after", "end")), "gathered")
    assert run.open == ["after"] and run.data["doubled"] == [2, 4, 6]
    assert "amount" not in run.data and "twice" not in run.data
