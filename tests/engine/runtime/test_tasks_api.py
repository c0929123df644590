"""Tasks API and starting instances: who sees, claims, completes and starts what.

Every error path is checked for its status *and* for having changed nothing.
"""

from __future__ import annotations

import json

import pytest

from tests.conftest import deploy_fixture_forms, fixture_text

NOTE = {"note": "ok", "amount": 10}
LOOP_ROUNDS = 600  # past the tree depth at which raw SpiffWorkflow stalls (~333 rounds of loop.bpmn)


# --------------------------------------------------------------------------- helpers


def start(api, key="four_step", user="counter_staff", data=None, status=201):
    r = api.post(f"/api/process-definitions/{key}/instances", user, json={"data": data or {}})
    assert r.status_code == status, r.get_json()
    return r.get_json()


def task_ids(api, user, scope="all", instance=None):
    query = f"/api/tasks?scope={scope}" + (f"&instance={instance}" if instance else "")
    r = api.get(query, user)
    assert r.status_code == 200, r.get_json()
    return [t["id"] for t in r.get_json()["items"]]


def only_task(api, instance_id, user="admin"):
    ids = task_ids(api, user, "all", instance_id)
    assert len(ids) == 1, ids
    return ids[0]


def task(api, task_id, user="admin"):
    r = api.get(f"/api/tasks/{task_id}", user)
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def instance(api, instance_id, user="admin"):
    r = api.get(f"/api/process-instances/{instance_id}", user)
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def actions(api, instance_id):
    return [e["action"] for e in api.get(f"/api/process-instances/{instance_id}/timeline", "auditor").get_json()["events"]]


def snapshot(api, instance_id, task_id):
    """Everything a failed request must leave untouched."""
    inst = instance(api, instance_id)
    return inst["status"], inst["data"], inst["open_tasks"], task(api, task_id), actions(api, instance_id)


def assert_error(r, status, code=None):
    assert r.status_code == status, (r.status_code, r.get_json())
    body = r.get_json()
    assert set(body) == {"error", "message", "details"} and body["message"]
    if code:
        assert body["error"] == code
    return body


@pytest.fixture
def start_form_api(api):
    deploy_fixture_forms(api)
    r = api.deploy_xml(fixture_text("start_form.bpmn"))
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["start_form"] == "simple_note"
    return api


# --------------------------------------------------------------------------- tasklist


def test_tasklist_shows_tasks_to_their_candidate_groups_only(four_step):
    api = four_step
    a, b = start(api)["id"], start(api)["id"]
    ta, tb = only_task(api, a), only_task(api, b)
    for user in ("counter_staff", "counter2"):
        assert set(task_ids(api, user, "candidate")) == {ta, tb}
        assert set(task_ids(api, user, "all")) == {ta, tb}
        assert task_ids(api, user, "mine") == []
        assert task_ids(api, user, "candidate", instance=a) == [ta]
    for user in ("duty_manager", "hall_manager", "nobody", "process_owner"):
        for scope in ("mine", "candidate", "all"):
            assert task_ids(api, user, scope) == [], (user, scope)
    for user in ("admin", "auditor"):
        assert set(task_ids(api, user, "all")) == {ta, tb}
        assert task_ids(api, user, "all", instance=b) == [tb]
        assert task_ids(api, user, "candidate") == []  # not in their groups

    # claiming moves the task from everyone's "candidate" to the claimer's "mine"
    assert api.post(f"/api/tasks/{ta}/claim", "counter_staff").status_code == 200
    assert task_ids(api, "counter_staff", "mine") == [ta]
    assert task_ids(api, "counter_staff", "candidate") == [tb]
    assert task_ids(api, "counter2", "candidate") == [tb]
    assert task_ids(api, "counter2", "mine") == []

    # completed tasks leave every list; the next step shows up for its own group
    assert api.post(f"/api/tasks/{ta}/complete", "counter_staff", json={"data": NOTE}).status_code == 200
    assert ta not in task_ids(api, "admin", "all")
    assert task_ids(api, "counter_staff", "mine") == []
    assert len(task_ids(api, "duty_manager", "candidate", instance=a)) == 1


