"""Per-user and per-address rate limits (Flask-Limiter) and request body size limits.

* **Who**: a signed-in request counts against its user (bearer token or browser session), any
  other against its client address. Limits (``engine.config.RATE_LIMITS``, ``BPM_RATE_LIMIT_*``
  in Flask-Limiter's syntax, ``;`` between several) on the actions one user could flood the
  system with: starting instances, completing tasks, uploading files; sign-in attempts per
  address, and failed ones separately.
* **Where counted**: in process (``bpmmemory://``, :class:`ProcessStorage`) for the embedded
  SQLite default, which serves from one process; in the database (``bpm_rate_counter``, :class:`DatabaseStorage`) on
  PostgreSQL, so that every web process behind the load balancer shares the same counts.
  ``BPM_RATE_LIMIT_STORAGE`` overrides (e.g. ``redis://...``).
* **Bodies**: each route reads at most what it needs (:func:`body_limit`): JSON bodies the
  instance data limit plus a margin, definitions 2 MiB, uploads the upload limit; more is 413
  before anything is parsed.
"""

from __future__ import annotations

import random
import threading
import time

from flask import current_app, g, request
from flask_limiter import Limiter
from limits.storage import Storage
from sqlalchemy import delete, select, text

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
    storage = settings.rate_limit_storage or ("bpmmemory://" if settings.is_sqlite else "bpmdb://")
    app.config["RATELIMIT_STORAGE_URI"] = storage
    app.config["RATELIMIT_STORAGE_OPTIONS"] = {"engine": engine} if storage.startswith("bpmdb") else {}
    app.config["RATELIMIT_HEADERS_ENABLED"] = True
    # counters in the database fail open while it is away: the request itself then answers 503
    app.config["RATELIMIT_SWALLOW_ERRORS"] = True
    limiter.init_app(app)


class ProcessStorage(Storage):
    """Fixed-window counters in this process (``bpmmemory://``): a dict under one lock, windows
    that have ended dropped when read and swept when many keys pile up.

    ``limits``' own ``memory://`` storage starts a timer thread after every count whose last
    timer has run out (10 ms), to expire its entries: about one new thread per counted request
    at a clerk's pace, which costs the request that starts it and wakes the server's other
    threads for nothing. Fixed windows need no such timer.
    """

    STORAGE_SCHEME = ["bpmmemory"]
    SWEEP_AT = 10_000  # keys held before the windows that have ended are swept

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options) -> None:
        self._windows: dict[str, tuple[int, float]] = {}  # key -> (count, expires_at)
        self._lock = threading.Lock()
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)

    @property
    def base_exceptions(self):
        return ValueError

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = time.time()
        with self._lock:
            count, expires = self._windows.get(key, (0, 0.0))
            if expires <= now:
                count, expires = 0, now + expiry
                if len(self._windows) >= self.SWEEP_AT:
                    self._windows = {k: w for k, w in self._windows.items() if w[1] > now}
            self._windows[key] = (count + amount, expires)
            return count + amount

    def get(self, key: str) -> int:
        count, expires = self._windows.get(key, (0, 0.0))
        return count if expires > time.time() else 0

    def get_expiry(self, key: str) -> float:
        count, expires = self._windows.get(key, (0, 0.0))
        return expires if expires > time.time() else time.time()

    def check(self) -> bool:
        return True

    def reset(self) -> int | None:
        with self._lock:
            gone, self._windows = len(self._windows), {}
        return gone

    def clear(self, key: str) -> None:
        with self._lock:
            self._windows.pop(key, None)


# the same SQL on PostgreSQL and SQLite (3.35+); as text it is compiled once (SQLAlchemy does
# not cache the compiled form of its ON CONFLICT constructs)
UPSERT = text(
    "INSERT INTO bpm_rate_counter (key, count, expires_at) VALUES (:b_key, :b_amount, :b_expires) "
    "ON CONFLICT (key) DO UPDATE SET "
    "count = CASE WHEN bpm_rate_counter.expires_at <= :b_now THEN :b_amount ELSE bpm_rate_counter.count + :b_amount END, "
    "expires_at = CASE WHEN bpm_rate_counter.expires_at <= :b_now THEN :b_expires ELSE bpm_rate_counter.expires_at END "
    "RETURNING count, expires_at")
RECENT = 1.0  # seconds a counted window answers the headers' reads of the same request


class DatabaseStorage(Storage):
    """Fixed-window counters in ``bpm_rate_counter``: one upsert per counted request, shared by
    every process on the database (``bpmdb://``)."""

    STORAGE_SCHEME = ["bpmdb"]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options) -> None:
        self.engine = options.pop("engine")
        self._seen: dict[str, tuple[int, float, float]] = {}  # key -> (count, expires_at, when counted)
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)

    @property
    def base_exceptions(self):
        from sqlalchemy.exc import SQLAlchemyError

        return SQLAlchemyError

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        """One statement in a transaction of its own; the window it returns also answers the
        same request's ``get``/``get_expiry`` (the rate-limit headers) without reading again."""
        now = time.time()
        key = key[:255]
        db = self.engine.db
        with db.engine.begin() as conn:
            row = conn.execute(UPSERT, {
                "b_key": key, "b_amount": amount, "b_now": now, "b_expires": now + expiry}).one()
            if random.random() < 0.001:  # now and then, forget windows long past
                conn.execute(delete(RateCounter.__table__).where(RateCounter.__table__.c.expires_at < now - 3600))
        if len(self._seen) > 10_000:  # many addresses: start over rather than grow
            self._seen.clear()
        self._seen[key] = (row.count, row.expires_at, now)
        return row.count

    def _recent(self, key: str):
        """The window this process counted for ``key`` within the last second, if any."""
        seen = self._seen.get(key[:255])
        return seen if seen is not None and time.time() - seen[2] < RECENT else None

    def get(self, key: str) -> int:
        if (seen := self._recent(key)) is not None:
            return seen[0] if seen[1] > time.time() else 0
        with self.engine.db.reader() as session:
            row = session.execute(select(RateCounter.count, RateCounter.expires_at)
                                  .where(RateCounter.key == key[:255])).first()
        return row.count if row is not None and row.expires_at > time.time() else 0

    def get_expiry(self, key: str) -> float:
        if (seen := self._recent(key)) is not None:
            return seen[1]
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
        self._seen.clear()
        with self.engine.db.transaction() as session:
            return session.execute(delete(RateCounter)).rowcount

    def clear(self, key: str) -> None:
        self._seen.pop(key[:255], None)
        with self.engine.db.transaction() as session:
            session.execute(delete(RateCounter).where(RateCounter.key == key[:255]))
