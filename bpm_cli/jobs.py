"""``bpm jobs``: list, run and serve the scheduled scoring and reporting jobs (engine/jobs).

Prefect is imported only by ``run`` (without ``--no-prefect``) and ``serve``.
"""

from __future__ import annotations

import json
import logging
import sys

import click

from bpm_cli.support import fail, open_engine
from engine.errors import EngineError


@click.group()
def jobs() -> None:
    """Scheduled scoring and reporting jobs (Prefect flows)."""


@jobs.command("list")
def jobs_list() -> None:
    """The jobs, their period kinds, schedules (Asia/Shanghai) and last runs."""
    from sqlalchemy import select

    from engine.jobs.registry import JOBS
    from engine.store.models import JobRun

    engine = open_engine()
    try:
        with engine.read() as session:
            last = {}
            for run in session.execute(select(JobRun).order_by(JobRun.started_at)).scalars():
                last[run.job] = f"last {run.period} {run.status} ({run.rows} rows)"
    finally:
        engine.close()
    for spec in JOBS.values():
        schedules = ", ".join(f"{kind}: {cron}" for kind, cron in spec.schedules())
        tail = last.get(spec.name, "never run")
        click.echo(f"{spec.name:<24}{'/'.join(spec.period_kinds):<12}{schedules:<36}{spec.title_zh} {spec.title_en}; {tail}")


@jobs.command("run")
@click.argument("name")
@click.option("--period", default=None,
              help="2026-10-05 (day), 2026-W41 (ISO week), 2026-10 (month) or 2026 (year); "
                   "default: the last complete period of the job's scheduled kind")
@click.option("--no-prefect", is_flag=True, help="Run the compute directly, without Prefect.")
@click.option("--triggered-by", default="cli", show_default=True, help="Recorded on the job run.")
def jobs_run(name: str, period: str | None, no_prefect: bool, triggered_by: str) -> None:
    """Run job NAME for one period now (re-running a period replaces its results)."""
    from engine.jobs.runner import execute_job, resolve

    try:
        spec, when = resolve(name, period)
    except EngineError as exc:
        fail(exc)
    engine = open_engine()
    try:
        if no_prefect:
            run = execute_job(engine, spec.name, when.key, triggered_by)
        else:
            from bpm_cli.flows import configure_prefect_home

            configure_prefect_home(engine.settings.var_dir)
            logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per Prefect API call otherwise
            from bpm_cli.flows import run_job

            run = run_job(spec.name, when.key, triggered_by, engine=engine)
    except EngineError as exc:
        fail(exc)
    except Exception as exc:  # noqa: BLE001 - the run is recorded as failed; say why and exit non-zero
        click.echo(f"error: job {spec.name} {when.key} failed: {type(exc).__name__}: {exc}", err=True)
        sys.exit(1)
    finally:
        engine.close()
    click.echo(json.dumps(run, ensure_ascii=False, default=str))


@jobs.command("serve")
@click.option("--limit", type=int, default=None, help="Maximum concurrent flow runs.")
def jobs_serve(limit: int | None) -> None:
    """Serve every job on its cron schedule (Asia/Shanghai) until interrupted.

    Without PREFECT_API_URL a local Prefect server (SQLite in var/prefect) is started for
    the duration; with it, the flows are served against that server."""
    from bpm_cli.flows import configure_prefect_home

    configure_prefect_home()
    from bpm_cli.flows import serve_all

    serve_all(limit=limit, echo=lambda text: click.echo(text, nl=True) or sys.stdout.flush())
