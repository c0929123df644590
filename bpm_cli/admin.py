"""``bpm users``, ``bpm units``, ``bpm calendar`` and ``bpm halls``: administration (audited)."""

from __future__ import annotations

import json

import click

from bpm_cli.support import admin_call, open_engine
from engine.identity.actor import SYSTEM
from engine.identity.roles import ROLES


@click.group()
def users() -> None:
    """Manage users (every change is audited)."""


@users.command("add")
@click.argument("username")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--role", "roles", multiple=True, required=True, type=click.Choice(list(ROLES)))
@click.option("--name", "display_name", default=None)
@click.option("--unit", "org_unit", default=None, help="org unit key (must exist: see `bpm units list`)")
@click.option("--email", default=None)
def users_add(username, password, roles, display_name, org_unit, email) -> None:
    from engine.identity import users as svc

    admin_call(lambda uow: svc.create_user(uow, username, password, list(roles), display_name, org_unit, email))
    click.echo(f"user {username} added")


@users.command("list")
def users_list() -> None:
    from engine.identity import users as svc

    with open_engine().read() as session:
        for user in svc.list_users(session, SYSTEM):
            flags = ("" if user["is_active"] else " inactive") + (" LOCKED" if user["locked"] else "")
            click.echo(f"{user['username']:24} {','.join(user['roles']):40} {user['org_unit'] or '-':12}{flags}")


@users.command("set")
@click.argument("username")
@click.option("--role", "roles", multiple=True, type=click.Choice(list(ROLES)), help="replace the roles")
@click.option("--unit", "org_unit", default=None)
@click.option("--name", "display_name", default=None)
@click.option("--email", default=None)
@click.option("--active/--inactive", "is_active", default=None)
@click.option("--reset-password", is_flag=True, help="prompt for a new password")
def users_set(username, roles, org_unit, display_name, email, is_active, reset_password) -> None:
    """Change a user's roles, unit, name, e-mail, active flag or password."""
    from engine.identity import users as svc

    changes = {k: v for k, v in {"org_unit": org_unit, "display_name": display_name, "email": email,
                                 "is_active": is_active}.items() if v is not None}
    if roles:
        changes["roles"] = list(roles)
    if reset_password:
        changes["password"] = click.prompt("new password", hide_input=True, confirmation_prompt=True)
    if not changes:
        raise click.UsageError("nothing to change")
    admin_call(lambda uow: svc.update_user(uow, username, changes))
    click.echo(f"user {username} updated")


@users.command("unlock")
@click.argument("username")
def users_unlock(username) -> None:
    """Lift a login lockout."""
    from engine.identity import users as svc

    admin_call(lambda uow: svc.unlock(uow, username))
    click.echo(f"user {username} unlocked")


@users.command("revoke-tokens")
@click.argument("username")
def users_revoke(username) -> None:
    """Revoke every bearer token of a user."""
    from engine.identity import users as svc

    count = admin_call(lambda uow: svc.revoke_tokens(uow, username))
    click.echo(f"revoked {count} token(s) of {username}")


@click.group()
def units() -> None:
    """Manage org units (service halls, departments)."""


@units.command("add")
@click.argument("key")
@click.argument("name")
@click.option("--kind", type=click.Choice(["hall", "department", "branch"]), default="hall", show_default=True)
@click.option("--parent", "parent_key", default=None)
def units_add(key, name, kind, parent_key) -> None:
    from engine.identity import users as svc

    admin_call(lambda uow: svc.create_unit(uow, key, name, kind, parent_key))
    click.echo(f"org unit {key} added")


@units.command("list")
def units_list() -> None:
    from engine.identity import users as svc

    with open_engine().read() as session:
        for unit in svc.list_units(session):
            click.echo(f"{unit['key']:20} {unit['kind']:11} {unit['name']}  {unit['parent_key'] or ''}")


@click.group()
def calendar() -> None:
    """Local exceptions to the official working-day calendar (closures, extra working days)."""


def _set_override(day, is_working: bool, reason: str | None) -> None:
    from engine.sla import policy as sla
    from engine.store.models import CalendarOverride

    def apply(uow):
        row = uow.session.get(CalendarOverride, day)
        before = {"is_working": row.is_working, "reason": row.reason} if row else None
        if row is None:
            row = CalendarOverride(day=day, is_working=is_working, reason=reason)
            uow.session.add(row)
        else:
            row.is_working, row.reason = is_working, reason
        uow.audit("calendar_override_set", before=before, after={"is_working": is_working, "reason": reason},
                  day=day.isoformat())

    admin_call(apply)
    sla.forget_calendar()


@calendar.command("close")
@click.argument("day", type=click.DateTime(formats=["%Y-%m-%d"]))
@click.option("--reason", required=True)
def calendar_close(day, reason) -> None:
    """Mark DAY (YYYY-MM-DD) as a local closure: not a working day."""
    _set_override(day.date(), False, reason)
    click.echo(f"{day.date()} closed: {reason}")


@calendar.command("work")
@click.argument("day", type=click.DateTime(formats=["%Y-%m-%d"]))
@click.option("--reason", required=True)
def calendar_work(day, reason) -> None:
    """Mark DAY (YYYY-MM-DD) as an extra working day."""
    _set_override(day.date(), True, reason)
    click.echo(f"{day.date()} is a working day: {reason}")


@calendar.command("list")
def calendar_list() -> None:
    from sqlalchemy import select

    from engine.store.models import CalendarOverride

    with open_engine().read() as session:
        for row in session.execute(select(CalendarOverride).order_by(CalendarOverride.day)).scalars():
            click.echo(f"{row.day}  {'working' if row.is_working else 'closed':8} {row.reason or ''}")


@calendar.command("hours")
def calendar_hours() -> None:
    """Show the working hours in effect (BPM_WORKING_HOURS), one line per season."""
    from engine.config import load_settings
    from engine.sla.policy import working_hours

    try:
        hours = working_hours(load_settings().working_hours)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    for season in hours.seasons:
        click.echo(season.describe())


@click.group()
def halls() -> None:
    """Service halls: queue snapshots for the congestion evaluator."""


@halls.command("snapshot")
@click.argument("hall")
@click.option("--waiting", type=click.IntRange(0, 100_000), required=True)
@click.option("--open", "open_counters", type=click.IntRange(0, 1_000), required=True)
def halls_snapshot(hall, waiting, open_counters) -> None:
    """Report waiting customers and open counters; prints the resulting level."""
    from engine.halls import congestion

    state = admin_call(lambda uow: congestion.record_snapshot(uow, hall, waiting, open_counters))
    click.echo(json.dumps(state, ensure_ascii=False, default=str))


def register(main: click.Group) -> None:
    for group in (users, units, calendar, halls):
        main.add_command(group)
