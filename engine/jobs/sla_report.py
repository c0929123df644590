"""Job ``sla_daily_report`` (daily, and monthly on the 1st for last month): SLA figures per
process, category and hall, and the complaint KPIs of DOMAIN.md per hall and per complaint
type. Everything is aggregated in SQL. A month period counts exactly like a day, over the
whole month ("that day" below reads "that period").

Cohort. The SLA rows count the *human tasks that carry an SLA* (``bpm_task.due_at`` set by
an ``sla.*`` policy) and were **created during the local day** (Asia/Shanghai). Their state
is read when the job runs (``engine.clock``), so re-running a day later refreshes it (the
rows are replaced, never duplicated). The process is ``bpm_task.process_key``, the category
the instance's ``data.category`` (complaint_handling: standard / technical / written;
one_counter: unlock, sim_replacement ...; ``-`` when the process has none), the hall the
instance's ``org_unit`` (``-`` when none).

Result rows (``bpm_job_result``; ``unit_key`` = hall where there is one):

* ``subject_type='category'``, ``subject_key='<process>/<category>'``, ``unit_key=<hall>`` —
  one row per (process, category, hall);
* ``subject_type='process'``, ``subject_key='<process>'``, ``unit_key=NULL`` — the same
  figures over every category and hall of the process;

with ``metrics``:

``process``, ``category``, ``hall``
    the grouping keys (``category``/``hall`` are null on process rows);
``total``
    SLA tasks created that day;
``completed``
    of those, completed (``status='completed'``);
``on_time``
    completed no later than ``due_at``;
``breached``
    completed after ``due_at``, or still open with ``due_at`` already passed;
``pending``
    still open and not yet due (undecided);
``cancelled``
    cancelled with their instance (neither on time nor breached);
``on_time_pct``
    ``100 * on_time / (on_time + breached)``, one decimal; null when nothing is decided;
``p50_resolution_s``, ``p90_resolution_s``, ``avg_resolution_s``
    resolution time ``completed_at - created_at`` of the completed tasks, in seconds;
    percentiles are nearest-rank (the smallest value with at least p % of the values at or
    below it), identical on SQLite and PostgreSQL; null when none completed.

* ``subject_type='hall'``, ``subject_key=<hall>``, ``unit_key=<hall>`` — complaint KPIs of
  the day (``004_*.txt``: complaint count, complaint rate, on-time handling rate,
  satisfaction rate); every org unit of kind ``hall`` gets a row, zeros included:

``complaints``
    ``complaint_handling`` instances registered (started) that day in the hall;
``counter_transactions``
    ``one_counter`` instances (one per counter transaction) started that day in the hall;
``complaint_rate_per_1000``
    ``1000 * complaints / counter_transactions``, two decimals; null without transactions;
``complaints_on_time``, ``complaints_breached``, ``on_time_handling_rate``
    the SLA figures above restricted to complaint_handling tasks of the hall (the handling
    step: counter 3 min, technical 24 h, written 3 working days):
    ``100 * on_time / (on_time + breached)``;
``satisfaction_answers``, ``satisfied``, ``satisfaction_rate``
    complaints **closed that day** in the hall whose closing call (form
    ``complaint_close``, field ``satisfaction``: satisfied / neutral / dissatisfied)
    recorded an answer, those answered ``satisfied``, and ``100 * satisfied / answers``
    (null when no complaint was closed). Satisfaction is only known when the complaint is
    closed, so it follows the closing day, not the registration day.

* ``subject_type='complaint_type'``, ``subject_key=<type>``, ``unit_key=<hall>`` — the same
  complaint KPIs per complaint type of ``004_*.txt`` (服务营销、网络、计费支撑系统、梦网业务、
  其它增值业务、数据业务、集团客户、终端销售、热线: field ``complaint_type`` of the registration
  form ``complaint_intake``; ``-`` for complaints registered before the field existed) and
  hall; one row per (type, hall) with anything to count: ``type``, ``hall``,
  ``complaints``, ``complaints_on_time``, ``complaints_breached``,
  ``on_time_handling_rate``, ``satisfaction_answers``, ``satisfied``,
  ``satisfaction_rate``, as defined above. The label is the type's label on the form.

* ``subject_type='waiting_hall'`` and ``'waiting_hour'`` — the customers' waiting time from
  their queue ticket to the acceptance (000 「等待办理业务时限5分钟」), per hall and per hall
  and hour: see ``engine.jobs.waiting``.
"""

