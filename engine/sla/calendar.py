"""Business calendar for SLA due dates in Chinese service halls.

Pure computation: no database, no Flask. Working days follow the official
State Council calendar as published in ``chinesecalendar`` (public holidays
excluded, adjusted weekend working days / 调休 included). For years that
package does not cover, ``holidays.China`` plus "Monday to Friday" is used as
a fallback; it cannot know future adjusted working weekends, so every result
that consulted such a day is marked ``provisional``. Local overrides
(closures, extra working days) win over both sources.

Working hours may change with the season (:class:`WorkingHours`): by default
the service hall's summer hours 09:20-12:30 / 15:20-18:30 from May 1 to
September 30 and winter hours 09:50-13:00 / 15:20-18:30 the rest of the year
(the 上班时间 of the source rules). A plain list of periods means the same
hours all year.

Three SLA kinds are supported:

* ``calendar``: plain elapsed time;
* ``working_time``: time counted only inside working periods of working days;
* ``working_days``: a number of whole working days, due at the end of the last
  working period of the last day (see :meth:`BusinessCalendar.add`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import chinese_calendar
import holidays

from engine.bpmn.datefuncs import parse_duration

KINDS = ("calendar", "working_time", "working_days")
Periods = tuple[tuple[time, time], ...]
_MAX_SCAN_DAYS = 3700  # give up after ~10 years without a working period


def check_periods(periods: Iterable[tuple[time, time]], what: str = "working_hours") -> Periods:
    """Sorted, validated working periods of one day (ordered, non-overlapping, non-empty)."""
    periods = tuple(sorted(periods))
    if not periods:
        raise ValueError(f"{what} must not be empty")
    previous_end = time.min
    for start, end in periods:
        if not start < end or start < previous_end:
            raise ValueError(f"{what}: working periods must be ordered and non-overlapping: "
                             f"{', '.join(f'{a:%H:%M}-{b:%H:%M}' for a, b in periods)}")
        previous_end = end
    return periods


_LEAP_YEAR = 2024  # month-days are checked against a leap year, so 02-29 exists


def _day_of_year(month_day: tuple[int, int]) -> int:
    return date(_LEAP_YEAR, *month_day).timetuple().tm_yday


@dataclass(frozen=True)
class Season:
    """Working periods from ``start`` to ``end`` (month, day), both included; may wrap past December 31."""

    name: str
    start: tuple[int, int]
    end: tuple[int, int]
    periods: Periods

    def days(self) -> list[int]:
        """Days of a leap year (1..366) inside the season."""
        first, last = _day_of_year(self.start), _day_of_year(self.end)
        if first <= last:
            return list(range(first, last + 1))
        return list(range(first, 367)) + list(range(1, last + 1))

    def describe(self) -> str:
        hours = ",".join(f"{a:%H:%M}-{b:%H:%M}" for a, b in self.periods)
        return f"{self.name} {self.start[0]:02d}-{self.start[1]:02d}..{self.end[0]:02d}-{self.end[1]:02d}={hours}"


class WorkingHours:
    """Working periods per season; every day of the year belongs to exactly one season.

    February 29 left out belongs to the season of February 28, so ``11-01..02-28`` also
    covers it in leap years.
    """

    def __init__(self, seasons: Iterable[Season]) -> None:
        self.seasons = tuple(replace(s, periods=check_periods(s.periods, f"season {s.name!r}")) for s in seasons)
        if not self.seasons:
            raise ValueError("working hours need at least one season")
        owner: dict[int, Season] = {}
        for season in self.seasons:
            for day in season.days():
                if day in owner:
                    raise ValueError(f"seasons {owner[day].name!r} and {season.name!r} overlap on "
                                     f"{_month_day(day)}")
                owner[day] = season
        leap_day, feb_28 = _day_of_year((2, 29)), _day_of_year((2, 28))
        if leap_day not in owner and feb_28 in owner:  # "..02-28" also ends on 02-29 of a leap year
            owner[leap_day] = owner[feb_28]
        missing = [day for day in range(1, 367) if day not in owner]
        if missing:
            last = missing[0]
            while last + 1 in missing:
                last += 1
            gap = _month_day(missing[0]) + ("" if last == missing[0] else f"..{_month_day(last)}")
            raise ValueError(f"no season covers {gap} ({len(missing)} day(s) of the year without working hours)")
        self._by_day = owner

    @classmethod
    def all_year(cls, periods: Iterable[tuple[time, time]]) -> WorkingHours:
        return cls([Season("all year", (1, 1), (12, 31), check_periods(periods))])

    def on(self, d: date) -> Periods:
        """The working periods of day ``d`` (whether or not it is a working day)."""
        return self.season_of(d).periods

    def season_of(self, d: date) -> Season:
        key = date(_LEAP_YEAR, d.month, d.day).timetuple().tm_yday
        return self._by_day[key]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, WorkingHours) and self.seasons == other.seasons

    def __hash__(self) -> int:
        return hash(self.seasons)

    def __repr__(self) -> str:
        return f"WorkingHours({'; '.join(s.describe() for s in self.seasons)})"


def _month_day(day_of_year: int) -> str:
    d = date(_LEAP_YEAR, 1, 1) + timedelta(days=day_of_year - 1)
    return f"{d.month:02d}-{d.day:02d}"


SUMMER_HOURS: Periods = ((time(9, 20), time(12, 30)), (time(15, 20), time(18, 30)))
WINTER_HOURS: Periods = ((time(9, 50), time(13, 0)), (time(15, 20), time(18, 30)))
# Source 001 gives the hours but not the switch dates; May 1 and October 1 are the dates
# Chinese offices and service halls commonly use (夏令/冬令作息时间).
DEFAULT_WORKING_HOURS = WorkingHours([
    Season("summer", (5, 1), (9, 30), SUMMER_HOURS),
    Season("winter", (10, 1), (4, 30), WINTER_HOURS),
])



@dataclass(frozen=True)
class Due:
    """A computed due instant (UTC-aware); ``provisional`` if it relied on guessed calendar data."""

    at: datetime
    provisional: bool


@lru_cache(maxsize=16384)
def _official_workday(d: date) -> bool | None:
    """chinesecalendar's verdict for ``d``, or None when the date is outside its data."""
    try:
        return bool(chinese_calendar.is_workday(d))
    except (NotImplementedError, KeyError, ValueError):
        return None


