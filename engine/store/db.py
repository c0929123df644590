"""Database engine and sessions.

SQLite (the embedded default) runs in WAL mode and every write transaction starts with
``BEGIN IMMEDIATE`` so concurrent writers queue instead of failing on a stale snapshot.
PostgreSQL runs at READ COMMITTED; races are settled by the optimistic version check on
``process_instance`` and row locks on the audit head and due timers.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from engine.jsondata import encode

_CURRENT: ContextVar[Session | None] = ContextVar("bpm_current_session", default=None)


def current_session() -> Session | None:
    """The session of the unit of work running in this context (engine.app's ``uow``), if any:
    what code deep in a step (a business rule task reading its decision) reads through."""
    return _CURRENT.get()


@contextmanager
def bound(session: Session) -> Iterator[Session]:
    token = _CURRENT.set(session)
    try:
        yield session
    finally:
        _CURRENT.reset(token)


def postgres_connect_args(connect_timeout: int) -> dict:
    """libpq settings that make an unreachable PostgreSQL fail fast instead of hanging.

    ``connect_timeout`` bounds connection set-up, including a server that accepts TCP but
    never answers; TCP keepalives and ``tcp_user_timeout`` (ms) drop pooled connections
    whose peer vanished (unacknowledged data), so a request finds out within seconds, not
    after the kernel's 15-minute retransmission limit.
    """
    return {
        "connect_timeout": connect_timeout,
        "keepalives": 1,
        "keepalives_idle": 10,
        "keepalives_interval": 5,
        "keepalives_count": 3,
        "tcp_user_timeout": 3 * connect_timeout * 1000,
    }


def json_text(value) -> str:
    """How JSON columns are written (``engine.jsondata.encode``)."""
    return encode(value).decode("utf-8")


def make_engine(url: str, echo: bool = False, connect_timeout: int = 5) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            echo=echo,
            json_serializer=json_text,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=8,
            max_overflow=8,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_conn, _record):  # pragma: no cover - driver hook
            dbapi_conn.isolation_level = None  # we emit BEGIN ourselves
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):  # pragma: no cover - driver hook
            mode = conn.get_execution_options().get("sqlite_begin", "IMMEDIATE")
            conn.exec_driver_sql(f"BEGIN {mode}")

        return engine
    # pool_pre_ping replaces connections a database restart closed; pool_timeout bounds the
    # wait for a free connection so that no request queues for long while the database is away
    connect_args = postgres_connect_args(connect_timeout) if url.startswith("postgresql") else {}
    return create_engine(url, echo=echo, json_serializer=json_text, pool_size=10, max_overflow=20, pool_pre_ping=True,
                         pool_timeout=2 * connect_timeout, connect_args=connect_args)


class Database:
    """Owns the SQLAlchemy engine and hands out transactional sessions."""

    def __init__(self, url: str, echo: bool = False, connect_timeout: int = 5) -> None:
        self.url = url
        self.engine = make_engine(url, echo=echo, connect_timeout=connect_timeout)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False, autoflush=False)
        self._readers = sessionmaker(
            self.engine.execution_options(sqlite_begin="DEFERRED"), expire_on_commit=False, autoflush=False
        )
        self.is_sqlite = url.startswith("sqlite")
        self._write_lock = threading.Lock()
        self.is_postgres = self.engine.dialect.name == "postgresql"

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One unit of work: commit on success, roll back on any exception.

        On SQLite, writers of this process queue on a lock first: SQLite's own busy
        handler polls with growing sleeps, which turns contention into long tails.
        """
        if self.is_sqlite:
            self._write_lock.acquire()
        session = self._sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()
            if self.is_sqlite:
                self._write_lock.release()

    @contextmanager
    def reader(self) -> Iterator[Session]:
        """A read-only session (on SQLite a deferred transaction: no write lock)."""
        session = self._readers()
        try:
            yield session
        finally:
            session.rollback()
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()