from __future__ import annotations

from sqlalchemy import select, text

from engine.clock import utcnow
from engine.forms.model import FormDefinitionError, form_fields
from engine.jobs.periods import Period
from engine.jobs.results import replace_results
from engine.jobs.sql import json_text, num, pct, percentile, seconds, times
from engine.jobs.waiting import waiting_rows
from engine.store.models import FormDefinition, OrgUnit, ProcessDefinition

JOB = "sla_daily_report"
COMPLAINT_PROCESS = "complaint_handling"
COUNTER_PROCESS = "one_counter"
NONE = "-"


def _sla_sql(d: str) -> str:
    resolution = seconds(d, "t.created_at", "t.completed_at")
    return f"""
WITH base AS (
    SELECT t.process_key AS process_key,
           COALESCE({json_text(d, 'i.data', 'category')}, '{NONE}') AS category,
           COALESCE(i.org_unit, '{NONE}') AS hall,
           CASE WHEN t.status = 'completed' THEN 1 ELSE 0 END AS done,
           CASE WHEN t.status = 'completed' AND t.completed_at <= t.due_at THEN 1 ELSE 0 END AS on_time,
           CASE WHEN (t.status = 'completed' AND t.completed_at > t.due_at)
                  OR (t.status = 'open' AND t.due_at <= :now) THEN 1 ELSE 0 END AS breached,
           CASE WHEN t.status = 'open' AND t.due_at > :now THEN 1 ELSE 0 END AS pending,
           CASE WHEN t.status NOT IN ('open', 'completed') THEN 1 ELSE 0 END AS cancelled,
           CASE WHEN t.status = 'completed' THEN {resolution} END AS secs
    FROM bpm_task t JOIN bpm_process_instance i ON i.id = t.instance_id
    WHERE t.created_at >= :start AND t.created_at < :end AND t.due_at IS NOT NULL
), levels AS (
    SELECT 'category' AS lvl, process_key, category, hall, done, on_time, breached, pending, cancelled, secs FROM base
    UNION ALL
    SELECT 'process' AS lvl, process_key, NULL, NULL, done, on_time, breached, pending, cancelled, secs FROM base
), ranked AS (
    SELECT levels.*,
           ROW_NUMBER() OVER (PARTITION BY lvl, process_key, category, hall, done ORDER BY secs) AS rn,
           COUNT(*) OVER (PARTITION BY lvl, process_key, category, hall, done) AS n
    FROM levels
)
SELECT lvl, process_key, category, hall,
       COUNT(*) AS total, SUM(done) AS completed, SUM(on_time) AS on_time, SUM(breached) AS breached,
       SUM(pending) AS pending, SUM(cancelled) AS cancelled,
       {percentile(50, 'secs', when='done = 1')} AS p50,
       {percentile(90, 'secs', when='done = 1')} AS p90,
       AVG(CASE WHEN done = 1 THEN secs END) AS avg_secs
FROM ranked
GROUP BY lvl, process_key, category, hall
ORDER BY lvl, process_key, category, hall
"""


def _count_started_sql() -> str:
    return f"""
SELECT COALESCE(org_unit, '{NONE}') AS hall, process_key, COUNT(*) AS n
FROM bpm_process_instance
WHERE process_key IN (:complaints, :counter) AND started_at >= :start AND started_at < :end
GROUP BY COALESCE(org_unit, '{NONE}'), process_key
"""


def _satisfaction_sql(d: str) -> str:
    answer = json_text(d, "t.submitted", "satisfaction")
    return f"""
SELECT COALESCE(i.org_unit, '{NONE}') AS hall, COUNT(*) AS answers,
       SUM(CASE WHEN {answer} = 'satisfied' THEN 1 ELSE 0 END) AS satisfied
FROM bpm_task t JOIN bpm_process_instance i ON i.id = t.instance_id
WHERE t.completed_at >= :start AND t.completed_at < :end AND t.status = 'completed'
  AND t.process_key = :complaints AND {answer} IS NOT NULL
GROUP BY COALESCE(i.org_unit, '{NONE}')
"""


