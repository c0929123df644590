"""Per-user and per-address rate limits (Flask-Limiter) and request body size limits.

* **Who**: a signed-in request counts against its user (bearer token or browser session), any
  other against its client address. Limits (``engine.config.RATE_LIMITS``, ``BPM_RATE_LIMIT_*``
  in Flask-Limiter's syntax, ``;`` between several) on the actions one user could flood the
  system with: starting instances, completing tasks, uploading files; sign-in attempts per
  address, and failed ones separately.
* **Where counted**: in process (``memory://``) for the embedded SQLite default, which serves
  from one process; in the database (``bpm_rate_counter``, :class:`DatabaseStorage`) on
  PostgreSQL, so that every web process behind the load balancer shares the same counts.
  ``BPM_RATE_LIMIT_STORAGE`` overrides (e.g. ``redis://...``).
* **Bodies**: each route reads at most what it needs (:func:`body_limit`): JSON bodies the
  instance data limit plus a margin, definitions 2 MiB, uploads the upload limit; more is 413
  before anything is parsed.
"""

from __future__ import annotations

import random
import time

from flask import current_app, g, request
from flask_limiter import Limiter
from limits.storage import Storage
from sqlalchemy import delete, select

from engine.store.models import RateCounter


def client_address() -> str:
    return request.remote_addr or "-"


def _who() -> str:
    """The user a request counts against (set by the API's or the pages' authentication), else its address."""
    actor = getattr(g, "actor", None) or getattr(g, "page_actor", None)
    return f"user:{actor.username}" if actor is not None else f"addr:{client_address()}"


limiter = Limiter(key_func=_who, strategy="fixed-window", headers_enabled=True)


def _limit(kind: str) -> str:
    return current_app.config["BPM_RATE_LIMITS"][kind]


def per_user(kind: str):
    """Decorator: the view's calls count against the acting user's ``kind`` limit. Apply it
    below the authentication, so that the user is known when the view is called."""
    return limiter.limit(lambda: _limit(kind), scope=kind)


def per_address(kind: str, failures_only: bool = False):
    """Decorator: calls count against the client address's ``kind`` limit (only failed sign-ins,
    answered 401, with ``failures_only``)."""
    return limiter.limit(lambda: _limit(kind), key_func=lambda: f"addr:{client_address()}", scope=kind,
                         methods=["POST"],  # showing the sign-in page is no attempt
                         deduct_when=(lambda response: response.status_code == 401) if failures_only else None)


def init_app(app, engine) -> None:
    settings = engine.settings
    app.config["BPM_RATE_LIMITS"] = dict(settings.rate_limits)
    storage = settings.rate_limit_storage or ("memory://" if settings.is_sqlite else "bpmdb://")
    app.config["RATELIMIT_STORAGE_URI"] = storage
    app.config["RATELIMIT_STORAGE_OPTIONS"] = {"engine": engine} if storage.startswith("bpmdb") else {}
    app.config["RATELIMIT_HEADERS_ENABLED"] = True
    # counters in the database fail open while it is away: the request itself then answers 503
    app.config["RATELIMIT_SWALLOW_ERRORS"] = True
    limiter.init_app(app)


class DatabaseStorage(Storage):
    """Fixed-window counters in ``bpm_rate_counter``: one upsert per counted request, shared by
    every process on the database (``bpmdb://``)."""

    STORAGE_SCHEME = ["bpmdb"]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options) -> None:
        self.engine = options.pop("engine")
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)

    @property
    def base_exceptions(self):
        from sqlalchemy.exc import SQLAlchemyError

        return SQLAlchemyError

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        table = RateCounter.__table__
        now = time.time()
        with self.engine.db.transaction() as session:
            dialect = session.get_bind().dialect.name
            if dialect == "postgresql":
                from sqlalchemy.dialects.postgresql import insert
            else:
                from sqlalchemy.dialects.sqlite import insert
            stmt = insert(table).values(key=key[:255], count=amount, expires_at=now + expiry)
            expired = table.c.expires_at <= now
            from sqlalchemy import case

            stmt = stmt.on_conflict_do_update(index_elements=[table.c.key], set_={
                "count": case((expired, amount), else_=table.c.count + amount),
                "expires_at": case((expired, now + expiry), else_=table.c.expires_at),
            }).returning(table.c.count)
            count = session.execute(stmt).scalar_one()
            if random.random() < 0.001:  # now and then, forget windows long past
                session.execute(delete(table).where(table.c.expires_at < now - 3600))
        return count

    def get(self, key: str) -> int:
        with self.engine.db.reader() as session:
            row = session.execute(select(RateCounter.count, RateCounter.expires_at)
                                  .where(RateCounter.key == key[:255])).first()
        return row.count if row is not None and row.expires_at > time.time() else 0

    def get_expiry(self, key: str) -> float:
        with self.engine.db.reader() as session:
            expires = session.execute(select(RateCounter.expires_at).where(RateCounter.key == key[:255])).scalar()
        return expires if expires is not None else time.time()

    def check(self) -> bool:
        try:
            with self.engine.db.reader() as session:
                session.execute(select(1))
            return True
        except Exception:  # noqa: BLE001
            return False

    def reset(self) -> int | None:
        with self.engine.db.transaction() as session:
            return session.execute(delete(RateCounter)).rowcount

    def clear(self, key: str) -> None:
        with self.engine.db.transaction() as session:
            session.execute(delete(RateCounter).where(RateCounter.key == key[:255]))
