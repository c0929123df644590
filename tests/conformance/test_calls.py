"""Call activities: the called process runs as an instance of its own, linked both ways, with
its own timeline and task rules; variables go in and out as mapped; its errors and escalations
reach the call activity's boundary events; ending the call activity (or the caller) cancels it."""

from __future__ import annotations

from tests.conformance.models import after, boundary, chain, document, script, user_task
from tests.conformance.runner import Run, start
from tests.conformance.runner import deploy as _deploy
from tests.conformance.runner import instance as _inst
from tests.conformance.runner import open_elements as _open

START, END, END2 = '<bpmn:startEvent id="start" />', '<bpmn:endEvent id="end" />', '<bpmn:endEvent id="end2" />'
ERRORS = ('<bpmn:error id="err_rej" name="驳回 rejected" errorCode="REJECTED" />'
          '<bpmn:escalation id="esc_slow" name="慢 slow" escalationCode="SLOW" />')


def _call(cid="call", process="child", binding="", mappings=None):
    maps = mappings if mappings is not None else (
        '<camunda:in businessKey="#{execution.processBusinessKey}" />'
        '<camunda:in source="amount" target="amount" /><camunda:out source="approved" target="approved" />')
    return (f'<bpmn:callActivity id="{cid}" name="审批子流程" calledElement="{process}"{binding}>'
            f"<bpmn:extensionElements>{maps}</bpmn:extensionElements></bpmn:callActivity>")


def _parent(key="parent", call=None, extra=(), after_call="after"):
    parts = [START, call or _call(), user_task(after_call), END, chain("start", "call", after_call, "end"), *extra]
    return document(key, "\n".join(parts), ERRORS)


def _child(key="child", body=None, version_tag=None):
    parts = body or [START, user_task("review", "hall_manager"), script("decide", "approved = amount &lt; 1000"), END,
                     chain("start", "review", "decide", "end")]
    xml = document(key, "\n".join(parts), ERRORS, starters="")
    if version_tag:
        xml = xml.replace(f'<bpmn:process id="{key}"', f'<bpmn:process id="{key}" camunda:versionTag="{version_tag}"')
    return xml.replace(' camunda:candidateStarterGroups=""', "")


def _start(api, key="parent", business_key="BK-1"):
    return start(api, key, business_key)


def _complete(api, iid, element, user, data=None):
    task = next(t for t in _inst(api, iid)["open_tasks"] if t["element_id"] == element)
    r = api.post(f"/api/tasks/{task['id']}/complete", user, json={"data": {"note": "ok", **(data or {})}})
    assert r.status_code == 200, r.get_json()


def _actions(api, iid):
    return [e["action"] for e in api.get(f"/api/process-instances/{iid}/timeline", "auditor").get_json()["events"]]


def test_the_called_process_runs_as_its_own_instance_and_hands_back_its_result(api):
    _deploy(api, _child(), _parent())
    parent = _start(api, business_key="BK-7")
    p = _inst(api, parent)
    assert p["status"] == "running" and p["open_tasks"] == []
    assert len(p["children"]) == 1 and p["children"][0]["element_id"] == "call"
    child_id = p["children"][0]["id"]
    child = _inst(api, child_id)
    assert child["process_key"] == "child" and child["business_key"] == "BK-7"
    assert child["parent"] == {"id": parent, "element_id": "call"}
    assert _open(api, child_id) == ["review"]
    assert "called_instance_started" in _actions(api, parent) and "instance_started" in _actions(api, child_id)


def test_variables_in_and_out(api):
    _deploy(api, _child(), document("parent_amount", "\n".join([
        START, script("set", "amount = 500"), _call(), user_task("after"), END,
        chain("start", "set", "call", "after", "end")]), ERRORS))
    parent = _start(api, "parent_amount")
    child_id = _inst(api, parent)["children"][0]["id"]
    assert _inst(api, child_id)["data"] == {"amount": 500}
    _complete(api, child_id, "review", "hall_manager")
    assert _inst(api, child_id)["status"] == "completed"
    p = _inst(api, parent)
    assert _open(api, parent) == ["after"] and p["data"]["approved"] is True
    assert p["children"][0]["status"] == "completed"
    assert "called_instance_completed" in _actions(api, parent)


def test_a_called_process_that_finishes_at_once(api):
    _deploy(api, _child("quick", [START, script("work", "approved = True"), END, chain("start", "work", "end")]),
            _parent(call=_call(process="quick")))
    parent = _start(api)
    assert _open(api, parent) == ["after"] and _inst(api, parent)["data"]["approved"] is True


