"""team_ranking (monthly and yearly): 团队比拼 of the service departments (org units).

Each org unit gets five component scores on a 0-100 scale, each one SQL aggregate per unit:

* ``kpi`` (月度KPI考核): the average ``total`` of the unit's ``customer_manager_kpi`` user rows of
  the period (for a year: every month of that year), draft or final alike: the ranking shows
  the current figures and follows them when a review approves (an approved sheet does not
  change them);
* ``inspections`` (上级检查): the average ``avg_pct`` of the unit's ``counter_service_score`` rows
  (each clerk's average points per check as a percentage of the checklist's full points, 0-100;
  the clerks' monthly ``score`` is a sum over a varying number of checks, not on this scale);
* ``six_s`` (6S现场管理), ``activities`` (建功立业活动), ``innovation`` (服务部创新): facts imported
  per org unit (metrics ``six_s_score``, ``activity_score``, ``innovation_score``; names in the
  rules file). For a year, a fact imported for the year itself (period ``2026``) wins over the
  average of the year's monthly facts.

Score = sum(weight x component) / sum(weights) with the rules file's weights (kpi 30,
activities 15, six_s 20, inspections 20, innovation 15 by default). A component with no data for
a unit is left out and the other weights are scaled up (``missing: reweight``; with ``zero`` it
counts as 0). Units with no data at all are not ranked. Ranks are 1, 2, 2, 4 (ties share).

Result rows: ``subject_type='unit'``, ``subject_key`` = ``unit_key`` = the org unit, ``rank``;
``metrics``: ``score``, the five components (null when missing) and ``missing``
(comma-separated components without data).
"""

from __future__ import annotations

from sqlalchemy import func, select

from engine.jobs.results import replace_results
from engine.jobs.scoring import TEAM_COMPONENTS, competition_ranks, load_rules, team_score
from engine.store.models import Fact, JobResult, OrgUnit

JOB = "team_ranking"


def _periods(column, period):
    """Rows of the period: the month itself, or every month of the year."""
    if period.kind == "year":
        return column.like(f"{period.key}-__")
    return column == period.key


def _job_average(job: str, metric: str, period):
    return (
        select(JobResult.unit_key, func.avg(JobResult.metrics[metric].as_float()))
        .where(JobResult.job == job, JobResult.subject_type == "user", JobResult.unit_key.is_not(None),
               _periods(JobResult.period, period))
        .group_by(JobResult.unit_key)
    )


def _fact_average(metrics: list[str], period, exact: bool = False):
    where = Fact.period == period.key if exact else _periods(Fact.period, period)
    return (
        select(Fact.subject_key, Fact.metric, func.avg(Fact.value))
        .where(where, Fact.metric.in_(metrics))
        .group_by(Fact.subject_key, Fact.metric)
    )


def _num(value):
    if value is None:
        return None
    value = round(float(value), 2)
    return int(value) if value.is_integer() else value


def compute_team_ranking(uow, period) -> int:
    rules = load_rules()["team_ranking"]
    session = uow.session
    components: dict[str, dict[str, float]] = {c: {} for c in TEAM_COMPONENTS}
    components["kpi"] = dict(session.execute(_job_average("customer_manager_kpi", "total", period)).all())
    components["inspections"] = dict(session.execute(_job_average("counter_service_score", "avg_pct", period)).all())
    fact_of = {metric: comp for comp, metric in rules["facts"].items()}
    for unit, metric, value in session.execute(_fact_average(sorted(fact_of), period)):
        components[fact_of[metric]][unit] = value
    if period.kind == "year":  # facts imported for the whole year win over the monthly average
        for unit, metric, value in session.execute(_fact_average(sorted(fact_of), period, exact=True)):
            components[fact_of[metric]][unit] = value
    units = session.execute(select(OrgUnit.key, OrgUnit.name).order_by(OrgUnit.key)).all()
    scored = []
    for key, name in units:
        values = {c: (float(components[c][key]) if components[c].get(key) is not None else None)
                  for c in TEAM_COMPONENTS}
        score = team_score(rules["weights"], values, rules["missing"])
        if score is None:
            continue
        metrics = {"score": score, **{c: _num(v) for c, v in values.items()},
                   "missing": ",".join(c for c in TEAM_COMPONENTS if values[c] is None)}
        scored.append({"unit_key": key, "subject_type": "unit", "subject_key": key, "subject_label": name,
                       "metrics": metrics, "rank": None})
    ranks = competition_ranks([(row["subject_key"], row["metrics"]["score"]) for row in scored])
    for row in scored:
        row["rank"] = ranks[row["subject_key"]]
    scored.sort(key=lambda row: (row["rank"], row["subject_key"]))
    return replace_results(uow, JOB, period, scored)
