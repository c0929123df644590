"""Setting up seals: organisation CA, system signer and a seal for every service-center head."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select

from engine.identity.actor import SYSTEM
from engine.seals import credentials
from engine.seals.credentials import SEAL_ROLES
from engine.store.models import User, UserRole


def heads(session) -> list[str]:
    """Active users who may hold a seal."""
    return list(session.execute(
        select(User.username).join(UserRole, UserRole.user_id == User.id)
        .where(UserRole.role.in_(sorted(SEAL_ROLES)), User.is_active.is_(True)).order_by(User.username).distinct()
    ).scalars())


def heads_without_seal(session) -> list[str]:
    return [name for name in heads(session) if credentials.active_seal(session, name) is None]


def init_seals(engine, pin_for: Callable[[str], str | None], actor=SYSTEM) -> list[str]:
    """Create what is missing: CA, system signer, and a seal for each head ``pin_for`` gives a PIN.

    Each part is its own unit of work; returns what was done, one line each.
    """
    done = []
    with engine.uow(actor) as uow:
        row, created = credentials.ensure_ca(uow, engine.settings)
        done.append(f"{'created' if created else 'kept'} seal CA {row.subject} (serial {row.serial})")
    with engine.uow(actor) as uow:
        row, created = credentials.ensure_system_signer(uow, engine.settings)
        done.append(f"{'issued' if created else 'kept'} system signer (serial {row.serial})")
    with engine.read() as session:
        missing = heads_without_seal(session)
    for username in missing:
        pin = pin_for(username)
        if not pin:
            done.append(f"skipped {username}: no PIN given")
            continue
        with engine.uow(actor) as uow:
            row = credentials.issue_seal(uow, engine.settings, username, pin)
            done.append(f"issued seal to {username} (serial {row.serial}, valid until {row.not_after:%Y-%m-%d})")
    return done


def setup_demo_seal(engine, pin: str = "123456", username: str = "service_center_head") -> list[str]:
    """``bpm init --demo``: the CA, the system signer and the demo head's seal with ``pin``."""
    return init_seals(engine, lambda name: pin if name == username else None)
