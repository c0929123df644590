"""One user cannot flood the system: per-user limits on starts, completions and uploads, body
limits per route, and sign-ins throttled per client address as well as per username, with
failed sign-ins audited as bursts and an owner never locked out from where they signed in."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from engine.app import BpmEngine
from engine.clock import clock
from engine.config import RATE_LIMITS, load_settings
from engine.identity.auth import flush_failed_logins
from engine.store.models import AuditEvent
from tests.conftest import UNLIMITED, Api, deploy_fixture_forms, fixture_text


def app_with(db, tmp_path, **limits):
    from web import create_app

    url, tokens = db
    engine = BpmEngine(load_settings(database_url=url, var_dir=tmp_path / "var", rate_limits={**UNLIMITED, **limits}))
    app = create_app(engine)
    return engine, app, Api(app.test_client(), tokens)


@pytest.fixture
def limited(db, tmp_path):
    engine, app, api = app_with(db, tmp_path, starts="3/minute", completions="2/minute", uploads="2/minute")
    deploy_fixture_forms(api)
    assert api.deploy_xml(fixture_text("four_step.bpmn")).status_code == 201
    yield api
    clock.reset()
    engine.close()


def events(api, action: str) -> list[SimpleNamespace]:
    engine = api.client.application.extensions["bpm"]
    with engine.read() as session:
        rows = session.execute(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)).scalars()
        return [SimpleNamespace(**{c.name: getattr(r, c.name) for c in AuditEvent.__table__.columns}) for r in rows]


def test_the_defaults_are_the_documented_limits():
    assert load_settings().rate_limits == RATE_LIMITS
    assert RATE_LIMITS["starts"] == "30/minute;500/hour" and RATE_LIMITS["failed_logins"] == "10/minute;50/hour"


def test_starts_per_user_are_limited_and_another_user_is_not_held_back(limited):
    api = limited
    url = "/api/process-definitions/four_step/instances"
    for _ in range(3):
        assert api.post(url, "counter_staff", json={"data": {}}).status_code == 201
    r = api.post(url, "counter_staff", json={"data": {}})
    assert r.status_code == 429 and r.get_json()["error"] == "too_many_requests"
    assert int(r.headers["Retry-After"]) > 0
    assert api.post(url, "counter2", json={"data": {}}).status_code == 201  # a colleague is not throttled
    assert api.get("/api/process-instances?key=four_step", "admin").get_json()["total"] == 4


def test_completions_and_uploads_per_user_are_limited(limited):
    api = limited
    tasks = []
    for _ in range(3):
        tasks.append(api.post("/api/process-definitions/four_step/instances", "customer_manager",
                              json={"data": {}}).get_json()["open_tasks"][0]["id"])
    done = [api.post(f"/api/tasks/{t}/complete", "counter_staff", json={"data": {"note": "x"}}).status_code
            for t in tasks]
    assert done == [200, 200, 429]
    uploads = [api.client.post("/api/documents", headers=api.headers("counter_staff"),
                               data={"file": (io.BytesIO(b"%PDF-1.4\n"), "a.pdf", "application/pdf")}).status_code
               for _ in range(3)]
    assert uploads == [201, 201, 429]


def test_page_starts_are_limited_per_user_too(db, tmp_path):
    from tests.support.pages import sign_in

    engine, app, api = app_with(db, tmp_path, starts="1/minute")
    try:
        from tests.support.business import deploy

        deploy(api, "agreement_inventory")
        client, csrf = sign_in(app, "info_clerk")
        assert client.post("/start/agreement_inventory", data={"csrf_token": csrf}).status_code == 302
        r = client.post("/start/agreement_inventory", data={"csrf_token": csrf})
        assert r.status_code == 429 and "操作过于频繁" in r.get_data(as_text=True)
    finally:
        engine.close()


def test_bodies_are_bounded_per_route(limited):
    api = limited
    r = api.post("/api/process-definitions/four_step/instances", "counter_staff",
                 json={"data": {"priority": "x" * (2 * 2**20)}})
    assert r.status_code == 413 and "at most" in r.get_json()["message"]
    # an upload may be larger than any JSON body
    r = api.client.post("/api/documents", headers=api.headers("counter_staff"),
                        data={"file": (io.BytesIO(b"%PDF-1.4\n" + b"0" * (2**20 // 2)), "a.pdf", "application/pdf")})
    assert r.status_code == 201


def test_start_data_without_a_start_form_is_refused_naming_the_fields(api):
    from tests.support.business import deploy

    deploy(api, "agreement_inventory")
    r = api.post("/api/process-definitions/agreement_inventory/instances", "info_clerk",
                 json={"data": {"junk": "x" * 1000}})
    assert r.status_code == 422 and "no start form" in r.get_json()["details"]["errors"]["junk"][0]
    assert api.post("/api/process-definitions/agreement_inventory/instances", "info_clerk",
                    json={"data": {}}).status_code == 201


# --------------------------------------------------------------------------- sign-in


@pytest.fixture
def signins(db, tmp_path):
    engine, app, api = app_with(db, tmp_path, logins="30/minute", failed_logins="5/minute")
    clock.set(datetime(2026, 11, 23, 9, 0, tzinfo=UTC))
    yield engine, app, api
    clock.reset()
    engine.close()


def login(api, username, password="demo", address="203.0.113.7"):
    return api.client.post("/api/auth/token", json={"username": username, "password": password},
                           environ_base={"REMOTE_ADDR": address})


def test_password_spraying_across_usernames_is_stopped_per_address(signins):
    engine, app, api = signins
    codes = [login(api, name, "Winter2026!").status_code
             for name in ("counter_staff", "info_clerk", "hall_manager", "auditor", "admin", "duty_manager",
                          "customer_manager", "nobody")]
    assert codes[:5] == [401] * 5 and set(codes[5:]) == {429}
    # the right password does not help from that address any more; another address is unaffected
    assert login(api, "auditor").status_code == 429
    assert login(api, "auditor", address="198.51.100.2").status_code == 200
    # the burst is a few audit events with their count, not one per guess
    flush_failed_logins(engine, older_than=0)
    failed = [e for e in events(api, "login_failed") if e.details.get("address") == "203.0.113.7"]
    assert sum(e.details["failures"] for e in failed) == 5 and len(failed) <= 2
    assert set(failed[-1].details["usernames"]) | set(failed[0].details["usernames"]) == {
        "counter_staff", "info_clerk", "hall_manager", "auditor", "admin"}


def test_locking_an_account_from_elsewhere_does_not_lock_its_owner_out(signins):
    engine, app, api = signins
    home = "192.0.2.10"
    assert login(api, "admin", address=home).status_code == 200  # the owner's usual place
    for i in range(6):
        clock.advance(timedelta(seconds=2 ** i + 1))
        attacker = f"203.0.113.{i + 20}"  # many addresses, so the per-address limit does not stop it first
        assert login(api, "admin", "guess", address=attacker).status_code == 401
    clock.advance(timedelta(seconds=40))
    assert login(api, "admin", address="203.0.113.99").status_code == 429  # locked elsewhere
    assert login(api, "admin", address=home).status_code == 200  # but not where the owner signs in
    locked = events(api, "account_locked")
    assert locked and locked[-1].details["origin"] == "other"
    # an administrator can lift the lock for everyone, and the lift is audited with before/after
    r = api.post("/api/users/admin/unlock", "admin")
    assert r.status_code == 200
    unlocked = events(api, "account_unlocked")[-1]
    assert unlocked.before["locked"] is True and unlocked.after["locked"] is False
    assert login(api, "admin", address="203.0.113.99").status_code == 200


def test_sign_in_page_is_throttled_per_address_with_a_page(signins):
    engine, app, api = signins
    from tests.support.pages import csrf

    client = app.test_client()
    token = csrf(client.get("/login").get_data(as_text=True))
    statuses = [client.post("/login", data={"username": f"ghost{i}", "password": "x", "csrf_token": token},
                            environ_base={"REMOTE_ADDR": "203.0.113.50"}).status_code for i in range(7)]
    assert statuses[:5] == [401] * 5 and statuses[5:] == [429, 429]
    page = client.post("/login", data={"username": "x", "password": "y", "csrf_token": token},
                       environ_base={"REMOTE_ADDR": "203.0.113.50"})
    assert page.status_code == 429 and "登录失败次数过多" in page.get_data(as_text=True)


def test_parallel_guesses_of_one_username_are_all_counted(signins):
    """Each attempt is counted before its password is checked: a burst in parallel cannot try
    more passwords than the lock allows."""
    import threading

    engine, app, api = signins
    results = []

    def guess(i):
        results.append(login(api, "counter_staff", f"guess{i}", address=f"198.18.0.{i}").status_code)

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(401) <= 6 and results.count(429) >= 6, results
    assert len(results) == 12
