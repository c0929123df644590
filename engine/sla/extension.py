"""The SLA extension: ``sla.*`` properties of a user task (engine/sla/policy.py) become a due date
and threshold timers when the task is created, fire as ``sla`` timers (engine/sla/events.py),
and are closed as met or missed when the task ends."""

from __future__ import annotations

from sqlalchemy import insert

from engine.extensions import DeployContext, Element, Extension, TimerKind
from engine.sla import events
from engine.sla.policy import calendar_for, parse_policy, plan
from engine.store.models import Timer

INSERT_TIMER = insert(Timer.__table__)
_policies: dict[tuple[str, str], object] = {}


def check(element: Element, ctx: DeployContext) -> list[str]:
    try:
        parse_policy(dict(element.properties))
    except ValueError as exc:
        return [f"SLA policy: {exc}"]
    return []


def _policy(definition, element: str):
    """The element's SLA policy, parsed once per definition content (ids repeat across databases)."""
    key = (definition.sha256, element)
    if key not in _policies:
        props = ((definition.meta.get("elements") or {}).get(element) or {}).get("properties") or {}
        _policies[key] = parse_policy(props)
    return _policies[key]


def _jsonable(value):
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value.isoformat() if hasattr(value, "isoformat") else value


def task_creating(uow, inst, definition, row: dict) -> None:
    """The due date, computed once when the task is created, and a timer per threshold."""
    policy = _policy(definition, row["element_id"])
    if policy is None:
        return
    policy = policy.for_data(inst.data)
    sla_plan = plan(policy, row["created_at"], calendar_for(uow.session, uow.engine.settings.working_hours))
    row.update(due_at=sla_plan["due_at"], sla=_jsonable(sla_plan), sla_state="on_time")
    uow.session.connection().execute(INSERT_TIMER, [
        {"instance_id": inst.id, "task_id": row["id"], "element_id": row["element_id"], "kind": "sla",
         "fire_at": t["at"], "state": "pending", "attempts": 0, "payload": {k: v for k, v in t.items() if k != "at"}}
        for t in sla_plan["thresholds"]
    ])


def task_closed(uow, task_id: str, completed: bool, at, due_at) -> None:
    events.close(uow.session, task_id, completed=completed, completed_at=at, due_at=due_at)


def fire(engine, uow, timer) -> bool:
    return events.fire(uow, timer)


def working_day(session, day) -> bool:
    """Whether ``day`` is a working day (the official calendar with adjusted days, local overrides)."""
    from engine.sla.policy import calendar_for

    return calendar_for(session).is_working_day(day)[0]


EXTENSION = Extension("sla", properties=("sla.kind", "sla.amount", "sla.amountVariable", "sla.warn", "sla.escalate"), check=check,
                      task_creating=task_creating, task_closed=task_closed, working_day=working_day,
                      timers={"sla": TimerKind(fire, locks_task=True)})
