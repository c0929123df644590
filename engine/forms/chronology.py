"""Times that cannot come before the case: the task property ``notBeforeStart``.

``notBeforeStart`` names (comma-separated) top-level date-time fields of the task's form that
must not be earlier than the instance's start, the moment the case was registered (a
complaint's registration, a counter transaction's acceptance). A customer cannot be answered
before they came in: ``answered_at`` of a complaint's closing call, ``replied_at`` of the duty
manager's on-the-spot handling. A value before the registration (compared to the minute, as the
forms record minutes) is refused with a 422 naming the field and the registration time.

The task's reader gets the registration time as ``case_registered_at`` (local time, to the
minute): a form shows it in a read-only field and declares ``properties.notBefore =
"case_registered_at"`` on the answer (engine/forms/order.py), so the browser refuses an earlier
answer before submitting. It is never stored: the registration is the instance's start.

Form date-times without an offset (form-js ``no_timezone``) are local time (Asia/Shanghai,
the time the halls keep); a value with an offset is compared as it says. Empty values are left
to the form's ``required`` rule; an unreadable one to the form's own check.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from engine.clock import LOCAL_TZ
from engine.errors import ValidationFailed
from engine.extensions import Completion, DeployContext, Element, Extension
from engine.forms.order import parse

PROPERTY = "notBeforeStart"
REGISTERED_KEY = "case_registered_at"
_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def field_names(value: str | None) -> list[str]:
    return [name.strip() for name in (value or "").split(",") if name.strip()]


def _check(element: Element, ctx: DeployContext) -> list[str]:
    names = field_names(element.properties.get(PROPERTY))
    if not names:
        return [f"{PROPERTY} names no field: give the form's date-time field keys, comma-separated"]
    return [f"{PROPERTY}: {name!r} is not a form field key" for name in names if not _KEY.match(name)]


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def too_early(data: dict, names: list[str], started_at: datetime) -> dict[str, list[str]]:
    """The fields among ``names`` whose time is before ``started_at`` (to the minute), with their message."""
    registered = _aware(started_at).astimezone(LOCAL_TZ).replace(second=0, microsecond=0)
    errors: dict[str, list[str]] = {}
    for name in names:
        when = parse(data.get(name))
        if when is not None and when < registered:
            shown = registered.strftime("%Y-%m-%d %H:%M")
            errors[name] = [f"答复时间不能早于登记时间（{shown}）。"
                            f"The time cannot be earlier than the registration ({shown}, Beijing time)."]
    return errors


def registered(started_at: datetime) -> str:
    """The instance's start as a form date-time: local time, to the minute."""
    return _aware(started_at).astimezone(LOCAL_TZ).strftime("%Y-%m-%dT%H:%M")


def _read(session, actor, task, inst) -> dict:
    started_at = getattr(inst, "started_at", None)
    if started_at is None or not field_names((task.properties or {}).get(PROPERTY)):
        return {}
    return {REGISTERED_KEY: registered(started_at)}


def _completing(ctx: Completion) -> dict:
    names = field_names((ctx.task.properties or {}).get(PROPERTY))
    started_at = getattr(ctx.inst, "started_at", None)
    if names and started_at is not None:
        errors = too_early(ctx.data, names, started_at)
        if errors:
            raise ValidationFailed("form data is invalid", errors)
    if REGISTERED_KEY in ctx.data:  # shown to the reader, never stored
        return {k: v for k, v in ctx.data.items() if k != REGISTERED_KEY}
    return ctx.data


EXTENSION = Extension("not_before_start", properties=(PROPERTY,), check=_check, task_read=_read,
                      task_completing=_completing)
