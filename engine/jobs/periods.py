"""Reporting periods: a day, an ISO week, a month or a year in local (Asia/Shanghai) time.

``Period.parse('2026-10-05' | '2026-W41' | '2026-10' | '2026')``; ``start``/``end`` are
aware UTC datetimes (inclusive / exclusive) of the local 00:00 boundaries, so
``start <= t < end`` selects the rows of the period in UTC-stored columns.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from engine.clock import LOCAL_TZ
from engine.errors import BadRequest

KINDS = ("day", "week", "month", "year")
_DAY = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_YEAR = re.compile(r"^(\d{4})$")
FORMATS = "YYYY-MM-DD (day), YYYY-Www (ISO week, e.g. 2026-W41), YYYY-MM (month) or YYYY (year)"


class PeriodError(BadRequest):
    """A period text that cannot be parsed or is of the wrong kind (HTTP 400)."""

    code = "bad_period"


def _utc(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=LOCAL_TZ).astimezone(UTC)


def _first_days(kind: str, first: date) -> tuple[date, date, str]:
    """(first local day, first local day of the next period, key) of the period starting at ``first``."""
    if kind == "day":
        return first, first + timedelta(days=1), first.isoformat()
    if kind == "week":
        year, week, _ = first.isocalendar()
        return first, first + timedelta(days=7), f"{year}-W{week:02d}"
    if kind == "month":
        nxt = date(first.year + (first.month == 12), first.month % 12 + 1, 1)
        return first, nxt, f"{first.year}-{first.month:02d}"
    return first, date(first.year + 1, 1, 1), f"{first.year}"


@dataclass(frozen=True)
class Period:
    kind: str  # 'day' | 'week' | 'month' | 'year'
    key: str  # '2026-10-05' | '2026-W41' | '2026-10' | '2026'
    start: datetime  # aware UTC, inclusive (local 00:00)
    end: datetime  # aware UTC, exclusive

    @classmethod
    def _make(cls, kind: str, first: date) -> Period:
        lo, hi, key = _first_days(kind, first)
        return cls(kind=kind, key=key, start=_utc(lo), end=_utc(hi))

    @classmethod
    def parse(cls, text: str) -> Period:
        raw = (text or "").strip()
        try:
            if m := _DAY.match(raw):
                return cls._make("day", date(int(m[1]), int(m[2]), int(m[3])))
            if m := _WEEK.match(raw):
                return cls._make("week", date.fromisocalendar(int(m[1]), int(m[2]), 1))
            if m := _MONTH.match(raw):
                return cls._make("month", date(int(m[1]), int(m[2]), 1))
            if m := _YEAR.match(raw):
                return cls._make("year", date(int(m[1]), 1, 1))
        except ValueError as exc:
            raise PeriodError(f"invalid period {raw!r}: {exc}", {"period": raw}) from None
        raise PeriodError(f"invalid period {raw!r}: expected {FORMATS}", {"period": raw})

    @classmethod
    def containing(cls, kind: str, instant: datetime) -> Period:
        """The period of ``kind`` that contains ``instant`` (local time decides)."""
        if kind not in KINDS:
            raise PeriodError(f"unknown period kind {kind!r}: expected one of {', '.join(KINDS)}")
        if instant.tzinfo is None:
            instant = instant.replace(tzinfo=UTC)
        local = instant.astimezone(LOCAL_TZ).date()
        first = {
            "day": local,
            "week": local - timedelta(days=local.weekday()),
            "month": local.replace(day=1),
            "year": local.replace(month=1, day=1),
        }[kind]
        return cls._make(kind, first)

    @classmethod
    def last_complete(cls, kind: str, now: datetime) -> Period:
        """The newest period of ``kind`` that has ended at ``now``: what a scheduled run computes."""
        return cls.containing(kind, now).previous()

    def previous(self) -> Period:
        return Period.containing(self.kind, self.start - timedelta(seconds=1))

    def next(self) -> Period:
        return Period.containing(self.kind, self.end)

    @property
    def local_start(self) -> date:
        return self.start.astimezone(LOCAL_TZ).date()

    @property
    def local_end(self) -> date:
        """The first local day after the period (exclusive)."""
        return self.end.astimezone(LOCAL_TZ).date()

    def __str__(self) -> str:
        return self.key
