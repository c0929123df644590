"""Tasks as BPMN 2.0 defines them: ``bpmn:task`` and ``bpmn:manualTask`` have no behaviour in
the engine (the token passes through them, as in Camunda and Flowable); nobody is left with a
step nobody may complete."""

from __future__ import annotations

from tests.conformance.models import tasks_without_behaviour


def test_plain_and_manual_tasks_pass_through(api):
    r = api.deploy_xml(tasks_without_behaviour("pass_through"))
    assert r.status_code == 201, r.get_json()
    r = api.post("/api/process-definitions/pass_through/instances", "counter_staff", json={"data": {}})
    assert r.status_code == 201, r.get_json()
    inst = r.get_json()
    assert [t["element_id"] for t in inst["open_tasks"]] == ["after"]
    assert {"start", "plain", "manual"} <= set(inst["completed_elements"])
    r = api.post(f"/api/tasks/{inst['open_tasks'][0]['id']}/complete", "counter_staff", json={"data": {"note": "ok"}})
    assert r.status_code == 200, r.get_json()
    done = api.get(f"/api/process-instances/{inst['id']}", "counter_staff").get_json()
    assert done["status"] == "completed" and done["open_tasks"] == []
    timeline = api.get(f"/api/process-instances/{inst['id']}/timeline", "auditor").get_json()["events"]
    created = [e["element_id"] for e in timeline if e["action"] == "task_created"]
    assert created == ["after"]  # no tasklist row for the steps without behaviour
