"""monthly_pay (monthly): the pay consequences of the study tests and of attendance, and the
shift leaders' service-quality link.

Sources:

* 001 学习制度 「重要客户室每两周安排一次学习日,次月对上月所学的内容进行综合测试,评出最优客户经理和最差
  客户经理,连续三次被评为最优客户经理的员工颁发奖状;连续三次被评为最差客户经理的员工扣除当月绩效的10%。」
  The study days are the ``study_day`` process (every second week per room, sign-in of the members);
  the test score of each month is an imported fact (``study_test_score``, per user; the period is the
  month the test was held, on the previous month's study).
* 001 考勤制度: the deductions per late arrival / early leave (by length), absence, private errand
  (also named in the area: 通报), missing uniform, and leave more than 3 times a month. The
  attendance system's monthly counts are imported facts (``attendance_*``).
* 000 篇3/篇4 「把营业厅服务质量改善程度和当月成绩与班长、值班长绩效考核挂钩」: per hall the month's
  result (average % of the counter-service checklist, ``bpm_inspection``) and its change against
  the previous month, on a row for every shift leader of the hall (role ``duty_manager``, 值班经理:
  this product's 班长/值班长).

Every number is in the ``monthly_pay`` section of ``engine/jobs/data/scoring_rules.json``.

Test placing (our reading where the source is silent): each test is compared within the org unit
(room or hall) of the people who took it; the highest score is best, the lowest worst, ties share
the place; with fewer than ``min_takers`` takers or everybody level nobody is placed. "连续三次"
counts the tests the unit held, newest first: a test of the unit the person did not take breaks
the run. The certificate / the pay cut falls due on the 3rd, 6th, 9th ... test in a row (the run
does not pay twice for the same three tests).

Result rows:

* ``subject_type='user'`` (test takers of the study roles, and anyone with attendance facts),
  ``unit_key`` = their org unit, ``rank`` = place in the unit's test. ``metrics``: ``test_score``,
  ``test_takers``, ``study_days`` and ``study_days_attended`` (the unit's signed-in study days
  of the month, when it held any), ``best``, ``worst`` (booleans), ``best_streak``, ``worst_streak``, ``certificate``
  (boolean), ``consequence`` (``certificate`` | ``pay_cut`` | ``""``), ``pay_cut_pct``,
  ``performance_pay``, ``pay_cut`` (元, None when the pay was not imported), ``att_<item>`` (元, the
  items that apply), ``attendance_deduction`` (元), ``notice`` (named in the area),
  ``total_deduction`` (pay cut + attendance, 元).
* ``subject_type='shift_leader'``: ``subject_key`` = username, ``unit_key`` = hall; ``hall_result_pct``,
  ``prev_result_pct``, ``improvement_pct`` (percentage points), ``inspections``, ``linked_score``
  (result + improvement x ``points_per_pct``, within 0-100).
"""

from __future__ import annotations

from sqlalchemy import func, select

from engine.jobs.pay_rules import attendance_deduction, best_and_worst, streak
from engine.jobs.results import replace_results
from engine.jobs.scoring import RulesError, checklist_max, competition_ranks, load_rules
from engine.jobs.study import study_days
from engine.store.models import Fact, Inspection, User, UserRole

JOB = "monthly_pay"


def _num(value, digits: int = 2):
    if value is None:
        return None
    value = round(float(value), digits)
    return int(value) if value.is_integer() else value


def _month_back(period, months: int) -> str:
    p = period
    for _ in range(months):
        p = p.previous()
    return p.key


def _people(session, usernames) -> dict[str, tuple[str | None, str, set[str]]]:
    """{username: (org unit, display name, roles)} of active users."""
    if not usernames:
        return {}
    out: dict[str, tuple[str | None, str, set[str]]] = {}
    rows = session.execute(
        select(User.username, User.org_unit, User.display_name, UserRole.role)
        .outerjoin(UserRole, UserRole.user_id == User.id)
        .where(User.username.in_(sorted(usernames)), User.is_active.is_(True))
    )
    for username, unit, name, role in rows:
        entry = out.setdefault(username, (unit, name or username, set()))
        if role:
            entry[2].add(role)
    return out


def _study(session, period, study: dict) -> tuple[dict[str, dict], dict[str, tuple[str | None, str, set[str]]]]:
    """Per test taker of ``period``: score, place and runs, from the unit's tests of the history."""
    lo = _month_back(period, study["history_months"] - 1)
    facts = session.execute(
        select(Fact.period, Fact.subject_key, Fact.value)
        .where(Fact.metric == study["test_metric"], Fact.period >= lo, Fact.period <= period.key,
               func.length(Fact.period) == 7)
    ).all()
    people = _people(session, {s for _, s, _ in facts})
    roles = set(study["roles"])
    # {unit: {month: {user: score}}}, members of the study roles only, by their current unit
    tests: dict[str, dict[str, dict[str, float]]] = {}
    for month, user, value in facts:
        person = people.get(user)
        if person is None or person[0] is None or not (person[2] & roles):
            continue
        tests.setdefault(person[0], {}).setdefault(month, {})[user] = float(value)
    out: dict[str, dict] = {}
    for unit, months in tests.items():
        current = months.get(period.key)
        if not current:
            continue
        placed = {m: best_and_worst(scores, study["min_takers"]) for m, scores in months.items()}
        newest_first = sorted(placed, reverse=True)
        bests = [placed[m][0] for m in newest_first]
        worsts = [placed[m][1] for m in newest_first]
        ranks = competition_ranks(list(current.items()))
        for user, score in current.items():
            out[user] = {"unit": unit, "score": score, "takers": len(current), "rank": ranks[user],
                         "best": user in placed[period.key][0], "worst": user in placed[period.key][1],
                         "best_streak": streak(user, bests), "worst_streak": streak(user, worsts)}
    return out, people