def test_tasklist_rejects_bad_scope_and_anonymous_callers(four_step):
    api = four_step
    start(api)
    body = assert_error(api.get("/api/tasks?scope=everything", "admin"), 422, "validation_failed")
    assert "scope" in body["details"]["errors"]
    assert_error(api.get("/api/tasks?per_page=0", "admin"), 422)
    assert_error(api.get("/api/tasks?scope=all"), 401)


def test_task_detail_has_groups_assignee_due_date_and_form(four_step):
    api = four_step
    inst = start(api, data={"customer": "张三"})
    tid = only_task(api, inst["id"])
    detail = task(api, tid, "counter_staff")
    assert detail["candidate_groups"] == ["counter_staff"]
    assert detail["assignee"] is None and detail["due_at"] is None
    assert detail["status"] == "open" and detail["element_id"] == "t1"
    assert detail["instance_id"] == inst["id"] and detail["process_key"] == "four_step"
    assert detail["form"]["id"] == "simple_note"
    assert [c["key"] for c in detail["form"]["components"]] == ["note", "amount", "approved"]
    assert detail["data"]["customer"] == "张三"
    api.post(f"/api/tasks/{tid}/claim", "counter2")
    assert task(api, tid, "counter_staff")["assignee"] == "counter2"
    # auditors read everything; unknown ids are 404, unrelated roles 403
    assert task(api, tid, "auditor")["id"] == tid
    assert_error(api.get("/api/tasks/does-not-exist", "admin"), 404, "not_found")
    assert_error(api.get(f"/api/tasks/{tid}", "manager_hall2"), 403, "forbidden")
    assert_error(api.get(f"/api/tasks/{tid}", "nobody"), 403, "forbidden")


# --------------------------------------------------------------------------- claim / unclaim


def test_claim_rules(four_step):
    api = four_step
    inst = start(api)["id"]
    tid = only_task(api, inst)
    claim = lambda user: api.post(f"/api/tasks/{tid}/claim", user)  # noqa: E731

    assert_error(claim("duty_manager"), 403, "forbidden")
    assert_error(claim("nobody"), 403)
    assert_error(api.post("/api/tasks/nope/claim", "counter_staff"), 404)
    assert task(api, tid)["assignee"] is None

    r = claim("counter_staff")
    assert r.status_code == 200 and r.get_json()["assignee"] == "counter_staff"
    assert r.get_json()["claimed_at"] is not None
    again = claim("counter_staff")  # idempotent: same assignee, no second audit event
    assert again.status_code == 200 and again.get_json()["assignee"] == "counter_staff"
    assert again.get_json()["claimed_at"] == r.get_json()["claimed_at"]
    assert actions(api, inst).count("task_claimed") == 1

    body = assert_error(claim("counter2"), 409, "conflict")
    assert "counter_staff" in body["message"]
    assert task(api, tid)["assignee"] == "counter_staff"


def test_unclaim_only_by_assignee_or_admin(four_step):
    api = four_step
    inst = start(api)["id"]
    tid = only_task(api, inst)
    unclaim = lambda user: api.post(f"/api/tasks/{tid}/unclaim", user)  # noqa: E731
    assert api.post(f"/api/tasks/{tid}/claim", "counter_staff").status_code == 200

    assert_error(unclaim("counter2"), 403, "forbidden")
    assert_error(unclaim("duty_manager"), 403)
    assert task(api, tid)["assignee"] == "counter_staff"

    r = unclaim("counter_staff")
    assert r.status_code == 200 and r.get_json()["assignee"] is None and r.get_json()["claimed_at"] is None
    assert tid in task_ids(api, "counter2", "candidate")

    assert api.post(f"/api/tasks/{tid}/claim", "counter2").status_code == 200
    r = unclaim("admin")
    assert r.status_code == 200 and r.get_json()["assignee"] is None
    assert actions(api, inst).count("task_unclaimed") == 2

    assert api.post(f"/api/tasks/{tid}/complete", "counter2", json={"data": NOTE}).status_code == 200
    assert_error(unclaim("admin"), 409)
    assert_error(api.post(f"/api/tasks/{tid}/claim", "counter2"), 409)


