"""Running one job for one period in the engine's database, without Prefect.

:func:`execute_job` is what the Prefect task of ``bpm_cli.flows`` calls (and what
``bpm jobs run --no-prefect`` calls directly). It keeps one ``bpm_job_run`` row per
(job, period): marked ``running`` in a first short transaction (so a dashboard sees it),
then the compute and the ``completed`` mark commit together in ONE transaction with the
``job_completed`` audit event, or, when the compute fails, that transaction is rolled back
and the row is marked ``failed`` (audited as ``job_failed``). A re-run of a period updates
the same row and replaces the period's results: nothing is duplicated.
"""

from __future__ import annotations

from sqlalchemy import select

from engine.clock import utcnow
from engine.identity.actor import SYSTEM
from engine.jobs.periods import Period
from engine.jobs.registry import JobSpec, get_job
from engine.store.models import JobRun


def resolve(name: str, period_text: str | None, now=None) -> tuple[JobSpec, Period]:
    """The job and its period (default: the last complete period of its scheduled kind);
    NotFound for an unknown job, PeriodError for a bad period or one of the wrong kind."""
    spec = get_job(name)
    if period_text in (None, ""):
        return spec, Period.last_complete(spec.period_kinds[0], now or utcnow())
    return spec, spec.check_period(Period.parse(period_text))


def _upsert_run(session, job: str, period: str, **values) -> JobRun:
    run = session.execute(select(JobRun).where(JobRun.job == job, JobRun.period == period)).scalar_one_or_none()
    if run is None:
        run = JobRun(job=job, period=period, rows=0, **values)
        session.add(run)
    else:
        for key, value in values.items():
            setattr(run, key, value)
    session.flush()
    return run


def run_to_dict(run: JobRun) -> dict:
    return {
        "id": run.id,
        "job": run.job,
        "period": run.period,
        "status": run.status,
        "started_at": run.started_at.isoformat() if run.started_at else None,
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "rows": run.rows,
        "flow_run_id": run.flow_run_id,
        "triggered_by": run.triggered_by,
        "error": run.error,
    }


def execute_job(engine, name: str, period_text: str | None, triggered_by: str, flow_run_id: str | None = None) -> dict:
    """Compute ``name`` for the period in one transaction and record the run; returns the run."""
    spec, period = resolve(name, period_text)
    with engine.uow(SYSTEM) as uow:
        _upsert_run(uow.session, spec.name, period.key, status="running", started_at=utcnow(), finished_at=None,
                    flow_run_id=flow_run_id, triggered_by=triggered_by, error=None)
    try:
        with engine.uow(SYSTEM) as uow:
            rows = int(spec.compute(uow, period) or 0)
            run = _upsert_run(uow.session, spec.name, period.key, status="completed", finished_at=utcnow(), rows=rows,
                              error=None)
            uow.audit("job_completed", job=spec.name, period=period.key, rows=rows, flow_run_id=flow_run_id,
                      triggered_by=triggered_by)
            out = run_to_dict(run)
    except Exception as exc:
        message = f"{type(exc).__name__}: {exc}"[:2000]
        with engine.uow(SYSTEM) as uow:
            _upsert_run(uow.session, spec.name, period.key, status="failed", finished_at=utcnow(), error=message)
            uow.audit("job_failed", job=spec.name, period=period.key, error=message, flow_run_id=flow_run_id,
                      triggered_by=triggered_by)
        raise
    return out
