"""sla_daily_report against the hand-computed day of ``build_scenario`` (conftest), on both databases."""

from __future__ import annotations

from sqlalchemy import select

from engine.jobs.periods import Period
from engine.jobs.runner import execute_job
from engine.store.models import OrgUnit
from tests.engine.jobs.conftest import results


def test_sla_rows_per_process_category_and_hall(engine, scenario):
    run = execute_job(engine, "sla_daily_report", "2026-10-05", "tester")
    assert run["status"] == "completed"
    got = results(engine, "sla_daily_report", "2026-10-05")
    assert run["rows"] == len(got)

    cats = {(k[1], k[2]): v for k, v in got.items() if k[0] == "category"}
    assert set(cats) == {
        ("complaint_handling/standard", "hall-1"), ("complaint_handling/technical", "hall-1"),
        ("one_counter/unlock", "hall-1"), ("one_counter/payment", "hall-1"),
        ("complaint_handling/standard", "hall-2"), ("one_counter/unlock", "hall-2"),
    }
    # C1 on time (120 s) and C2 breached (300 s); C6 was registered the day before: not counted
    s = cats[("complaint_handling/standard", "hall-1")]
    assert (s["total"], s["completed"], s["on_time"], s["breached"], s["pending"]) == (2, 2, 1, 1, 0)
    assert (s["on_time_pct"], s["p50_resolution_s"], s["p90_resolution_s"], s["avg_resolution_s"]) == (50.0, 120, 300, 210)
    assert s["label"] == "投诉处理|Complaint handling / 标准业务"  # the model's two names; a page shows one
    # C3 resolved in 3 h; C4 still open and not yet due at 22:00: pending, not breached
    t = cats[("complaint_handling/technical", "hall-1")]
    assert (t["total"], t["completed"], t["on_time"], t["breached"], t["pending"]) == (2, 1, 1, 0, 1)
    assert (t["on_time_pct"], t["p50_resolution_s"], t["p90_resolution_s"]) == (100.0, 10800, 10800)
    u = cats[("one_counter/unlock", "hall-1")]
    assert (u["total"], u["on_time"], u["breached"], u["p50_resolution_s"], u["p90_resolution_s"]) == (2, 1, 1, 60, 240)
    # O3 is still open 16 hours after its 3-minute limit: breached although not completed
    p = cats[("one_counter/payment", "hall-1")]
    assert (p["total"], p["completed"], p["on_time"], p["breached"], p["on_time_pct"], p["p50_resolution_s"]) == (
        1, 0, 0, 1, 0.0, None)
    h2 = cats[("complaint_handling/standard", "hall-2")]
    assert (h2["total"], h2["on_time"], h2["p90_resolution_s"]) == (1, 1, 60)

    # process rows over every category and hall (nearest-rank percentiles)
    c = got[("process", "complaint_handling", None)]
    assert c["unit_key"] is None
    assert (c["total"], c["completed"], c["on_time"], c["breached"], c["pending"]) == (5, 4, 3, 1, 1)
    assert (c["on_time_pct"], c["p50_resolution_s"], c["p90_resolution_s"]) == (75.0, 120, 10800)
    o = got[("process", "one_counter", None)]
    assert (o["total"], o["completed"], o["on_time"], o["breached"]) == (4, 3, 2, 2)
    assert (o["on_time_pct"], o["p50_resolution_s"], o["p90_resolution_s"]) == (50.0, 60, 240)


def test_complaint_kpis_per_hall(engine, scenario):
    execute_job(engine, "sla_daily_report", "2026-10-05", "tester")
    got = results(engine, "sla_daily_report", "2026-10-05")
    h1, h2 = got[("hall", "hall-1", "hall-1")], got[("hall", "hall-2", "hall-2")]
    assert h1["unit_key"] == "hall-1" and h1["label"] == "中心营业厅"
    # 4 complaints registered against 3 counter transactions
    assert (h1["complaints"], h1["counter_transactions"], h1["complaint_rate_per_1000"]) == (4, 3, 1333.33)
    # handling: C1, C3 on time, C2 late (C4 undecided)
    assert (h1["complaints_on_time"], h1["complaints_breached"], h1["on_time_handling_rate"]) == (2, 1, 66.7)
    # closed today: C1 satisfied, C2 dissatisfied, C3 satisfied, C6 (registered yesterday) neutral
    assert (h1["satisfaction_answers"], h1["satisfied"], h1["satisfaction_rate"]) == (4, 2, 50.0)
    assert (h2["complaints"], h2["counter_transactions"], h2["complaint_rate_per_1000"]) == (1, 1, 1000.0)
    assert (h2["on_time_handling_rate"], h2["satisfaction_answers"], h2["satisfaction_rate"]) == (100.0, 0, None)


def _types(got: dict) -> dict:
    return {(k[1], k[2]): (v["complaints"], v["complaints_on_time"], v["complaints_breached"], v["on_time_handling_rate"],
                           v["satisfaction_answers"], v["satisfied"], v["satisfaction_rate"])
            for k, v in got.items() if k[0] == "complaint_type"}


