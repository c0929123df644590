"""Report periods and job schedules in words (web/presentation/periods.py, engine/jobs/schedules.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from engine.jobs.schedules import describe, job_schedules, next_run
from web.presentation.periods import empty_reason, period_label, schedule_text


@pytest.mark.parametrize(("key", "zh", "en"), [
    ("2026-12", "2026年12月", "Dec 2026"),
    ("2026-W49", "2026年第49周", "2026 W49"),
    ("2027-W01", "2027年第1周", "2027 W1"),
    ("2026-12-05", "2026年12月5日", "5 Dec 2026"),
    ("2026", "2026年", "2026"),
    ("not-a-period", "not-a-period", "not-a-period"),
])
def test_periods_read_as_people_write_them(key, zh, en):
    assert period_label(key, "zh-CN") == zh
    assert period_label(key, "en") == en


# Sunday 6 December 2026, 12:00 in China
NOON = datetime(2026, 12, 6, 4, 0, tzinfo=UTC)


@pytest.mark.parametrize(("cron", "expected"), [
    ("30 1 * * *", "2026-12-07 01:30"),  # every day: tomorrow
    ("0 2 * * 1", "2026-12-07 02:00"),  # Mondays
    ("0 3 5 * *", "2027-01-05 03:00"),  # the 5th: this month's has passed
    ("0 5 6 1 *", "2027-01-06 05:00"),  # 6 January
    ("0 13 6 12 *", "2026-12-06 13:00"),  # later today
    ("0 12 6 12 *", "2027-12-06 12:00"),  # exactly now is not "next"
])
def test_the_next_run_is_in_china_time(cron, expected):
    assert next_run(cron, NOON).strftime("%Y-%m-%d %H:%M") == expected


def test_an_unsupported_cron_is_refused():
    with pytest.raises(ValueError):
        describe("month", "*/5 * * * *")


def test_schedules_in_words():
    (kpi,) = job_schedules("customer_manager_kpi", NOON)
    assert schedule_text(kpi, "zh-CN") == "每月5日 03:00（统计上月）"
    assert schedule_text(kpi, "en") == "on day 5 of every month at 03:00 (for last month)"
    weekly = job_schedules("process_cycle_times", NOON)[0]
    assert schedule_text(weekly, "zh-CN") == "每周一 02:00（统计上周）"
    daily, monthly = job_schedules("sla_daily_report", NOON)
    assert schedule_text(daily, "zh-CN") == "每天 01:30（统计前一天）"
    assert schedule_text(monthly, "en") == "on day 1 of every month at 01:45 (for last month)"
    yearly = job_schedules("team_ranking", NOON)[1]
    assert schedule_text(yearly, "zh-CN") == "每年1月6日 05:00（统计上一年）"


def test_an_empty_report_says_why_and_when():
    schedules = job_schedules("customer_manager_kpi", NOON)
    assert empty_reason("客户经理月度考核", schedules, "zh-CN") == (
        "本期尚无数据：该报表由“客户经理月度考核”作业于每月5日 03:00（统计上月）运行后生成。"
        "下次运行：2027年1月5日 03:00（北京时间）。")
    ran = empty_reason("客户经理月度考核", schedules, "zh-CN", run={"rows": 0})
    assert ran.startswith("本期作业“客户经理月度考核”已运行，但没有可统计的数据") and "下次运行" in ran
    english = empty_reason("Customer manager monthly KPI", schedules, "en")
    assert english.startswith("No data for this period yet") and "Next run: 5 Jan 2027 03:00 (China time)." in english
    # two schedules: both named, the sooner run next
    both = empty_reason("SLA 日报", job_schedules("sla_daily_report", NOON), "zh-CN")
    assert "每天 01:30（统计前一天）；每月1日 01:45（统计上月）" in both and "2026年12月7日 01:30" in both
