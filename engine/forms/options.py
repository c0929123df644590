"""Dynamic options of form selects, declared on the user task.

form-js reads a select's options from the form's input data when the component has
``valuesKey`` (a list of ``{label, value}``). A user task fills such a key by naming an
option provider in a ``camunda:property``::

    <camunda:property name="options.hall_staff" value="users:counter_staff" />

The options are computed each time the task is read (task page, ``GET /api/tasks/<id>``)
and added to the returned ``data`` only: they are never stored in the instance data or the
task's submitted data (``strip`` drops the key when a client sends it back).

Providers (one kind for now):

* ``users:<role>`` - the active users with ``<role>`` in the task's org unit (the task's,
  else the instance's), without the reader, labelled by the Chinese display name (the username only where two read the same), valued by username,
  sorted by label. A task without an org unit offers none.

The submitted value of a select bound to a provider key must be a string (of a checklist or
taglist: a list of strings); whether it is an acceptable choice is for the task's business hook
to decide (e.g. ``record=inspection``, ``study.signin``).
"""

from __future__ import annotations

import re

from sqlalchemy import select

from engine.errors import ValidationFailed
from engine.extensions import Completion, DeployContext, Element, Extension
from engine.forms.model import form_fields
from engine.identity.names import people_options

PREFIX = "options."
KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
PROVIDERS = ("users",)
MAX_OPTIONS = 1000


def parse(name: str, value: str | None) -> tuple[str, str, str]:
    """``(key, provider, argument)`` of an ``options.<key>`` property; ValueError when invalid."""
    key = name[len(PREFIX):]
    if not KEY_RE.match(key):
        raise ValueError(f"property {name!r}: {key!r} is not a data key (letters, digits, _)")
    provider, _, arg = (value or "").strip().partition(":")
    if provider not in PROVIDERS:
        raise ValueError(f"property {name!r}: unknown option provider {value!r} "
                         f"(known: {', '.join(p + ':<role>' for p in PROVIDERS)})")
    from engine.identity.roles import is_known_role

    if not is_known_role(arg):
        raise ValueError(f"property {name!r}: {value!r} names no known role")
    return key, provider, arg


def check(props: dict) -> list[str]:
    """Deploy-time messages for the ``options.*`` properties of an element (empty when fine)."""
    out = []
    for name, value in props.items():
        if name.startswith(PREFIX):
            try:
                parse(name, value)
            except ValueError as exc:
                out.append(str(exc))
    return out


def declared(props: dict | None) -> dict[str, tuple[str, str]]:
    """``{key: (provider, argument)}`` of a task's valid option properties."""
    out = {}
    for name, value in (props or {}).items():
        if name.startswith(PREFIX):
            try:
                key, provider, arg = parse(name, value)
            except ValueError:
                continue  # refused at deploy; an old definition's bad property offers nothing
            out[key] = (provider, arg)
    return out


def _users(session, role: str, unit: str | None, reader: str) -> list[dict]:
    from engine.store.models import User, UserRole

    if not unit:
        return []
    rows = session.execute(
        select(User.username, User.display_name)
        .join(UserRole, UserRole.user_id == User.id)
        .where(UserRole.role == role, User.org_unit == unit, User.is_active.is_(True), User.username != reader)
        .limit(MAX_OPTIONS)
    ).all()
    return people_options([(r.username, r.display_name) for r in rows])


def for_task(session, actor, task, inst) -> dict[str, list[dict]]:
    """The option lists of ``task`` as read by ``actor`` (``{}`` when it declares none)."""
    out = {}
    unit = task.org_unit or (inst.org_unit if inst is not None else None)
    for key, (provider, arg) in declared(task.properties).items():
        if provider == "users":
            out[key] = _users(session, arg, unit, actor.username)
    return out


def strip(props: dict | None, data: dict) -> dict:
    """``data`` without the task's option keys (the options a client may echo back)."""
    keys = declared(props).keys() & data.keys()
    return {k: v for k, v in data.items() if k not in keys} if keys else data


def _usernames(value) -> bool:
    """A select's username, or a checklist's / taglist's list of usernames."""
    return isinstance(value, str) or (isinstance(value, list) and all(isinstance(v, str) for v in value))


def check_submission(props: dict | None, form: dict | None, cleaned: dict) -> None:
    """422 when a top-level field bound to a provider key holds anything but a username (a select)
    or a list of usernames (a checklist or taglist)."""
    keys = set(declared(props))
    if not keys or not isinstance(form, dict):
        return
    bound = [f.path for f in form_fields(form) if f.top_level and f.values_key in keys]
    bad = {field: ["Not a valid choice."] for field in bound
           if field in cleaned and cleaned[field] is not None and not _usernames(cleaned[field])}
    if bad:
        raise ValidationFailed("form data is invalid", bad)


def _check(element: Element, ctx: DeployContext) -> list[str]:
    return check(dict(element.properties))


def _submitted(task, data: dict) -> dict:
    return strip(task.properties, data)


def _completing(ctx: Completion) -> dict:
    if declared(ctx.task.properties):
        check_submission(ctx.task.properties, ctx.form, ctx.data)
    return ctx.data


EXTENSION = Extension("options", properties=(PREFIX,), check=_check, task_read=for_task, task_submitted=_submitted,
                      task_completing=_completing)
