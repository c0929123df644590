"""Authentication, health and the error contract shared by every endpoint.

Every error leaves as JSON ``{error, message, details}`` with the right status; nothing a
client sends may produce a 500 (PostgreSQL is stricter than SQLite about NUL characters
and integer ranges, so those cases matter most there).
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import text

from engine.store.migrate import head_revision

# --------------------------------------------------------------------------- helpers

PUBLIC = {("GET", "/api/health"), ("GET", "/api/openapi.json"), ("POST", "/api/auth/token")}


def api_endpoints(app):
    """``(method, path)`` of every route under /api, path parameters filled with ``x``."""
    out = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/"):
            continue
        path = re.sub(r"<int:[^>]+>", "1", rule.rule)
        path = re.sub(r"<(?:[^:>]+:)?[^>]+>", "x", path)
        out |= {(m, path) for m in rule.methods - {"HEAD", "OPTIONS"}}
    return sorted(out)


def assert_error(r, status, code=None):
    assert r.status_code == status, (r.status_code, r.get_data(as_text=True)[:300])
    assert r.is_json, r.get_data(as_text=True)[:300]
    body = r.get_json()
    assert set(body) == {"error", "message", "details"}, body
    assert isinstance(body["message"], str) and body["message"]
    if code:
        assert body["error"] == code, body
    return body


def login(api, username, password="demo"):
    return api.post("/api/auth/token", json={"username": username, "password": password})


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


# --------------------------------------------------------------------------- tokens


def test_login_returns_a_working_token(api):
    r = login(api, "duty_manager")
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["username"] == "duty_manager" and body["roles"] == ["duty_manager"]
    assert body["expires_in"] > 0 and len(body["token"]) >= 32
    me = api.client.get("/api/me", headers=bearer(body["token"]))
    assert me.status_code == 200 and me.get_json()["username"] == "duty_manager"


def test_wrong_password_and_unknown_user_look_the_same(api):
    wrong = login(api, "admin", "not-the-password")
    unknown = login(api, "no_such_user", "demo")
    first = assert_error(wrong, 401, "unauthorized")
    assert assert_error(unknown, 401, "unauthorized") == first
    assert "token" not in wrong.get_data(as_text=True)


@pytest.mark.parametrize("body", [{}, {"username": "admin"}, {"username": "", "password": "x"},
                                  {"username": "a\u0000b", "password": "demo"}, {"username": 5, "password": "x"}])
def test_malformed_login_is_422(api, body):
    assert_error(api.post("/api/auth/token", json=body), 422, "validation_failed")


def test_login_body_must_be_json(api):
    r = api.post("/api/auth/token", data="username=admin&password=demo", content_type="application/x-www-form-urlencoded")
    assert_error(r, 400, "bad_request")


def test_every_endpoint_but_the_public_ones_needs_a_token(app, api):
    endpoints = api_endpoints(app)
    assert len(endpoints) >= 20
    for method, path in endpoints:
        if (method, path) in PUBLIC:
            continue
        r = api.call(method, path)
        body = assert_error(r, 401, "unauthorized")
        assert r.headers["WWW-Authenticate"].startswith("Bearer"), (method, path)
        assert body["details"] is None


@pytest.mark.parametrize("header", ["Bearer not-a-real-token", "Bearer ", "Basic YWRtaW46ZGVtbw==", "bearer", "Token abc"])
def test_bad_authorization_header_is_401(api, header):
    for path in ["/api/me", "/api/process-definitions", "/api/tasks"]:
        assert_error(api.client.get(path, headers={"Authorization": header}), 401, "unauthorized")


def test_logout_revokes_only_that_token(api):
    token = login(api, "counter_staff").get_json()["token"]
    other = login(api, "counter_staff").get_json()["token"]
    assert api.client.get("/api/me", headers=bearer(token)).status_code == 200
    r = api.client.post("/api/auth/logout", headers=bearer(token))
    assert r.status_code == 204 and r.data == b""
    assert_error(api.client.get("/api/me", headers=bearer(token)), 401, "unauthorized")
    assert_error(api.client.get("/api/tasks", headers=bearer(token)), 401, "unauthorized")
    assert_error(api.client.post("/api/auth/logout", headers=bearer(token)), 401, "unauthorized")
    assert api.client.get("/api/me", headers=bearer(other)).status_code == 200
    # a new login still works
    assert login(api, "counter_staff").status_code == 200


def test_logout_without_token_is_401(api):
    assert_error(api.post("/api/auth/logout"), 401, "unauthorized")


# --------------------------------------------------------------------------- health and the error contract


def test_health_needs_no_token(api):
    r = api.get("/api/health")
    assert r.status_code == 200
    assert r.get_json() == {"status": "ok", "database": "ok", "schema": head_revision()}


def test_health_is_503_when_the_schema_is_behind_the_code(api, engine):
    """After an upgrade of the code without `bpm init`, health says so instead of "ok"."""
    def set_revision(revision):
        with engine.db.engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = :r"), {"r": revision})

    set_revision("0001")
    try:
        r = api.get("/api/health")
    finally:
        set_revision(head_revision())  # the PostgreSQL test database is shared by the session
    assert r.status_code == 503
    body = r.get_json()
    assert body["error"] == "not_initialised" and "0001" in body["message"] and "bpm init" in body["message"]
    # a schema migrated by a newer version of the code: this server is the one to upgrade
    set_revision("9999")
    try:
        r = api.get("/api/health")
    finally:
        set_revision(head_revision())
    assert r.status_code == 503 and "newer than this version" in r.get_json()["message"]
    assert api.get("/api/health").status_code == 200


def test_non_json_body_to_a_json_endpoint_is_400(four_step):
    api = four_step
    r = api.post("/api/process-definitions/four_step/instances", "counter_staff", json=None,
                 data="data=1", content_type="text/plain")
    assert_error(r, 400, "bad_request")
    r = api.post("/api/process-definitions/four_step/instances", "counter_staff", json=None,
                 data="{broken", content_type="application/json")
    assert_error(r, 400, "bad_request")


def test_unknown_things_are_404(four_step):
    api = four_step
    assert_error(api.get("/api/no-such-route", "admin"), 404, "not_found")
    assert_error(api.get("/api/no-such-route"), 404, "not_found")
    assert_error(api.get("/api/process-definitions/no_such_key", "admin"), 404, "not_found")
    assert_error(api.post("/api/process-definitions/no_such_key/instances", "counter_staff", json={}), 404, "not_found")
    assert_error(api.get("/api/forms/no_such_form", "admin"), 404, "not_found")
    assert_error(api.get("/api/documents/no-such-document", "admin"), 404, "not_found")


def test_wrong_method_is_405(api):
    assert_error(api.call("DELETE", "/api/process-definitions", "admin"), 405, "method_not_allowed")
    assert_error(api.call("PUT", "/api/forms/simple_note", "admin"), 405, "method_not_allowed")
    assert_error(api.call("POST", "/api/health"), 405, "method_not_allowed")


def test_claiming_a_claimed_task_is_409(four_step):
    api = four_step
    inst = api.post("/api/process-definitions/four_step/instances", "counter_staff", json={"data": {}}).get_json()
    task_id = inst["open_tasks"][0]["id"]
    assert api.post(f"/api/tasks/{task_id}/claim", "counter_staff").status_code == 200
    assert_error(api.post(f"/api/tasks/{task_id}/claim", "counter2"), 409, "conflict")


def test_oversized_request_body_is_413(api):
    r = api.post("/api/forms", "process_owner", json=None,
                 data='{"id": "big", "type": "default", "components": [], "pad": "' + "x" * (3 * 1024 * 1024) + '"}',
                 content_type="application/json")
    assert_error(r, 413, "payload_too_large")


def test_invalid_query_is_422(api):
    body = assert_error(api.get("/api/process-instances?status=bogus", "admin"), 422, "validation_failed")
    assert "status" in body["details"]["errors"]
    assert_error(api.get("/api/tasks?per_page=0", "admin"), 422, "validation_failed")


@pytest.mark.parametrize("path", [
    "/api/process-definitions/a%00b",
    "/api/process-definitions/a%00b/xml",
    "/api/forms/a%00b",
    "/api/documents/a%00b",
    "/api/process-instances/a%00b",
    "/api/tasks/a%00b",
])
def test_nul_character_in_path_is_404_not_500(api, path):
    assert_error(api.get(path, "admin"), 404, "not_found")


@pytest.mark.parametrize("path", [
    "/api/process-instances?key=a%00b",
    "/api/tasks?instance=a%00b",
    "/api/process-definitions/p/xml?version=99999999999",
    "/api/forms/f?version=99999999999",
    "/api/process-instances?page=999999999999999999999",
])
def test_out_of_range_query_values_are_422_not_500(api, path):
    assert_error(api.get(path, "admin"), 422, "validation_failed")


def test_nul_character_in_body_field_is_422_not_500(four_step):
    r = four_step.post("/api/process-definitions/four_step/instances", "counter_staff",
                       json={"business_key": "BK\u00001", "data": {}})
    body = assert_error(r, 422, "validation_failed")
    assert "business_key" in body["details"]["errors"]
