"""Job ``process_cycle_times`` (weekly): how long each step of each process version takes,
and which steps are the slowest, for process owners. Aggregated in SQL.

Cohort: human tasks **completed** (``status='completed'``) during the ISO week (local
Asia/Shanghai weeks, Monday 00:00 to Monday 00:00). Cancelled tasks are left out. The
version is that of the instance's process definition.

Per task:

* waiting time = ``claimed_at - created_at`` (time in the queue until someone took it; a
  task completed without an explicit claim is claimed when it is completed, so its whole
  life is waiting);
* working time = ``completed_at - claimed_at`` (0 for a task completed without a claim);
* total time = ``completed_at - created_at``.

Result rows: ``subject_type='step'``, ``subject_key='<process>:v<version>:<element_id>'``,
``unit_key=NULL``, ``subject_label='<process name> v<version> / <step name>'``,
``rank`` = rank of the step within its process version by p90 total time, slowest first
(1 = slowest; ties share a rank), with ``metrics``:

``process``, ``version``, ``element_id``, ``step_name``
    what the row describes;
``count``
    tasks of the step completed in the week;
``p50_waiting_s``, ``p90_waiting_s``, ``avg_waiting_s``
``p50_working_s``, ``p90_working_s``, ``avg_working_s``
``p50_total_s``, ``p90_total_s``, ``avg_total_s``
    seconds; percentiles are nearest-rank (the smallest value with at least p % of the
    values at or below it), identical on SQLite and PostgreSQL;
``overall_rank``
    rank by p90 total time among every step of every process in the week (1 = slowest);
``slowest``
    true for the slowest step of its process version (``rank == 1``).
"""

from __future__ import annotations

from sqlalchemy import text

from engine.identity.names import split_name
from engine.jobs.periods import Period
from engine.jobs.results import replace_results
from engine.jobs.sla_report import process_names
from engine.jobs.sql import num, percentile, seconds, times

JOB = "process_cycle_times"


def _sql(d: str) -> str:
    waiting = seconds(d, "t.created_at", "COALESCE(t.claimed_at, t.completed_at)")
    working = seconds(d, "COALESCE(t.claimed_at, t.completed_at)", "t.completed_at")
    total = seconds(d, "t.created_at", "t.completed_at")
    part = "PARTITION BY process_key, version, element_id"
    # the durations are computed once (MATERIALIZED: SQLite >= 3.35 and PostgreSQL >= 12 honour
    # it), then ranked three times for the percentiles
    return f"""
WITH durations AS MATERIALIZED (
    SELECT t.process_key AS process_key, pd.version AS version, t.element_id AS element_id, t.name AS name,
           {waiting} AS waiting, {working} AS working, {total} AS total
    FROM bpm_task t
    JOIN bpm_process_instance i ON i.id = t.instance_id
    JOIN bpm_process_definition pd ON pd.id = i.definition_id
    WHERE t.completed_at >= :start AND t.completed_at < :end AND t.status = 'completed'
), base AS (
    SELECT durations.*,
           COUNT(*) OVER ({part}) AS n,
           ROW_NUMBER() OVER ({part} ORDER BY waiting) AS rn_wait,
           ROW_NUMBER() OVER ({part} ORDER BY working) AS rn_work,
           ROW_NUMBER() OVER ({part} ORDER BY total) AS rn_total
    FROM durations
), steps AS (
    SELECT process_key, version, element_id, MAX(name) AS name, COUNT(*) AS cnt,
           {percentile(50, 'waiting', 'rn_wait')} AS p50_wait, {percentile(90, 'waiting', 'rn_wait')} AS p90_wait,
           AVG(waiting) AS avg_wait,
           {percentile(50, 'working', 'rn_work')} AS p50_work, {percentile(90, 'working', 'rn_work')} AS p90_work,
           AVG(working) AS avg_work,
           {percentile(50, 'total', 'rn_total')} AS p50_total, {percentile(90, 'total', 'rn_total')} AS p90_total,
           AVG(total) AS avg_total
    FROM base
    GROUP BY process_key, version, element_id
)
SELECT steps.*,
       RANK() OVER (PARTITION BY process_key, version ORDER BY p90_total DESC) AS step_rank,
       RANK() OVER (ORDER BY p90_total DESC) AS overall_rank
FROM steps
ORDER BY process_key, version, step_rank, element_id
"""


def _versioned(name: str, version: int) -> str:
    """A process's name with its version, in both its languages ("投诉处理 v1|Complaint handling v1"):
    a page shows one of them (engine/identity/names.py local_label)."""
    zh, en = split_name(name)
    return f"{zh} v{version}" if zh == en else f"{zh} v{version}|{en} v{version}"


def compute_process_cycle_times(uow, period: Period) -> int:
    session = uow.session
    d = session.get_bind().dialect.name
    result = session.execute(
        text(_sql(d)).bindparams(*times("start", "end")), {"start": period.start, "end": period.end}
    ).all()
    names = process_names(session)
    rows = []
    for r in result:
        step = r.name or r.element_id
        rows.append(
            {
                "unit_key": None,
                "subject_type": "step",
                "subject_key": f"{r.process_key}:v{r.version}:{r.element_id}",
                "subject_label": f"{_versioned(names.get(r.process_key, r.process_key), r.version)} / {step}",
                "rank": int(r.step_rank),
                "metrics": {
                    "process": r.process_key,
                    "version": int(r.version),
                    "element_id": r.element_id,
                    "step_name": step,
                    "count": int(r.cnt),
                    "p50_waiting_s": num(r.p50_wait),
                    "p90_waiting_s": num(r.p90_wait),
                    "avg_waiting_s": num(r.avg_wait),
                    "p50_working_s": num(r.p50_work),
                    "p90_working_s": num(r.p90_work),
                    "avg_working_s": num(r.avg_work),
                    "p50_total_s": num(r.p50_total),
                    "p90_total_s": num(r.p90_total),
                    "avg_total_s": num(r.avg_total),
                    "overall_rank": int(r.overall_rank),
                    "slowest": int(r.step_rank) == 1,
                },
            }
        )
    return replace_results(uow, JOB, period, rows)
