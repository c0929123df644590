"""Unit tests for engine.sla.calendar (official Chinese calendar, working hours, SLA kinds)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from engine.sla.calendar import BusinessCalendar, Due, parse_duration

SH = ZoneInfo("Asia/Shanghai")
H = timedelta(hours=1)


def local(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=SH)


@pytest.fixture
def cal() -> BusinessCalendar:
    return BusinessCalendar()


def due_at(cal: BusinessCalendar, start: datetime, kind: str, amount, *, provisional: bool = False) -> datetime:
    due = cal.add(start, kind, amount)
    assert isinstance(due, Due)
    assert due.at.tzinfo == UTC
    assert due.provisional is provisional
    return due.at.astimezone(SH)


# -- official calendar facts the tests rely on ------------------------------------------


def test_national_day_2026_official_days(cal: BusinessCalendar) -> None:
    assert cal.is_working_day(date(2026, 9, 30)) == (True, False)
    for day in range(1, 8):
        assert cal.is_working_day(date(2026, 10, day)) == (False, False)
    assert cal.is_working_day(date(2026, 10, 8)) == (True, False)
    assert cal.is_working_day(date(2026, 10, 9)) == (True, False)
    assert cal.is_working_day(date(2026, 10, 10)) == (True, False)  # adjusted working Saturday
    assert cal.is_working_day(date(2026, 10, 11)) == (False, False)


def test_spring_festival_2026_official_days(cal: BusinessCalendar) -> None:
    assert cal.is_working_day(date(2026, 2, 14)) == (True, False)  # adjusted working Saturday
    for day in range(15, 24):
        assert cal.is_working_day(date(2026, 2, day)) == (False, False)
    assert cal.is_working_day(date(2026, 2, 24)) == (True, False)
    assert cal.is_working_day(date(2026, 2, 28)) == (True, False)  # adjusted working Saturday


# -- National Day 2026 -------------------------------------------------------------------


def test_acceptance_three_working_days_from_eve_of_national_day(cal: BusinessCalendar) -> None:
    # start day not counted; day 1 = Thu 10-08, day 2 = Fri 10-09, day 3 = Sat 10-10 (adjusted)
    due = due_at(cal, local(2026, 9, 30, 16), "working_days", 3)
    assert due == local(2026, 10, 10, 17, 30)
    assert cal.add(local(2026, 9, 30, 16), "working_days", 3).at == datetime(2026, 10, 10, 9, 30, tzinfo=UTC)


def test_acceptance_case_accepts_naive_utc_and_timedelta_days(cal: BusinessCalendar) -> None:
    naive_utc = datetime(2026, 9, 30, 8, 0)  # 16:00 in Shanghai
    assert due_at(cal, naive_utc, "working_days", timedelta(days=3)) == local(2026, 10, 10, 17, 30)


def test_count_start_day_variant_gives_friday(cal: BusinessCalendar) -> None:
    counting = BusinessCalendar(count_start_day=True)
    assert due_at(counting, local(2026, 9, 30, 16), "working_days", 3) == local(2026, 10, 9, 17, 30)
    # after the last working period the start day no longer counts
    assert due_at(counting, local(2026, 9, 30, 17, 45), "working_days", 3) == local(2026, 10, 10, 17, 30)


def test_working_time_over_national_day(cal: BusinessCalendar) -> None:
    # 2.5 h on 09-30, then 3.5 h + 2 h on 10-08
    assert due_at(cal, local(2026, 9, 30, 15), "working_time", 8 * H) == local(2026, 10, 8, 16)
    # 2.5 h + 7 h + 0.5 h: lands on 10-09
    assert due_at(cal, local(2026, 9, 30, 15), "working_time", 10 * H) == local(2026, 10, 9, 9)


def test_calendar_sla_ignores_holidays(cal: BusinessCalendar) -> None:
    assert due_at(cal, local(2026, 9, 30, 16), "calendar", 24 * H) == local(2026, 10, 1, 16)
    assert due_at(cal, local(2027, 10, 1, 9), "calendar", 24 * H) == local(2027, 10, 2, 9)


# -- Spring Festival 2026 ----------------------------------------------------------------


def test_working_days_from_last_working_day_before_spring_festival(cal: BusinessCalendar) -> None:
    # Sat 02-14 is the last (adjusted) working day; 02-15..02-23 off
    assert due_at(cal, local(2026, 2, 14, 10), "working_days", 3) == local(2026, 2, 26, 17, 30)


def test_adjusted_saturday_before_spring_festival_counts(cal: BusinessCalendar) -> None:
    # day 1 = Sat 02-14, day 2 = Tue 02-24, day 3 = Wed 02-25
    assert due_at(cal, local(2026, 2, 13, 10), "working_days", 3) == local(2026, 2, 25, 17, 30)


def test_adjusted_saturday_after_spring_festival_counts(cal: BusinessCalendar) -> None:
    assert due_at(cal, local(2026, 2, 26, 10), "working_days", 2) == local(2026, 2, 28, 17, 30)


def test_working_time_across_spring_festival(cal: BusinessCalendar) -> None:
    # 1.5 h on Sat 02-14, 2.5 h on Tue 02-24
    assert due_at(cal, local(2026, 2, 14, 16), "working_time", 4 * H) == local(2026, 2, 24, 11)


# -- ordinary weekend, lunch break, start outside working hours --------------------------


def test_working_days_over_ordinary_weekend(cal: BusinessCalendar) -> None:
    assert due_at(cal, local(2026, 3, 6, 10), "working_days", 1) == local(2026, 3, 9, 17, 30)
    assert due_at(cal, local(2026, 3, 7, 10), "working_days", 1) == local(2026, 3, 9, 17, 30)


def test_working_time_over_ordinary_weekend(cal: BusinessCalendar) -> None:
    assert due_at(cal, local(2026, 3, 6, 17), "working_time", H) == local(2026, 3, 9, 9)
    assert due_at(cal, local(2026, 3, 6, 17), "working_time", H / 2) == local(2026, 3, 6, 17, 30)


def test_working_time_skips_lunch_break(cal: BusinessCalendar) -> None:
    assert due_at(cal, local(2026, 3, 10, 11, 30), "working_time", H) == local(2026, 3, 10, 14, 30)
    assert due_at(cal, local(2026, 3, 10, 12, 30), "working_time", H) == local(2026, 3, 10, 15)
    assert due_at(cal, local(2026, 3, 10, 8, 30), "working_time", 7 * H) == local(2026, 3, 10, 17, 30)


def test_working_time_starting_outside_working_hours(cal: BusinessCalendar) -> None:
    assert due_at(cal, local(2026, 3, 10, 7), "working_time", H) == local(2026, 3, 10, 9, 30)
    assert due_at(cal, local(2026, 3, 10, 18), "working_time", H) == local(2026, 3, 11, 9, 30)
    assert due_at(cal, local(2026, 3, 7, 10), "working_time", H) == local(2026, 3, 9, 9, 30)


def test_zero_working_time_is_start(cal: BusinessCalendar) -> None:
    assert due_at(cal, local(2026, 3, 7, 10), "working_time", timedelta(0)) == local(2026, 3, 7, 10)


def test_custom_working_hours() -> None:
    cal = BusinessCalendar(working_hours=[(time(9), time(17))])
    assert due_at(cal, local(2026, 9, 30, 16), "working_days", 3) == local(2026, 10, 10, 17)
    assert due_at(cal, local(2026, 3, 10, 16), "working_time", 2 * H) == local(2026, 3, 11, 10)


def test_invalid_working_hours() -> None:
    with pytest.raises(ValueError):
        BusinessCalendar(working_hours=[])
    with pytest.raises(ValueError):
        BusinessCalendar(working_hours=[(time(9), time(13)), (time(12), time(17))])
    with pytest.raises(ValueError):
        BusinessCalendar(working_hours=[(time(17), time(9))])


# -- overrides ----------------------------------------------------------------------------


def test_local_closure_is_skipped() -> None:
    cal = BusinessCalendar(overrides={date(2026, 3, 10): False})
    assert cal.is_working_day(date(2026, 3, 10)) == (False, False)
    assert due_at(cal, local(2026, 3, 9, 10), "working_days", 3) == local(2026, 3, 13, 17, 30)
    assert due_at(cal, local(2026, 3, 9, 17), "working_time", H) == local(2026, 3, 11, 9)


def test_extra_working_sunday_counts() -> None:
    cal = BusinessCalendar(overrides={date(2026, 3, 15): True})
    assert due_at(cal, local(2026, 3, 13, 10), "working_days", 1) == local(2026, 3, 15, 17, 30)
    assert due_at(cal, local(2026, 3, 13, 17), "working_time", H) == local(2026, 3, 15, 9)


def test_override_beats_official_adjusted_day() -> None:
    cal = BusinessCalendar(overrides={date(2026, 10, 10): False})
    assert due_at(cal, local(2026, 9, 30, 16), "working_days", 3) == local(2026, 10, 12, 17, 30)


# -- beyond the official data: provisional -------------------------------------------------


def test_2027_falls_back_and_is_provisional(cal: BusinessCalendar) -> None:
    assert cal.is_working_day(date(2027, 3, 1)) == (True, True)
    assert cal.is_working_day(date(2027, 3, 6)) == (False, True)  # Saturday
    assert cal.is_working_day(date(2027, 10, 1)) == (False, True)  # holidays.China
    due = due_at(cal, local(2027, 3, 1, 9), "working_days", 3, provisional=True)
    assert due == local(2027, 3, 4, 17, 30)
    assert due_at(cal, local(2027, 3, 1, 9), "working_time", H, provisional=True) == local(2027, 3, 1, 10)


def test_crossing_into_2027_is_provisional(cal: BusinessCalendar) -> None:
    # 12-31 official; 2027-01-01 holiday by fallback; weekend; 01-04, 01-05
    due = due_at(cal, local(2026, 12, 30, 10), "working_days", 3, provisional=True)
    assert due == local(2027, 1, 5, 17, 30)
    assert due_at(cal, local(2026, 12, 30, 10), "working_days", 1) == local(2026, 12, 31, 17, 30)


def test_overridden_day_is_not_provisional() -> None:
    cal = BusinessCalendar(overrides={date(2027, 3, 2): False})
    assert cal.is_working_day(date(2027, 3, 2)) == (False, False)


# -- add() argument checks ------------------------------------------------------------------


def test_add_rejects_bad_arguments(cal: BusinessCalendar) -> None:
    start = local(2026, 3, 10, 9)
    with pytest.raises(ValueError):
        cal.add(start, "fortnights", 3)
    with pytest.raises(ValueError):
        cal.add(start, "working_days", 0)
    with pytest.raises(ValueError):
        cal.add(start, "working_days", timedelta(hours=36))
    with pytest.raises(TypeError):
        cal.add(start, "working_time", 3)
    with pytest.raises(ValueError):
        cal.add(start, "calendar", -H)


# -- parse_amount ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "text", "expected"),
    [
        ("calendar", "PT3M", timedelta(minutes=3)),
        ("calendar", "PT24H", timedelta(hours=24)),
        ("calendar", "P3D", timedelta(days=3)),
        ("working_time", "PT8H", timedelta(hours=8)),
        ("calendar", "P1DT2H", timedelta(days=1, hours=2)),
        ("calendar", "P2W", timedelta(weeks=2)),
        ("working_time", "PT1H30M15S", timedelta(hours=1, minutes=30, seconds=15)),
        ("working_time", "PT1.5H", timedelta(minutes=90)),
        ("calendar", " pt3m ", timedelta(minutes=3)),
        ("working_days", "P3D", 3),
        ("working_days", "P10D", 10),
    ],
)
def test_parse_amount(kind: str, text: str, expected) -> None:
    assert BusinessCalendar.parse_amount(kind, text) == expected


@pytest.mark.parametrize(
    ("kind", "text"),
    [
        ("working_days", "PT36H"),
        ("working_days", "P1DT2H"),
        ("working_days", "P1.5D"),
        ("working_days", "P0D"),
        ("working_days", "P2W"),
        ("calendar", "3D"),
        ("calendar", "P"),
        ("calendar", "PT"),
        ("calendar", ""),
        ("calendar", "-P1D"),
        ("calendar", "P1DT"),
        ("calendar", "PT5"),
        ("teatime", "PT1H"),
    ],
)
def test_parse_amount_errors(kind: str, text: str) -> None:
    with pytest.raises(ValueError):
        BusinessCalendar.parse_amount(kind, text)


@pytest.mark.parametrize("text", ["P1Y", "P2M", "P1Y2M3D", "P1MT1H"])
def test_parse_duration_rejects_years_and_months(text: str) -> None:
    with pytest.raises(ValueError, match="ambiguous"):
        parse_duration(text)


def test_minutes_are_not_months() -> None:
    assert parse_duration("PT2M") == timedelta(minutes=2)


# -- working_time_between and fraction_point --------------------------------------------------


def test_working_time_between_over_weekend(cal: BusinessCalendar) -> None:
    # Fri 16:00-17:30 + Mon 08:30-10:00
    assert cal.working_time_between(local(2026, 3, 6, 16), local(2026, 3, 9, 10)) == 3 * H
    assert cal.working_time_between(local(2026, 3, 7, 9), local(2026, 3, 8, 18)) == timedelta(0)
    assert cal.working_time_between(local(2026, 3, 9, 10), local(2026, 3, 6, 16)) == timedelta(0)


def test_working_time_between_over_national_day(cal: BusinessCalendar) -> None:
    assert cal.working_time_between(local(2026, 9, 30, 16), local(2026, 10, 8, 9)) == 2 * H
    assert cal.working_time_between(local(2026, 9, 30, 16), local(2026, 10, 10, 17, 30)) == 22.5 * H


def test_fraction_point_calendar(cal: BusinessCalendar) -> None:
    start = local(2026, 9, 30, 16)
    due = cal.add(start, "calendar", 24 * H).at
    assert cal.fraction_point(start, due, "calendar", 0.8) == (start + timedelta(hours=19, minutes=12))
    assert cal.fraction_point(start, due, "calendar", 1.5) == start + 36 * H
    assert cal.fraction_point(start, due, "calendar", 1.5).tzinfo == UTC


def test_fraction_point_working_time(cal: BusinessCalendar) -> None:
    start = local(2026, 9, 30, 15)
    due = cal.add(start, "working_time", 8 * H).at
    # 6.4 h: 2.5 h on 09-30, 3.5 h on 10-08 morning, 24 min after lunch
    assert cal.fraction_point(start, due, "working_time", 0.8) == local(2026, 10, 8, 14, 24)
    # 12 h: 2.5 + 7 h, then 2.5 h on 10-09
    assert cal.fraction_point(start, due, "working_time", 1.5) == local(2026, 10, 9, 11)
    assert cal.fraction_point(start, due, "working_time", 1.0) == due


def test_fraction_point_working_days(cal: BusinessCalendar) -> None:
    start = local(2026, 9, 30, 16)
    due = cal.add(start, "working_days", 3).at  # 22.5 working hours away
    assert cal.fraction_point(start, due, "working_days", 0.8) == local(2026, 10, 10, 11)  # 18 h
    # 33.75 h: 22.5 to 10-10 end, 7 on Mon 10-12, 3.5 + 0.75 on 10-13
    assert cal.fraction_point(start, due, "working_days", 1.5) == local(2026, 10, 13, 14, 45)


def test_fraction_point_rejects_bad_input(cal: BusinessCalendar) -> None:
    start = local(2026, 3, 10, 9)
    with pytest.raises(ValueError):
        cal.fraction_point(start, start + H, "calendar", -0.1)
    with pytest.raises(ValueError):
        cal.fraction_point(start, start + H, "fortnights", 0.5)


def test_working_hours_come_from_configuration(monkeypatch):
    from datetime import datetime, time

    from engine.sla.policy import working_hours

    assert working_hours("09:00-12:00, 13:30-18:00") == [(time(9, 0), time(12, 0)), (time(13, 30), time(18, 0))]
    from engine.config import load_settings

    monkeypatch.setenv("BPM_WORKING_HOURS", "09:00-17:00")
    cal = BusinessCalendar(working_hours=working_hours(load_settings().working_hours))
    start = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)  # Monday 16:00 local
    # two working hours from 16:00 with a 17:00 close: 1 h on Monday, 1 h from 09:00 Tuesday
    assert cal.add(start, "working_time", timedelta(hours=2)).at == datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
    with pytest.raises(ValueError):
        working_hours("nine to five")
