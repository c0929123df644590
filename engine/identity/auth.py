"""Sign-in and tokens: password hashing (argon2), throttled login, bearer tokens and browser
sessions, and the actor a token stands for."""

from __future__ import annotations

import hashlib
import secrets
import threading
from dataclasses import dataclass
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from engine.clock import utcnow
from engine.errors import Conflict, TooManyRequests, Unauthorized, ValidationFailed
from engine.identity.actor import SYSTEM, Actor
from engine.identity.roles import ROLES, is_known_role
from engine.store.models import ApiToken, LoginFailures, LoginOrigin, LoginThrottle, User, UserRole

_hasher = PasswordHasher()


# A real hash to verify against when the user does not exist, so timing does not leak it.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def actor_by_name(session: Session, username: str) -> Actor | None:
    user = session.execute(select(User).where(User.username == username, User.is_active.is_(True))).scalar_one_or_none()
    return _actor(session, user) if user is not None else None


def _actor(session: Session, user: User) -> Actor:
    roles = session.execute(select(UserRole.role).where(UserRole.user_id == user.id)).scalars().all()
    return Actor(user.username, frozenset(roles), user.display_name, user.org_unit)


def add_user(
    session: Session,
    username: str,
    password: str,
    roles: list[str],
    display_name: str | None = None,
    org_unit: str | None = None,
) -> User:
    errors = {}
    if not username or len(username) > 64:
        errors["username"] = ["must be 1-64 characters"]
    if len(password) < 4:
        errors["password"] = ["must be at least 4 characters"]
    unknown = [r for r in roles if not is_known_role(r)]
    if unknown:
        errors["roles"] = [f"unknown role(s): {', '.join(unknown)}; known: {', '.join(ROLES)}"]
    if errors:
        raise ValidationFailed("invalid user", errors)
    if session.execute(select(User.id).where(User.username == username)).first():
        raise Conflict(f"user {username!r} already exists")
    user = User(
        username=username,
        display_name=display_name or username,
        password_hash=hash_password(password),
        org_unit=org_unit,
        is_active=True,
        created_at=utcnow(),
    )
    session.add(user)
    session.flush()
    for role in sorted(set(roles)):
        session.add(UserRole(user_id=user.id, role=role))
    session.flush()  # the roles are part of the user from here on (audited as such by the caller)
    return user


def users_with_password(session: Session, candidates: list[str]) -> list[str]:
    """Active users whose password is one of ``candidates`` (production start-up check)."""
    weak = []
    for user in session.execute(select(User).where(User.is_active.is_(True)).order_by(User.username)).scalars():
        if any(verify_password(user.password_hash, pw) for pw in candidates):
            weak.append(user.username)
    return weak


def issue_token(session: Session, username: str, password: str, ttl_seconds: int,
                kind: str = "api") -> tuple[str, Actor]:
    """Check the password and create a bearer token (or a browser session id, ``kind`` session),
    without throttling (set-up and tests; sign-ins go through :func:`login`)."""
    user = session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    if user is None or not user.is_active:
        verify_password(_DUMMY_HASH, password)
        raise Unauthorized("invalid username or password")
    if not verify_password(user.password_hash, password):
        raise Unauthorized("invalid username or password")
    return _new_token(session, user, ttl_seconds, kind), _actor(session, user)


def _new_token(session: Session, user: User, ttl_seconds: int, kind: str = "api") -> str:
    token = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(ApiToken(token_hash=_token_hash(token), kind=kind, user_id=user.id, created_at=now,
                         expires_at=now + timedelta(seconds=ttl_seconds)))
    return token