@lru_cache(maxsize=16384)
def _fallback_workday(d: date) -> bool:
    """Rule-based guess: Monday-Friday and not a ``holidays.China`` holiday."""
    return d.weekday() < 5 and d not in _china_holidays(d.year)


@lru_cache(maxsize=64)
def _china_holidays(year: int) -> holidays.HolidayBase:
    return holidays.China(years=year)


def _to_utc(moment: datetime) -> datetime:
    """Naive datetimes are taken as UTC; aware ones are converted."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


MAX_AMOUNT = timedelta(days=3660)  # ten years: far beyond any service-level promise


def _whole_days(amount: timedelta | int) -> int:
    """Working-day amounts: an int, or a timedelta of whole days; at least 1."""
    if isinstance(amount, timedelta):
        if amount % timedelta(days=1):
            raise ValueError(f"working_days amount must be whole days, got {amount}")
        amount = amount.days
    if not isinstance(amount, int) or isinstance(amount, bool):
        raise TypeError(f"working_days amount must be an int or timedelta, got {type(amount).__name__}")
    if amount < 1:
        raise ValueError(f"working_days amount must be at least 1, got {amount}")
    return amount


def _duration(amount: timedelta | int, kind: str) -> timedelta:
    if not isinstance(amount, timedelta):
        raise TypeError(f"{kind} amount must be a timedelta, got {type(amount).__name__}")
    if amount < timedelta(0):
        raise ValueError(f"{kind} amount must not be negative, got {amount}")
    return amount


class BusinessCalendar:
    """Working days and working hours of one service hall, in its local time zone."""

    def __init__(
        self,
        timezone: str | ZoneInfo = "Asia/Shanghai",
        working_hours: WorkingHours | Iterable[tuple[time, time]] = DEFAULT_WORKING_HOURS,
        overrides: Mapping[date, bool] | None = None,
        *,
        count_start_day: bool = False,
    ) -> None:
        self.tz = timezone if isinstance(timezone, ZoneInfo) else ZoneInfo(timezone)
        if not isinstance(working_hours, WorkingHours):
            working_hours = WorkingHours.all_year(working_hours)
        self.working_hours = working_hours
        self.overrides: dict[date, bool] = dict(overrides or {})
        self.count_start_day = count_start_day

    # -- days -------------------------------------------------------------

    def is_working_day(self, d: date) -> tuple[bool, bool]:
        """Return (is working day, provisional): overrides, then the official calendar, then the fallback."""
        if d in self.overrides:
            return bool(self.overrides[d]), False
        official = _official_workday(d)
        if official is not None:
            return official, False
        return _fallback_workday(d), True

    def _day_end(self, d: date) -> datetime:
        return datetime.combine(d, self.working_hours.on(d)[-1][1], tzinfo=self.tz).astimezone(UTC)

    def _periods_from(self, start: datetime) -> Iterator[tuple[datetime, datetime, bool]]:
        """Yield UTC working periods (clipped to ``start``) with a cumulative provisional flag."""
        day = start.astimezone(self.tz).date()
        provisional = False
        for _ in range(_MAX_SCAN_DAYS):
            working, guessed = self.is_working_day(day)
            provisional |= guessed
            for begin, end in self.working_hours.on(day) if working else ():
                p_start = datetime.combine(day, begin, tzinfo=self.tz).astimezone(UTC)
                p_end = datetime.combine(day, end, tzinfo=self.tz).astimezone(UTC)
                if p_end > start:
                    yield max(p_start, start), p_end, provisional
            day += timedelta(days=1)
        raise ValueError(f"no working period within {_MAX_SCAN_DAYS} days after {start.isoformat()}")

    # -- SLA arithmetic ---------------------------------------------------

    def add(self, start: datetime, kind: str, amount: timedelta | int) -> Due:
        """Due instant of an SLA of ``kind`` and ``amount`` started at ``start``.

        ``working_days`` rule (default, ``count_start_day=False``): the start day
        is never counted, as in PRC Civil Code art. 201 ("开始的当日不计入"); day 1
        is the first working day after the local start date, and the SLA is due at
        the end of the last working period of day N (18:30 local by default).
        With ``count_start_day=True`` the start day is day 1 if it is a working day
        and ``start`` is before the end of its last working period.
        Every day counts with the working hours of its own season (:class:`WorkingHours`).
        """
        start = _to_utc(start)
        if kind == "calendar":
            return Due(start + _duration(amount, kind), False)
        if kind == "working_time":
            return self._add_working_time(start, _duration(amount, kind))
        if kind == "working_days":
            return self._add_working_days(start, _whole_days(amount))
        raise ValueError(f"unknown SLA kind {kind!r}; expected one of {KINDS}")

    def _add_working_time(self, start: datetime, amount: timedelta) -> Due:
        if not amount:
            return Due(start, False)
        remaining = amount
        for p_start, p_end, provisional in self._periods_from(start):
            if remaining <= p_end - p_start:
                return Due(p_start + remaining, provisional)
            remaining -= p_end - p_start
        raise AssertionError("unreachable")  # _periods_from raises when exhausted

    def _add_working_days(self, start: datetime, n: int) -> Due:
        day = start.astimezone(self.tz).date()
        counted, provisional = 0, False
        if self.count_start_day:
            working, provisional = self.is_working_day(day)
            counted = int(working and start < self._day_end(day))
        for _ in range(_MAX_SCAN_DAYS):
            if counted == n:
                return Due(self._day_end(day), provisional)
            day += timedelta(days=1)
            working, guessed = self.is_working_day(day)
            provisional |= guessed
            counted += working
        raise ValueError(f"fewer than {n} working days within {_MAX_SCAN_DAYS} days after {start.isoformat()}")

    def working_time_between(self, start: datetime, end: datetime) -> timedelta:
        """Working time elapsed from ``start`` to ``end`` (zero if ``end`` is not after ``start``)."""
        start, end = _to_utc(start), _to_utc(end)
        total = timedelta(0)
        if end <= start:
            return total
        for p_start, p_end, _ in self._periods_from(start):
            if p_start >= end:
                break
            total += min(p_end, end) - p_start
        return total

    def fraction_point(self, start: datetime, due: datetime, kind: str, fraction: float) -> datetime:
        """Instant (UTC) at which ``fraction`` of the SLA from ``start`` to ``due`` has elapsed.

        Calendar SLAs are measured in elapsed time, working-time and working-day
        SLAs in working time; fractions above 1 extrapolate beyond ``due``.
        """
        if fraction < 0:
            raise ValueError(f"fraction must not be negative, got {fraction}")
        start, due = _to_utc(start), _to_utc(due)
        if kind == "calendar":
            return start + (due - start) * fraction
        if kind in ("working_time", "working_days"):
            elapsed = self.working_time_between(start, due) * fraction
            return self._add_working_time(start, elapsed).at
        raise ValueError(f"unknown SLA kind {kind!r}; expected one of {KINDS}")

    @staticmethod
    def parse_amount(kind: str, text: str) -> timedelta | int:
        """Parse an ISO 8601 duration from a BPMN property into an amount for ``kind``.

        ``working_days`` amounts must be plain whole days (``P3D`` -> 3): hours are not
        working days and ``P2W`` would be ambiguous (10 or 14?). The others stay timedeltas.
        """
        duration = parse_duration(text)
        if duration > MAX_AMOUNT:  # a due date (times an escalation fraction) must stay a date
            raise ValueError(f"SLA amount {text!r} is longer than {MAX_AMOUNT.days} days")
        if kind == "working_days":
            if not re.fullmatch(r"P\d+D", text.strip().upper()):
                raise ValueError(f"working_days amount must be a whole number of days like P3D, got {text!r}")
            return _whole_days(duration)
        if kind in ("calendar", "working_time"):
            return duration
        raise ValueError(f"unknown SLA kind {kind!r}; expected one of {KINDS}")
