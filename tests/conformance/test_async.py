"""``camunda:asyncBefore`` / ``asyncAfter`` are transaction boundaries: the step before commits,
a worker continues in a transaction of its own. A failure after the boundary is an incident of
the worker's step, not an error of the user's request."""

from __future__ import annotations

from engine.scheduling.timers import fire_due
from tests.conformance.models import chain, document, user_task

START, END = '<bpmn:startEvent id="start" />', '<bpmn:endEvent id="end" />'


def _model(key, attr, code="total = 1 / divisor"):
    return document(key, "\n".join([
        START, user_task("enter"),
        f'<bpmn:scriptTask id="compute" name="计算" scriptFormat="python"{attr}><bpmn:script>{code}</bpmn:script>'
        "</bpmn:scriptTask>", user_task("after"), END, chain("start", "enter", "compute", "after", "end")]))


def _complete(api, iid, element, data):
    inst = api.get(f"/api/process-instances/{iid}", "admin").get_json()
    task = next(t for t in inst["open_tasks"] if t["element_id"] == element)
    return api.post(f"/api/tasks/{task['id']}/complete", "counter_staff", json={"data": {"note": "x", **data}})


def _run(api, key):
    r = api.post(f"/api/process-definitions/{key}/instances", "counter_staff", json={"data": {}})
    assert r.status_code == 201, r.get_json()
    return r.get_json()["id"]


def test_without_a_boundary_a_failing_script_refuses_nothing_but_becomes_an_incident_at_once(api, engine):
    assert api.deploy_xml(_model("sync_fail", "", code="total = 1 / 0")).status_code == 201
    iid = _run(api, "sync_fail")
    r = _complete(api, iid, "enter", {})
    assert r.status_code == 200
    assert api.get(f"/api/process-instances/{iid}", "admin").get_json()["status"] == "incident"


def test_async_before_commits_the_user_step_and_a_worker_runs_the_script(api, engine):
    assert api.deploy_xml(_model("async_ok", ' camunda:asyncBefore="true"', code="total = 21 * 2")).status_code == 201
    iid = _run(api, "async_ok")
    assert _complete(api, iid, "enter", {}).status_code == 200
    inst = api.get(f"/api/process-instances/{iid}", "admin").get_json()
    assert inst["status"] == "running" and inst["open_tasks"] == [] and "total" not in inst["data"]
    assert [t["kind"] for t in inst["pending_timers"]] == ["continue"]
    assert fire_due(engine) == 1
    inst = api.get(f"/api/process-instances/{iid}", "admin").get_json()
    assert inst["data"]["total"] == 42 and [t["element_id"] for t in inst["open_tasks"]] == ["after"]


def test_async_after_the_user_task_has_the_same_boundary(api, engine):
    xml = _model("async_after", "", code="total = 2").replace(
        'camunda:formKey="simple_note" camunda:candidateGroups="counter_staff" />',
        'camunda:formKey="simple_note" camunda:candidateGroups="counter_staff" camunda:asyncAfter="true" />', 1)
    assert api.deploy_xml(xml).status_code == 201
    iid = _run(api, "async_after")
    assert _complete(api, iid, "enter", {}).status_code == 200
    assert "total" not in api.get(f"/api/process-instances/{iid}", "admin").get_json()["data"]
    assert fire_due(engine) == 1
    assert api.get(f"/api/process-instances/{iid}", "admin").get_json()["data"]["total"] == 2


def test_a_failure_after_the_boundary_is_the_workers_incident(api, engine):
    assert api.deploy_xml(_model("async_fail", ' camunda:asyncBefore="true"', code="total = 1 / 0")).status_code == 201
    iid = _run(api, "async_fail")
    assert _complete(api, iid, "enter", {}).status_code == 200
    assert api.get(f"/api/process-instances/{iid}", "admin").get_json()["status"] == "running"
    fire_due(engine)
    inst = api.get(f"/api/process-instances/{iid}", "admin").get_json()
    assert inst["status"] == "incident" and inst["incident"]["element_id"] == "compute"
