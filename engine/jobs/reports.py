"""Read side of the scheduled jobs: which reports exist and their rows as each user may see them.

The jobs (``engine.jobs.registry.JOBS``) write generic result rows (``bpm_job_result``),
one run record per job and period (``bpm_job_run``) and, for the customer-manager KPI,
score sheets under review (``bpm_score_sheet``). This module reads them for the
dashboards page and the ``/api/reports`` endpoints, as data (labels, charts and the CSV and
XLSX files are the web layer's: ``web/presentation/reports.py``):

* :func:`list_jobs` -- every job with its titles, the periods that have results (newest
  first) and the last run's status;
* :func:`report` -- the rows of one job and period, optionally of one unit, with the units
  and score sheets the caller may see;
* :func:`rows_for_export` -- the same rows for a download, audited as ``report_exported``
  with the job, period, unit, format and row count.

Visibility is applied in the SQL query (:func:`visibility`, the rules in
``engine.identity.policy``), never after loading:

* everyone sees rows about themselves (``subject_type = 'user'`` and ``subject_key`` = their
  username);
* hall managers, duty managers and service-center heads see every row whose ``unit_key``
  is their own org unit; department managers also the units below theirs;
* auditors, admins and the vice-president see everything; process owners see the SLA report
  and the process cycle times completely (:data:`PROCESS_OWNER_JOBS`).

Anyone else gets an empty report (not an error): the page is open to every signed-in user.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, func, or_, select, true
from sqlalchemy.orm import Session

from engine.errors import NotFound, ValidationFailed
from engine.identity import policy
from engine.identity.actor import Actor
from engine.store.models import JobResult, JobRun, OrgUnit, ScoreSheet, Task

# Process owners read these reports completely (they own the processes they measure).
PROCESS_OWNER_JOBS = frozenset({"sla_daily_report", "process_cycle_times"})
ROW_LIMIT = 20_000  # more rows than any job writes for one period; the answer says when it was cut
EXPORT_FORMATS = ("csv", "xlsx")
PERIODS_LISTED = 400  # newest periods listed per job (over a year of daily reports); older ones by ?period=

# --------------------------------------------------------------------------- visibility


def managed_units(actor: Actor, column):
    """The SQL condition on a unit ``column`` selecting the units ``actor`` manages: their own and
    those directly below for a department manager, their own for a unit manager; None for none."""
    if policy.reads_units_below(actor):
        below = select(OrgUnit.key).where(OrgUnit.parent_key == actor.org_unit)
        return or_(column == actor.org_unit, column.in_(below))
    unit = policy.unit_managed_by(actor)
    return column == unit if unit else None


def visibility(actor: Actor, job: str):
    """The SQL condition on ``bpm_job_result`` selecting the rows ``actor`` may see."""
    if sees_everything(actor, job):
        return true()
    own = and_(JobResult.subject_type == "user", JobResult.subject_key == actor.username)
    managed = managed_units(actor, JobResult.unit_key)
    return own if managed is None else or_(own, managed)


def sees_everything(actor: Actor, job: str) -> bool:
    """Every row of ``job`` (``policy.reads_all_results``)."""
    return policy.reads_all_results(actor, about_processes=job in PROCESS_OWNER_JOBS)


# --------------------------------------------------------------------------- jobs and periods


def _registry() -> dict:
    from engine.jobs.registry import JOBS

    return JOBS


def _spec(job: str):
    from engine.jobs.registry import get_job

    return get_job(job)  # NotFound (404) for an unknown job


def parse_period(spec, text: str):
    """The :class:`~engine.jobs.periods.Period` of ``text``, of one of the job's kinds (else 400 ``bad_period``)."""
    from engine.jobs.periods import Period

    return spec.check_period(Period.parse(text))


def _period_order(key: str):
    """Newest first: by start of the period, then the longer key (a day before its month)."""
    from engine.jobs.periods import Period

    try:
        return (Period.parse(key).start.isoformat(), len(key))
    except Exception:  # noqa: BLE001 - a foreign key sorts by its text
        return (key, len(key))


