"""Timer start events as repeating intervals (the schedule of ``engine.scheduling.schedules``).

Periods in months and years are calendar months and years."""

from __future__ import annotations

import re
from datetime import datetime

from dateutil.relativedelta import relativedelta

_PERIOD = re.compile(
    r"^P(?:(?P<Y>\d+)Y)?(?:(?P<M>\d+)M)?(?:(?P<W>\d+)W)?(?:(?P<D>\d+)D)?"
    r"(?:T(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+)S)?)?$"
)


def _period(text: str, what: str) -> relativedelta:
    match = _PERIOD.match(text.strip().upper())
    if not match or not any(match.groupdict().values()):
        raise ValueError(f"{what} {text!r} is not an ISO 8601 period")
    g = {k: int(v or 0) for k, v in match.groupdict().items()}
    period = relativedelta(years=g["Y"], months=g["M"], weeks=g["W"], days=g["D"], hours=g["h"], minutes=g["m"],
                           seconds=g["s"])
    if period == relativedelta():
        raise ValueError(f"{what} {text!r}: the period must not be zero")
    return period


def timer_start_cycle(kind: str, value: str, deployed_at: datetime) -> str:
    """A timer start event's value as a repeating interval from the deploy: a timeDate starts
    once at that instant, a timeDuration once that long after the deploy, a timeCycle
    ``R[n]/<start>/<period>`` as written, ``R[n]/<period>`` counted from the deploy."""
    value = value.strip()
    if kind == "timeCycle":
        parts = value.split("/")
        if len(parts) == 2:
            period = _period(parts[1], f"timeCycle {value!r}:")
            return f"{parts[0]}/{(deployed_at + period).isoformat()}/{parts[1]}"
        if len(parts) != 3 or not parts[0].upper().startswith("R") or not (parts[0][1:] or "0").isdigit():
            raise ValueError(f"timeCycle {value!r} must look like R/2026-12-01T09:00:00+08:00/P1D or R3/PT1H")
        start = datetime.fromisoformat(parts[1].replace("Z", "+00:00"))
        if start.tzinfo is None:
            raise ValueError(f"timeCycle {value!r}: the start needs a UTC offset, e.g. +08:00")
        _period(parts[2], f"timeCycle {value!r}:")
        return value
    if kind == "timeDate":
        try:
            at = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"timeDate {value!r} is not an ISO 8601 date-time") from None
        if at.tzinfo is None:
            raise ValueError(f"timeDate {value!r} needs a UTC offset, e.g. +08:00")
        return f"R1/{at.isoformat()}/P1D"
    period = _period(value, "timeDuration")
    return f"R1/{(deployed_at + period).isoformat()}/P1D"
