"""team_ranking against a hand-computed example, monthly and yearly (SQLite and PostgreSQL).

Weights (rules file): kpi 30, activities 15, six_s 20, inspections 20, innovation 15.

October 2026:
  unit    kpi (avg of totals)    inspections  six_s  activities  innovation
  hall-1  (96.5 + 83.5)/2 = 90   (90+96)/2=93  92     85          78
  hall-2  110.5                  80            88     90          82
  dept-g  -                      -             95     100         90
  hall-1: (30*90 + 15*85 + 20*92 + 20*93 + 15*78) / 100 = 8845 / 100 = 88.45
  hall-2: (30*110.5 + 15*90 + 20*88 + 20*80 + 15*82) / 100 = 9255 / 100 = 92.55
  dept-g: no KPI, no inspections: (15*100 + 20*95 + 15*90) / 50 = 4750 / 50 = 95.0
  -> dept-g 1, hall-2 2, hall-1 3.
Year 2026 adds September (hall-1: one KPI total 70, six_s 80) and a yearly innovation fact of
50 for dept-g, which wins over its monthly 90:
  hall-1: kpi 250/3 = 83.33, six_s 86: (2500 + 1275 + 1720 + 1860 + 1170) / 100 = 85.25
  hall-2: 92.55;  dept-g: (1500 + 1900 + 750) / 50 = 83.0
  -> hall-2 1, hall-1 2, dept-g 3.
"""

from __future__ import annotations

import pytest
from sqlalchemy import delete, select

from engine.identity.actor import SYSTEM
from engine.jobs.facts import import_facts
from engine.jobs.periods import Period
from engine.jobs.ranking import compute_team_ranking
from engine.jobs.results import replace_results
from engine.store.models import JobResult, OrgUnit


def user_rows(metric: str, rows: list[tuple[str, str, float]]) -> list[dict]:
    return [{"unit_key": unit, "subject_type": "user", "subject_key": who, "subject_label": who,
             "metrics": {metric: value}, "rank": None} for unit, who, value in rows]


@pytest.fixture
def scored(engine):
    with engine.uow(SYSTEM) as uow:
        uow.session.add(OrgUnit(key="dept-g", name="集团客户部", kind="department"))
        uow.session.flush()
        replace_results(uow, "customer_manager_kpi", Period.parse("2026-10"), user_rows("total", [
            ("hall-1", "a", 96.5), ("hall-1", "b", 83.5), ("hall-2", "c", 110.5)]), status="draft")
        replace_results(uow, "customer_manager_kpi", Period.parse("2026-09"), user_rows("total", [("hall-1", "a", 70)]))
        replace_results(uow, "counter_service_score", Period.parse("2026-10"), user_rows("avg_pct", [
            ("hall-1", "x", 90), ("hall-1", "y", 96), ("hall-2", "z", 80)]))
        csv = ["period,subject,metric,value"]
        for unit, six_s, activity, innovation in (("hall-1", 92, 85, 78), ("hall-2", 88, 90, 82), ("dept-g", 95, 100, 90)):
            csv += [f"2026-10,{unit},six_s_score,{six_s}", f"2026-10,{unit},activity_score,{activity}",
                    f"2026-10,{unit},innovation_score,{innovation}"]
        csv += ["2026-09,hall-1,six_s_score,80", "2026,dept-g,innovation_score,50"]
        import_facts(uow, "units.csv", "\n".join(csv).encode("utf-8"))
    yield engine
    with engine.uow(SYSTEM) as uow:  # PostgreSQL keeps the org units between tests
        uow.session.execute(delete(OrgUnit).where(OrgUnit.key == "dept-g"))


def ranking(engine, period: str) -> list[tuple]:
    with engine.uow(SYSTEM) as uow:
        written = compute_team_ranking(uow, Period.parse(period))
    with engine.read() as session:
        rows = session.execute(select(JobResult).where(JobResult.job == "team_ranking", JobResult.period == period)
                               .order_by(JobResult.rank, JobResult.subject_key)).scalars().all()
        out = [(r.rank, r.subject_key, r.subject_type, r.unit_key, r.metrics["score"], r.metrics["missing"], r.metrics)
               for r in rows]
    assert written == len(out)
    return out


def test_units_are_ranked_on_the_weighted_components(scored):
    rows = ranking(scored, "2026-10")
    assert [r[:6] for r in rows] == [
        (1, "dept-g", "unit", "dept-g", 95.0, "kpi,inspections"),
        (2, "hall-2", "unit", "hall-2", 92.55, ""),
        (3, "hall-1", "unit", "hall-1", 88.45, ""),
    ]
    hall1 = rows[2][6]
    assert (hall1["kpi"], hall1["inspections"], hall1["six_s"], hall1["activities"], hall1["innovation"]) == (
        90, 93, 92, 85, 78)
    assert rows[0][6]["kpi"] is None
    # a re-run replaces the month's ranking
    assert [r[:5] for r in ranking(scored, "2026-10")] == [r[:5] for r in rows]


def test_the_year_averages_its_months_and_yearly_facts_win(scored):
    rows = ranking(scored, "2026")
    assert [r[:2] + (r[4],) for r in rows] == [(1, "hall-2", 92.55), (2, "hall-1", 85.25), (3, "dept-g", 83.0)]
    hall1 = rows[1][6]
    assert hall1["kpi"] == pytest.approx(83.33) and hall1["six_s"] == 86
    assert rows[2][6]["innovation"] == 50


def test_a_month_without_data_ranks_nobody(scored):
    assert ranking(scored, "2026-08") == []
