"""The engine's composition root: settings, database, caches and the unit of work.

Web views, the CLI and workers all build one :class:`BpmEngine` and call the service
modules (``engine.runtime.definitions``, ``engine.runtime.instances``, ``engine.runtime.tasks`` ...) with it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from engine import features
from engine.audit.chain import append_events
from engine.audit.unit_of_work import UnitOfWork
from engine.bpmn import sandbox
from engine.config import Settings, load_settings
from engine.errors import AuditedRefusal, Conflict, NotInitialised, ServiceUnavailable
from engine.identity.actor import Actor
from engine.runtime.spiff import SpecCache, WorkflowCache, configure_steps
from engine.store.db import Database, bound

DB_DOWN = "the database is not available; try again in a few seconds"
DB_EMPTY = "the database has not been set up: run `bpm init` (it creates the tables and applies migrations)"


def _missing_table(exc: DBAPIError) -> bool:
    """SQLite's "no such table" (an OperationalError) or PostgreSQL's undefined_table (42P01)."""
    return getattr(exc.orig, "sqlstate", None) == "42P01" or "no such table" in str(exc.orig).lower()


def _unavailable(exc: Exception) -> ServiceUnavailable:
    """The database cannot be reached (down, restarting, unreachable, pool exhausted), or it
    has no tables yet."""
    detail = str(getattr(exc, "orig", None) or exc)[:200]
    if isinstance(exc, DBAPIError) and _missing_table(exc):
        return NotInitialised(DB_EMPTY, detail)
    return ServiceUnavailable(DB_DOWN, detail)


def _connection_lost(exc: DBAPIError) -> bool:
    return isinstance(exc, InterfaceError) or bool(getattr(exc, "connection_invalidated", False))


class BpmEngine:
    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or load_settings()
        self.settings.var_dir.mkdir(parents=True, exist_ok=True)
        sandbox.configure(self.settings.script_limits)
        configure_steps(self.settings.step_chunk, self.settings.runaway_steps)
        features.install()
        features.configure(self.settings)
        self.db = Database(self.settings.database_url, connect_timeout=self.settings.db_connect_timeout)
        self.specs = SpecCache()
        self.workflows = WorkflowCache(self.settings.workflow_cache, self.settings.workflow_cache_mb * 2**20)
        self.form_cache: dict[tuple[str, int], dict] = {}
        self.definitions: dict[int, object] = {}
        self.audit_head: tuple[int, str] | None = None  # (seq, hash) of this process's last committed append
        # set when the process that serves this engine begins to stop: waits that are only waiting
        # (an external worker's long poll) answer at once instead of holding the shutdown
        self.stopping = threading.Event()

    @contextmanager
    def uow(self, actor: Actor) -> Iterator[UnitOfWork]:
        """Run one unit of work; races and lock time-outs become clean errors."""
        uow = head = None
        try:
            with self.db.transaction() as session, bound(session):
                uow = UnitOfWork(session, actor)
                uow.engine = self
                yield uow
                session.flush()
                head = append_events(session, uow.events, known=self.audit_head)
        except AuditedRefusal as exc:
            if not exc.recorded:
                exc.recorded = True
                with self.uow(exc.actor if hasattr(exc, "actor") else actor) as record:
                    exc.record(record)
            raise
        except StaleDataError as exc:
            raise Conflict("the instance was changed by someone else at the same time; reload and try again") from exc
        except IntegrityError as exc:
            raise Conflict("a concurrent change conflicts with this one; reload and try again", str(exc.orig)[:200]) from exc
        except OperationalError as exc:
            sqlstate = getattr(exc.orig, "sqlstate", None)
            if sqlstate in ("40001", "40P01") or "database is locked" in str(exc).lower():
                # serialization failure / deadlock (PostgreSQL) or lock time-out (SQLite)
                raise Conflict("the database is busy with a conflicting change; try again") from exc
            raise _unavailable(exc) from exc
        except PoolTimeout as exc:
            raise _unavailable(exc) from exc
        except DBAPIError as exc:
            if _connection_lost(exc) or _missing_table(exc):
                raise _unavailable(exc) from exc
            raise
        if head is not None:
            self.audit_head = head
        for callback in uow.after_commit if uow else ():
            callback()

    @contextmanager
    def read(self) -> Iterator[Session]:
        try:
            with self.db.reader() as session:
                yield session
        except (OperationalError, PoolTimeout) as exc:
            raise _unavailable(exc) from exc
        except DBAPIError as exc:
            if _connection_lost(exc) or _missing_table(exc):
                raise _unavailable(exc) from exc
            raise

    def close(self) -> None:
        self.stopping.set()
        self.db.dispose()
