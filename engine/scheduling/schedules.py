"""Scheduled process starts: a process property ``schedule.cycle`` is data on the model.

``schedule.cycle`` is an ISO 8601 repeating interval, ``R[n]/<start>/<period>``, e.g.
``R/2026-12-01T09:00:00+08:00/P1M`` = 09:00 on the 1st of every month from December 2026.
Periods in months and years are calendar months and years (SpiffWorkflow's own timer
parser would turn P1M into a fixed 31 days and drift). The next occurrence is one
``bpm_timer`` row of kind ``start`` (no instance yet); firing it starts the latest version
of the process as the engine and schedules the occurrence after it. Deploying a new
version replaces the schedule.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from dateutil.relativedelta import relativedelta
from sqlalchemy import insert, select, update

from engine.bpmn.cycles import timer_start_cycle
from engine.clock import utcnow
from engine.extensions import REGISTRY, DeployContext, Element, Extension, TimerKind
from engine.identity.roles import UNIT_KINDS
from engine.store.models import Timer

TIMERS = Timer.__table__
_PERIOD = re.compile(
    r"^P(?:(?P<Y>\d+)Y)?(?:(?P<M>\d+)M)?(?:(?P<W>\d+)W)?(?:(?P<D>\d+)D)?"
    r"(?:T(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+)S)?)?$"
)


def parse_cycle(text: str) -> tuple[int | None, datetime, relativedelta]:
    """``(repetitions or None for unbounded, first occurrence (UTC), period)``; ValueError if invalid."""
    parts = (text or "").strip().split("/")
    if len(parts) != 3 or not parts[0].upper().startswith("R"):
        raise ValueError(f"schedule.cycle {text!r} must look like R/2026-12-01T09:00:00+08:00/P1M")
    reps = parts[0][1:]
    if reps and not reps.isdigit():
        raise ValueError(f"schedule.cycle {text!r}: repetitions must be a number")
    try:
        start = datetime.fromisoformat(parts[1].replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"schedule.cycle {text!r}: {parts[1]!r} is not an ISO 8601 date-time") from None
    if start.tzinfo is None:
        raise ValueError(f"schedule.cycle {text!r}: the start needs a UTC offset, e.g. +08:00")
    match = _PERIOD.match(parts[2].upper())
    if not match or not any(match.groupdict().values()):
        raise ValueError(f"schedule.cycle {text!r}: {parts[2]!r} is not an ISO 8601 period")
    g = {k: int(v or 0) for k, v in match.groupdict().items()}
    period = relativedelta(years=g["Y"], months=g["M"], weeks=g["W"], days=g["D"], hours=g["h"], minutes=g["m"],
                           seconds=g["s"])
    if period == relativedelta():
        raise ValueError(f"schedule.cycle {text!r}: the period must not be zero")
    return (int(reps) if reps else None), start, period


def occurrence(text: str, k: int) -> datetime | None:
    reps, start, period = parse_cycle(text)
    if reps is not None and k >= reps:
        return None
    return (start + period * k).astimezone(UTC)


def next_occurrence(text: str, after: datetime, k: int = 0, shift=None) -> tuple[int, datetime] | None:
    """The first occurrence from index ``k`` strictly after ``after`` as ``(index, instant)``;
    ``shift`` moves an instant (to the next working day, ``schedule.calendar=working``)."""
    while True:
        at = occurrence(text, k)
        if at is None:
            return None
        if shift is not None:
            at = shift(at)
        if at > after:
            return k, at
        k += 1
        if k > 100_000:
            return None


def working_shift(session, cycle: str):
    """With ``schedule.calendar=working``: an occurrence on a day off moves to the next working day
    at the same local time (the working-day calendar of the SLA feature: official holidays and
    adjusted working days, local closures); occurrences that land on one instant start once."""
    hooks = REGISTRY.hooks("working_day")
    if not hooks:
        return None
    tz = parse_cycle(cycle)[1].tzinfo

    def shift(at: datetime) -> datetime:
        local = at.astimezone(tz)
        for _ in range(60):
            if all(hook(session, local.date()) for hook in hooks):
                return local.astimezone(UTC)
            local += relativedelta(days=1)
        return local.astimezone(UTC)
    return shift


def _calendar(meta: dict) -> bool:
    return ((meta or {}).get("properties") or {}).get("schedule.calendar") == "working"


def reschedule(session, key: str, cycles: list[tuple[str, str]], working: bool = False) -> list[tuple[str, str, datetime]]:
    """Replace the pending starts of ``key`` by the next occurrence of each ``(element, cycle)``;
    ``element`` is ``schedule`` (the process property) or a timer start event's id; ``working``:
    on working days only (``schedule.calendar=working``)."""
    session.connection().execute(
        update(TIMERS).where(TIMERS.c.kind == "start", TIMERS.c.process_key == key, TIMERS.c.state == "pending")
        .values(state="cancelled")
    )
    out = []
    for element, cycle in cycles:
        nxt = next_occurrence(cycle, utcnow(), shift=working_shift(session, cycle) if working else None)
        if nxt is not None:
            _insert(session, key, cycle, *nxt, element=element)
            out.append((element, cycle, nxt[1]))
    return out


def _insert(session, key: str, cycle: str, k: int, at: datetime, element: str = "schedule") -> None:
    session.connection().execute(insert(TIMERS), {
        "instance_id": None, "task_id": "", "element_id": element, "kind": "start", "process_key": key,
        "fire_at": at, "state": "pending", "attempts": 0, "payload": {"cycle": cycle, "k": k, "element": element},
    })


def start_cycles(meta: dict, deployed_at: datetime) -> list[tuple[str, str]]:
    """Every ``(element, cycle)`` that starts a definition by itself."""
    out = []
    cycle = (meta.get("properties") or {}).get("schedule.cycle")
    if cycle:
        out.append(("schedule", cycle))
    for timer in meta.get("timer_starts") or ():
        out.append((timer["element_id"], timer_start_cycle(timer["kind"], timer["value"], deployed_at)))
    return out


def check_units(kind: str | None) -> str | None:
    """None when ``schedule.units`` is absent or an org unit kind, else the deploy error."""
    if kind is None or kind in UNIT_KINDS:
        return None
    return f"schedule.units {kind!r} is not one of {', '.join(UNIT_KINDS)}"


def fire(uow, timer) -> None:
    """Start the scheduled instance(s) and schedule the next occurrence.

    With the process property ``schedule.units=<kind>`` (e.g. ``hall``) one instance starts for
    every org unit of that kind, each within its unit's boundary (engine/identity/policy.py); without it
    one organisation-wide instance starts."""
    from engine.runtime import definitions
    from engine.runtime.instances import start_unchecked
    from engine.store.models import OrgUnit

    cycle, k = timer.payload["cycle"], timer.payload["k"]
    element = timer.payload.get("element", "schedule")
    local = timer.fire_at.astimezone(parse_cycle(cycle)[1].tzinfo)
    data = {"scheduled_for": local.isoformat(), "period": local.strftime("%Y-%m")}
    if element != "schedule":  # a timer start event: that start event, once, organisation-wide
        from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import SignalEventDefinition
        from SpiffWorkflow.bpmn.util import BpmnEvent

        from engine.bpmn.rewrite import timer_start_signal

        started = start_unchecked(uow, timer.process_key, {}, org_unit=None, scheduled=True, element_id=element,
                                  trigger=BpmnEvent(SignalEventDefinition(timer_start_signal(element)), payload=data),
                                  business_key=f"{timer.process_key}-{local:%Y-%m-%dT%H:%M}"[-128:])
        timer.instance_id = started.id
        _schedule_next(uow.session, timer, cycle, k, element)
        return
    props = (definitions.get_version(uow.session, timer.process_key).meta or {}).get("properties") or {}
    kind = props.get("schedule.units")
    units = list(uow.session.execute(select(OrgUnit.key).where(OrgUnit.kind == kind).order_by(OrgUnit.key)).scalars()) \
        if kind else [None]
    started = [start_unchecked(uow, timer.process_key, data, org_unit=unit, scheduled=True,
                               business_key=f"{timer.process_key}-{unit + '-' if unit else ''}{local:%Y-%m-%d}")
               for unit in units]
    timer.instance_id = started[0].id if started else None
    _schedule_next(uow.session, timer, cycle, k, "schedule")


def _schedule_next(session, timer, cycle: str, k: int, element: str) -> None:
    """The occurrence after ``k`` (on working days only with ``schedule.calendar=working``: one
    that moves onto an instant already started is skipped)."""
    from engine.runtime import definitions

    meta = definitions.get_version(session, timer.process_key).meta or {}
    shift = working_shift(session, cycle) if _calendar(meta) else None
    nxt = next_occurrence(cycle, timer.fire_at, k + 1, shift)
    if nxt is not None:
        _insert(session, timer.process_key, cycle, *nxt, element=element)


def check(element: Element, ctx: DeployContext) -> list[str]:
    messages = []
    cycle = element.properties.get("schedule.cycle")
    if cycle is not None:
        try:
            parse_cycle(cycle)
        except ValueError as exc:
            messages.append(str(exc))
    problem = check_units(element.properties.get("schedule.units"))
    if problem:
        messages.append(problem)
    if "schedule.units" in element.properties and cycle is None:
        messages.append("schedule.units belongs with schedule.cycle")
    calendar = element.properties.get("schedule.calendar")
    if calendar is not None and calendar not in ("working", "calendar"):
        messages.append(f"schedule.calendar {calendar!r} is not one of working, calendar")
    return messages


def deployed(uow, row, current) -> None:
    """A new version replaces the schedule of the previous one (or ends it): the process property
    ``schedule.cycle`` and its timer start events."""
    cycles = start_cycles(row.meta or {}, row.deployed_at)
    if cycles or current is not None:
        for element, cycle, next_start in reschedule(uow.session, row.key, cycles, working=_calendar(row.meta)):
            uow.audit("start_scheduled", key=row.key, cycle=cycle, next_start=next_start.isoformat(), element_id=element)


def _fire(engine, uow, timer) -> bool:
    fire(uow, timer)
    uow.audit("timer_fired", instance_id=timer.instance_id, element_id="schedule", due=timer.fire_at.isoformat(),
              kind="start", key=timer.process_key)
    return True


EXTENSION = Extension("schedule", properties=("schedule.cycle", "schedule.units", "schedule.calendar"), kinds=("process",),
                      check=check,
                      deployed=deployed, timers={"start": TimerKind(_fire)})
