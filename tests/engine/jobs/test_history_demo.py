"""The demo history (engine/ops/history_demo.py) on SQLite and PostgreSQL: twelve weeks of
finished complaints, counter transactions and service checks, and every job that reads them run,
so each report's newest period has rows; nothing is left in anyone's task list."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from engine.clock import LOCAL_TZ, utcnow
from engine.ops.history_demo import seed_history_demo
from engine.ops.setup import deploy_shipped
from engine.store.models import JobResult, JobRun, ProcessInstance, Task

JOBS = ("sla_daily_report", "counter_service_score", "team_ranking", "process_cycle_times")


def _results(engine, job: str, period: str) -> list[dict]:
    columns = (JobResult.subject_type, JobResult.subject_key, JobResult.rank, JobResult.metrics)
    with engine.read() as session:
        rows = session.execute(select(*columns).where(JobResult.job == job, JobResult.period == period)).mappings()
        return [dict(r) for r in rows]


def test_the_history_fills_every_report_it_feeds_and_leaves_no_open_task(engine):
    deploy_shipped(engine, ("complaint_handling", "one_counter", "counter_inspection"), echo=lambda *_: None)
    lines: list[str] = []
    seed_history_demo(engine, lines.append)
    assert lines and "demo history" in lines[0]
    with engine.read() as session:
        assert session.execute(select(func.count()).select_from(Task).where(Task.status == "open")).scalar_one() == 0
        statuses = dict(session.execute(select(ProcessInstance.process_key, func.count()).where(
            ProcessInstance.status == "completed").group_by(ProcessInstance.process_key)).all())
        runs = session.execute(select(JobRun.job, JobRun.period, JobRun.status, JobRun.rows)).all()
    assert statuses == {"complaint_handling": 24, "one_counter": 48, "counter_inspection": 24}
    assert {r.status for r in runs} == {"completed"} and {r.job for r in runs} == set(JOBS)
    today = utcnow().astimezone(LOCAL_TZ).date()
    last_month = (today.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
    year, week, _ = (today - timedelta(days=7)).isocalendar()
    newest = {"sla_daily_report": last_month, "counter_service_score": last_month, "team_ranking": last_month,
              "process_cycle_times": f"{year}-W{week:02d}"}
    for job, period in newest.items():
        assert _results(engine, job, period), (job, period)
    # the month's complaints: most on time, some late, per hall
    hall = next(r for r in _results(engine, "sla_daily_report", last_month)
                if r["subject_type"] == "hall" and r["subject_key"] == "hall-1")["metrics"]
    assert hall["complaints_on_time"] > hall["complaints_breached"] > 0
    assert hall["satisfaction_answers"] > 0
    # the clerk's checks of the month, summed
    (score,) = _results(engine, "counter_service_score", last_month)
    assert score["subject_key"] == "counter_staff" and score["metrics"]["inspections"] >= 4
    assert 0 < score["metrics"]["avg_pct"] < 100
    ranking = {r["subject_key"]: r["rank"] for r in _results(engine, "team_ranking", last_month)}
    assert set(ranking) == {"hall-1", "hall-2"}
    steps = {r["metrics"]["step_name"] for r in _results(engine, "process_cycle_times", newest["process_cycle_times"])}
    assert {"柜台办理|Handle at counter", "服务检查打分|Score the checklist"} <= steps  # both names, one shown

    # run again: nothing is added
    seed_history_demo(engine, lines.append)
    with engine.read() as session:
        assert session.execute(select(func.count()).select_from(ProcessInstance)).scalar_one() == 96
