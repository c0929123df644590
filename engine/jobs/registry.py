"""The five scheduled jobs: name, accepted period kinds, cron schedule and compute function.

Schedules are cron expressions in Asia/Shanghai time; a scheduled run computes the last
complete period of the job's first period kind (``Period.last_complete``). Defaults
(product decisions, change them here):

=====================  ======  ==============  ===========================================
job                    kinds   cron            why
=====================  ======  ==============  ===========================================
sla_daily_report       day,    30 1 * * *      01:30 every day, for yesterday; a second
                       month   (45 1 1 * *)    schedule at 01:45 on the 1st reports last month
customer_manager_kpi   month   0 3 5 * *       5th 03:00: the first days are left for
                                               ``bpm facts import`` of last month's facts
key_account_room_kpi   month   45 3 5 * *      5th 03:45: the room's facts of last month are imported
                                               and its target plan approved (engine.jobs.room_kpi)
counter_service_score  month   0 2 1 * *       1st 02:00, for last month
team_ranking           month,  0 4 6 * *       6th 04:00 (after the KPI sheets); a second
                       year    (0 5 6 1 *)     schedule on 6 January ranks the past year
process_cycle_times    week    0 2 * * 1       Monday 02:00, for last ISO week
retailer_anomalies     day,    15 2 * * *      02:15 nightly, for yesterday: its month's retailer facts
                       month                   (engine.jobs.tobacco_jobs; one alert per month, retailer, kind)
tobacco_visit_score    month   30 2 1 * *      1st 02:30, for last month's retailer visits
monthly_pay            month   30 3 5 * *      5th 03:30: after the month's test scores, attendance
                                               counts and pay are imported (engine.jobs.monthly_pay)
=====================  ======  ==============  ===========================================

The compute functions of customer_manager_kpi, counter_service_score and team_ranking
live in ``engine.jobs.kpi``, ``engine.jobs.inspections`` and ``engine.jobs.ranking`` and
are imported when the job runs, so this registry imports even when one of them is absent.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field

from engine.errors import NotFound
from engine.jobs.periods import Period, PeriodError


@dataclass(frozen=True)
class JobSpec:
    name: str
    period_kinds: tuple[str, ...]  # accepted Period kinds, first = scheduled kind
    cron: str  # schedule of the first kind (Asia/Shanghai)
    compute: Callable  # (uow, period) -> rows written; runs in ONE transaction
    title_zh: str
    title_en: str
    # further schedules as (period kind, cron), e.g. team_ranking's yearly run
    extra_schedules: tuple[tuple[str, str], ...] = field(default=())

    def schedules(self) -> tuple[tuple[str, str], ...]:
        """Every (period kind, cron) this job is served with."""
        return ((self.period_kinds[0], self.cron), *self.extra_schedules)

    def check_period(self, period: Period) -> Period:
        if period.kind not in self.period_kinds:
            raise PeriodError(
                f"job {self.name} takes a {' or '.join(self.period_kinds)} period, not a {period.kind} "
                f"({period.key})",
                {"job": self.name, "period": period.key, "kinds": list(self.period_kinds)},
            )
        return period


def _lazy(module: str, function: str) -> Callable:
    """A compute function resolved on first call (its module may be written later)."""

    def compute(uow, period):
        return getattr(importlib.import_module(module), function)(uow, period)

    compute.__name__ = function
    compute.__qualname__ = function
    compute.__module__ = module
    return compute


JOBS: dict[str, JobSpec] = {
    spec.name: spec
    for spec in (
        JobSpec(
            "sla_daily_report", ("day", "month"), "30 1 * * *",
            _lazy("engine.jobs.sla_report", "compute_sla_daily_report"),
            "SLA 日报", "Daily SLA report", extra_schedules=(("month", "45 1 1 * *"),),
        ),
        JobSpec(
            "customer_manager_kpi", ("month",), "0 3 5 * *", _lazy("engine.jobs.kpi", "compute_customer_manager_kpi"),
            "客户经理月度考核", "Customer manager monthly KPI",
        ),
        JobSpec(
            "key_account_room_kpi", ("month",), "45 3 5 * *",
            _lazy("engine.jobs.room_kpi", "compute_key_account_room_kpi"),
            "重要室经理月度考核", "Key-account room manager monthly KPI",
        ),
        JobSpec(
            "counter_service_score", ("month",), "0 2 1 * *",
            _lazy("engine.jobs.inspections", "compute_counter_service_score"),
            "营业员服务评分", "Counter service score",
        ),
        JobSpec(
            "team_ranking", ("month", "year"), "0 4 6 * *", _lazy("engine.jobs.ranking", "compute_team_ranking"),
            "团队比拼排名", "Team ranking", extra_schedules=(("year", "0 5 6 1 *"),),
        ),
        JobSpec(
            "process_cycle_times", ("week",), "0 2 * * 1",
            _lazy("engine.jobs.cycle_times", "compute_process_cycle_times"),
            "流程环节用时", "Process cycle times",
        ),
        JobSpec(  # 000 预警功能模块: nightly, for yesterday (its month's retailer facts)
            "retailer_anomalies", ("day", "month"), "15 2 * * *",
            _lazy("engine.jobs.tobacco_jobs", "compute_retailer_anomalies"),
            "零售户异常预警", "Retailer anomaly alerts",
        ),
        JobSpec(  # 000 客户经理走访路线模块: visits and their duration feed the monthly score
            "tobacco_visit_score", ("month",), "30 2 1 * *",
            _lazy("engine.jobs.tobacco_jobs", "compute_tobacco_visit_score"),
            "烟草客户经理拜访考核", "Tobacco customer manager visit score",
        ),
        JobSpec(
            "monthly_pay", ("month",), "30 3 5 * *", _lazy("engine.jobs.monthly_pay", "compute_monthly_pay"),
            "学习考勤绩效奖惩", "Study tests, attendance and pay",
        ),
    )
}


def get_job(name: str) -> JobSpec:
    try:
        return JOBS[name]
    except KeyError:
        raise NotFound(f"unknown job {name!r}: expected one of {', '.join(JOBS)}", {"job": name}) from None
