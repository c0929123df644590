"""Reporting periods: parsing, local (Asia/Shanghai) boundaries, previous and last complete."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from engine.errors import NotFound
from engine.jobs.periods import Period, PeriodError
from engine.jobs.registry import JOBS, get_job
from engine.jobs.runner import resolve


@pytest.mark.parametrize(
    ("text", "kind", "start", "end"),
    [
        ("2026-10-05", "day", datetime(2026, 10, 4, 16, tzinfo=UTC), datetime(2026, 10, 5, 16, tzinfo=UTC)),
        ("2026-W41", "week", datetime(2026, 10, 4, 16, tzinfo=UTC), datetime(2026, 10, 11, 16, tzinfo=UTC)),
        ("2026-10", "month", datetime(2026, 9, 30, 16, tzinfo=UTC), datetime(2026, 10, 31, 16, tzinfo=UTC)),
        ("2026-12", "month", datetime(2026, 11, 30, 16, tzinfo=UTC), datetime(2026, 12, 31, 16, tzinfo=UTC)),
        ("2026", "year", datetime(2025, 12, 31, 16, tzinfo=UTC), datetime(2026, 12, 31, 16, tzinfo=UTC)),
        ("2026-W53", "week", datetime(2026, 12, 27, 16, tzinfo=UTC), datetime(2027, 1, 3, 16, tzinfo=UTC)),
    ],
)
def test_parse_gives_local_midnight_boundaries(text, kind, start, end):
    p = Period.parse(text)
    assert (p.kind, p.key, p.start, p.end) == (kind, text, start, end)
    assert Period.parse(f" {text} ") == p


@pytest.mark.parametrize("text", ["", "2026-13", "2026-02-30", "2025-W53", "2026-W00", "26-10", "2026/10", "oct", "2026-1"])
def test_bad_periods_are_refused_with_the_formats(text):
    with pytest.raises(PeriodError) as err:
        Period.parse(text)
    assert err.value.status == 400 and repr(text.strip()) in err.value.message


def test_previous_and_next_cross_years():
    assert Period.parse("2026-01-01").previous().key == "2025-12-31"
    assert Period.parse("2026-01").previous().key == "2025-12"
    assert Period.parse("2026-W01").previous().key == "2025-W52"
    assert Period.parse("2026-W53").next().key == "2027-W01"
    assert Period.parse("2026").previous().key == "2025"


def test_last_complete_follows_the_local_calendar():
    # 2026-10-05 17:00 UTC is already Tuesday 2026-10-06 01:00 in Shanghai
    now = datetime(2026, 10, 5, 17, 0, tzinfo=UTC)
    assert Period.last_complete("day", now).key == "2026-10-05"
    assert Period.last_complete("week", now).key == "2026-W40"
    assert Period.last_complete("month", now).key == "2026-09"
    assert Period.last_complete("year", now).key == "2025"
    # 15:59 UTC on the last day of the month is still that month locally
    assert Period.last_complete("month", datetime(2026, 10, 31, 15, 59, tzinfo=UTC)).key == "2026-09"
    assert Period.last_complete("month", datetime(2026, 10, 31, 16, 0, tzinfo=UTC)).key == "2026-10"


def test_jobs_accept_only_their_period_kinds():
    assert list(JOBS) == ["sla_daily_report", "customer_manager_kpi", "key_account_room_kpi", "counter_service_score",
                          "team_ranking",
                          "process_cycle_times", "retailer_anomalies", "tobacco_visit_score", "monthly_pay"]
    assert get_job("team_ranking").period_kinds == ("month", "year")
    assert resolve("team_ranking", "2026")[1].kind == "year"
    # the SLA report runs daily and, on the 1st, for last month (per complaint type and hall, 004)
    assert get_job("sla_daily_report").period_kinds == ("day", "month")
    assert get_job("sla_daily_report").schedules() == (("day", "30 1 * * *"), ("month", "45 1 1 * *"))
    assert resolve("sla_daily_report", "2026-10")[1].kind == "month"
    with pytest.raises(PeriodError, match="takes a day or month period, not a week"):
        resolve("sla_daily_report", "2026-W41")
    with pytest.raises(NotFound, match="unknown job 'nope'"):
        resolve("nope", "2026-10")
    spec, period = resolve("process_cycle_times", None, now=datetime(2026, 10, 5, 17, 0, tzinfo=UTC))
    assert period.key == "2026-W40"


def test_registry_imports_without_touching_the_scoring_modules_or_prefect():
    import subprocess
    import sys

    code = ("import sys, engine.jobs.registry as r; "
            "assert not [m for m in ('engine.jobs.kpi', 'engine.jobs.inspections', 'engine.jobs.ranking', 'prefect') "
            "if m in sys.modules], sorted(sys.modules); print(len(r.JOBS))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == str(len(JOBS))  # every registered job, none of them imported


def test_web_app_and_cli_do_not_import_prefect():
    """``import prefect`` costs about 2 s: only ``bpm jobs run``/``serve`` may load it."""
    import subprocess
    import sys

    code = ("import sys, web, bpm_cli.main, engine.jobs.runner, engine.jobs.sla_report, engine.jobs.cycle_times; "
            "from web import create_app; print([m for m in sys.modules if m.split('.')[0] == 'prefect'])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
