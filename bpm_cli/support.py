"""Helpers shared by the ``bpm`` command modules: the engine, errors, production readiness."""

from __future__ import annotations

import json
import sys

import click

from engine.config import DEFAULT_SECRET
from engine.errors import EngineError


def open_engine():
    """The engine of the configured database (``BPM_DATABASE_URL``, ``BPM_VAR_DIR`` ...)."""
    from engine.app import BpmEngine
    from engine.config import load_settings

    return BpmEngine(load_settings())


def fail(exc: EngineError) -> None:
    """Report an engine error (message, then its details as JSON) on stderr and exit with 2."""
    click.echo(f"error: {exc.message}", err=True)
    if exc.details:
        click.echo(json.dumps(exc.details, ensure_ascii=False, indent=2, default=str), err=True)
    sys.exit(2)


def production_problems(settings) -> list[str]:
    """Reasons production mode must not start: development secret, demo passwords."""
    from engine.identity.auth import users_with_password

    problems = []
    if settings.controlled_clock:
        problems.append("BPM_CONTROLLED_CLOCK=1 is for acceptance tests and is refused in production")
    if settings.secret_key == DEFAULT_SECRET or len(settings.secret_key) < 32:
        problems.append("BPM_ENV=production needs BPM_SECRET_KEY set to a random secret of at least 32 characters")
    engine = open_engine()
    try:
        with engine.read() as session:
            weak = users_with_password(session, ["demo", "password", "123456"])
    except Exception:  # noqa: BLE001 - no database yet: nothing to check
        weak = []
    finally:
        engine.close()
    if weak:
        problems.append(f"users still have demo passwords: {', '.join(weak)}; change them with `bpm users set NAME --reset-password`")
    return problems


def admin_call(fn):
    """Run an administration service as the system actor, turning engine errors into exit code 2."""
    from engine.identity.actor import SYSTEM

    try:
        with open_engine().uow(SYSTEM) as uow:
            return fn(uow)
    except EngineError as exc:
        fail(exc)


def print_json(data) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))
