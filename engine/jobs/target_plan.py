"""The key-account room's yearly target plan (``processes/target_plan.bpmn``), split by the engine.

001 重要室经理考核制度 「重要室经理将一年的指标按照月进度进行分解,再按照客户经理的人数按照月计划表
再分配到每周,再细化到每天」: the room manager enters the year's target of each indicator of the
rules' ``key_account_room_kpi.plan`` (form ``target_plan``, fields ``target_<indicator>``, with the
basic and challenge targets as percentages of the target, ``plan_basic_pct`` and
``plan_challenge_pct``); the engine computes

* the months: the year's target split by the month weights (月进度, rules ``plan.month_weights``,
  equal by default);
* per customer manager of the room: each month's target split equally over the room's active
  customer managers (users with role ``customer_manager`` in the room);
* per week and per working day: a manager's month split over the working days of the month (the
  SLA feature's working-day calendar, holidays and adjusted days included; Monday to Friday when
  no calendar is registered), a week's share being its working days in that month.

Amounts are split in cents, counts in whole units, with the largest-remainder method so the
parts always add up to the whole (the months to the year, the managers to the month, the weeks
to the manager's month). A rate (retention %) is not split: every month, manager, week and day
has the year's rate. The daily figure is the manager's month over its working days, shown
rounded to two decimals (a guide, not a fact).

Two user tasks carry the property ``target_plan`` (:data:`EXTENSION` in ``engine.jobs.room_review``):
``draft`` (the room manager) computes the split and adds ``plan_summary`` (what the approver
reads); ``approve`` (the department manager of the room's department, 集团客户部) on approval
writes, for every month of the plan's year, the room's monthly basic / full / challenge targets
(the room dimension's target metrics) and each manager's monthly targets (the indicator's
``manager_targets`` metrics, read by the customer-manager KPI) as facts (``bpm_fact``, period
``YYYY-MM``, source ``target_plan:<instance id>``), replacing earlier ones, audited
``target_plan_approved``. A rejection (audited ``target_plan_rejected``) sends the plan back to
the room manager.
"""

from __future__ import annotations

import calendar
import math
from datetime import date

from sqlalchemy import delete, insert, select

from engine.clock import utcnow
from engine.errors import Conflict, ValidationFailed
from engine.jobs.scoring import load_rules
from engine.store.models import Fact, User, UserRole

MANAGER_ROLE = "customer_manager"
YEAR_FIELD, BASIC_FIELD, CHALLENGE_FIELD = "plan_year", "plan_basic_pct", "plan_challenge_pct"
DECISION, REJECT_REASON, COMMENT = "plan_decision", "plan_reject_reason", "plan_comment"
STEP = {"amount": 0.01, "count": 1.0}
FACTS = Fact.__table__


def target_field(indicator_key: str) -> str:
    return f"target_{indicator_key}"


# --------------------------------------------------------------------------- pure splitting


def split(total: float, weights: list[float], kind: str) -> list[float]:
    """``total`` split by ``weights`` in steps of cents (amount) or units (count), the parts adding
    up to the total exactly (largest remainder; ties go to the earlier part). A rate is not split."""
    if kind == "rate":
        return [float(total) if w > 0 else 0.0 for w in weights]
    step = STEP[kind]
    units = int(round(total / step))
    weight_sum = sum(weights)
    if weight_sum <= 0 or not weights:
        return [0.0 for _ in weights]
    exact = [units * w / weight_sum for w in weights]
    parts = [math.floor(x + 1e-9) for x in exact]
    left = units - sum(parts)
    order = sorted(range(len(weights)), key=lambda i: (-(exact[i] - parts[i]), i))
    for i in order[:left]:
        parts[i] += 1
    return [round(p * step, 2) if kind == "amount" else float(p) for p in parts]


def working_days(session, year: int, month: int) -> list[date]:
    """The working days of the month: the registered working-day calendar (the SLA feature's), else Monday-Friday."""
    from engine.extensions import REGISTRY

    hooks = REGISTRY.hooks("working_day")
    days = [date(year, month, d) for d in range(1, calendar.monthrange(year, month)[1] + 1)]
    if hooks:
        return [d for d in days if hooks[0](session, d)]
    return [d for d in days if d.weekday() < 5]


def weeks_of(days: list[date]) -> list[tuple[str, int]]:
    """``[(ISO week key, working days of the month in it)]`` in order."""
    out: dict[str, int] = {}
    for d in days:
        year, week, _ = d.isocalendar()
        key = f"{year}-W{week:02d}"
        out[key] = out.get(key, 0) + 1
    return list(out.items())


