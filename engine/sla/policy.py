"""SLA policies on user tasks: due dates on the business calendar, warnings, breaches, escalations.

A policy is data on the model (``camunda:properties`` of a user task)::

    sla.kind      calendar | working_time | working_days
    sla.amount    ISO 8601 duration: PT3M, PT24H, P1D (1 working day for working_days), P3D
    sla.warn      fraction at which the owner is warned (default 0.8; "none" for no warning)
    sla.escalate  "1.0:duty_manager;1.5:hall_manager" (fraction: role[,role]; optional)
    sla.amountVariable  a process variable holding the duration instead (e.g. set by a DMN decision
                  per business category); sla.amount is the fallback when it is missing or not a duration

When the task is created the due date and the instants of every threshold are computed
once and stored: ``due_at`` and ``sla`` on the task row, one ``bpm_timer`` row (kind
``sla``) per threshold. The timer worker fires them like any timer.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import select

from engine.sla.calendar import KINDS, BusinessCalendar

DEFAULT_WARN = 0.8


@dataclass(frozen=True)
class Policy:
    kind: str
    amount_text: str
    amount: object
    warn: float | None
    escalations: tuple[tuple[float, tuple[str, ...]], ...]
    amount_variable: str | None = None

    def for_data(self, data: dict | None) -> Policy:
        """The policy with the duration the instance's data gives (``sla.amountVariable``), if valid."""
        text = (data or {}).get(self.amount_variable) if self.amount_variable else None
        if not isinstance(text, str) or text.strip() == self.amount_text:
            return self
        try:
            amount = BusinessCalendar.parse_amount(self.kind, text.strip())
        except ValueError:
            return self
        return replace(self, amount_text=text.strip(), amount=amount)


