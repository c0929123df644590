"""Incidents: a failing script or gateway condition stops the instance, an admin retries it."""

from __future__ import annotations

import pytest

from tests.conftest import deploy_fixture_forms, fixture_text

# --------------------------------------------------------------------------- helpers


def start(api, key, data):
    r = api.post(f"/api/process-definitions/{key}/instances", "counter_staff", json={"data": data})
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def get(api, instance_id, user="admin"):
    r = api.get(f"/api/process-instances/{instance_id}", user)
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def retry(api, instance_id, user="admin", data=None):
    return api.post(f"/api/process-instances/{instance_id}/retry", user, json={"data": data} if data is not None else {})


def actions(api, instance_id):
    return [e["action"] for e in api.get(f"/api/process-instances/{instance_id}/timeline", "auditor").get_json()["events"]]


def open_elements(inst):
    return [t["element_id"] for t in inst["open_tasks"]]


@pytest.fixture
def incidents(api):
    deploy_fixture_forms(api)
    for name in ("divide_script.bpmn", "gateway_error.bpmn"):
        r = api.deploy_xml(fixture_text(name))
        assert r.status_code == 201, r.get_json()
    return api


def enter_amount(api, divisor, amount=10):
    """Start ``divide`` with ``divisor`` and complete its first task; return the instance."""
    inst = start(api, "divide", {"divisor": divisor, "customer": "王五"})
    [task] = inst["open_tasks"]
    r = api.post(f"/api/tasks/{task['id']}/complete", "counter_staff", json={"data": {"note": "录入", "amount": amount}})
    assert r.status_code == 200, r.get_json()
    return r.get_json()["instance"]


# --------------------------------------------------------------------------- script task


def test_failing_script_raises_an_incident_that_an_admin_retries_with_corrected_data(incidents):
    api = incidents
    inst = enter_amount(api, divisor=0)
    assert inst["status"] == "incident"
    assert inst["incident"]["element_id"] == "compute"
    assert "ZeroDivisionError" in inst["incident"]["message"] or "division" in inst["incident"]["message"]
    assert inst["open_tasks"] == []
    # nothing entered before the failure is lost
    assert inst["data"]["note"] == "录入" and inst["data"]["amount"] == 10 and inst["data"]["customer"] == "王五"
    assert "total" not in inst["data"]
    assert get(api, inst["id"]) ["status"] == "incident"
    listed = api.get("/api/process-instances?status=incident", "admin").get_json()
    assert [i["id"] for i in listed["items"]] == [inst["id"]]
    assert actions(api, inst["id"]).count("incident_raised") == 1

    # only administrators may retry
    for user in ("counter_staff", "duty_manager", "auditor"):
        r = retry(api, inst["id"], user, {"divisor": 2})
        assert r.status_code == 403, r.get_json()
    assert get(api, inst["id"])["status"] == "incident"

    r = retry(api, inst["id"], data={"divisor": 2})
    assert r.status_code == 200, r.get_json()
    fixed = r.get_json()
    assert fixed["status"] == "running" and fixed["incident"] is None
    assert open_elements(fixed) == ["check"]
    assert fixed["data"]["total"] == 5
    assert fixed["data"]["divisor"] == 2 and fixed["data"]["note"] == "录入" and fixed["data"]["customer"] == "王五"
    assert "compute" in fixed["completed_elements"] and "enter" in fixed["completed_elements"]
    events = actions(api, inst["id"])
    assert events.count("incident_retried") == 1 and events.index("incident_raised") < events.index("incident_retried")

    # the instance is healthy again: it completes, and there is nothing left to retry
    r = api.post(f"/api/tasks/{fixed['open_tasks'][0]['id']}/complete", "duty_manager", json={"data": {"note": "核对"}})
    assert r.status_code == 200, r.get_json()
    done = r.get_json()["instance"]
    assert done["status"] == "completed" and done["data"]["total"] == 5
    assert retry(api, inst["id"], data={"divisor": 3}).status_code == 409


def test_retry_without_a_fix_stays_in_incident_and_loses_nothing(incidents):
    api = incidents
    inst = enter_amount(api, divisor=0, amount=9)
    r = retry(api, inst["id"])
    assert r.status_code == 200, r.get_json()
    again = r.get_json()
    assert again["status"] == "incident" and again["incident"]["element_id"] == "compute"
    assert again["data"]["amount"] == 9 and again["data"]["divisor"] == 0
    r = retry(api, inst["id"], data={"divisor": 3})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["status"] == "running" and r.get_json()["data"]["total"] == 3


def test_retry_errors(incidents):
    api = incidents
    healthy = enter_amount(api, divisor=4)
    assert healthy["status"] == "running" and healthy["data"]["total"] == 2.5
    r = retry(api, healthy["id"], data={"divisor": 1})
    assert r.status_code == 409 and r.get_json()["error"] == "conflict"
    assert get(api, healthy["id"])["data"]["total"] == 2.5
    assert retry(api, "no-such-instance").status_code == 404
    assert retry(api, healthy["id"], "counter_staff").status_code == 403


# --------------------------------------------------------------------------- gateway


def test_gateway_condition_failing_at_runtime_names_the_gateway(incidents):
    api = incidents
    inst = start(api, "gateway_error", {"customer": "赵六"})  # no "priority": the condition cannot be evaluated
    assert inst["status"] == "incident", inst
    assert inst["incident"]["element_id"] == "route"
    assert "priority" in inst["incident"]["message"]
    assert inst["open_tasks"] == [] and inst["data"]["customer"] == "赵六"

    r = retry(api, inst["id"], data={"priority": "high"})
    assert r.status_code == 200, r.get_json()
    fixed = r.get_json()
    assert fixed["status"] == "running" and open_elements(fixed) == ["urgent"]
    assert fixed["data"] == {"customer": "赵六", "priority": "high"}

    other = start(api, "gateway_error", {"priority": "low"})
    assert other["status"] == "running" and open_elements(other) == ["normal"]