def _types_sql(d: str) -> str:
    """Complaints registered, their handling on time / breached and the closing answers of the
    period, per hall and complaint type (each part dated as in the hall KPIs)."""
    kind = f"COALESCE({json_text(d, 'i.data', 'complaint_type')}, '{NONE}')"
    hall = f"COALESCE(i.org_unit, '{NONE}')"
    answer = json_text(d, "t.submitted", "satisfaction")
    return f"""
WITH parts AS (
    SELECT {hall} AS hall, {kind} AS kind, 1 AS registered, 0 AS on_time, 0 AS breached, 0 AS answers, 0 AS satisfied
    FROM bpm_process_instance i
    WHERE i.process_key = :complaints AND i.started_at >= :start AND i.started_at < :end
    UNION ALL
    SELECT {hall}, {kind}, 0,
           CASE WHEN t.status = 'completed' AND t.completed_at <= t.due_at THEN 1 ELSE 0 END,
           CASE WHEN (t.status = 'completed' AND t.completed_at > t.due_at)
                  OR (t.status = 'open' AND t.due_at <= :now) THEN 1 ELSE 0 END,
           0, 0
    FROM bpm_task t JOIN bpm_process_instance i ON i.id = t.instance_id
    WHERE t.process_key = :complaints AND t.created_at >= :start AND t.created_at < :end AND t.due_at IS NOT NULL
    UNION ALL
    SELECT {hall}, {kind}, 0, 0, 0, 1, CASE WHEN {answer} = 'satisfied' THEN 1 ELSE 0 END
    FROM bpm_task t JOIN bpm_process_instance i ON i.id = t.instance_id
    WHERE t.completed_at >= :start AND t.completed_at < :end AND t.status = 'completed'
      AND t.process_key = :complaints AND {answer} IS NOT NULL
)
SELECT hall, kind, SUM(registered) AS complaints, SUM(on_time) AS on_time, SUM(breached) AS breached,
       SUM(answers) AS answers, SUM(satisfied) AS satisfied
FROM parts
GROUP BY hall, kind
ORDER BY hall, kind
"""


def process_names(session) -> dict[str, str]:
    """Process key -> name of its newest deployed version."""
    rows = session.execute(
        select(ProcessDefinition.key, ProcessDefinition.name).order_by(ProcessDefinition.key, ProcessDefinition.version)
    ).all()
    return {key: name or key for key, name in rows}


def category_labels(session, key: str = "category") -> dict[str, str]:
    """Option value -> label, from the select fields keyed ``key`` (``category``,
    ``complaint_type``) of the forms."""
    labels: dict[str, str] = {}
    rows = session.execute(select(FormDefinition.content).order_by(FormDefinition.form_key, FormDefinition.version))
    for (content,) in rows:
        try:
            fields = form_fields(content or {})
        except FormDefinitionError:  # a form deployed under older rules: no labels from it
            continue
        for f in fields:
            if f.path == key:
                labels.update(f.options)
    return labels


def unit_names(session, kind: str | None = None) -> dict[str, str]:
    query = select(OrgUnit.key, OrgUnit.name)
    if kind:
        query = query.where(OrgUnit.kind == kind)
    return dict(session.execute(query).all())


def _blank_kpi() -> dict:
    return {"complaints": 0, "counter_transactions": 0, "complaints_on_time": 0, "complaints_breached": 0,
            "satisfaction_answers": 0, "satisfied": 0}


def _figures(row) -> dict:
    return {
        "total": int(row.total),
        "completed": int(row.completed or 0),
        "on_time": int(row.on_time or 0),
        "breached": int(row.breached or 0),
        "pending": int(row.pending or 0),
        "cancelled": int(row.cancelled or 0),
        "on_time_pct": pct(row.on_time, (row.on_time or 0) + (row.breached or 0)),
        "p50_resolution_s": num(row.p50),
        "p90_resolution_s": num(row.p90),
        "avg_resolution_s": num(row.avg_secs),
    }