def test_complaint_kpis_per_type_and_hall_daily_and_monthly(engine, scenario):
    """004's complaint types (服务营销、网络、计费支撑系统 ...) per hall: count, on-time handling,
    satisfaction; for a day and for the month (the same figures over the whole month)."""
    execute_job(engine, "sla_daily_report", "2026-10-05", "tester")
    got = results(engine, "sla_daily_report", "2026-10-05")
    # (complaints, on time, breached, on-time %, answers, satisfied, satisfaction %)
    assert _types(got) == {
        # C1 on time and closed satisfied, C4 pending; C6 (registered the day before) closed neutral today
        ("billing_support", "hall-1"): (2, 1, 0, 100.0, 2, 1, 50.0),
        ("service_marketing", "hall-1"): (1, 0, 1, 0.0, 1, 0, 0.0),  # C2 late, dissatisfied
        ("network", "hall-1"): (1, 1, 0, 100.0, 1, 1, 100.0),  # C3
        ("billing_support", "hall-2"): (1, 1, 0, 100.0, 0, 0, None),  # C5, not closed
    }
    row = got[("complaint_type", "service_marketing", "hall-1")]
    assert row["label"] == "服务营销 / 中心营业厅" and (row["type"], row["hall"], row["unit_key"]) == (
        "service_marketing", "hall-1", "hall-1")
    # the types add up to the hall's figures
    h1 = got[("hall", "hall-1", "hall-1")]
    kinds = [v for k, v in _types(got).items() if k[1] == "hall-1"]
    assert sum(v[0] for v in kinds) == h1["complaints"] and sum(v[4] for v in kinds) == h1["satisfaction_answers"]

    run = execute_job(engine, "sla_daily_report", "2026-10", "tester")
    assert run["status"] == "completed"
    month = results(engine, "sla_daily_report", "2026-10")
    assert _types(month) == {
        ("billing_support", "hall-1"): (3, 2, 0, 100.0, 2, 1, 50.0),  # C6 counted in the month too
        ("service_marketing", "hall-1"): (1, 0, 1, 0.0, 1, 0, 0.0),
        ("network", "hall-1"): (1, 1, 0, 100.0, 1, 1, 100.0),
        ("billing_support", "hall-2"): (1, 1, 0, 100.0, 0, 0, None),
    }
    assert month[("hall", "hall-1", "hall-1")]["complaints"] == 5


def test_other_days_see_other_cohorts(engine, scenario):
    """The day before holds only C6 (resolved in a minute); the day after is empty but lists the halls."""
    execute_job(engine, "sla_daily_report", "2026-10-04", "tester")
    before = results(engine, "sla_daily_report", "2026-10-04")
    assert before[("process", "complaint_handling", None)]["total"] == 1
    assert before[("hall", "hall-1", "hall-1")]["complaints"] == 1 and before[("hall", "hall-1", "hall-1")]["satisfaction_answers"] == 0
    execute_job(engine, "sla_daily_report", "2026-10-06", "tester")
    after = results(engine, "sla_daily_report", "2026-10-06")
    # one row per service hall (other tests of the session may have added halls of their own)
    with engine.read() as session:
        halls = set(session.execute(select(OrgUnit.key).where(OrgUnit.kind == "hall")).scalars())
    assert {"hall-1", "hall-2"} <= halls
    assert set(after) == {("hall", key, key) for key in halls}
    assert after[("hall", "hall-1", "hall-1")]["complaint_rate_per_1000"] is None


def test_rerun_replaces_results_and_keeps_one_run(engine, scenario):
    from sqlalchemy import func, select

    from engine.store.models import AuditEvent, JobResult, JobRun

    first = execute_job(engine, "sla_daily_report", "2026-10-05", "alice")
    before = results(engine, "sla_daily_report", "2026-10-05")
    second = execute_job(engine, "sla_daily_report", "2026-10-05", "bob")
    after = results(engine, "sla_daily_report", "2026-10-05")
    assert before == after and first["rows"] == second["rows"] == len(after)
    with engine.read() as session:
        assert session.scalar(select(func.count()).select_from(JobResult).where(JobResult.period == "2026-10-05")) == len(after)
        runs = session.execute(select(JobRun)).scalars().all()
        assert [(r.job, r.period, r.status, r.triggered_by, r.rows) for r in runs] == [
            ("sla_daily_report", "2026-10-05", "completed", "bob", len(after))]
        audits = session.execute(select(AuditEvent.details).where(AuditEvent.action == "job_completed")
                                 .order_by(AuditEvent.seq)).scalars().all()
        assert [(a["job"], a["period"], a["rows"], a["triggered_by"]) for a in audits] == [
            ("sla_daily_report", "2026-10-05", len(after), "alice"), ("sla_daily_report", "2026-10-05", len(after), "bob")]


def test_failed_compute_rolls_back_and_marks_the_run_failed(engine, scenario, monkeypatch):
    import dataclasses

    import pytest
    from sqlalchemy import select

    from engine.jobs import registry
    from engine.jobs.results import replace_results
    from engine.store.models import AuditEvent, JobRun

    execute_job(engine, "sla_daily_report", "2026-10-05", "tester")
    kept = results(engine, "sla_daily_report", "2026-10-05")

    def broken(uow, period: Period):
        replace_results(uow, "sla_daily_report", period, [])  # would wipe the rows ...
        raise RuntimeError("database went away")  # ... but the transaction rolls back

    spec = registry.JOBS["sla_daily_report"]
    monkeypatch.setitem(registry.JOBS, "sla_daily_report", dataclasses.replace(spec, compute=broken))
    with pytest.raises(RuntimeError):
        execute_job(engine, "sla_daily_report", "2026-10-05", "tester")
    assert results(engine, "sla_daily_report", "2026-10-05") == kept
    with engine.read() as session:
        run = session.execute(select(JobRun)).scalar_one()
        assert (run.status, run.error) == ("failed", "RuntimeError: database went away")
        assert session.execute(select(AuditEvent.details).where(AuditEvent.action == "job_failed")).scalar_one()[
            "error"] == "RuntimeError: database went away"