def _run_dict(run: JobRun | None, actor: Actor) -> dict | None:
    if run is None:
        return None
    return {
        "period": run.period, "status": run.status, "started_at": run.started_at, "finished_at": run.finished_at,
        "rows": run.rows, "triggered_by": run.triggered_by,
        # failures can name internals: only the readers of everything see the message
        "error": run.error if policy.reads_everything(actor) else None,
    }


def list_jobs(session: Session, actor: Actor) -> list[dict]:
    """Every registered job: titles, period kinds, periods with results (newest first), last run."""
    jobs = _registry()
    periods: dict[str, set[str]] = {name: set() for name in jobs}
    for job, period in session.execute(select(JobResult.job, JobResult.period).group_by(JobResult.job, JobResult.period)):
        if job in periods:
            periods[job].add(period)
    for job, period in session.execute(select(JobRun.job, JobRun.period).where(JobRun.status == "completed")):
        if job in periods:
            periods[job].add(period)
    latest = (
        select(JobRun.job, func.max(JobRun.started_at).label("at")).group_by(JobRun.job).subquery()
    )
    last_runs = {
        run.job: run for run in session.execute(
            select(JobRun).join(latest, and_(JobRun.job == latest.c.job, JobRun.started_at == latest.c.at))
        ).scalars()
    }
    out = []
    for name, spec in jobs.items():
        out.append({
            "name": name,
            "title_zh": spec.title_zh,
            "title_en": spec.title_en,
            "period_kinds": list(spec.period_kinds),
            "periods": sorted(periods[name], key=_period_order, reverse=True)[:PERIODS_LISTED],
            "last_run": _run_dict(last_runs.get(name), actor),
            "sees_all": sees_everything(actor, name),
        })
    return out


# --------------------------------------------------------------------------- rows


def flatten(metrics: dict, prefix: str = "") -> dict:
    """Nested dicts become dotted keys (``{"a": {"b": 1}}`` -> ``{"a.b": 1}``); lists stay as they are."""
    flat: dict = {}
    for key, value in (metrics or {}).items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, name + "."))
        else:
            flat[name] = value
    return flat


def _query(actor: Actor, job: str, period: str, unit: str | None):
    query = select(JobResult).where(JobResult.job == job, JobResult.period == period, visibility(actor, job))
    if unit:
        query = query.where(JobResult.unit_key == unit)
    return query.order_by(
        JobResult.subject_type, JobResult.rank.is_(None), JobResult.rank, JobResult.unit_key, JobResult.subject_key,
        JobResult.id,
    )


def visible_rows(session: Session, actor: Actor, job: str, period: str, unit: str | None = None,
                 limit: int = ROW_LIMIT) -> list[JobResult]:
    """Result rows of one job and period that ``actor`` may see (at most ``limit``)."""
    return list(session.execute(_query(actor, job, period, unit).limit(limit)).scalars())


def _unit_names(session: Session) -> dict[str, str]:
    return dict(session.execute(select(OrgUnit.key, OrgUnit.name)).all())


def row_dict(row: JobResult, unit_names: dict[str, str]) -> dict:
    return {
        "id": row.id, "job": row.job, "period": row.period, "unit_key": row.unit_key,
        "unit_name": unit_names.get(row.unit_key) if row.unit_key else None,
        "subject_type": row.subject_type, "subject_key": row.subject_key, "subject_label": row.subject_label,
        "metrics": row.metrics or {}, "rank": row.rank, "status": row.status, "created_at": row.created_at,
    }