def test_cancelling_the_caller_cancels_the_called_instance(api):
    _deploy(api, _child(), _parent())
    parent = _start(api)
    child_id = _inst(api, parent)["children"][0]["id"]
    r = api.post(f"/api/process-instances/{parent}/cancel", "admin", json={"reason": "撤回 withdrawn"})
    assert r.status_code == 200, r.get_json()
    child = _inst(api, child_id)
    assert child["status"] == "cancelled" and child["open_tasks"] == []


def test_an_interrupting_timer_on_the_call_activity_cancels_the_called_instance(api, engine):
    _deploy(api, _child())
    run = Run(api, engine, _parent("timed", extra=[boundary("late", "call", after("PT2H")), user_task("chase"), END2,
                                                   chain("late", "chase", "end2", prefix="l")]), "timed")
    child_id = run.instance["children"][0]["id"]
    run.wait(hours=3)
    assert run.open == ["chase"]
    assert _inst(api, child_id)["status"] == "cancelled"


def test_an_error_of_the_called_process_reaches_the_boundary_of_the_call_activity(api):
    err = '<bpmn:errorEventDefinition id="e_end" errorRef="err_rej" />'
    _deploy(api, _child("rejecting", [START, user_task("review", "hall_manager"),
                                      f'<bpmn:endEvent id="rejected">{err}</bpmn:endEvent>',
                                      chain("start", "review", "rejected")]))
    _deploy(api, _parent("catches", call=_call(process="rejecting"), extra=[
        boundary("on_reject", "call", '<bpmn:errorEventDefinition id="e_b" errorRef="err_rej" />'),
        user_task("rework"), END2, chain("on_reject", "rework", "end2", prefix="r")]))
    parent = _start(api, "catches")
    child_id = _inst(api, parent)["children"][0]["id"]
    _complete(api, child_id, "review", "hall_manager")
    assert _open(api, parent) == ["rework"]
    assert "called_instance_error" in _actions(api, parent)


def test_an_escalation_of_the_called_process_reaches_a_non_interrupting_boundary(api):
    esc = '<bpmn:escalationEventDefinition id="x_t" escalationRef="esc_slow" />'
    _deploy(api, _child("slow", [START, f'<bpmn:intermediateThrowEvent id="raise">{esc}</bpmn:intermediateThrowEvent>',
                                 user_task("review", "hall_manager"), END, chain("start", "raise", "review", "end")]))
    _deploy(api, _parent("notified", call=_call(process="slow"), extra=[
        boundary("on_slow", "call", '<bpmn:escalationEventDefinition id="x_b" escalationRef="esc_slow" />', False),
        user_task("notify"), END2, chain("on_slow", "notify", "end2", prefix="n")]))
    parent = _start(api, "notified")
    assert _open(api, parent) == ["notify"]
    child_id = _inst(api, parent)["children"][0]["id"]
    _complete(api, child_id, "review", "hall_manager")
    assert _open(api, parent) == ["after", "notify"]


def test_binding_to_a_version_and_to_a_version_tag(api):
    _deploy(api, _child(version_tag="2026-Q4"))
    _deploy(api, _child(body=[START, user_task("other", "hall_manager"), END, chain("start", "other", "end")]))
    _deploy(api, _parent("pinned", call=_call(binding=' camunda:calledElementBinding="version" '
                                                       'camunda:calledElementVersion="1"')))
    _deploy(api, _parent("tagged", call=_call(binding=' camunda:calledElementBinding="versionTag" '
                                                       'camunda:calledElementVersionTag="2026-Q4"')))
    _deploy(api, _parent("newest"))
    for key, version, task in (("pinned", 1, "review"), ("tagged", 1, "review"), ("newest", 2, "other")):
        child_id = _inst(api, _start(api, key))["children"][0]["id"]
        child = _inst(api, child_id)
        assert (child["definition_version"], _open(api, child_id)) == (version, [task]), key


def test_the_called_process_must_be_deployed_and_is_not_startable_by_users(api):
    r = api.deploy_xml(_parent("orphan", call=_call(process="nowhere")))
    assert r.status_code == 422
    assert [e["element_id"] for e in r.get_json()["details"]["errors"]] == ["call"]
    _deploy(api, _child())
    r = api.post("/api/process-definitions/child/instances", "counter_staff", json={"data": {}})
    assert r.status_code == 403  # no candidateStarterGroups: only callers (and administrators) start it