def compute_sla_daily_report(uow, period: Period) -> int:
    session = uow.session
    d = session.get_bind().dialect.name
    span = {"start": period.start, "end": period.end}
    sla_rows = session.execute(
        text(_sla_sql(d)).bindparams(*times("start", "end", "now")), {**span, "now": utcnow()}
    ).all()
    started = session.execute(
        text(_count_started_sql()).bindparams(*times("start", "end")),
        {**span, "complaints": COMPLAINT_PROCESS, "counter": COUNTER_PROCESS},
    ).all()
    satisfaction = session.execute(
        text(_satisfaction_sql(d)).bindparams(*times("start", "end")), {**span, "complaints": COMPLAINT_PROCESS}
    ).all()

    processes, categories, units = process_names(session), category_labels(session), unit_names(session)
    rows: list[dict] = []
    for r in sla_rows:
        metrics = {"process": r.process_key, "category": r.category, "hall": r.hall, **_figures(r)}
        if r.lvl == "process":
            rows.append({"unit_key": None, "subject_type": "process", "subject_key": r.process_key,
                         "subject_label": processes.get(r.process_key, r.process_key), "metrics": metrics})
            continue
        label = processes.get(r.process_key, r.process_key)
        if r.category != NONE:
            label = f"{label} / {categories.get(r.category, r.category)}"
        rows.append({"unit_key": None if r.hall == NONE else r.hall, "subject_type": "category",
                     "subject_key": f"{r.process_key}/{r.category}", "subject_label": label, "metrics": metrics})

    # complaint KPIs per hall: every hall, plus any unit that registered complaints or transactions
    halls = {key: _blank_kpi() for key in unit_names(session, "hall")}
    for r in started:
        kpi = halls.setdefault(r.hall, _blank_kpi())
        kpi["complaints" if r.process_key == COMPLAINT_PROCESS else "counter_transactions"] += int(r.n)
    for r in sla_rows:
        if r.lvl == "category" and r.process_key == COMPLAINT_PROCESS:
            kpi = halls.setdefault(r.hall, _blank_kpi())
            kpi["complaints_on_time"] += int(r.on_time or 0)
            kpi["complaints_breached"] += int(r.breached or 0)
    for r in satisfaction:
        kpi = halls.setdefault(r.hall, _blank_kpi())
        kpi["satisfaction_answers"] += int(r.answers)
        kpi["satisfied"] += int(r.satisfied or 0)
    for hall in sorted(halls):
        kpi = halls[hall]
        trans = kpi["counter_transactions"]
        kpi["complaint_rate_per_1000"] = round(1000.0 * kpi["complaints"] / trans, 2) if trans else None
        kpi["on_time_handling_rate"] = pct(kpi["complaints_on_time"], kpi["complaints_on_time"] + kpi["complaints_breached"])
        kpi["satisfaction_rate"] = pct(kpi["satisfied"], kpi["satisfaction_answers"])
        rows.append({"unit_key": None if hall == NONE else hall, "subject_type": "hall", "subject_key": hall,
                     "subject_label": units.get(hall, hall), "metrics": {"hall": hall, **kpi}})
    types = session.execute(
        text(_types_sql(d)).bindparams(*times("start", "end", "now")),
        {**span, "now": utcnow(), "complaints": COMPLAINT_PROCESS},
    ).all()
    type_labels = category_labels(session, "complaint_type")
    for r in types:
        on_time, breached = int(r.on_time or 0), int(r.breached or 0)
        answers, satisfied = int(r.answers or 0), int(r.satisfied or 0)
        metrics = {"type": r.kind, "hall": r.hall, "complaints": int(r.complaints or 0),
                   "complaints_on_time": on_time, "complaints_breached": breached,
                   "on_time_handling_rate": pct(on_time, on_time + breached),
                   "satisfaction_answers": answers, "satisfied": satisfied, "satisfaction_rate": pct(satisfied, answers)}
        label = type_labels.get(r.kind, "未分类 Unclassified" if r.kind == NONE else r.kind)
        rows.append({"unit_key": None if r.hall == NONE else r.hall, "subject_type": "complaint_type",
                     "subject_key": r.kind, "subject_label": f"{label} / {units.get(r.hall, r.hall)}",
                     "metrics": metrics})
    rows.extend(waiting_rows(session, period, units))  # 000 限时服务: waiting <= 5 minutes, per hall and hour
    return replace_results(uow, JOB, period, rows)