def _facts(session, period, metrics: list[str]) -> dict[str, dict[str, float]]:
    """{username: {metric: value}} of ``period``."""
    out: dict[str, dict[str, float]] = {}
    for user, metric, value in session.execute(
        select(Fact.subject_key, Fact.metric, Fact.value).where(Fact.period == period.key, Fact.metric.in_(metrics))
    ):
        out.setdefault(user, {})[metric] = float(value)
    return out


def _person_rows(session, period, section: dict) -> list[dict]:
    study, attendance = section["study"], section["attendance"]
    tested, people = _study(session, period, study)
    att_metrics = [item["metric"] for item in attendance["items"]]
    facts = _facts(session, period, [*att_metrics, study["pay_metric"]])
    with_attendance = {u for u, values in facts.items() if any(m in values for m in att_metrics)}
    missing = (with_attendance | set(tested)) - set(people)
    people.update(_people(session, missing))
    days = study_days(session, period)
    rows = []
    for user in sorted((with_attendance | set(tested)) & set(people)):
        unit, name, _ = people[user]
        values = facts.get(user, {})
        test = tested.get(user)
        metrics: dict = {}
        pay = values.get(study["pay_metric"])
        pay_cut = None
        consequence = ""
        if test:
            n = study["consecutive"]
            certificate = test["best"] and test["best_streak"] % n == 0
            cut = test["worst"] and test["worst_streak"] % n == 0
            consequence = "certificate" if certificate else "pay_cut" if cut else ""
            metrics.update({
                "test_score": _num(test["score"]), "test_takers": test["takers"], "best": test["best"],
                "worst": test["worst"], "best_streak": test["best_streak"], "worst_streak": test["worst_streak"],
                "certificate": certificate, "consequence": consequence,
                "pay_cut_pct": _num(study["worst_pay_cut_pct"]) if cut else 0,
            })
            if cut and pay is not None:
                pay_cut = round(pay * study["worst_pay_cut_pct"] / 100.0, 2)
            elif not cut:
                pay_cut = 0.0
            unit = test["unit"]
        held = days.get(unit, [])
        if held:  # the study days of the month (study_day), signed in or not
            metrics.update({"study_days": len(held), "study_days_attended": sum(user in d for d in held)})
        per_item, att_total, notice = attendance_deduction(attendance["items"], values)
        metrics.update({f"att_{key}": _num(amount) for key, amount in per_item.items() if amount})
        metrics["attendance_deduction"] = _num(att_total)
        metrics["notice"] = notice
        metrics["performance_pay"] = _num(pay)
        if test:
            metrics["pay_cut"] = _num(pay_cut)
        metrics["total_deduction"] = _num((pay_cut or 0.0) + att_total)
        rows.append({"unit_key": unit, "subject_type": "user", "subject_key": user, "subject_label": name,
                     "metrics": metrics, "rank": test["rank"] if test else None})
    rows.sort(key=lambda r: (r["unit_key"] or "", r["rank"] if r["rank"] is not None else 10**6, r["subject_key"]))
    return rows


def _hall_results(session, period, full: float) -> dict[str, tuple[float, int]]:
    """{hall: (average % of the checklist's full points, inspections)} of ``period``."""
    lo, hi = period.local_start.isoformat(), period.local_end.isoformat()
    rows = session.execute(
        select(Inspection.unit_key, func.avg(Inspection.score), func.count())
        .where(Inspection.day >= lo, Inspection.day < hi, Inspection.unit_key.is_not(None))
        .group_by(Inspection.unit_key)
    ).all()
    return {unit: (100.0 * float(avg) / full, int(count)) for unit, avg, count in rows if avg is not None}


def _shift_leader_rows(session, period, leader: dict, rules: dict) -> list[dict]:
    full = checklist_max(rules)
    now, before = _hall_results(session, period, full), _hall_results(session, period.previous(), full)
    if not now:
        return []
    leaders = session.execute(
        select(User.username, User.display_name, User.org_unit)
        .join(UserRole, UserRole.user_id == User.id)
        .where(UserRole.role.in_(leader["roles"]), User.is_active.is_(True), User.org_unit.in_(sorted(now)))
        .distinct()
        .order_by(User.org_unit, User.username)
    ).all()
    rows = []
    for username, name, hall in leaders:
        result, count = now[hall]
        prev = before.get(hall, (None, 0))[0]
        change = None if prev is None else result - prev
        linked = min(max(result + (change or 0.0) * leader["points_per_pct"], 0.0), 100.0)
        rows.append({"unit_key": hall, "subject_type": "shift_leader", "subject_key": username,
                     "subject_label": name or username, "rank": None,
                     "metrics": {"hall_result_pct": _num(result), "prev_result_pct": _num(prev),
                                 "improvement_pct": _num(change), "inspections": count,
                                 "linked_score": _num(linked)}})
    return rows


def compute_monthly_pay(uow, period) -> int:
    rules = load_rules()
    section = rules.get("monthly_pay")
    if not section:
        raise RulesError("the scoring rules have no 'monthly_pay' section (study tests, attendance, shift leaders)")
    session = uow.session
    rows = _person_rows(session, period, section) + _shift_leader_rows(session, period, section["shift_leader"], rules)
    return replace_results(uow, JOB, period, rows)