def test_unclaim_of_an_unclaimed_task_is_refused_to_outsiders(four_step):
    """Someone who may not even read the task must not get it back from unclaim."""
    api = four_step
    tid = only_task(api, start(api)["id"])
    assert_error(api.get(f"/api/tasks/{tid}", "nobody"), 403)
    for user in ("nobody", "duty_manager"):
        r = api.post(f"/api/tasks/{tid}/unclaim", user)
        assert r.status_code == 403, (user, r.status_code, r.get_json())
    # for its candidates releasing an unclaimed task is a harmless no-op
    r = api.post(f"/api/tasks/{tid}/unclaim", "counter2")
    assert r.status_code == 200 and r.get_json()["assignee"] is None


# --------------------------------------------------------------------------- complete


def test_complete_permission_and_state_errors(four_step):
    api = four_step
    inst = start(api)["id"]
    tid = only_task(api, inst)
    complete = lambda user, data=NOTE: api.post(f"/api/tasks/{tid}/complete", user, json={"data": data})  # noqa: E731
    before = snapshot(api, inst, tid)
    assert_error(complete("duty_manager"), 403, "forbidden")
    assert_error(complete("admin"), 403)  # admins read everything but do not do the work
    assert_error(api.post("/api/tasks/nope/complete", "counter_staff", json={"data": NOTE}), 404)
    assert snapshot(api, inst, tid) == before

    assert api.post(f"/api/tasks/{tid}/claim", "counter_staff").status_code == 200
    before = snapshot(api, inst, tid)
    assert_error(complete("counter2"), 409, "conflict")
    assert snapshot(api, inst, tid) == before

    r = complete("counter_staff")
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["task"]["status"] == "completed"
    assert r.get_json()["instance"]["data"]["note"] == "ok"
    body = assert_error(complete("counter_staff"), 409, "conflict")
    assert "completed" in body["message"]
    assert actions(api, inst).count("task_completed") == 1


def test_a_completion_answers_with_the_tasks_the_caller_may_work_next(four_step, engine):
    """A clerk who also reviews goes straight on to the review the completion created; one who
    does not is told there is nothing more for them (the instance still shows its open task)."""
    from engine.identity import auth as identity
    from engine.identity.actor import SYSTEM

    api = four_step
    with engine.uow(SYSTEM) as uow:
        identity.add_user(uow.session, "clerk_reviewer", "demo", ["counter_staff", "duty_manager"], org_unit="hall-1")
    signed_in = api.post("/api/auth/token", json={"username": "clerk_reviewer", "password": "demo"})
    api.tokens["clerk_reviewer"] = signed_in.get_json()["token"]
    for user, expected in (("clerk_reviewer", ["t2"]), ("counter_staff", [])):
        inst = start(api, user=user)
        r = api.post(f"/api/tasks/{inst['open_tasks'][0]['id']}/complete", user, json={"data": NOTE})
        assert r.status_code == 200, r.get_json()
        body = r.get_json()
        assert [t["element_id"] for t in body["instance"]["open_tasks"]] == ["t2"]
        assert [t["element_id"] for t in body["next_tasks"]] == expected, user
        if expected:  # the very task, workable at once
            nxt = body["next_tasks"][0]
            assert nxt["id"] == body["instance"]["open_tasks"][0]["id"] and nxt["status"] == "open"
            assert api.post(f"/api/tasks/{nxt['id']}/complete", user, json={"data": NOTE}).status_code == 200


