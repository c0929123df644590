"""Date helpers for sandboxed expressions and scripts, and the ISO 8601 durations of models
(SLA amounts, external tasks' retry back-off).

Values in process data are JSON, so dates travel as ISO 8601 strings; these helpers take
and return strings. Local dates and times are China Standard Time (Asia/Shanghai). The
current time comes from the engine clock, so tests and the controlled clock move it too.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta

from engine.clock import LOCAL_TZ, utcnow

LOCAL = LOCAL_TZ

_NUM = r"(\d+(?:[.,]\d+)?)"
_DURATION = re.compile(
    rf"P(?:{_NUM}Y)?(?:{_NUM}M)?(?:{_NUM}W)?(?:{_NUM}D)?"
    rf"(?:T(?=\d)(?:{_NUM}H)?(?:{_NUM}M)?(?:{_NUM}S)?)?"
)


def parse_duration(text: str) -> timedelta:
    """Parse an ISO 8601 duration such as ``PT3M``, ``P1DT2H`` or ``P2W`` (no years or months)."""
    raw = text.strip().upper()
    match = _DURATION.fullmatch(raw)
    if not match or not any(match.groups()):
        raise ValueError(f"not an ISO 8601 duration: {text!r}")
    if match.group(1) or match.group(2):
        raise ValueError(f"duration {text!r} uses years or months, whose length is ambiguous; use days or weeks")
    _, _, weeks, days, hours, minutes, seconds = (float(g.replace(",", ".")) if g else 0.0 for g in match.groups())
    try:
        return timedelta(weeks=weeks, days=days, hours=hours, minutes=minutes, seconds=seconds)
    except OverflowError:
        raise ValueError(f"duration {text!r} is too long") from None


def _parse(value: str) -> date | datetime:
    if not isinstance(value, str):
        raise ValueError(f"expected an ISO 8601 date or date-time string, got {type(value).__name__}")
    text = value.strip().replace("Z", "+00:00")
    if len(text) == 10:
        return date.fromisoformat(text)
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=LOCAL)


def now() -> str:
    """The current instant, ISO 8601 with the +08:00 offset."""
    return utcnow().astimezone(LOCAL).isoformat(timespec="seconds")


def today() -> str:
    """Today's local date, YYYY-MM-DD."""
    return utcnow().astimezone(LOCAL).date().isoformat()


def add_days(value: str, days: int) -> str:
    """``value`` (a date or a date-time) moved by ``days`` calendar days, in the same form."""
    if not isinstance(days, int) or isinstance(days, bool) or abs(days) > 36500:
        raise ValueError("days must be an integer within 100 years")
    parsed = _parse(value)
    return (parsed + timedelta(days=days)).isoformat()


def date_time(value: str, hhmm: str = "00:00") -> str:
    """The local date-time at ``hhmm`` on the date ``value`` (ISO 8601 with offset)."""
    parsed = _parse(value)
    day = parsed.astimezone(LOCAL).date() if isinstance(parsed, datetime) else parsed
    return datetime.combine(day, time.fromisoformat(hhmm), LOCAL).isoformat()


def days_between(start: str, end: str) -> int:
    """Whole calendar days from ``start`` to ``end`` (negative when end is earlier)."""
    a, b = _parse(start), _parse(end)
    a = a.astimezone(LOCAL).date() if isinstance(a, datetime) else a
    b = b.astimezone(LOCAL).date() if isinstance(b, datetime) else b
    return (b - a).days


DATE_FUNCTIONS = {f.__name__: f for f in (now, today, add_days, date_time, days_between)}
