"""Prefect 3 flows of the scheduled jobs: one flow per job (flow name = job name).

Import this module lazily (``import prefect`` costs about 2 s and 80 MiB): the web app
and ``engine`` never import it; ``bpm jobs run`` / ``bpm jobs serve`` do, inside the command.

Each flow resolves its period (parameter ``period``; when empty, the last complete period
of ``kind``, default the job's scheduled kind, computed when the run starts) and calls the
Prefect task ``compute`` (``retries=2``, ``retry_delay_seconds=5``), which runs
:func:`engine.jobs.runner.execute_job`: the compute in one transaction of
``engine.uow(SYSTEM)``, the ``bpm_job_run`` row (running -> completed / failed, rows,
``flow_run_id``, ``triggered_by``) and the ``job_completed`` audit event. Re-running a
period replaces its results.

Where Prefect keeps its state: when neither ``PREFECT_HOME`` nor ``PREFECT_API_URL`` is set,
``PREFECT_HOME`` defaults to ``<var_dir>/prefect`` (set before Prefect is imported).
``bpm jobs run`` then uses Prefect's local ephemeral mode (a temporary local API server on
SQLite there, nothing to start). Prefect's ephemeral server runs no scheduler, so
:func:`serve_all` without ``PREFECT_API_URL`` starts a local ``prefect server`` (SQLite in
``PREFECT_HOME``, scheduler on, UI off) for as long as it serves. With ``PREFECT_API_URL``
set, both use that server (scale-out: a Prefect server on PostgreSQL, see the README).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from engine.config import load_settings


def configure_prefect_home(var_dir: Path | str | None = None) -> str | None:
    """Point ``PREFECT_HOME`` at ``<var_dir>/prefect`` unless Prefect is configured already.
    Also give the ephemeral server two minutes to start (Prefect's 20 s default is too short
    for its first start, which creates its database, on a busy small machine)."""
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    if os.environ.get("PREFECT_HOME") or os.environ.get("PREFECT_API_URL"):
        return None
    home = Path(var_dir or load_settings().var_dir) / "prefect"
    home.mkdir(parents=True, exist_ok=True)
    os.environ["PREFECT_HOME"] = str(home)
    return str(home)


configure_prefect_home()

from prefect import flow, task  # noqa: E402
from prefect.cache_policies import NO_CACHE  # noqa: E402
from prefect.context import FlowRunContext  # noqa: E402

from engine.clock import utcnow  # noqa: E402
from engine.jobs.periods import Period  # noqa: E402
from engine.jobs.registry import JOBS, get_job  # noqa: E402
from engine.jobs.runner import execute_job, resolve  # noqa: E402

TIMEZONE = "Asia/Shanghai"
RETRIES = 2
RETRY_DELAY_SECONDS = 5

_ENGINE = None


def use_engine(engine) -> None:
    """Run this process's flows against ``engine`` (default: one built from the environment)."""
    global _ENGINE
    _ENGINE = engine


def _engine():
    global _ENGINE
    if _ENGINE is None:
        from engine.app import BpmEngine

        _ENGINE = BpmEngine(load_settings())
    return _ENGINE


@task(name="compute", retries=RETRIES, retry_delay_seconds=RETRY_DELAY_SECONDS, cache_policy=NO_CACHE)
def compute(job: str, period: str, triggered_by: str, flow_run_id: str | None = None) -> dict:
    """Compute one job for one period and record its ``bpm_job_run`` row (retried on failure)."""
    return execute_job(_engine(), job, period, triggered_by, flow_run_id)


def _job_flow_body(job: str, period: str | None, kind: str | None, triggered_by: str) -> dict:
    spec = get_job(job)
    if not period:
        period = Period.last_complete(kind or spec.period_kinds[0], utcnow()).key
    resolve(job, period)  # a bad period fails the flow at once, without retries
    ctx = FlowRunContext.get()
    if ctx is None or ctx.flow_run is None:  # flow.fn(...): plain call, no Prefect run
        return compute.fn(job, period, triggered_by, None)
    step = compute.with_options(retries=RETRIES, retry_delay_seconds=RETRY_DELAY_SECONDS)
    return step(job, period, triggered_by, str(ctx.flow_run.id))


# One flow per job, defined at module level so that workers can load them by entrypoint
# (``bpm_cli/flows.py:sla_daily_report`` ...).


@flow(name="sla_daily_report", description="SLA 日报 Daily SLA report", validate_parameters=True)
def sla_daily_report(period: str | None = None, kind: str | None = None, triggered_by: str = "schedule") -> dict:
    return _job_flow_body("sla_daily_report", period, kind, triggered_by)


@flow(name="customer_manager_kpi", description="客户经理月度考核 Customer manager monthly KPI")
def customer_manager_kpi(period: str | None = None, kind: str | None = None, triggered_by: str = "schedule") -> dict:
    return _job_flow_body("customer_manager_kpi", period, kind, triggered_by)


@flow(name="counter_service_score", description="营业员服务评分 Counter service score")
def counter_service_score(period: str | None = None, kind: str | None = None, triggered_by: str = "schedule") -> dict:
    return _job_flow_body("counter_service_score", period, kind, triggered_by)


@flow(name="team_ranking", description="团队比拼排名 Team ranking (monthly and yearly)")
def team_ranking(period: str | None = None, kind: str | None = None, triggered_by: str = "schedule") -> dict:
    return _job_flow_body("team_ranking", period, kind, triggered_by)


