"""While PostgreSQL is away, requests fail fast with 503 and a clear message, pages too.

Three ways the database can be away: nothing listens (connection refused), something
accepts TCP but never answers (a black hole: without a connect timeout libpq would wait
forever), and a database that was there and went away while the pool held connections
(a TCP proxy in front of the test cluster is cut, then restored: the next requests
reconnect without a restart). No wall-clock limits are asserted; each request must
return at all within a 30 s client bound, and the configured connect timeout must be the
one libpq is given.
"""

from __future__ import annotations

import json
import socket
import threading
from contextlib import closing

import pytest
from sqlalchemy import event
from sqlalchemy.engine import make_url

from engine.app import BpmEngine
from engine.config import load_settings
from engine.identity.actor import SYSTEM
from engine.identity.auth import issue_token
from tests.conftest import temporary_pg_database

CLIENT_BOUND = 30  # seconds: a request that has not returned by then hangs
ZH = "数据库暂时不可用"


def free_port() -> int:
    with closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class BlackHole:
    """Accepts TCP connections and never sends a byte."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)

    def close(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        for conn in self.held:
            conn.close()


class Proxy:
    """A TCP proxy to PostgreSQL that can be cut (open connections dropped, port refused) and restored."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = free_port()
        self.conns: list[socket.socket] = []
        self.lock = threading.Lock()
        self.listener = None
        self.restore()

    def restore(self) -> None:
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", self.port))
        self.listener.listen(64)
        threading.Thread(target=self._accept, args=(self.listener,), daemon=True).start()

    def _accept(self, listener) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            with self.lock:
                self.conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src, dst) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def cut(self) -> None:
        try:
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept() (close alone does not)
        except OSError:
            pass
        self.listener.close()
        with self.lock:
            conns, self.conns = self.conns, []
        for s in conns:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()


def bounded(fn):
    """Run ``fn`` in a thread; it must return within the client bound."""
    out = {}
    thread = threading.Thread(target=lambda: out.update(value=fn()), daemon=True)
    thread.start()
    thread.join(CLIENT_BOUND)
    assert not thread.is_alive(), f"the request did not return within {CLIENT_BOUND} s"
    return out["value"]


def app_for(url: str, tmp_path, **settings):
    from web import create_app

    engine = BpmEngine(load_settings(database_url=url, var_dir=tmp_path / "var", **settings))
    app = create_app(engine)
    app.testing = True
    return engine, app


def assert_api_503(response) -> dict:
    assert response.status_code == 503, response.get_data(as_text=True)
    body = response.get_json()
    assert body["error"] == "unavailable"
    assert body["message"] == "the database is not available; try again in a few seconds"
    assert response.headers["Retry-After"] == "5"
    return body


def assert_page_503(response) -> None:
    assert response.status_code == 503
    assert response.mimetype == "text/html"
    assert ZH in response.get_data(as_text=True)


def signed_in(client, token: str):
    with client.session_transaction() as session:
        session["sid"] = token
    return client


def test_connection_refused_gives_503_on_the_api_and_the_pages(tmp_path):
    engine, app = app_for(f"postgresql://bpm@127.0.0.1:{free_port()}/bpm", tmp_path)
    try:
        client = app.test_client()
        body = assert_api_503(bounded(lambda: client.get("/api/health")))
        assert "refused" in body["details"].lower()
        assert_api_503(bounded(lambda: client.get("/api/tasks", headers={"Authorization": "Bearer some-token"})))
        assert_api_503(bounded(lambda: client.post("/api/auth/token", json={"username": "a", "password": "b"})))
        signed_in(client, "some-token")
        assert_page_503(bounded(lambda: client.get("/tasks")))
        with client.session_transaction() as session:
            assert session.get("sid") == "some-token"  # the outage does not sign anyone out
    finally:
        engine.close()


def test_black_hole_times_out_with_the_configured_connect_timeout(tmp_path):
    hole = BlackHole()
    engine, app = app_for(f"postgresql://bpm@127.0.0.1:{hole.port}/bpm", tmp_path, db_connect_timeout=2)
    seen = []
    event.listen(engine.db.engine, "do_connect", lambda dialect, rec, cargs, cparams: seen.append(dict(cparams)))
    try:
        client = app.test_client()
        body = assert_api_503(bounded(lambda: client.get("/api/health")))
        assert "timeout" in body["details"].lower()
        assert seen and seen[0]["connect_timeout"] == 2
        assert seen[0]["keepalives"] == 1 and seen[0]["tcp_user_timeout"] > 0
        signed_in(client, "some-token")
        assert_page_503(bounded(lambda: client.get("/tasks")))
    finally:
        engine.close()
        hole.close()


def test_connect_timeout_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("BPM_DB_CONNECT_TIMEOUT", "3")
    assert load_settings().db_connect_timeout == 3
    monkeypatch.setenv("BPM_DB_CONNECT_TIMEOUT", "0")
    assert load_settings().db_connect_timeout == 2  # libpq treats 0 as "wait forever"; 2 s is its minimum


def test_database_lost_while_pooled_then_back(pg_database, tmp_path):
    """The pool holds live connections, the database goes away (503), then returns (200)."""
    url, tokens = pg_database
    real = make_url(url)
    proxy = Proxy(real.host or "127.0.0.1", real.port or 5432)
    engine, app = app_for(real.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False), tmp_path)
    api = {"Authorization": f"Bearer {tokens['auditor']}"}
    try:
        client = app.test_client()
        with engine.uow(SYSTEM) as uow:
            sid = issue_token(uow.session, "auditor", "demo", 3600, kind="session")[0]
        page = signed_in(app.test_client(), sid)
        assert client.get("/api/tasks", headers=api).status_code == 200
        assert page.get("/tasks").status_code == 200
        proxy.cut()
        assert_api_503(bounded(lambda: client.get("/api/tasks", headers=api)))
        assert_api_503(bounded(lambda: client.post("/api/auth/logout", headers=api)))
        assert_page_503(bounded(lambda: page.get("/tasks")))
        proxy.restore()
        assert bounded(lambda: client.get("/api/tasks", headers=api)).status_code == 200
        assert bounded(lambda: page.get("/tasks")).status_code == 200  # still signed in
        assert json.loads(client.get("/api/health").get_data())["database"] == "ok"
    finally:
        engine.close()
        proxy.cut()


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request, tmp_path):
    """A database that answers but was never set up (no `bpm init`)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.sqlite3'}"
        return
    request.getfixturevalue("pg_database")  # skips (or fails when required) without PostgreSQL
    with temporary_pg_database("bpm_empty") as url:
        yield url


def test_a_database_never_set_up_says_to_run_bpm_init(empty_database, tmp_path):
    """Not "try again in a few seconds": waiting will not create the tables."""
    engine, app = app_for(empty_database, tmp_path)
    try:
        client = app.test_client()
        for response in (client.get("/api/tasks", headers={"Authorization": "Bearer some-token"}),
                         client.post("/api/auth/token", json={"username": "a", "password": "b"})):
            assert response.status_code == 503, response.get_data(as_text=True)
            body = response.get_json()
            assert body["error"] == "not_initialised"
            assert "bpm init" in body["message"]
        page = signed_in(app.test_client(), "some-token").get("/tasks")
        assert page.status_code == 503 and "请管理员运行 bpm init" in page.get_data(as_text=True)
    finally:
        engine.close()