@pytest.mark.parametrize(
    "data, field",
    [
        ({"amount": 5}, "note"),  # required field missing
        ({"note": "", "amount": 5}, "note"),  # required field empty
        ({"note": "x", "amount": 5000}, "amount"),  # above max 1000
        ({"note": "x", "amount": -1}, "amount"),  # below min 0
        ({"note": "x", "amount": "many"}, "amount"),  # not a number
        ({"note": "x", "bogus": 1}, "bogus"),  # not a field of the form
    ],
)
def test_invalid_form_data_is_rejected_and_changes_nothing(four_step, data, field):
    api = four_step
    inst = start(api, data={"customer": "李四"})["id"]
    tid = only_task(api, inst)
    before = snapshot(api, inst, tid)

    r = api.post(f"/api/tasks/{tid}/complete", "counter_staff", json={"data": data})
    body = assert_error(r, 422, "validation_failed")
    errors = body["details"]["errors"]
    assert isinstance(errors, dict) and field in errors, errors
    assert isinstance(errors[field], list) and errors[field] and all(isinstance(m, str) for m in errors[field])

    assert snapshot(api, inst, tid) == before
    assert task_ids(api, "counter_staff", "candidate", inst) == [tid]


def test_complete_with_malformed_body_is_rejected(four_step):
    api = four_step
    inst = start(api)["id"]
    tid = only_task(api, inst)
    assert_error(api.post(f"/api/tasks/{tid}/complete", "counter_staff", json={"data": "note"}), 422)
    r = api.post(f"/api/tasks/{tid}/complete", "counter_staff", data="not json", content_type="text/plain")
    assert r.status_code in (400, 422), r.get_json()
    assert task(api, tid)["status"] == "open"


# --------------------------------------------------------------------------- starting


def test_only_candidate_starters_may_start(four_step):
    api = four_step
    for user in ("duty_manager", "nobody", "admin", "process_owner"):
        assert_error(api.post("/api/process-definitions/four_step/instances", user, json={"data": {}}), 403, "forbidden")
    assert_error(api.post("/api/process-definitions/no_such_process/instances", "counter_staff", json={"data": {}}), 404)
    assert_error(api.post("/api/process-definitions/four_step/instances", json={"data": {}}), 401)
    assert api.get("/api/process-instances", "admin").get_json()["total"] == 0
    for user in ("counter_staff", "customer_manager"):
        inst = start(api, user=user)
        assert inst["started_by"] == user and inst["status"] == "running"
    assert api.get("/api/process-instances", "admin").get_json()["total"] == 2


def test_start_form_validates_start_data(start_form_api):
    api = start_form_api
    for data, field in [({}, "note"), ({"note": "x", "amount": 2000}, "amount"), ({"note": "x", "extra": 1}, "extra")]:
        r = api.post("/api/process-definitions/start_form/instances", "counter_staff", json={"data": data})
        body = assert_error(r, 422, "validation_failed")
        assert field in body["details"]["errors"], body
    assert api.get("/api/process-instances", "admin").get_json()["total"] == 0
    assert task_ids(api, "admin") == []

    inst = start(api, "start_form", data={"note": "申请", "amount": 7, "approved": True})
    assert inst["data"] == {"note": "申请", "amount": 7, "approved": True}
    assert [t["element_id"] for t in inst["open_tasks"]] == ["review"]
    assert api.get("/api/process-instances", "admin").get_json()["total"] == 1


# --------------------------------------------------------------------------- a long loop


def test_long_loop_through_the_api_does_not_stall(api):
    assert api.deploy_form(json.loads(fixture_text("loop_step.form"))).status_code == 201
    deploy_fixture_forms(api)
    assert api.deploy_xml(fixture_text("loop.bpmn")).status_code == 201
    inst = start(api, "loop", data={"count": 0})
    for i in range(1, LOOP_ROUNDS + 1):
        [open_task] = inst["open_tasks"]
        assert open_task["element_id"] == "work", (i, inst)
        r = api.post(f"/api/tasks/{open_task['id']}/complete", "counter_staff",
                     json={"data": {"done": i == LOOP_ROUNDS, "note": f"round {i}"}})
        assert r.status_code == 200, (i, r.get_json())
        inst = r.get_json()["instance"]
    assert inst["status"] == "completed" and inst["open_tasks"] == []
    assert inst["data"]["count"] == LOOP_ROUNDS and inst["data"]["note"] == f"round {LOOP_ROUNDS}"
    history = api.get(f"/api/process-instances/{inst['id']}/timeline", "auditor").get_json()["events"]
    assert [e["action"] for e in history].count("task_completed") == LOOP_ROUNDS