def _fraction(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{what} {text!r} is not a number") from None
    if not 0 < value <= 10:
        raise ValueError(f"{what} {text!r} must be between 0 and 10")
    return value


def parse_policy(props: dict) -> Policy | None:
    """The task's policy, or None when it has no ``sla.*`` properties; ValueError when invalid."""
    if not any(k.startswith("sla.") for k in props):
        return None
    from engine.identity.roles import is_known_role

    kind = (props.get("sla.kind") or "").strip()
    if kind not in KINDS:
        raise ValueError(f"sla.kind must be one of {', '.join(KINDS)} (got {kind!r})")
    amount_text = (props.get("sla.amount") or "").strip()
    if not amount_text:
        raise ValueError("sla.amount is missing (an ISO 8601 duration such as PT24H or P3D)")
    amount = BusinessCalendar.parse_amount(kind, amount_text)
    warn_text = (props.get("sla.warn") or str(DEFAULT_WARN)).strip()
    warn = None if warn_text.lower() == "none" else _fraction(warn_text, "sla.warn")
    if warn is not None and warn >= 1:
        raise ValueError("sla.warn must be below 1 (it warns before the due time)")
    escalations = []
    for part in filter(None, (p.strip() for p in (props.get("sla.escalate") or "").split(";"))):
        at, sep, roles_text = part.partition(":")
        if not sep:
            raise ValueError(f"sla.escalate entry {part!r} must look like 1.5:hall_manager")
        roles = tuple(r.strip() for r in roles_text.split(",") if r.strip())
        unknown = [r for r in roles if not is_known_role(r)]
        if not roles or unknown:
            raise ValueError(f"sla.escalate entry {part!r} names unknown roles {unknown or '(none)'}")
        escalations.append((_fraction(at.strip(), "sla.escalate fraction"), roles))
    variable = (props.get("sla.amountVariable") or "").strip() or None
    if variable is not None and not variable.isidentifier():
        raise ValueError(f"sla.amountVariable {variable!r} must name a process variable")
    return Policy(kind, amount_text, amount, warn, tuple(sorted(escalations)), variable)


def plan(policy: Policy, start: datetime, calendar: BusinessCalendar) -> dict:
    """Due date and threshold instants, JSON-ready (stored on the task)."""
    due = calendar.add(start, policy.kind, policy.amount)
    thresholds = []
    if policy.warn is not None:
        thresholds.append({"level": "warning", "fraction": policy.warn,
                           "at": calendar.fraction_point(start, due.at, policy.kind, policy.warn)})
    thresholds.append({"level": "breach", "fraction": 1.0, "at": due.at})
    for n, (fraction, roles) in enumerate(policy.escalations, start=1):
        thresholds.append({"level": "escalation", "n": n, "fraction": fraction, "roles": list(roles),
                           "at": calendar.fraction_point(start, due.at, policy.kind, fraction)})
    return {
        "kind": policy.kind,
        "amount": policy.amount_text,
        "start": start,
        "due_at": due.at,
        "provisional": due.provisional,
        "thresholds": thresholds,
    }


_SEASON = re.compile(r"(?:(?P<name>[^\s=;]+)\s+)?(?P<start>\d{1,2}-\d{1,2})\s*\.\.\s*(?P<end>\d{1,2}-\d{1,2})"
                     r"\s*=\s*(?P<hours>.*)")


def _periods(text: str, where: str) -> list:
    from datetime import time as dtime

    periods = []
    for part in text.split(","):
        start, sep, end = part.strip().partition("-")
        try:
            if not sep:
                raise ValueError
            periods.append((dtime.fromisoformat(start.strip()), dtime.fromisoformat(end.strip())))
        except ValueError:
            raise ValueError(f"{where}: {part.strip()!r} must look like 08:30-12:00") from None
    return periods


def _month_day(text: str, where: str) -> tuple[int, int]:
    from datetime import date

    month, _, day = text.partition("-")
    try:
        date(2024, int(month), int(day))  # a leap year: 02-29 is a valid bound
    except ValueError:
        raise ValueError(f"{where}: {text!r} is not a month-day like 05-01") from None
    return int(month), int(day)


def working_hours(text: str = ""):
    """Working hours from ``BPM_WORKING_HOURS`` as :class:`WorkingHours`; ValueError naming the bad part.

    Empty: the seasonal hours of the source rules (summer 05-01..09-30 09:20-12:30,15:20-18:30;
    winter 10-01..04-30 09:50-13:00,15:20-18:30). ``08:30-12:00,14:00-17:30``: the same hours all
    year. Seasons: ``[name ]MM-DD..MM-DD=HH:MM-HH:MM[,...]`` separated by ``;``, both dates included,
    a season may wrap past December 31, and together they must cover every day of the year once.
    """
    from engine.sla.calendar import DEFAULT_WORKING_HOURS, Season, WorkingHours, check_periods

    if not text.strip():
        return DEFAULT_WORKING_HOURS
    parts = [p.strip() for p in text.split(";") if p.strip()]
    if len(parts) == 1 and "=" not in parts[0] and ".." not in parts[0]:
        periods = _periods(parts[0], "BPM_WORKING_HOURS")
        try:
            return WorkingHours.all_year(check_periods(periods, "the hours"))
        except ValueError as exc:
            raise ValueError(f"BPM_WORKING_HOURS: {exc}") from None
    seasons = []
    for part in parts:
        where = f"BPM_WORKING_HOURS: season {part!r}"
        match = _SEASON.fullmatch(part)
        if match is None:
            raise ValueError(f"{where} must look like summer 05-01..09-30=09:20-12:30,15:20-18:30")
        name = match["name"] or f"{match['start']}..{match['end']}"
        seasons.append((part, Season(name, _month_day(match["start"], where), _month_day(match["end"], where),
                                     tuple(_periods(match["hours"], where)))))
    for part, season in seasons:  # each season's own hours first, so the message names it
        try:
            check_periods(season.periods, "its hours")
        except ValueError as exc:
            raise ValueError(f"BPM_WORKING_HOURS: season {part!r}: {exc}") from None
    try:
        return WorkingHours(season for _, season in seasons)
    except ValueError as exc:
        raise ValueError(f"BPM_WORKING_HOURS: {exc}; the seasons must cover every day of the year once") from None


_calendar_cache: dict[str, tuple[float, BusinessCalendar]] = {}
CALENDAR_TTL_SECONDS = 60.0


def calendar_for(session, hours: str = "") -> BusinessCalendar:
    """The business calendar with the working ``hours`` (``Settings.working_hours``) and the local
    overrides from ``bpm_calendar_override`` (cached 60 s)."""
    from engine.store.models import CalendarOverride

    key = f"{session.get_bind().url}|{hours}"
    hit = _calendar_cache.get(key)
    if hit is not None and hit[0] > time.monotonic():
        return hit[1]
    overrides = {row.day: row.is_working for row in session.execute(select(CalendarOverride)).scalars()}
    calendar = BusinessCalendar(working_hours=working_hours(hours), overrides=overrides)
    _calendar_cache[key] = (time.monotonic() + CALENDAR_TTL_SECONDS, calendar)
    return calendar


def forget_calendar() -> None:
    _calendar_cache.clear()