def _visible_sheets(session: Session, actor: Actor, job: str, period: str, units: set[str],
                    unit: str | None) -> list[dict]:
    query = select(ScoreSheet).where(ScoreSheet.job == job, ScoreSheet.period == period)
    if not sees_everything(actor, job):
        mine = set(units)
        if policy.unit_managed_by(actor):
            mine.add(actor.org_unit)
        query = query.where(ScoreSheet.unit_key.in_(sorted(mine)))
    if unit:
        query = query.where(ScoreSheet.unit_key == unit)
    sheets = [
        {"unit_key": s.unit_key, "status": s.status, "instance_id": s.instance_id, "created_at": s.created_at,
         "decided_at": s.decided_at, "decided_by": s.decided_by, "step": None}
        for s in session.execute(query.order_by(ScoreSheet.unit_key)).scalars()
    ]
    # where an open review stands: the name of its open task (hall manager, department, vice-president)
    waiting = {s["instance_id"]: s for s in sheets if s["status"] == "in_review" and s["instance_id"]}
    if waiting:
        for instance_id, name in session.execute(
                select(Task.instance_id, Task.name).where(Task.instance_id.in_(list(waiting)), Task.status == "open")):
            waiting[instance_id]["step"] = name
    return sheets


def _visible_units(session: Session, actor: Actor, job: str, period: str) -> list[str]:
    query = (select(JobResult.unit_key).where(JobResult.job == job, JobResult.period == period,
                                              JobResult.unit_key.is_not(None), visibility(actor, job))
             .group_by(JobResult.unit_key).order_by(JobResult.unit_key))
    return list(session.execute(query).scalars())


def latest_period(session: Session, job: str) -> str | None:
    """The newest period with results of ``job`` (None if the job never produced any)."""
    periods = [p for (p,) in session.execute(select(JobResult.period).where(JobResult.job == job).group_by(JobResult.period))]
    return sorted(periods, key=_period_order, reverse=True)[0] if periods else None


def report(session: Session, actor: Actor, job: str, period: str | None = None, unit: str | None = None) -> dict:
    """The visible rows of ``job`` for ``period`` (default: the newest with results), optionally of one unit."""
    spec = _spec(job)
    if period:
        period = parse_period(spec, period).key
    else:
        period = latest_period(session, job)
    unit = unit or None
    names = _unit_names(session)
    rows, units, sheets, run = [], [], [], None
    truncated = False
    if period is not None:
        loaded = visible_rows(session, actor, job, period, unit, ROW_LIMIT + 1)
        truncated = len(loaded) > ROW_LIMIT
        rows = [row_dict(r, names) for r in loaded[:ROW_LIMIT]]
        units = _visible_units(session, actor, job, period)
        sheets = _visible_sheets(session, actor, job, period, set(units), unit)
        run = session.execute(select(JobRun).where(JobRun.job == job, JobRun.period == period)).scalar_one_or_none()
    return {
        "job": job, "title_zh": spec.title_zh, "title_en": spec.title_en, "period": period, "unit": unit,
        "period_kinds": list(spec.period_kinds),
        "units": [{"key": u, "name": names.get(u)} for u in units],
        "total": len(rows), "truncated": truncated,
        "rows": rows, "sheets": sheets, "run": _run_dict(run, actor),
        "sees_all": sees_everything(actor, job),
    }


# --------------------------------------------------------------------------- export


@dataclass(frozen=True)
class ExportRows:
    """What a download holds: the visible rows of one job, period and unit (the web layer
    writes them as CSV or XLSX)."""

    job: str
    title_zh: str
    title_en: str
    period: str
    unit: str | None
    fmt: str
    rows: list[dict]


def rows_for_export(engine, actor: Actor, job: str, period: str | None, unit: str | None, fmt: str) -> ExportRows:
    """The visible rows for a CSV or XLSX file; the export is audited in the same transaction it reads in."""
    if fmt not in EXPORT_FORMATS:
        raise ValidationFailed("invalid format", {"format": [f"must be one of: {', '.join(EXPORT_FORMATS)}"]})
    spec = _spec(job)
    unit = unit or None
    with engine.uow(actor) as uow:
        key = parse_period(spec, period).key if period else latest_period(uow.session, job)
        if key is None:
            raise NotFound(f"{job} has no results yet")
        names = _unit_names(uow.session)
        rows = [row_dict(r, names) for r in visible_rows(uow.session, actor, job, key, unit, limit=10 * ROW_LIMIT)]
        uow.audit("report_exported", job=job, period=key, unit=unit, format=fmt, rows=len(rows))
    return ExportRows(job, spec.title_zh, spec.title_en, key, unit, fmt, rows)
