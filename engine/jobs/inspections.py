"""counter_service_score (monthly): the daily service checklist summed per counter staff member.

Input: ``bpm_inspection`` rows (one per completed ``counter_inspection`` process, written by
``engine.jobs.review``) whose local day falls in the period. One SQL statement groups them per
(person, hall) and ranks people within their hall with a window function.

Monthly score (``score``): the average of each inspection's points as a percentage of the
checklist's full points (the sum of item points in the rules, 100 by default). The source
(000_*.txt) sums the random daily checks at month end; a plain sum would reward whoever
happened to be checked more often, so the sum is reported (``total``) but the score is the
average percentage.

Result rows: ``subject_type='user'``, ``subject_key`` = username, ``unit_key`` = hall, ``rank`` =
rank within the hall by score (ties share a rank). ``metrics``: ``inspections`` (count),
``days`` (days with a check), ``total`` (sum of points), ``avg_points`` (per inspection),
``max_points`` (per inspection), ``score`` (monthly score, 0-100) and ``avg_<item>`` (average
points of each checklist item, to show what to improve).
"""

from __future__ import annotations

from sqlalchemy import func, select

from engine.jobs.results import replace_results
from engine.jobs.scoring import checklist_max, load_rules
from engine.store.models import Inspection, User

JOB = "counter_service_score"


def _num(value, digits: int = 2):
    if value is None:
        return None
    value = round(float(value), digits)
    return int(value) if value.is_integer() else value


def monthly_query(period, item_keys: list[str]):
    lo, hi = period.local_start.isoformat(), period.local_end.isoformat()
    per_person = (
        select(
            Inspection.inspected_user.label("username"),
            Inspection.unit_key.label("unit_key"),
            func.count().label("inspections"),
            func.count(func.distinct(Inspection.day)).label("days"),
            func.sum(Inspection.score).label("total"),
            func.avg(Inspection.score).label("avg_points"),
            *[func.avg(Inspection.items[key].as_float()).label(f"avg_{key}") for key in item_keys],
        )
        .where(Inspection.day >= lo, Inspection.day < hi)
        # (unit, user), not the index's (user, day) order: one sequential scan and a sort beat
        # a million index-ordered row lookups (SQLite: 8 s against 20 s for 1M inspections)
        .group_by(Inspection.unit_key, Inspection.inspected_user)
        .subquery()
    )
    rank = func.rank().over(partition_by=per_person.c.unit_key, order_by=per_person.c.avg_points.desc())
    return (
        select(per_person, rank.label("rank"), User.display_name)
        .outerjoin(User, User.username == per_person.c.username)
        .order_by(per_person.c.unit_key, rank, per_person.c.username)
    )


def compute_counter_service_score(uow, period) -> int:
    rules = load_rules()
    keys = [item["key"] for item in rules["counter_service"]["items"]]
    max_points = checklist_max(rules)
    rows = []
    for r in uow.session.execute(monthly_query(period, keys)).mappings():
        metrics = {
            "inspections": int(r["inspections"]),
            "days": int(r["days"]),
            "total": _num(r["total"]),
            "avg_points": _num(r["avg_points"]),
            "max_points": _num(max_points),
            "score": _num(100.0 * float(r["avg_points"]) / max_points),
        }
        metrics.update({f"avg_{key}": _num(r[f"avg_{key}"]) for key in keys})
        rows.append({"unit_key": r["unit_key"], "subject_type": "user", "subject_key": r["username"],
                     "subject_label": r["display_name"] or r["username"], "metrics": metrics, "rank": int(r["rank"])})
    return replace_results(uow, JOB, period, rows)
