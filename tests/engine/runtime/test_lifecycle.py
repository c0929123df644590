"""A whole instance through the REST API: start, tasklist, claim, complete, finish."""

from __future__ import annotations

ROLES = ["counter_staff", "duty_manager", "hall_manager", "info_clerk"]


def _candidate_task(api, user, instance_id):
    r = api.get(f"/api/tasks?scope=candidate&instance={instance_id}", user)
    assert r.status_code == 200, r.get_json()
    items = r.get_json()["items"]
    assert len(items) == 1, items
    return items[0]


def test_four_step_instance_runs_to_completion(four_step):
    api = four_step
    r = api.post("/api/process-definitions/four_step/instances", "counter_staff", json={"business_key": "BK-1", "data": {"customer": "张三"}})
    assert r.status_code == 201, r.get_json()
    inst = r.get_json()
    assert inst["status"] == "running"
    assert inst["business_key"] == "BK-1"
    assert [t["element_id"] for t in inst["open_tasks"]] == ["t1"]
    for i, role in enumerate(ROLES):
        task = _candidate_task(api, role, inst["id"])
        assert task["candidate_groups"] == [role]
        detail = api.get(f"/api/tasks/{task['id']}", role).get_json()
        assert detail["form"]["id"] == "simple_note"
        assert api.post(f"/api/tasks/{task['id']}/claim", role).get_json()["assignee"] == role
        mine = api.get("/api/tasks?scope=mine", role).get_json()["items"]
        assert [t["id"] for t in mine] == [task["id"]]
        r = api.post(f"/api/tasks/{task['id']}/complete", role, json={"data": {"note": f"step {i}", "amount": i}})
        assert r.status_code == 200, r.get_json()
        body = r.get_json()
        assert body["task"]["status"] == "completed"
        assert body["task"]["completed_by"] == role
    final = api.get(f"/api/process-instances/{inst['id']}", "counter_staff").get_json()
    assert final["status"] == "completed"
    assert final["ended_at"] is not None
    assert final["open_tasks"] == []
    assert final["data"]["note"] == "step 3" and final["data"]["customer"] == "张三"
    assert {"t1", "t2", "t3", "t4"} <= set(final["completed_elements"])
    timeline = api.get(f"/api/process-instances/{inst['id']}/timeline", "auditor").get_json()["events"]
    actions = [e["action"] for e in timeline]
    assert actions[0] == "instance_started" and actions[-1] == "instance_completed"
    assert actions.count("task_completed") == 4 and actions.count("task_claimed") == 4
    seqs = [e["seq"] for e in timeline]
    assert seqs == sorted(seqs)


def test_instance_list_filters_by_key_and_status(four_step):
    api = four_step
    ids = [
        api.post("/api/process-definitions/four_step/instances", "counter_staff", json={"data": {}}).get_json()["id"]
        for _ in range(3)
    ]
    r = api.get("/api/process-instances?key=four_step&status=running&per_page=2", "counter_staff")
    page = r.get_json()
    assert page["total"] == 3 and len(page["items"]) == 2
    page2 = api.get("/api/process-instances?key=four_step&status=running&per_page=2&page=2", "counter_staff").get_json()
    assert {i["id"] for i in page["items"] + page2["items"]} == set(ids)
    assert api.get("/api/process-instances?status=completed", "counter_staff").get_json()["total"] == 0
    assert api.get("/api/process-instances?status=bogus", "counter_staff").status_code == 422
    # someone who took no part sees none of them; the manager of the starter's hall sees them all
    assert api.get("/api/process-instances", "counter2").get_json()["total"] == 0
    assert api.get("/api/process-instances", "manager_hall2").get_json()["total"] == 0
    assert api.get("/api/process-instances", "hall_manager").get_json()["total"] == 3
    assert api.get("/api/process-instances", "auditor").get_json()["total"] == 3
