"""Suspend and resume, set variables, the incident list and a bulk retry (administrators, with a
reason, audited)."""

from __future__ import annotations

from tests.conformance.models import after, boundary, catch, chain, counting_loop, document, script, user_task, when
from tests.conformance.runner import Run

START, END, END2 = '<bpmn:startEvent id="start" />', '<bpmn:endEvent id="end" />', '<bpmn:endEvent id="end2" />'


def _timed(key):
    return document(key, "\n".join([START, user_task("work"), boundary("late", "work", after("PT1H"), False),
                                    user_task("chase"), END, END2, chain("start", "work", "end"),
                                    chain("late", "chase", "end2", prefix="l")]))


def test_a_suspended_instance_neither_completes_tasks_nor_fires_timers(api, engine):
    run = Run(api, engine, _timed("held"), "held")
    path = f"/api/process-instances/{run.id}"
    assert api.post(f"{path}/suspend", "counter_staff", json={"reason": "x"}).status_code == 403
    r = api.post(f"{path}/suspend", "admin", json={"reason": "客户投诉核查中 under review"})
    assert r.status_code == 200 and r.get_json()["status"] == "suspended"
    assert run.wait(hours=2) == 0  # the reminder's timer is held
    task = run.task("work")
    r = api.post(f"/api/tasks/{task['id']}/complete", "counter_staff", json={"data": {"note": "x"}})
    assert r.status_code == 409 and "suspended" in r.get_json()["message"]
    assert api.post(f"{path}/suspend", "admin", json={"reason": "again"}).status_code == 409
    r = api.post(f"{path}/resume", "admin", json={"reason": "核查完毕 done"})
    assert r.status_code == 200 and r.get_json()["status"] == "running"
    assert run.wait(seconds=1) == 1  # due while suspended: fires at once
    assert run.open == ["chase", "work"]
    run.complete("work")
    actions = [e["action"] for e in api.get(f"{path}/timeline", "auditor").get_json()["events"]]
    assert "instance_suspended" in actions and "instance_resumed" in actions


def test_setting_a_variable_lets_a_conditional_event_fire(api, engine):
    run = Run(api, engine, document("waits_for_data", "\n".join([
        START, catch("ready", when("approved == True")), user_task("after"), END,
        chain("start", "ready", "after", "end")])), "waits_for_data")
    assert run.open == [] and run.status == "running"
    path = f"/api/process-instances/{run.id}/variables"
    assert api.post(path, "counter_staff", json={"data": {"approved": True}, "reason": "x"}).status_code == 403
    r = api.post(path, "admin", json={"data": {"approved": True}, "reason": "经理电话确认 confirmed by phone"})
    assert r.status_code == 200, r.get_json()
    assert run.open == ["after"] and run.data["approved"] is True
    event = [e for e in api.get(f"/api/process-instances/{run.id}/timeline", "auditor").get_json()["events"]
             if e["action"] == "variables_set"][0]
    assert event["after"] == {"approved": True} and event["before"] == {"approved": None}
    assert event["reason"] == "经理电话确认 confirmed by phone"


def test_the_incident_list_and_a_bulk_retry(api, engine, small_chunks):
    assert api.deploy_xml(counting_loop("endless_many", None)).status_code == 201
    ids = [api.post("/api/process-definitions/endless_many/instances", "counter_staff",
                    json={"data": {}}).get_json()["id"] for _ in range(2)]
    from engine.scheduling.timers import fire_due

    while fire_due(engine):
        pass
    assert api.get("/api/incidents", "counter_staff").status_code == 403
    listed = api.get("/api/incidents", "admin").get_json()
    assert {i["instance_id"] for i in listed["items"]} >= set(ids)
    assert all("[limit: steps]" in i["message"] for i in listed["items"] if i["instance_id"] in ids)
    r = api.post("/api/incidents/retry", "admin", json={"instance_ids": [*ids, "no-such-instance"]})
    assert r.status_code == 200
    results = {x["instance_id"]: x for x in r.get_json()["results"]}
    assert all(results[i]["ok"] for i in ids) and results["no-such-instance"]["ok"] is False


def _three_steps(key):
    return document(key, "\n".join([START, user_task("a"), user_task("b"), user_task("c"), END,
                                    chain("start", "a", "b", "c", "end")]))


def test_modification_moves_a_token_and_the_path_goes_on_from_there(api, engine):
    run = Run(api, engine, _three_steps("moved"), "moved")
    path = f"/api/process-instances/{run.id}/modification"
    body = {"instructions": [{"type": "cancel", "element_id": "a"}, {"type": "start_before", "element_id": "c"}],
            "reason": "客户已线下补交材料 papers brought in person"}
    assert api.post(path, "counter_staff", json=body).status_code == 403
    r = api.post(path, "admin", json=body)
    assert r.status_code == 200, r.get_json()
    assert run.open == ["c"] and run.status == "running"
    run.complete("c")
    assert run.status == "completed" and "b" not in run.completed
    event = run.actions("instance_modified")[0]
    assert event["reason"] == "客户已线下补交材料 papers brought in person"


def test_modification_start_after_and_refusals(api, engine):
    run = Run(api, engine, _three_steps("after_a"), "after_a")
    path = f"/api/process-instances/{run.id}/modification"
    r = api.post(path, "admin", json={"instructions": [{"type": "start_after", "element_id": "a"}], "reason": "x"})
    assert r.status_code == 200 and run.open == ["a", "b"]
    r = api.post(path, "admin", json={"instructions": [{"type": "cancel", "element_id": "c"}], "reason": "x"})
    assert r.status_code == 409  # c is not active
    r = api.post(path, "admin", json={"instructions": [{"type": "start_before", "element_id": "nowhere"}], "reason": "x"})
    assert r.status_code == 422
    assert run.open == ["a", "b"]  # refused instructions change nothing
    r = api.post(path, "admin", json={"instructions": [{"type": "cancel", "element_id": "a"},
                                                       {"type": "cancel", "element_id": "b"}], "reason": "作废 void"})
    assert r.status_code == 200 and r.get_json()["status"] == "cancelled"  # nothing left active: it ends


def test_modification_resolves_an_incident(api, engine):
    xml = document("broken", "\n".join([START, user_task("a"), script("boom", "x = 1 / 0"), user_task("fix"), END,
                                        chain("start", "a", "boom", "fix", "end")]))
    run = Run(api, engine, xml, "broken")
    run.complete("a")
    assert run.status == "incident"
    r = api.post(f"/api/process-instances/{run.id}/modification", "admin", json={
        "instructions": [{"type": "cancel", "element_id": "boom"}, {"type": "start_before", "element_id": "fix"}],
        "reason": "手工计算 computed by hand"})
    assert r.status_code == 200, r.get_json()
    assert run.status == "running" and run.open == ["fix"]