# Login throttling, per username and origin: after FREE_FAILURES consecutive failures every
# further attempt must wait 2^(n - FREE_FAILURES) seconds after the last failure; at LOCK_FAILURES
# the username is locked for LOCK_MINUTES. Unknown usernames are throttled exactly like known
# ones. The count is kept apart for each address the user signed in from before (a known
# origin, KNOWN_ORIGIN_DAYS): failures from anywhere else cannot lock the owner out. Guessing
# across usernames from one address is bounded by the web layer's per-address limits.
FREE_FAILURES = 3
LOCK_FAILURES = 6
LOCK_MINUTES = 15
KNOWN_ORIGIN_DAYS = 90
# Failed sign-ins from one address within AUDIT_WINDOW_SECONDS are audited as one event with their count.
AUDIT_WINDOW_SECONDS = 60
AUDITED_USERNAMES = 20
# Password checks (argon2, ~50 ms of CPU and 64 MiB each) run at most this many at a time per
# process; a sign-in that cannot start one within HASH_WAIT_SECONDS is told to try again (429), so a
# burst of guesses cannot take every core from the other users' requests.
_hashing = threading.BoundedSemaphore(1)
HASH_WAIT_SECONDS = 2.0


@dataclass
class LoginResult:
    token: str | None = None
    actor: Actor | None = None
    error: Exception | None = None


def _locked_row(session: Session, model, key: dict, defaults: dict):
    """The row of ``model`` with primary key ``key``, created with ``defaults`` when missing (an
    insert that ignores a concurrent twin) and locked for this transaction on PostgreSQL."""
    table = model.__table__
    insert = (pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert)(table)
    session.execute(insert.values(**key, **defaults).on_conflict_do_nothing())
    query = select(model).where(*(getattr(model, k) == v for k, v in key.items())).with_for_update()
    return session.execute(query).scalar_one()


def _refusal(throttle: LoginThrottle, now) -> TooManyRequests | None:
    if throttle.locked_until is not None and throttle.locked_until > now:
        wait = int((throttle.locked_until - now).total_seconds()) + 1
        return TooManyRequests(f"too many failed logins: locked for {wait} s", retry_after=wait)
    if throttle.failures >= FREE_FAILURES:
        ready_at = throttle.last_failed_at + timedelta(seconds=2 ** (throttle.failures - FREE_FAILURES))
        if ready_at > now:
            wait = int((ready_at - now).total_seconds()) + 1
            return TooManyRequests(f"too many failed logins: wait {wait} s", retry_after=wait)
    return None


def login(engine, username: str, password: str, ttl_seconds: int, address: str = "", kind: str = "api") -> LoginResult:
    """Check credentials with throttling and create a token (``kind`` api) or browser session.

    Three short steps, none holding a transaction while the password is hashed: (1) the
    attempt is counted as a failure before the password is checked (so parallel guesses are
    counted, and a locked or waiting username is refused without hashing); (2) the password
    check, bounded per process (``_hashing``); (3) a success clears the count, records the
    origin and issues the token; a failure may lock the username and is audited per address.
    The caller raises ``result.error`` when set.
    """
    if not _hashing.acquire(timeout=HASH_WAIT_SECONDS):
        return LoginResult(error=TooManyRequests("too many sign-ins at once: try again in a moment", retry_after=1))
    try:
        address = (address or "")[:64]
        now = utcnow()
        with engine.uow(SYSTEM) as uow:
            session = uow.session
            known = address and session.get(LoginOrigin, (username, address)) is not None
            origin = address if known else ""
            throttle = _locked_row(session, LoginThrottle, {"username": username, "origin": origin},
                                   {"failures": 0, "last_failed_at": now})
            refused = _refusal(throttle, now)
            if refused is None:
                throttle.failures += 1  # counted before the check; a success deletes the row
                throttle.last_failed_at = now
            user = session.execute(select(User).where(User.username == username)).scalar_one_or_none()
            stored = user.password_hash if user is not None and user.is_active else None
            user_id = user.id if user is not None else None
        if refused is not None:
            return LoginResult(error=refused)
        ok = verify_password(stored or _DUMMY_HASH, password) and stored is not None
    finally:
        _hashing.release()
    with engine.uow(SYSTEM) as uow:
        session = uow.session
        if ok:
            user = session.get(User, user_id)
            session.execute(delete(LoginThrottle).where(LoginThrottle.username == username,
                                                        LoginThrottle.origin == origin))
            if address:
                seen = session.get(LoginOrigin, (username, address))
                if seen is None:
                    session.add(LoginOrigin(username=username, address=address, last_login_at=now))
                else:
                    seen.last_login_at = now
            actor = _actor(session, user)
            uow.audit("login", actor=actor, address=address or None, kind=kind)
            return LoginResult(token=_new_token(session, user, ttl_seconds, kind), actor=actor)
        throttle = session.get(LoginThrottle, (username, origin))
        locked = throttle is not None and throttle.failures >= LOCK_FAILURES and throttle.locked_until is None
        if locked:
            throttle.locked_until = now + timedelta(minutes=LOCK_MINUTES)
        _count_failure(uow, address, username, now, flush=locked)
        if locked:
            who = Actor(username[:64], frozenset(), None, None)
            uow.audit("account_locked", actor=who, until=throttle.locked_until.isoformat(), failures=throttle.failures,
                      address=address or None, origin="known" if origin else "other")
    return LoginResult(error=Unauthorized("invalid username or password"))


