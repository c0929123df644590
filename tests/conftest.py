"""Shared fixtures: every engine/API test runs on SQLite and on PostgreSQL.

PostgreSQL is taken from ``BPM_TEST_POSTGRES_URL`` (default: the local cluster). When it
is unreachable the PostgreSQL variants are skipped, unless ``BPM_REQUIRE_POSTGRES=1``
(set by ``.ci/run``), which turns that into a failure.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from engine.app import BpmEngine
from engine.config import RATE_LIMITS, load_settings
from engine.identity.actor import SYSTEM
from engine.identity.auth import issue_token
from engine.identity.roles import ROLES

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
PG_URL = os.environ.get("BPM_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
# the users of these roles work above the halls; everyone else in hall-1
SEED_UNITS = {"department_manager": "dept-1", "vice_president": "branch"}
UNLIMITED = {kind: "1000000/minute" for kind in RATE_LIMITS}
KEEP_TABLES = {"bpm_user", "bpm_user_role", "bpm_api_token", "bpm_org_unit", "alembic_version"}


def _pg_admin_url() -> str:
    url = PG_URL.replace("postgresql://", "postgresql+psycopg://", 1)
    return url


def _pg_available() -> bool:
    try:
        eng = create_engine(_pg_admin_url(), connect_args={"connect_timeout": 3})
        with eng.connect() as conn:
            conn.execute(text("SELECT 1"))
        eng.dispose()
        return True
    except Exception:  # noqa: BLE001
        return False


def _seed(url: str, var_dir: Path) -> dict[str, str]:
    """Migrate, create one user per role (+ a multi-role user) and issue their tokens."""
    from engine.identity import auth as identity
    from engine.store.migrate import upgrade
    from engine.store.models import OrgUnit

    upgrade(url)
    engine = BpmEngine(load_settings(database_url=url, var_dir=var_dir))
    tokens = {}
    with engine.uow(SYSTEM) as uow:
        for role in ROLES:
            identity.add_user(uow.session, role, "demo", [role], org_unit=SEED_UNITS.get(role, "hall-1"))
        identity.add_user(uow.session, "nobody", "demo", [], org_unit="hall-1")
        identity.add_user(uow.session, "counter2", "demo", ["counter_staff"], org_unit="hall-1")
        # the same roles in another hall, for org-unit scoping
        identity.add_user(uow.session, "counter_hall2", "demo", ["counter_staff"], org_unit="hall-2")
        identity.add_user(uow.session, "manager_hall2", "demo", ["hall_manager"], org_unit="hall-2")
        identity.add_user(uow.session, "duty_hall2", "demo", ["duty_manager"], org_unit="hall-2")
        # a second service account (external tasks: each works only its own topics)
        identity.add_user(uow.session, "worker2", "demo", ["integration"], org_unit="hall-1")
        # a branch with one department over both halls (the KPI review's department check)
        uow.session.add(OrgUnit(key="branch", name="县分公司", kind="branch"))
        uow.session.add(OrgUnit(key="dept-1", name="市场部", kind="department", parent_key="branch"))
        for key, name in (("hall-1", "中心营业厅"), ("hall-2", "城东营业厅")):
            uow.session.add(OrgUnit(key=key, name=name, kind="hall", parent_key="dept-1"))
        uow.session.flush()
        for name in [*ROLES, "nobody", "counter2", "counter_hall2", "manager_hall2", "duty_hall2", "worker2"]:
            tokens[name] = issue_token(uow.session, name, "demo", 10 * 365 * 24 * 3600)[0]  # tests move the clock
    engine.close()
    return tokens


@pytest.fixture(scope="session", autouse=True)
def quick_password_hashing():
    """The suite's own users get argon2id at its lowest cost: at the production cost a hash (and a
    check) takes about 0.12 s here, and the two-unit security world alone signs up 27 users and
    signs each in. Hashes are still argon2id, checked by the same code (a check reads the cost
    from the hash); the servers the browser and system tests start hash at the production cost."""
    from argon2 import PasswordHasher

    from engine.identity import auth

    production = auth._hasher
    auth._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    yield
    auth._hasher = production


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sqlite-template")
    path = folder / "template.sqlite3"
    tokens = _seed(f"sqlite:///{path}", folder)
    return path, tokens


def require_postgres(why: str = "PostgreSQL") -> None:
    """Skip the test when PostgreSQL is not reachable, or fail it under BPM_REQUIRE_POSTGRES=1."""
    if not _pg_available():
        if os.environ.get("BPM_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL required but not reachable at {PG_URL}")
        pytest.skip(f"{why} not reachable at {PG_URL}")


@contextmanager
def temporary_pg_database(prefix: str, template: str | None = None) -> Iterator[str]:
    """The URL of a new PostgreSQL database (empty, or a copy of the database ``template``),
    dropped afterwards even while sessions are still connected to it."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(_pg_admin_url(), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")))
        try:
            yield _pg_admin_url().rsplit("/", 1)[0] + f"/{name}"
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@pytest.fixture(scope="session")
def pg_database(tmp_path_factory):
    require_postgres("PostgreSQL")
    with temporary_pg_database("bpm_test") as url:
        yield url, _seed(url, tmp_path_factory.mktemp("pg"))


