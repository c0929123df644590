"""Identity through the API: throttled logins, user and org-unit administration, org-unit scoping.

Users created here get unique names: on PostgreSQL the seeded users survive between tests,
so tests never change the seeded ones.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from engine.clock import clock
from tests.conftest import fixture_text


def _name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def _login(api, username, password):
    return api.client.post("/api/auth/token", json={"username": username, "password": password})


def _create(api, roles, unit="hall-1", password="correct-horse"):
    username = _name("u")
    r = api.post("/api/users", "admin", json={"username": username, "password": password, "roles": roles,
                                               "org_unit": unit, "display_name": "测试 用户"})
    assert r.status_code == 201, r.get_json()
    return username


def _events(api, action):
    from sqlalchemy import select

    from engine.store.models import AuditEvent

    engine = api.client.application.extensions["bpm"]
    with engine.read() as session:
        rows = session.execute(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)).scalars()
        return [SimpleNamespace(**{c.name: getattr(r, c.name) for c in AuditEvent.__table__.columns}) for r in rows]


@pytest.fixture
def pinned():
    clock.set(datetime(2026, 11, 23, 9, 0, tzinfo=UTC))
    yield clock
    clock.reset()


# --------------------------------------------------------------------------- throttling


@pytest.mark.parametrize("known", [True, False])
def test_failed_logins_slow_down_then_lock_and_are_audited(api, pinned, known):
    username = _create(api, ["counter_staff"]) if known else _name("ghost")
    for _ in range(3):
        assert _login(api, username, "wrong").status_code == 401
    # the 4th attempt within the delay is refused without checking the password
    r = _login(api, username, "correct-horse")
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
    delay = 1
    for attempt in range(4, 7):
        pinned.advance(timedelta(seconds=delay + 0.5))
        assert _login(api, username, "wrong").status_code == 401, attempt
        delay *= 2
    # six consecutive failures: locked for 15 minutes, even with the right password
    pinned.advance(timedelta(minutes=1))
    r = _login(api, username, "correct-horse")
    assert r.status_code == 429 and "locked" in r.get_json()["message"]
    # a burst from one address is audited as few events with their count: the first failure at once,
    # the rest of the burst together with the lock
    failed = [e for e in _events(api, "login_failed") if e.actor == username]
    assert [e.details["failures"] for e in failed] == [1, 5]
    assert failed[-1].details["usernames"] == [username] and failed[-1].details["address"] == "127.0.0.1"
    assert [e.actor for e in _events(api, "account_locked")] == [username]
    pinned.advance(timedelta(minutes=15))
    if known:
        assert _login(api, username, "correct-horse").status_code == 200
        # success resets the count: one more failure is a plain 401
        assert _login(api, username, "wrong").status_code == 401
        assert _login(api, username, "wrong").status_code == 401


def test_admin_can_unlock_a_locked_user(api, pinned):
    username = _create(api, ["counter_staff"])
    for i in range(6):
        pinned.advance(timedelta(seconds=2 ** i + 1))
        assert _login(api, username, "bad").status_code == 401
    assert _login(api, username, "correct-horse").status_code == 429
    assert api.get(f"/api/users/{username}", "admin").get_json()["locked"] is True
    assert api.post(f"/api/users/{username}/unlock", "counter_staff").status_code == 403
    r = api.post(f"/api/users/{username}/unlock", "admin")
    assert r.status_code == 200 and r.get_json()["locked"] is False
    assert _login(api, username, "correct-horse").status_code == 200
    assert _events(api, "account_unlocked")[-1].details["username"] == username


def test_wrong_password_and_unknown_user_look_the_same(api):
    a = _login(api, "counter_staff", "nope")
    b = _login(api, _name("nobody"), "nope")
    assert a.status_code == b.status_code == 401 and a.get_json() == b.get_json()


# --------------------------------------------------------------------------- administration


def test_admin_creates_and_changes_users_with_before_after_audit(api):
    username = _create(api, ["counter_staff"])
    token = _login(api, username, "correct-horse").get_json()["token"]
    auth = {"Authorization": f"Bearer {token}"}
    assert api.client.get("/api/me", headers=auth).get_json()["roles"] == ["counter_staff"]
    r = api.call("PATCH", f"/api/users/{username}", "admin", json={"roles": ["duty_manager"], "org_unit": "hall-2"})
    assert r.status_code == 200 and r.get_json()["roles"] == ["duty_manager"] and r.get_json()["org_unit"] == "hall-2"
    event = [e for e in _events(api, "user_updated") if e.details["username"] == username][-1]
    assert event.actor == "admin" and event.actor_roles == "admin"
    assert event.before["roles"] == ["counter_staff"] and event.after["roles"] == ["duty_manager"]
    assert event.before["org_unit"] == "hall-1" and event.after["org_unit"] == "hall-2"
    # a new password revokes existing tokens and is never written to the audit trail
    r = api.call("PATCH", f"/api/users/{username}", "admin", json={"password": "another-secret"})
    assert r.status_code == 200
    assert api.client.get("/api/me", headers=auth).status_code in (200, 401)  # cached up to 5 s in-process
    from web.auth import forget_token

    forget_token(token)
    assert api.client.get("/api/me", headers=auth).status_code == 401
    last = [e for e in _events(api, "user_updated") if e.details["username"] == username][-1]
    assert last.details["password_changed"] is True and "another-secret" not in str(last.after) + str(last.details)
    assert _login(api, username, "another-secret").status_code == 200


def test_deactivated_user_cannot_log_in(api):
    username = _create(api, ["auditor"])
    assert api.call("PATCH", f"/api/users/{username}", "admin", json={"is_active": False}).status_code == 200
    assert _login(api, username, "correct-horse").status_code == 401
    assert api.get("/api/users", "admin").get_json()["items"]


def test_revoke_tokens_endpoint(api):
    username = _create(api, ["auditor"])
    tokens = [_login(api, username, "correct-horse").get_json()["token"] for _ in range(2)]
    r = api.post(f"/api/users/{username}/revoke-tokens", "admin")
    assert r.status_code == 200 and r.get_json()["revoked"] == 2
    from web.auth import forget_token

    for token in tokens:
        forget_token(token)
        assert api.client.get("/api/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_user_administration_errors(api):
    body = {"username": _name("x"), "password": "long-enough", "roles": ["counter_staff"], "org_unit": "hall-1"}
    assert api.post("/api/users", "counter_staff", json=body).status_code == 403
    assert api.post("/api/users", None, json=body).status_code == 401
    assert api.post("/api/users", "admin", json={**body, "roles": ["janitor"]}).status_code == 422
    assert api.post("/api/users", "admin", json={**body, "org_unit": "mars"}).status_code == 422
    assert api.post("/api/users", "admin", json={**body, "password": "short"}).status_code == 422
    assert api.post("/api/users", "admin", json=body).status_code == 201
    assert api.post("/api/users", "admin", json=body).status_code == 409
    assert api.get("/api/users", "auditor").status_code == 403
    assert api.get("/api/users/counter_staff", "counter_staff").status_code == 200  # oneself
    assert api.get("/api/users/admin", "counter_staff").status_code == 403
    assert api.get("/api/users/no-such-user", "admin").status_code == 404
    assert api.call("PATCH", "/api/users/admin", "admin", json={"roles": ["auditor"]}).status_code == 409


def test_org_units(api):
    key = _name("hall")
    assert api.post("/api/org-units", "hall_manager", json={"key": key, "name": "新厅", "kind": "hall"}).status_code == 403
    r = api.post("/api/org-units", "admin", json={"key": key, "name": "新厅", "kind": "hall", "parent_key": "hall-1"})
    assert r.status_code == 201
    assert api.post("/api/org-units", "admin", json={"key": key, "name": "x", "kind": "hall"}).status_code == 409
    assert api.post("/api/org-units", "admin", json={"key": _name("u"), "name": "x", "kind": "moon"}).status_code == 422
    keys = [u["key"] for u in api.get("/api/org-units", "counter_staff").get_json()["items"]]
    assert key in keys and "hall-1" in keys


# --------------------------------------------------------------------------- org-unit scoping


@pytest.fixture
def scoped(four_step):
    """four_step v2 where the duty manager's review is routed within the starter's hall."""
    xml = fixture_text("four_step.bpmn").replace(
        '<bpmn:userTask id="t2" name="审核 Review" camunda:formKey="simple_note" camunda:candidateGroups="duty_manager" />',
        '<bpmn:userTask id="t2" name="审核 Review" camunda:formKey="simple_note" camunda:candidateGroups="duty_manager">'
        '<bpmn:extensionElements><camunda:properties><camunda:property name="candidateScope" value="starter_unit" />'
        "</camunda:properties></bpmn:extensionElements></bpmn:userTask>",
    )
    assert "starter_unit" in xml
    assert four_step.deploy_xml(xml).status_code == 201
    return four_step


def _to_t2(api, starter):
    inst = api.post("/api/process-definitions/four_step/instances", starter, json={"data": {}}).get_json()
    t1 = inst["open_tasks"][0]["id"]
    r = api.post(f"/api/tasks/{t1}/complete", starter, json={"data": {"note": "登记"}})
    assert r.status_code == 200, r.get_json()
    return inst["id"], r.get_json()["instance"]["open_tasks"][0]["id"]


def test_task_routed_to_the_role_within_the_starters_hall(scoped):
    api = scoped
    inst_id, t2 = _to_t2(api, "counter_hall2")
    assert api.get(f"/api/tasks/{t2}", "duty_hall2").get_json()["org_unit"] == "hall-2"
    visible = lambda user: [t["id"] for t in api.get("/api/tasks?scope=candidate", user).get_json()["items"]]  # noqa: E731
    assert t2 in visible("duty_hall2") and t2 not in visible("duty_manager")
    assert api.post(f"/api/tasks/{t2}/claim", "duty_manager").status_code == 403
    assert api.post(f"/api/tasks/{t2}/complete", "duty_manager", json={"data": {"note": "x"}}).status_code == 403
    # the instance belongs to hall-2: its hall manager may read it, hall-1's may not, not even once
    # t3 (the hall managers' step, bounded to the instance's unit by default) is open
    assert api.get(f"/api/process-instances/{inst_id}", "manager_hall2").status_code == 200
    assert api.get(f"/api/process-instances/{inst_id}", "hall_manager").status_code == 403
    r = api.post(f"/api/tasks/{t2}/complete", "duty_hall2", json={"data": {"note": "好"}})
    assert r.status_code == 200
    t3 = r.get_json()["instance"]["open_tasks"][0]
    assert t3["element_id"] == "t3"
    assert api.get(f"/api/process-instances/{inst_id}", "hall_manager").status_code == 403
    assert api.post(f"/api/tasks/{t3['id']}/claim", "hall_manager").status_code == 403
    assert api.post(f"/api/tasks/{t3['id']}/claim", "manager_hall2").status_code == 200


def test_manager_of_the_unit_reassigns_a_task_and_it_is_audited(four_step):
    api = four_step
    inst = api.post("/api/process-definitions/four_step/instances", "counter_staff", json={"data": {}}).get_json()
    tid = inst["open_tasks"][0]["id"]
    assert api.post(f"/api/tasks/{tid}/claim", "counter_staff").status_code == 200
    body = {"assignee": "counter2", "reason": "营业员请假 on leave"}
    assert api.post(f"/api/tasks/{tid}/assign", "counter2", json=body).status_code == 403
    assert api.post(f"/api/tasks/{tid}/assign", "manager_hall2", json=body).status_code == 403  # other hall
    assert api.post(f"/api/tasks/{tid}/assign", "hall_manager", json={"assignee": "auditor"}).status_code == 422
    r = api.post(f"/api/tasks/{tid}/assign", "hall_manager", json=body)
    assert r.status_code == 200 and r.get_json()["assignee"] == "counter2"
    event = [e for e in api.get(f"/api/process-instances/{inst['id']}/timeline", "auditor").get_json()["events"]
             if e["action"] == "task_reassigned"][0]
    assert event["before"] == {"assignee": "counter_staff"} and event["after"] == {"assignee": "counter2"}
    assert event["reason"] == "营业员请假 on leave" and event["actor"] == "hall_manager"
    assert api.post(f"/api/tasks/{tid}/complete", "counter_staff", json={"data": {"note": "x"}}).status_code == 409
    assert api.post(f"/api/tasks/{tid}/complete", "counter2", json={"data": {"note": "x"}}).status_code == 200