@flow(name="process_cycle_times", description="流程环节用时 Process cycle times")
def process_cycle_times(period: str | None = None, kind: str | None = None, triggered_by: str = "schedule") -> dict:
    return _job_flow_body("process_cycle_times", period, kind, triggered_by)


@flow(name="monthly_pay", description="学习考勤绩效奖惩 Study tests, attendance and pay")
def monthly_pay(period: str | None = None, kind: str | None = None, triggered_by: str = "schedule") -> dict:
    return _job_flow_body("monthly_pay", period, kind, triggered_by)


@flow(name="retailer_anomalies", description="零售户异常预警 Retailer anomaly alerts")
def retailer_anomalies(period: str | None = None, kind: str | None = None, triggered_by: str = "schedule") -> dict:
    return _job_flow_body("retailer_anomalies", period, kind, triggered_by)


@flow(name="tobacco_visit_score", description="烟草客户经理拜访考核 Tobacco customer manager visit score")
def tobacco_visit_score(period: str | None = None, kind: str | None = None, triggered_by: str = "schedule") -> dict:
    return _job_flow_body("tobacco_visit_score", period, kind, triggered_by)


@flow(name="key_account_room_kpi", description="重要室经理月度考核 Key-account room manager monthly assessment")
def key_account_room_kpi(period: str | None = None, kind: str | None = None, triggered_by: str = "schedule") -> dict:
    return _job_flow_body("key_account_room_kpi", period, kind, triggered_by)


FLOWS = {
    "sla_daily_report": sla_daily_report,
    "customer_manager_kpi": customer_manager_kpi,
    "counter_service_score": counter_service_score,
    "team_ranking": team_ranking,
    "process_cycle_times": process_cycle_times,
    "monthly_pay": monthly_pay,
    "retailer_anomalies": retailer_anomalies,
    "tobacco_visit_score": tobacco_visit_score,
    "key_account_room_kpi": key_account_room_kpi,
}
assert set(FLOWS) == set(JOBS), "every registered job needs a flow"


def run_job(name: str, period_text: str | None = None, triggered_by: str = "cli", engine=None) -> dict:
    """Run one job now through Prefect (ephemeral local mode unless PREFECT_API_URL is set).
    Unknown jobs and bad periods raise before Prefect starts. Returns the recorded run."""
    global _ENGINE
    spec, period = resolve(name, period_text)
    previous = _ENGINE
    if engine is not None:
        use_engine(engine)
    try:
        return FLOWS[spec.name](period=period.key, triggered_by=triggered_by)
    finally:
        _ENGINE = previous if engine is not None else _ENGINE


def deployment_name(job: str, kind: str) -> str:
    spec = JOBS[job]
    return job if kind == spec.period_kinds[0] else f"{job}-{kind}"


def deployments() -> list:
    """One deployment per job schedule: cron in Asia/Shanghai, default period computed at run time."""
    from prefect.schedules import Cron

    out = []
    for spec in JOBS.values():
        for kind, cron in spec.schedules():
            out.append(
                FLOWS[spec.name].to_deployment(
                    name=deployment_name(spec.name, kind),
                    schedule=Cron(cron, timezone=TIMEZONE),
                    parameters={"period": None, "kind": kind, "triggered_by": "schedule"},
                    description=f"{spec.title_zh} {spec.title_en} ({kind}, cron {cron} {TIMEZONE})",
                )
            )
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def local_server(home: Path | str | None = None, port: int | None = None, timeout: float = 180.0):
    """A local ``prefect server`` (scheduler on, UI off, SQLite in ``home``) for the block's
    duration; yields its API URL. Used by :func:`serve_all` when no PREFECT_API_URL is set."""
    home = Path(home or os.environ.get("PREFECT_HOME") or Path(load_settings().var_dir) / "prefect")
    home.mkdir(parents=True, exist_ok=True)
    port = port or _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(PREFECT_HOME=str(home), PREFECT_SERVER_ANALYTICS_ENABLED="false", PREFECT_UI_ENABLED="false")
    log = open(home / "server.log", "ab")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port), "--no-ui"],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/api"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"prefect server exited with {proc.returncode}; see {home / 'server.log'}")
            try:
                with urllib.request.urlopen(url + "/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"prefect server did not answer within {timeout:.0f} s; see {home / 'server.log'}")
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def serve_all(limit: int | None = None, echo=print) -> None:
    """Serve every job's flow on its cron schedule(s) until interrupted."""
    from prefect import serve
    from prefect.settings import PREFECT_API_URL, temporary_settings

    url = os.environ.get("PREFECT_API_URL") or PREFECT_API_URL.value()
    if url:
        echo(f"Prefect API: {url}")
        serve(*deployments(), limit=limit)
        return
    echo(f"starting a local Prefect server (PREFECT_HOME={os.environ.get('PREFECT_HOME')}) ...")
    with local_server() as url, temporary_settings(updates={PREFECT_API_URL: url}):
        echo(f"Prefect API: {url}")
        os.environ["PREFECT_API_URL"] = url  # flow-run subprocesses report to the same server
        try:
            serve(*deployments(), limit=limit)
        finally:
            os.environ.pop("PREFECT_API_URL", None)