def manager_breakdown(month_target: float, kind: str, managers: list[str], days: list[date]) -> dict:
    """One month's target of one indicator per manager, per week and per working day."""
    per_manager = split(month_target, [1.0] * len(managers), kind) if managers else []
    weeks = weeks_of(days)
    out = {}
    for username, target in zip(managers, per_manager, strict=True):
        week_parts = split(target, [float(n) for _, n in weeks], kind) if weeks else []
        daily = target if kind == "rate" else (round(target / len(days), 2) if days else None)
        out[username] = {"month": target, "weeks": dict(zip([w for w, _ in weeks], week_parts, strict=True)),
                         "day": daily}
    return {"managers": out, "working_days": len(days)}


def plan_months(rules_plan: dict, year: int, targets: dict[str, float], basic_pct: float,
                challenge_pct: float) -> dict[str, dict[str, dict[str, float]]]:
    """``{indicator: {"YYYY-MM": {"basic", "full", "challenge"}}}``: the year split into months;
    the basic and challenge targets are the percentages of each month's target (same steps)."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for ind in rules_plan["indicators"]:
        kind = ind["kind"]
        months = split(targets[ind["key"]], rules_plan["month_weights"], kind)
        out[ind["key"]] = {
            f"{year}-{m:02d}": {"full": full, "basic": _pct(full, basic_pct, kind), "challenge": _pct(full, challenge_pct, kind)}
            for m, full in enumerate(months, start=1)
        }
    return out


def _pct(value: float, pct: float, kind: str) -> float:
    if kind == "rate":
        return round(min(value * pct / 100.0, 100.0), 2)  # a rate (retention %) never above 100 %
    step = STEP[kind]
    return round(round(value * pct / 100.0 / step) * step, 2)


# --------------------------------------------------------------------------- reading the plan


def room_managers(session, room: str) -> list[tuple[str, str | None]]:
    """The active customer managers of the room: ``[(username, display name)]`` by username."""
    query = (select(User.username, User.display_name).join(UserRole, UserRole.user_id == User.id)
             .where(UserRole.role == MANAGER_ROLE, User.is_active.is_(True), User.org_unit == room)
             .order_by(User.username))
    return [(u, n) for u, n in session.execute(query).all()]


def _plan_inputs(data: dict, rules_plan: dict) -> tuple[int, dict[str, float], float, float]:
    errors: dict[str, list[str]] = {}
    year = data.get(YEAR_FIELD)
    if not isinstance(year, int | float) or isinstance(year, bool) or int(year) != year or not 2000 <= year <= 2100:
        errors[YEAR_FIELD] = ["must be a year between 2000 and 2100"]
    targets = {}
    absent = [target_field(i["key"]) for i in rules_plan["indicators"] if target_field(i["key"]) not in data]
    if absent:
        raise Conflict(f"the target plan form lacks the fields {', '.join(absent)} of the scoring rules: deploy a "
                       "target_plan form that matches engine/jobs/data/scoring_rules.json")
    for ind in rules_plan["indicators"]:
        name = target_field(ind["key"])
        value = data.get(name)
        if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value) or value < 0:
            errors[name] = ["must be a number of at least 0"]
        elif ind["kind"] == "rate" and value > 100:
            errors[name] = ["a rate is at most 100 (%)"]
        elif ind["kind"] == "count" and value != int(value):
            errors[name] = ["must be a whole number"]
        else:
            targets[ind["key"]] = float(value)
    basic = data.get(BASIC_FIELD, rules_plan["basic_pct"])
    challenge = data.get(CHALLENGE_FIELD, rules_plan["challenge_pct"])
    if basic is None:
        basic = rules_plan["basic_pct"]
    if challenge is None:
        challenge = rules_plan["challenge_pct"]
    if not isinstance(basic, int | float) or not 0 < basic <= 100:
        errors[BASIC_FIELD] = ["must be more than 0 and at most 100 (% of the target)"]
    if not isinstance(challenge, int | float) or not 100 <= challenge <= 1000:
        errors[CHALLENGE_FIELD] = ["must be at least 100 (% of the target)"]
    if errors:
        raise ValidationFailed("form data is invalid", errors)
    return int(year), targets, float(basic), float(challenge)


def plan_number(value: float, kind: str) -> str:
    """A target as people read it: counts whole, amounts and rates with at most two decimals."""
    if kind == "count":
        return f"{value:,.0f}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def summary(rules_plan: dict, year: int, months: dict, managers: list[tuple[str, str | None]], basic_pct: float,
            challenge_pct: float, first_month_days: list[date]) -> str:
    """The plan as the approver reads it: per indicator the year, the months, and per manager the
    first month's target, its weeks and its daily figure."""
    names = [u for u, _ in managers]
    lines = [f"{year}年目标计划（基本目标 = 指标×{basic_pct:g}%，挑战目标 = 指标×{challenge_pct:g}%；"
             f"客户经理{len(managers)}人：{'、'.join(n or u for u, n in managers) or '无'}）"]
    for ind in rules_plan["indicators"]:
        kind = ind["kind"]
        by_month = months[ind["key"]]
        year_total = sum(v["full"] for v in by_month.values()) if kind != "rate" else next(iter(by_month.values()))["full"]
        lines.append(f"· {ind['label_zh']}：全年 {plan_number(year_total, kind)}"
                     + ("（比率，不分解）" if kind == "rate" else ""))
        lines.append("  月度：" + "；".join(f"{int(k[-2:])}月 {plan_number(v['full'], kind)}" for k, v in by_month.items()))
        first = next(iter(by_month.values()))["full"]
        detail = manager_breakdown(first, kind, names, first_month_days)
        for username, label in managers:
            d = detail["managers"][username]
            weeks = "，".join(f"{w[-3:]} {plan_number(v, kind)}" for w, v in d["weeks"].items())
            day = "–" if d["day"] is None else plan_number(d["day"], "amount")
            lines.append(f"  {label or username} 1月：{plan_number(d['month'], kind)}（每周：{weeks}；每个工作日约 {day}）")
    return "\n".join(lines)