def _count_failure(uow, address: str, username: str, now, flush: bool = False) -> None:
    """Add a failed sign-in to its address's tally; audit the tally as one ``login_failed`` event
    when the address had none in the last AUDIT_WINDOW_SECONDS (the first failure of a burst is
    seen at once) or when ``flush``; :func:`flush_failed_logins` writes what is left over."""
    row = _locked_row(uow.session, LoginFailures, {"address": address or "-"}, {"failures": 0, "usernames": []})
    if not row.failures:
        row.first_at = now
    row.failures += 1
    row.last_at = now
    if username not in row.usernames and len(row.usernames) < AUDITED_USERNAMES:
        row.usernames = [*row.usernames, username[:64]]
    if flush or row.audited_at is None or (now - row.audited_at).total_seconds() >= AUDIT_WINDOW_SECONDS:
        _audit_failures(uow, row, now)


def _audit_failures(uow, row: LoginFailures, now) -> None:
    names = list(row.usernames)
    who = Actor(names[0], frozenset(), None, None) if len(names) == 1 else Actor("anonymous", frozenset())
    uow.audit("login_failed", actor=who, address=None if row.address == "-" else row.address, failures=row.failures,
              usernames=names, first_at=row.first_at.isoformat() if row.first_at else None,
              last_at=row.last_at.isoformat() if row.last_at else None)
    row.failures, row.usernames, row.audited_at = 0, [], now


def flush_failed_logins(engine, older_than: float = AUDIT_WINDOW_SECONDS) -> int:
    """Audit the failed sign-ins still tallied whose window has passed (the timer worker calls
    this), so that the tail of a burst is recorded too; returns how many events were written."""
    cutoff = utcnow() - timedelta(seconds=older_than)
    written = 0
    with engine.uow(SYSTEM) as uow:
        rows = uow.session.execute(
            select(LoginFailures).where(LoginFailures.failures > 0, LoginFailures.last_at <= cutoff).with_for_update()
        ).scalars().all()
        for row in rows:
            _audit_failures(uow, row, utcnow())
            written += 1
    return written


def authenticate(session: Session, token: str, kind: str = "api") -> Actor:
    """The user of a bearer token (``kind`` api) or of a browser session id (``kind`` session);
    neither is accepted as the other."""
    row = session.execute(
        select(ApiToken, User).join(User, User.id == ApiToken.user_id)
        .where(ApiToken.token_hash == _token_hash(token), ApiToken.kind == kind)
    ).first()
    if row is None:
        raise Unauthorized("invalid token")
    tok, user = row
    if tok.revoked_at is not None or tok.expires_at <= utcnow() or not user.is_active:
        raise Unauthorized("token expired or revoked")
    return _actor(session, user)


def revoke_token(session: Session, token: str) -> None:
    tok = session.get(ApiToken, _token_hash(token))
    if tok is not None and tok.revoked_at is None:
        tok.revoked_at = utcnow()
