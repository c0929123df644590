"""A way out of every instance: an administrator cancels (terminates) an instance whatever it
waits for, with a reason; its tasks and timers end with it and the timeline says who and why."""

from __future__ import annotations

from engine.scheduling.timers import fire_due
from tests.conformance.models import counting_loop
from tests.conftest import fixture_text


def test_admin_cancels_a_running_instance_with_a_reason(api, engine):
    assert api.deploy_xml(fixture_text("timer_burst.bpmn")).status_code == 201
    r = api.post("/api/process-definitions/timer_burst/instances", "counter_staff",
                 json={"data": {"wake_a": "2099-01-01T00:00:00+00:00", "wake_b": "2099-01-01T00:00:00+00:00"}})
    assert r.status_code == 201, r.get_json()
    iid = r.get_json()["id"]
    assert api.post(f"/api/process-instances/{iid}/cancel", "counter_staff", json={"reason": "x"}).status_code == 403
    assert api.post(f"/api/process-instances/{iid}/cancel", "admin", json={"reason": ""}).status_code == 422
    r = api.post(f"/api/process-instances/{iid}/cancel", "admin", json={"reason": "客户撤回申请 customer withdrew"})
    assert r.status_code == 200, r.get_json()
    done = r.get_json()
    assert done["status"] == "cancelled" and done["ended_at"] is not None
    assert done["open_tasks"] == [] and done["pending_timers"] == []
    assert api.post(f"/api/process-instances/{iid}/cancel", "admin", json={"reason": "again"}).status_code == 409
    events = api.get(f"/api/process-instances/{iid}/timeline", "auditor").get_json()["events"]
    cancelled = [e for e in events if e["action"] == "instance_cancelled"]
    assert len(cancelled) == 1 and cancelled[0]["actor"] == "admin"
    assert cancelled[0]["reason"] == "客户撤回申请 customer withdrew"
    assert fire_due(engine) == 0  # nothing of it fires any more


def test_admin_cancels_an_instance_in_incident(api, engine, small_chunks):
    r = api.deploy_xml(counting_loop("endless", None))
    assert r.status_code == 201, r.get_json()
    iid = api.post("/api/process-definitions/endless/instances", "counter_staff", json={"data": {}}).get_json()["id"]
    while fire_due(engine):
        pass
    assert api.get(f"/api/process-instances/{iid}", "admin").get_json()["status"] == "incident"
    r = api.post(f"/api/process-instances/{iid}/cancel", "admin", json={"reason": "endless loop in the model"})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["status"] == "cancelled"
