"""Unit tests for engine.sla.calendar (official Chinese calendar, working hours, SLA kinds)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from engine.sla.calendar import BusinessCalendar, Due, parse_duration

SH = ZoneInfo("Asia/Shanghai")
H = timedelta(hours=1)
# Most tests here are about working days: they use one set of hours all year, 08:30-12:00 and 14:00-17:30.
# The seasonal hours of the source rules (the default) are tested at the end.
ALL_YEAR = ((time(8, 30), time(12, 0)), (time(14, 0), time(17, 30)))


def local(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=SH)


@pytest.fixture
def cal() -> BusinessCalendar:
    return BusinessCalendar(working_hours=ALL_YEAR)


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
    counting = BusinessCalendar(working_hours=ALL_YEAR, count_start_day=True)
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
    cal = BusinessCalendar(working_hours=ALL_YEAR, overrides={date(2026, 3, 10): False})
    assert cal.is_working_day(date(2026, 3, 10)) == (False, False)
    assert due_at(cal, local(2026, 3, 9, 10), "working_days", 3) == local(2026, 3, 13, 17, 30)
    assert due_at(cal, local(2026, 3, 9, 17), "working_time", H) == local(2026, 3, 11, 9)


def test_extra_working_sunday_counts() -> None:
    cal = BusinessCalendar(working_hours=ALL_YEAR, overrides={date(2026, 3, 15): True})
    assert due_at(cal, local(2026, 3, 13, 10), "working_days", 1) == local(2026, 3, 15, 17, 30)
    assert due_at(cal, local(2026, 3, 13, 17), "working_time", H) == local(2026, 3, 15, 9)


def test_override_beats_official_adjusted_day() -> None:
    cal = BusinessCalendar(working_hours=ALL_YEAR, overrides={date(2026, 10, 10): False})
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
    cal = BusinessCalendar(working_hours=ALL_YEAR, overrides={date(2027, 3, 2): False})
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
    from datetime import datetime

    from engine.sla.policy import working_hours

    # the single-season format: the same hours all year
    hours = working_hours("09:00-12:00, 13:30-18:00")
    for day in (date(2026, 1, 1), date(2026, 7, 1), date(2024, 2, 29), date(2026, 12, 31)):
        assert hours.on(day) == ((time(9, 0), time(12, 0)), (time(13, 30), time(18, 0)))
    assert [s.name for s in hours.seasons] == ["all year"]
    from engine.config import load_settings

    monkeypatch.setenv("BPM_WORKING_HOURS", "09:00-17:00")
    cal = BusinessCalendar(working_hours=working_hours(load_settings().working_hours))
    start = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)  # Monday 16:00 local
    # two working hours from 16:00 with a 17:00 close: 1 h on Monday, 1 h from 09:00 Tuesday
    assert cal.add(start, "working_time", timedelta(hours=2)).at == datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
    with pytest.raises(ValueError, match="nine to five"):
        working_hours("nine to five")


# -- seasonal working hours (source 001, 上班时间: 夏季 09:20-12:30 / 15:20-18:30, 冬季 09:50-13:00 / 15:20-18:30)

SEASONS = "summer 05-01..09-30=09:20-12:30,15:20-18:30; winter 10-01..04-30=09:50-13:00,15:20-18:30"


def test_default_hours_are_the_seasonal_hours_of_the_sources(monkeypatch) -> None:
    from engine.config import load_settings
    from engine.sla.calendar import DEFAULT_WORKING_HOURS
    from engine.sla.policy import working_hours

    monkeypatch.delenv("BPM_WORKING_HOURS", raising=False)
    assert working_hours(load_settings().working_hours) == DEFAULT_WORKING_HOURS == working_hours(SEASONS)
    assert BusinessCalendar().working_hours == DEFAULT_WORKING_HOURS
    summer, winter = ((time(9, 20), time(12, 30)), (time(15, 20), time(18, 30))), \
        ((time(9, 50), time(13, 0)), (time(15, 20), time(18, 30)))
    for day, hours in [(date(2026, 4, 30), winter), (date(2026, 5, 1), summer), (date(2026, 7, 15), summer),
                       (date(2026, 9, 30), summer), (date(2026, 10, 1), winter), (date(2026, 12, 31), winter),
                       (date(2027, 1, 1), winter), (date(2028, 2, 29), winter)]:
        assert DEFAULT_WORKING_HOURS.on(day) == hours, day


def test_same_amount_in_july_and_december_across_the_lunch_break() -> None:
    cal = BusinessCalendar()
    # Wednesday 11:00, 3 working hours. July: 11:00-12:30 (1.5 h), then 15:20 + 1.5 h = 16:50.
    assert due_at(cal, local(2026, 7, 15, 11), "working_time", 3 * H) == local(2026, 7, 15, 16, 50)
    # December: 11:00-13:00 (2 h), then 15:20 + 1 h = 16:20.
    assert due_at(cal, local(2026, 12, 16, 11), "working_time", 3 * H) == local(2026, 12, 16, 16, 20)
    # 12:45 is the lunch break in July but still a working hour in December
    assert due_at(cal, local(2026, 7, 15, 12, 45), "working_time", 30 * timedelta(minutes=1)) == local(2026, 7, 15, 15, 50)
    assert due_at(cal, local(2026, 12, 16, 12, 45), "working_time", 30 * timedelta(minutes=1)) == local(2026, 12, 16, 15, 35)
    # working days end at 18:30 in both seasons; a morning start counts from the next day
    assert due_at(cal, local(2026, 7, 15, 8), "working_days", 1) == local(2026, 7, 16, 18, 30)
    assert due_at(cal, local(2026, 12, 16, 8), "working_days", 1) == local(2026, 12, 17, 18, 30)
    assert cal.working_time_between(local(2026, 7, 15, 9), local(2026, 7, 15, 19)) == timedelta(hours=6, minutes=20)
    assert cal.working_time_between(local(2026, 12, 16, 9), local(2026, 12, 16, 19)) == timedelta(hours=6, minutes=20)
    assert cal.working_time_between(local(2026, 12, 16, 9), local(2026, 12, 16, 14)) == timedelta(hours=3, minutes=10)


def test_working_time_across_the_season_switch() -> None:
    cal = BusinessCalendar()
    # Thu 2026-04-30 16:00 (winter), 4 working hours: 2.5 h until 18:30, then Labour Day (05-01..05-05);
    # the rest, 1.5 h, on Wed 05-06 with the summer morning from 09:20: 10:50 (winter hours would give 11:20)
    assert due_at(cal, local(2026, 4, 30, 16), "working_time", 4 * H) == local(2026, 5, 6, 10, 50)
    # Wed 2026-09-30 16:00 (summer), 4 working hours: the rest after National Day on Thu 10-08 from 09:50
    assert due_at(cal, local(2026, 9, 30, 16), "working_time", 4 * H) == local(2026, 10, 8, 11, 20)
    assert cal.working_time_between(local(2026, 4, 30, 9), local(2026, 5, 6, 13)) == \
        timedelta(hours=6, minutes=20) + timedelta(hours=3, minutes=10)


def test_season_dates_are_configurable() -> None:
    from engine.sla.policy import working_hours

    hours = working_hours("夏季 06-01..08-31=09:20-12:30,15:20-18:30;冬季 09-01..05-31=09:50-13:00,15:20-18:30")
    assert [s.name for s in hours.seasons] == ["夏季", "冬季"]
    cal = BusinessCalendar(working_hours=hours)
    # Fri 2026-05-29 is still winter here: 11:00-13:00, then 15:20 + 1 h; summer by default: 16:50
    assert due_at(cal, local(2026, 5, 29, 11), "working_time", 3 * H) == local(2026, 5, 29, 16, 20)
    assert due_at(BusinessCalendar(), local(2026, 5, 29, 11), "working_time", 3 * H) == local(2026, 5, 29, 16, 50)
    # Mon 2026-08-31 16:00, the last summer day here: 2.5 h, then Tue 09-01 (winter) from 09:50: 11:20;
    # with the default dates 09-01 is still summer: from 09:20, 10:50
    assert due_at(cal, local(2026, 8, 31, 16), "working_time", 4 * H) == local(2026, 9, 1, 11, 20)
    assert due_at(BusinessCalendar(), local(2026, 8, 31, 16), "working_time", 4 * H) == local(2026, 9, 1, 10, 50)
    # unnamed seasons, periods in any order, a season wrapping past December 31
    wrapped = working_hours("11-01..02-28=14:00-17:00,09:00-12:00; 03-01..10-31=08:00-12:00")
    assert wrapped.on(date(2027, 1, 5)) == ((time(9), time(12)), (time(14), time(17)))
    assert wrapped.on(date(2028, 2, 29)) == wrapped.on(date(2028, 2, 28))  # "..02-28" covers 02-29 too
    assert wrapped.on(date(2028, 3, 1)) == ((time(8), time(12)),)


@pytest.mark.parametrize(("spec", "message"), [
    ("summer 05-01..09-31=09:20-12:30,15:20-18:30; winter 10-01..04-30=09:50-13:00,15:20-18:30",
     "season 'summer 05-01..09-31=09:20-12:30,15:20-18:30': '09-31' is not a month-day"),
    ("summer 05-01..09-30=09:20-12:30,15:20-18:30; winter 10-01..04-30=9.50-13", "season 'winter 10-01..04-30=9.50-13'"),
    ("summer 05-01..09-30=09:20-12:30,15:20-18:30; winter", "season 'winter' must look like"),
    ("summer 05-01..09-30=12:30-09:20; winter 10-01..04-30=09:50-13:00", "season 'summer 05-01..09-30=12:30-09:20'"),
    ("summer 05-01..09-30=09:20-12:30,12:00-18:30; winter 10-01..04-30=09:50-13:00", "ordered and non-overlapping"),
    ("summer 05-01..09-30=09:20-12:30; winter 09-30..04-30=09:50-13:00", "'summer' and 'winter' overlap on 09-30"),
    ("summer 05-01..09-30=09:20-12:30; winter 10-02..04-30=09:50-13:00", "no season covers 10-01"),
    ("summer 05-01..09-30=09:20-12:30", "no season covers 01-01..04-30"),
    ("09:00-13:00,12:00-17:00", "ordered and non-overlapping"),
])
def test_bad_working_hours_are_refused_naming_the_part(spec: str, message: str) -> None:
    from engine.sla.policy import working_hours

    with pytest.raises(ValueError, match="BPM_WORKING_HOURS") as refused:
        working_hours(spec)
    assert message in str(refused.value)


def test_bad_working_hours_stop_the_engine_at_start(tmp_path) -> None:
    from engine.app import BpmEngine
    from engine.config import load_settings

    settings = load_settings(var_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'x.sqlite3'}",
                             working_hours="summer 05-01..09-30=09:20-12:30")
    with pytest.raises(ValueError, match="no season covers"):
        BpmEngine(settings)


def test_calendar_hours_command_prints_the_seasons(monkeypatch) -> None:
    from click.testing import CliRunner

    from bpm_cli.main import main

    monkeypatch.delenv("BPM_WORKING_HOURS", raising=False)
    result = CliRunner().invoke(main, ["calendar", "hours"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == ["summer 05-01..09-30=09:20-12:30,15:20-18:30",
                                          "winter 10-01..04-30=09:50-13:00,15:20-18:30"]
    monkeypatch.setenv("BPM_WORKING_HOURS", "08:30-12:00,14:00-17:30")
    assert CliRunner().invoke(main, ["calendar", "hours"]).output == "all year 01-01..12-31=08:30-12:00,14:00-17:30\n"
    monkeypatch.setenv("BPM_WORKING_HOURS", "summer 05-01..09-30=09:20-12:30; winter 10-01..04-31=09:50-13:00")
    refused = CliRunner().invoke(main, ["calendar", "hours"])
    assert refused.exit_code == 1 and "season 'winter 10-01..04-31=09:50-13:00'" in refused.output