def draft(uow, task, inst, cleaned: dict) -> dict:
    """The room manager's plan: validated, split, summarised for the approver."""
    room = inst.org_unit
    if not room:
        raise Conflict("a target plan belongs to a room: start it as the room's manager")
    rules_plan = load_rules()["key_account_room_kpi"]["plan"]
    year, targets, basic, challenge = _plan_inputs(cleaned, rules_plan)
    managers = room_managers(uow.session, room)
    months = plan_months(rules_plan, year, targets, basic, challenge)
    text = summary(rules_plan, year, months, managers, basic, challenge, working_days(uow.session, year, 1))
    uow.audit("target_plan_drafted", instance_id=inst.id, task_id=task.id, unit_key=room, year=year, targets=targets,
              basic_pct=basic, challenge_pct=challenge, managers=[u for u, _ in managers])
    return {**cleaned, YEAR_FIELD: year, BASIC_FIELD: basic, CHALLENGE_FIELD: challenge, "plan_summary": text,
            "plan_managers": len(managers), DECISION: None, REJECT_REASON: None, COMMENT: None}


def _facts(rules: dict, year: int, months: dict, room: str, managers: list[str]) -> list[tuple[str, str, str, float]]:
    """``(period, subject, metric, value)`` of the approved plan."""
    dims = {d["key"]: d for d in rules["dimensions"]}
    out = []
    for ind in rules["plan"]["indicators"]:
        kind = ind["kind"]
        targets = dims[ind["dimension"]]["targets"]
        for period, tiers in months[ind["key"]].items():
            for tier, metric in targets.items():
                out.append((period, room, metric, tiers[tier]))
            for tier, metric in ind["manager_targets"].items():
                parts = split(tiers[tier], [1.0] * len(managers), kind) if managers else []
                out.extend((period, user, metric, value) for user, value in zip(managers, parts, strict=True))
    return out


def approve(uow, task, inst, cleaned: dict) -> dict:
    """The department's decision; an approval writes the plan's monthly targets as facts."""
    decision = cleaned.get(DECISION)
    if decision not in ("approve", "reject"):
        raise ValidationFailed("form data is invalid", {DECISION: ["must be approve or reject"]})
    room = inst.org_unit
    data = {**(inst.data or {}), **cleaned}
    if decision == "reject":
        uow.audit("target_plan_rejected", instance_id=inst.id, task_id=task.id, unit_key=room,
                  year=data.get(YEAR_FIELD), reason=cleaned.get(REJECT_REASON))
        return cleaned
    rules = load_rules()["key_account_room_kpi"]
    year, targets, basic, challenge = _plan_inputs(data, rules["plan"])
    managers = [u for u, _ in room_managers(uow.session, room)]
    months = plan_months(rules["plan"], year, targets, basic, challenge)
    rows = _facts(rules, year, months, room, managers)
    session = uow.session
    keys = {(p, s, m) for p, s, m, _ in rows}
    replaced = 0
    for period in sorted({p for p, _, _ in keys}):
        for subject in sorted({s for p, s, _ in keys if p == period}):
            metrics = sorted({m for p, s, m in keys if p == period and s == subject})
            replaced += session.execute(delete(FACTS).where(
                FACTS.c.period == period, FACTS.c.subject_key == subject, FACTS.c.metric.in_(metrics))).rowcount or 0
    now, who = utcnow(), uow.actor.username
    if rows:
        session.execute(insert(FACTS), [
            {"period": p, "subject_key": s, "metric": m, "value": v, "source": f"target_plan:{inst.id}",
             "imported_at": now, "imported_by": who} for p, s, m, v in rows])
    uow.audit("target_plan_approved", instance_id=inst.id, task_id=task.id, unit_key=room, year=year,
              targets=targets, basic_pct=basic, challenge_pct=challenge, managers=managers, facts=len(rows),
              replaced=replaced, comment=cleaned.get(COMMENT))
    session.flush()
    return cleaned

