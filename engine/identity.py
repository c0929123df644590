"""Users, roles, password hashing (argon2) and bearer tokens.

This is the minimal identity the engine needs to enforce who may start, claim and
complete; org units and the full permission model build on it.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.clock import utcnow
from engine.errors import Conflict, EngineError, Unauthorized, ValidationFailed
from engine.roles import ROLES, is_known_role
from engine.store.models import ApiToken, LoginThrottle, User, UserRole

_hasher = PasswordHasher()


class TooManyRequests(EngineError):
    status, code = 429, "too_many_requests"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message, {"retry_after": retry_after})
        self.retry_after = retry_after
# A real hash to verify against when the user does not exist, so timing does not leak it.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


@dataclass(frozen=True)
class Actor:
    """Who is acting: a user (with roles) or the engine itself."""

    username: str
    roles: frozenset[str] = field(default_factory=frozenset)
    display_name: str | None = None
    org_unit: str | None = None

    def has_any(self, roles) -> bool:
        return bool(self.roles.intersection(roles))

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles


SYSTEM = Actor("system", frozenset({"system"}), "系统")


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
    return user




def users_with_password(session: Session, candidates: list[str]) -> list[str]:
    """Active users whose password is one of ``candidates`` (production start-up check)."""
    weak = []
    for user in session.execute(select(User).where(User.is_active.is_(True)).order_by(User.username)).scalars():
        if any(verify_password(user.password_hash, pw) for pw in candidates):
            weak.append(user.username)
    return weak


def issue_token(session: Session, username: str, password: str, ttl_seconds: int) -> tuple[str, Actor]:
    """Check the password and create a bearer token; the same error for every failure."""
    user = session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    if user is None or not user.is_active:
        verify_password(_DUMMY_HASH, password)
        raise Unauthorized("invalid username or password")
    if not verify_password(user.password_hash, password):
        raise Unauthorized("invalid username or password")
    return _new_token(session, user, ttl_seconds), _actor(session, user)


def _new_token(session: Session, user: User, ttl_seconds: int) -> str:
    token = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(
        ApiToken(token_hash=_token_hash(token), user_id=user.id, created_at=now, expires_at=now + timedelta(seconds=ttl_seconds))
    )
    return token


# Login throttling: after FREE_FAILURES consecutive failures every further attempt must wait
# 2^(n - FREE_FAILURES) seconds after the last failure; at LOCK_FAILURES the username is
# locked for LOCK_MINUTES. Unknown usernames are throttled exactly like known ones.
FREE_FAILURES = 3
LOCK_FAILURES = 6
LOCK_MINUTES = 15


@dataclass
class LoginResult:
    token: str | None = None
    actor: Actor | None = None
    error: Exception | None = None


def login(uow, username: str, password: str, ttl_seconds: int) -> LoginResult:
    """Check credentials with throttling; failures are recorded (and audited) even though they fail.

    The caller commits the unit of work and then raises ``result.error`` if set, so the
    failure count and the audit event survive the refusal.
    """
    session, now = uow.session, utcnow()
    throttle = session.get(LoginThrottle, username)
    if throttle is not None:
        if throttle.locked_until is not None and throttle.locked_until > now:
            wait = int((throttle.locked_until - now).total_seconds()) + 1
            return LoginResult(error=TooManyRequests(f"too many failed logins: locked for {wait} s", retry_after=wait))
        if throttle.failures >= FREE_FAILURES:
            ready_at = throttle.last_failed_at + timedelta(seconds=2 ** (throttle.failures - FREE_FAILURES))
            if ready_at > now:
                wait = int((ready_at - now).total_seconds()) + 1
                return LoginResult(error=TooManyRequests(f"too many failed logins: wait {wait} s", retry_after=wait))
    user = session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    ok = user is not None and user.is_active and verify_password(user.password_hash, password)
    if user is None or not user.is_active:
        verify_password(_DUMMY_HASH, password)
    if ok:
        if throttle is not None:
            session.delete(throttle)
        actor = _actor(session, user)
        uow.audit("login", actor=actor)
        return LoginResult(token=_new_token(session, user, ttl_seconds), actor=actor)
    if throttle is None:
        throttle = LoginThrottle(username=username, failures=0, last_failed_at=now)
        session.add(throttle)
    throttle.failures += 1
    throttle.last_failed_at = now
    who = Actor(username[:64], frozenset(), None, user.org_unit if user else None)
    uow.audit("login_failed", actor=who, failures=throttle.failures, known_user=user is not None)
    if throttle.failures >= LOCK_FAILURES:
        throttle.locked_until = now + timedelta(minutes=LOCK_MINUTES)
        uow.audit("account_locked", actor=who, until=throttle.locked_until.isoformat(), failures=throttle.failures)
    return LoginResult(error=Unauthorized("invalid username or password"))


def authenticate(session: Session, token: str) -> Actor:
    row = session.execute(
        select(ApiToken, User).join(User, User.id == ApiToken.user_id).where(ApiToken.token_hash == _token_hash(token))
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