_WIPERS: dict[str, object] = {}  # url -> the engine that empties it


def _truncate(url: str) -> None:
    """Empty every table but the seeded users' (``KEEP_TABLES``), as new: the tables that hold rows
    are truncated (TRUNCATE costs some 5 ms a table, and a test fills a few of some 30), and every
    emptied table's sequence restarts. No kept table refers to an emptied one, so CASCADE (which
    takes the tables referring to a truncated one along) never reaches them. (DELETE would be
    faster still but leaves reused heap space behind, so rows would not come back in insertion
    order, which a query without ORDER BY must not rely on but a test may by accident.)"""
    if url not in _WIPERS:
        _WIPERS[url] = create_engine(url, pool_size=1, max_overflow=0, pool_pre_ping=True)
    with _WIPERS[url].begin() as conn:
        conn.exec_driver_sql("SET LOCAL session_replication_role = replica")  # bypass the append-only audit triggers
        tables = conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).scalars().all()
        wipe = sorted(t for t in tables if t not in KEEP_TABLES)
        if not wipe:
            return
        filled = conn.exec_driver_sql(" UNION ALL ".join(
            f"SELECT '{t}' FROM (SELECT 1 FROM \"{t}\" LIMIT 1) AS s" for t in wipe)).scalars().all()
        if filled:
            conn.exec_driver_sql("TRUNCATE " + ", ".join(f'"{t}"' for t in filled) + " RESTART IDENTITY CASCADE")
        owned = conn.execute(text(
            "SELECT s.relname, t.relname FROM pg_class s JOIN pg_depend d ON d.objid = s.oid AND d.deptype = 'a' "
            "JOIN pg_class t ON d.refobjid = t.oid WHERE s.relkind = 'S'")).all()
        restart = [seq for seq, table in owned if table in wipe]
        if restart:
            conn.exec_driver_sql("SELECT " + ", ".join(f"setval('\"{seq}\"', 1, false)" for seq in restart))


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, tmp_path):
    """``(url, tokens)`` of a clean database with the seeded users."""
    if request.param == "sqlite":
        path, tokens = request.getfixturevalue("sqlite_template")
        target = tmp_path / "bpm.sqlite3"
        shutil.copy(path, target)
        return f"sqlite:///{target}", tokens
    url, tokens = request.getfixturevalue("pg_database")
    _truncate(url)
    return url, tokens


@pytest.fixture
def engine(db, tmp_path):
    from engine.clock import clock

    url, _ = db
    # the suite drives many instances per user in seconds: rate limits are tested in tests/security
    eng = BpmEngine(load_settings(database_url=url, var_dir=tmp_path / "var", max_upload_bytes=1024 * 1024,
                                  rate_limits=UNLIMITED))
    yield eng
    clock.reset()
    eng.close()


@pytest.fixture
def tokens(db):
    return db[1]


@pytest.fixture
def app(engine):
    from web import create_app

    application = create_app(engine)
    application.testing = True
    return application


class Api:
    """Test client that speaks JSON with a bearer token per user."""

    def __init__(self, client, tokens):
        self.client = client
        self.tokens = tokens

    def headers(self, user):
        return {"Authorization": f"Bearer {self.tokens[user]}"} if user else {}

    def call(self, method, path, user=None, json=None, **kw):
        headers = {**self.headers(user), **kw.pop("headers", {})}
        return self.client.open(path, method=method, json=json, headers=headers, **kw)

    def get(self, path, user=None, **kw):
        return self.call("GET", path, user, **kw)

    def post(self, path, user=None, json=None, **kw):
        return self.call("POST", path, user, json=json, **kw)

    def deploy_xml(self, xml, user="process_owner"):
        if isinstance(xml, str):
            xml = xml.encode("utf-8")
        return self.call("POST", "/api/process-definitions", user, data=xml, content_type="application/xml")

    def deploy_form(self, form, user="process_owner"):
        return self.post("/api/forms", user, json=form)


@pytest.fixture
def api(app, tokens):
    return Api(app.test_client(), tokens)


def fixture_text(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


FIXTURE_FORMS = ("simple_note", "case_start")  # the fixtures' task form and their processes' start form


def deploy_fixture_forms(api) -> None:
    for name in FIXTURE_FORMS:
        r = api.deploy_form(json.loads(fixture_text(f"{name}.form")))
        assert r.status_code in (200, 201), r.get_json()


@pytest.fixture
def four_step(api):
    """Deploy the simple_note form and the four_step process; return the api."""
    deploy_fixture_forms(api)
    r = api.deploy_xml(fixture_text("four_step.bpmn"))
    assert r.status_code == 201, r.get_json()
    return api
