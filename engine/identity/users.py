"""User, role and org-unit administration (admin only); every change audited with before/after."""

from __future__ import annotations

from sqlalchemy import delete, select, update

from engine.clock import utcnow
from engine.errors import Conflict, NotFound, ValidationFailed
from engine.identity import auth as identity
from engine.identity import policy
from engine.identity.actor import Actor
from engine.identity.roles import ROLES, UNIT_KINDS, is_known_role
from engine.store.models import ApiToken, LoginThrottle, OrgUnit, User, UserRole


def require_admin(actor: Actor) -> None:
    policy.require_admin(actor, "manage users, roles and org units")


def _user(session, username: str) -> User:
    user = session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    if user is None:
        raise NotFound(f"user {username!r} not found")
    return user


def user_to_dict(session, user: User) -> dict:
    roles = sorted(session.execute(select(UserRole.role).where(UserRole.user_id == user.id)).scalars())
    locked = session.execute(select(LoginThrottle.username).where(
        LoginThrottle.username == user.username, LoginThrottle.locked_until > utcnow()).limit(1)).first() is not None
    return {
        "username": user.username,
        "display_name": user.display_name,
        "roles": roles,
        "org_unit": user.org_unit,
        "email": user.email,
        "is_active": user.is_active,
        "locked": locked,
        "created_at": user.created_at,
    }


def list_users(session, actor: Actor) -> list[dict]:
    require_admin(actor)
    return [user_to_dict(session, u) for u in session.execute(select(User).order_by(User.username)).scalars()]


def get_user(session, actor: Actor, username: str) -> dict:
    if actor.username != username:
        require_admin(actor)
    return user_to_dict(session, _user(session, username))


def _check_unit(session, unit: str | None) -> None:
    if unit is not None and session.get(OrgUnit, unit) is None:
        raise ValidationFailed("unknown org unit", {"org_unit": [f"org unit {unit!r} does not exist"]})


def create_user(uow, username: str, password: str, roles: list[str], display_name: str | None = None,
                org_unit: str | None = None, email: str | None = None) -> dict:
    require_admin(uow.actor)
    _check_unit(uow.session, org_unit)
    if len(password) < 8:
        raise ValidationFailed("password too short", {"password": ["must be at least 8 characters"]})
    user = identity.add_user(uow.session, username, password, roles, display_name, org_unit)
    user.email = email
    after = user_to_dict(uow.session, user)
    uow.audit("user_created", after={k: v for k, v in after.items() if k != "created_at"}, username=username)
    return after


def update_user(uow, username: str, changes: dict) -> dict:
    """Apply ``changes`` (roles, org_unit, display_name, email, is_active, password)."""
    require_admin(uow.actor)
    session = uow.session
    user = _user(session, username)
    before = user_to_dict(session, user)
    if "roles" in changes:
        unknown = [r for r in changes["roles"] if not is_known_role(r)]
        if unknown:
            raise ValidationFailed("unknown roles", {"roles": [f"unknown role(s): {', '.join(unknown)}; known: {', '.join(ROLES)}"]})
        if username == uow.actor.username and "admin" not in changes["roles"]:
            raise Conflict("you cannot remove your own admin role")
        session.execute(delete(UserRole).where(UserRole.user_id == user.id))
        for role in sorted(set(changes["roles"])):
            session.add(UserRole(user_id=user.id, role=role))
    if "org_unit" in changes:
        _check_unit(session, changes["org_unit"])
        user.org_unit = changes["org_unit"]
    for field in ("display_name", "email"):
        if field in changes:
            setattr(user, field, changes[field])
    if "is_active" in changes:
        if username == uow.actor.username and not changes["is_active"]:
            raise Conflict("you cannot deactivate yourself")
        user.is_active = changes["is_active"]
        if not user.is_active:
            _revoke_all(session, user)
    if "password" in changes:
        if len(changes["password"]) < 8:
            raise ValidationFailed("password too short", {"password": ["must be at least 8 characters"]})
        user.password_hash = identity.hash_password(changes["password"])
        _revoke_all(session, user)
    session.flush()
    after = user_to_dict(session, user)
    strip = lambda d: {k: v for k, v in d.items() if k != "created_at"}  # noqa: E731
    uow.audit("user_updated", before=strip(before), after=strip(after), username=username,
              password_changed="password" in changes)
    return after


def _revoke_all(session, user: User) -> int:
    return session.execute(
        update(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None)).values(revoked_at=utcnow())
    ).rowcount


def revoke_tokens(uow, username: str) -> int:
    require_admin(uow.actor)
    count = _revoke_all(uow.session, _user(uow.session, username))
    uow.audit("tokens_revoked", username=username, count=count)
    return count


def unlock(uow, username: str) -> None:
    """Clear the failed sign-ins of ``username`` from every origin (and so any lock)."""
    require_admin(uow.actor)
    user = _user(uow.session, username)
    before = user_to_dict(uow.session, user)
    uow.session.execute(delete(LoginThrottle).where(LoginThrottle.username == username))
    after = user_to_dict(uow.session, user)
    strip = lambda d: {k: v for k, v in d.items() if k != "created_at"}  # noqa: E731
    uow.audit("account_unlocked", username=username, before=strip(before), after=strip(after))


def unit_to_dict(unit: OrgUnit) -> dict:
    return {"key": unit.key, "name": unit.name, "kind": unit.kind, "parent_key": unit.parent_key}


def list_units(session) -> list[dict]:
    return [unit_to_dict(u) for u in session.execute(select(OrgUnit).order_by(OrgUnit.key)).scalars()]


def create_unit(uow, key: str, name: str, kind: str, parent_key: str | None = None) -> dict:
    require_admin(uow.actor)
    errors = {}
    if kind not in UNIT_KINDS:
        errors["kind"] = [f"must be one of {', '.join(UNIT_KINDS)}"]
    if parent_key is not None and uow.session.get(OrgUnit, parent_key) is None:
        errors["parent_key"] = [f"org unit {parent_key!r} does not exist"]
    if errors:
        raise ValidationFailed("invalid org unit", errors)
    if uow.session.get(OrgUnit, key) is not None:
        raise Conflict(f"org unit {key!r} already exists")
    unit = OrgUnit(key=key, name=name, kind=kind, parent_key=parent_key)
    uow.session.add(unit)
    uow.session.flush()  # a unit created next in the same unit of work may name this one as its parent
    uow.audit("org_unit_created", after=unit_to_dict(unit))
    return unit_to_dict(unit)
