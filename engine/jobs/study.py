"""The study day's sign-in (:data:`EXTENSION`): 001 学习制度 「重要客户室每两周安排一次学习日」.

``processes/study_day.bpmn`` is started by the engine every second week for every room
(``schedule.cycle``, ``schedule.units=room``) or by the room manager by hand. Its user task with
the property ``study.signin=<role>`` records who attended: the form's checklist ``attendees``
offers the active users of that role in the task's unit (``options.room_members``). When the task
completes, every attendee must still be such a user (422 naming ``attendees`` otherwise); the
task's data gets ``members`` (the unit's members of the role), ``attended`` and ``absentees``
(the members not signed in), and the sign-in is audited ``study_day_signed_in``.

:func:`study_days` answers, for the monthly job, how many study days each person's unit held in a
month and how many the person attended.
"""

from __future__ import annotations

from sqlalchemy import select

from engine.errors import ValidationFailed
from engine.extensions import Completion, DeployContext, Element, Extension
from engine.store.models import User, UserRole

PROPERTY = "study.signin"
FIELD = "attendees"


def check(element: Element, ctx: DeployContext) -> list[str]:
    value = element.properties.get(PROPERTY)
    if value is None:
        return []
    from engine.identity.roles import is_known_role

    return [] if is_known_role(value) else [f"{PROPERTY} {value!r} names no known role"]


def members(session, role: str, unit: str | None) -> dict[str, str]:
    """{username: display name} of the active users of ``role`` in ``unit``."""
    if not unit:
        return {}
    rows = session.execute(
        select(User.username, User.display_name)
        .join(UserRole, UserRole.user_id == User.id)
        .where(UserRole.role == role, User.org_unit == unit, User.is_active.is_(True))
        .order_by(User.username)
    ).all()
    return {r.username: r.display_name or r.username for r in rows}


def completing(ctx: Completion) -> dict:
    role = (ctx.task.properties or {}).get(PROPERTY)
    if not role:
        return ctx.data
    unit = ctx.task.org_unit or ctx.inst.org_unit
    room = members(ctx.uow.session, role, unit)
    chosen = ctx.data.get(FIELD) or []
    if isinstance(chosen, str):
        chosen = [chosen]
    strangers = [u for u in chosen if u not in room]
    if strangers:
        raise ValidationFailed("form data is invalid", {FIELD: [
            f"{', '.join(strangers)}: not an active {role} of this unit ({unit or 'no unit'})"]})
    attended = sorted(set(chosen))
    absentees = [u for u in room if u not in attended]
    ctx.uow.audit("study_day_signed_in", instance_id=ctx.inst.id, task_id=ctx.task.id, unit_key=unit,
                  study_date=ctx.data.get("study_date"), attended=attended, absentees=absentees)
    return {**ctx.data, FIELD: attended, "members": len(room), "attended": len(attended), "absentees": absentees}


def study_days(session, period) -> dict[str, list[set[str]]]:
    """{unit: [the attendees of each study day]} of the completed study days whose ``study_date``
    falls in the month ``period``."""
    from datetime import timedelta

    from engine.store.models import ProcessInstance

    rows = session.execute(
        select(ProcessInstance.org_unit, ProcessInstance.data)
        .where(ProcessInstance.process_key == "study_day", ProcessInstance.status == "completed",
               ProcessInstance.started_at >= period.start - timedelta(days=62),
               ProcessInstance.started_at < period.end + timedelta(days=62))
    ).all()
    lo, hi = period.local_start.isoformat(), period.local_end.isoformat()
    out: dict[str, list[set[str]]] = {}
    for unit, data in rows:
        day = str((data or {}).get("study_date") or "")[:10]
        if unit and lo <= day < hi:
            out.setdefault(unit, []).append(set((data or {}).get(FIELD) or []))
    return out


EXTENSION = Extension("study_day", properties=(PROPERTY,), check=check, task_completing=completing)
