"""The jobs as Prefect flows (SQLite only; one Prefect test harness for the session), and the
required check that ``bpm jobs serve`` really gets scheduled runs from Prefect's scheduler."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from engine.store.models import JobRun
from tests.conftest import ROOT
from tests.engine.jobs.conftest import Driver, build_scenario, deploy_files, results

pytestmark = pytest.mark.slow


@pytest.fixture
def flows(prefect_harness, sqlite_engine, monkeypatch):
    from bpm_cli import flows as module

    monkeypatch.setattr(module, "RETRY_DELAY_SECONDS", 0)
    monkeypatch.setattr(module, "_ENGINE", sqlite_engine)
    return module


def prefect_call(fn):
    """Run ``fn(client)`` (async) against the harness API."""
    import anyio
    from prefect.client.orchestration import get_client

    async def main():
        async with get_client() as client:
            return await fn(client)

    return anyio.run(main)


def runs_of(engine):
    with engine.read() as session:
        return [(r.job, r.period, r.status, r.rows, r.flow_run_id, r.triggered_by, r.error)
                for r in session.execute(select(JobRun).order_by(JobRun.id)).scalars()]


def test_flow_run_writes_results_and_the_job_run(flows, sqlite_engine):
    d = Driver(sqlite_engine)
    deploy_files(sqlite_engine, "complaint_handling", "one_counter")
    build_scenario(d)
    out = flows.sla_daily_report(period="2026-10-05", triggered_by="tester")
    got = results(sqlite_engine, "sla_daily_report", "2026-10-05")
    assert got[("hall", "hall-1", "hall-1")]["complaints"] == 4
    assert runs_of(sqlite_engine) == [("sla_daily_report", "2026-10-05", "completed", len(got), out["flow_run_id"], "tester", None)]
    run = prefect_call(lambda c: c.read_flow_run(out["flow_run_id"]))
    assert run.state.is_completed() and run.parameters["period"] == "2026-10-05"
    flow = prefect_call(lambda c: c.read_flow(run.flow_id))
    assert flow.name == "sla_daily_report"
    # a second run of the period replaces the rows and updates the one job run
    again = flows.sla_daily_report(period="2026-10-05", triggered_by="tester2")
    assert results(sqlite_engine, "sla_daily_report", "2026-10-05") == got
    assert runs_of(sqlite_engine) == [
        ("sla_daily_report", "2026-10-05", "completed", len(got), again["flow_run_id"], "tester2", None)]
    assert again["flow_run_id"] != out["flow_run_id"]


def _flaky(fail_times: int, calls: list):
    def compute(uow, period):
        calls.append(period.key)
        if len(calls) <= fail_times:
            raise RuntimeError(f"flaky failure {len(calls)}")
        return 0

    return compute


def test_failing_compute_is_retried_by_prefect(flows, sqlite_engine, monkeypatch):
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    from engine.jobs import registry

    calls: list = []
    spec = registry.JOBS["process_cycle_times"]
    monkeypatch.setitem(registry.JOBS, "process_cycle_times", dataclasses.replace(spec, compute=_flaky(2, calls)))
    out = flows.process_cycle_times(period="2026-W41", triggered_by="tester")
    assert calls == ["2026-W41"] * 3  # two failures, then the second retry succeeds
    assert runs_of(sqlite_engine) == [("process_cycle_times", "2026-W41", "completed", 0, out["flow_run_id"], "tester", None)]
    task_runs = prefect_call(lambda c: c.read_task_runs(
        flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[out["flow_run_id"]]))))
    assert [(t.name.split("-")[0], t.run_count, t.state.type.value) for t in task_runs] == [("compute", 3, "COMPLETED")]


def test_compute_failing_every_retry_fails_the_flow_and_the_run(flows, sqlite_engine, monkeypatch):
    from engine.jobs import registry

    calls: list = []
    spec = registry.JOBS["process_cycle_times"]
    monkeypatch.setitem(registry.JOBS, "process_cycle_times", dataclasses.replace(spec, compute=_flaky(99, calls)))
    state = flows.process_cycle_times(period="2026-W41", triggered_by="tester", return_state=True)
    assert state.is_failed() and len(calls) == 3
    [(job, period, status, rows, flow_run_id, by, error)] = runs_of(sqlite_engine)
    assert (job, period, status, by, error) == ("process_cycle_times", "2026-W41", "failed", "tester",
                                                "RuntimeError: flaky failure 3")
    assert flow_run_id == str(state.state_details.flow_run_id)
    run = prefect_call(lambda c: c.read_flow_run(flow_run_id))
    assert run.state.is_failed()


def test_cli_run_goes_through_prefect_by_default(flows, sqlite_engine, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from bpm_cli.main import main

    monkeypatch.setenv("BPM_DATABASE_URL", str(sqlite_engine.settings.database_url))
    monkeypatch.setenv("BPM_VAR_DIR", str(tmp_path / "var"))
    out = CliRunner().invoke(main, ["jobs", "run", "process_cycle_times", "--period", "2026-W41"])
    assert out.exit_code == 0, out.output
    run = json.loads(out.output.strip().splitlines()[-1])
    assert run["status"] == "completed" and run["flow_run_id"]
    assert prefect_call(lambda c: c.read_flow_run(run["flow_run_id"])).state.is_completed()
    assert flows._ENGINE is sqlite_engine  # the CLI's engine was not left behind


def test_flow_body_without_prefect(sqlite_engine, prefect_home, monkeypatch):
    """``flow.fn`` runs the body as a plain call: no Prefect run, no flow_run_id."""
    from bpm_cli import flows as module

    monkeypatch.setattr(module, "_ENGINE", sqlite_engine)
    out = module.sla_daily_report.fn(period="2026-10-05", triggered_by="tester")
    assert (out["status"], out["flow_run_id"]) == ("completed", None)
    with pytest.raises(Exception, match="takes a day or month period"):
        module.sla_daily_report.fn(period="2026-W41")


# ------------------------------------------------------------------ the scheduler really schedules


def _api(url: str, path: str, body: dict) -> list:
    import httpx

    response = httpx.post(url + path, json=body, timeout=10)
    response.raise_for_status()
    return response.json()


def test_bpm_jobs_serve_gets_scheduled_runs_from_the_prefect_scheduler(tmp_path):
    """``bpm jobs serve`` (embedded default: it starts a local Prefect server with the scheduler)
    registers one deployment per schedule, and Prefect's scheduler service creates SCHEDULED
    runs at the cron times in Asia/Shanghai. This is what breaks with fastapi>=0.151 or
    SQLAlchemy 2.1 (DEPENDENCY_NOTES.md), which pip does not report."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(BPM_VAR_DIR=str(tmp_path / "var"), BPM_DATABASE_URL=f"sqlite:///{tmp_path / 'bpm.sqlite3'}",
               PREFECT_HOME=str(tmp_path / "prefect"), PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "bpm_cli.main", "jobs", "serve"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    lines: list[str] = []
    try:
        url = None
        while url is None:
            line = proc.stdout.readline()
            assert line, "bpm jobs serve exited:\n" + "".join(lines)
            lines.append(line)
            if line.startswith("Prefect API: "):
                url = line.split(": ", 1)[1].strip()
        deadline = time.monotonic() + 240
        scheduled: dict[str, list] = {}
        while time.monotonic() < deadline:
            deployments = {d["name"]: d["id"] for d in _api(url, "/deployments/filter", {})}
            if len(deployments) == 11:
                scheduled = {
                    name: _api(url, "/flow_runs/filter", {
                        "deployments": {"id": {"any_": [dep_id]}},
                        "flow_runs": {"state": {"type": {"any_": ["SCHEDULED"]}}},
                    })
                    for name, dep_id in deployments.items()
                }
                if all(scheduled.values()):
                    break
            time.sleep(1)
        assert scheduled and all(scheduled.values()), (scheduled, "".join(lines))
        assert sorted(scheduled) == ["counter_service_score", "customer_manager_kpi", "key_account_room_kpi", "monthly_pay",
                                     "process_cycle_times", "retailer_anomalies",
                                     "sla_daily_report", "sla_daily_report-month", "team_ranking",
                                     "team_ranking-year", "tobacco_visit_score"]
        local = ZoneInfo("Asia/Shanghai")

        def starts(name):
            return sorted(datetime.fromisoformat(r["expected_start_time"]).astimezone(local)
                          for r in scheduled[name])

        daily = starts("sla_daily_report")
        assert all((t.hour, t.minute) == (1, 30) for t in daily)
        assert all((t.weekday(), t.hour) == (0, 2) for t in starts("process_cycle_times"))
        assert all((t.day, t.hour, t.minute) == (1, 1, 45) for t in starts("sla_daily_report-month"))
        assert all((t.month, t.day, t.hour, t.minute) == (1, 6, 5, 0) for t in starts("team_ranking-year"))
        run = scheduled["team_ranking-year"][0]
        assert run["parameters"] == {"period": None, "kind": "year", "triggered_by": "schedule"}
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        proc.stdout.close()
    # the local Prefect server kept its database in PREFECT_HOME, outside the repository
    assert (tmp_path / "prefect" / "prefect.db").exists()
