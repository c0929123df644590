"""key_account_room_kpi (monthly): the key-account room manager's own assessment.

001 重要室经理考核制度: 「考核对象：重要室经理和临时负责人」, monthly, 「集团客户离网率10分 / 集团其他指标10分 /
企信通5分」 and the completion of the indicators (集团收入、集团信息化收入、集团个人客户到达数、集团新增家数、
集团彩铃个人客户到达数、集团产品推广家数、中高端客户保有率及集团客户离网率、放号) with the tiers
「完成指标得满分,若只完成基本目标得全分值的90%,若完成挑战目标得全分」.

Who: every active user with role ``key_account_manager`` whose org unit is a ``room`` (the room
manager and a temporary head are assessed alike on the room's month). What: the room's facts of
the month (``bpm_fact``, subject = the room's key; the actuals imported with ``bpm facts
import``, the targets written by the approved target plan, ``engine.jobs.target_plan``, or
imported), scored with the rules' ``key_account_room_kpi`` section through the generic
``engine.jobs.scoring.score_customer_manager`` (tiers from the decision ``kpi_tier``, churn
against the 2 % line), never above the sheet's full mark (25).

Result rows (``bpm_job_result``, job ``key_account_room_kpi``):

* ``subject_type='user'``, ``subject_key`` = the room manager, ``unit_key`` = the room: one score
  per dimension, ``<key>_tier``, ``churn_rate_pct``, one subtotal per heading of the sheet
  (``churn_group``, ``other_indicators``, ``qixintong_group``), ``total``, ``raw_total``,
  ``full_marks``, ``score_pct`` (total as % of the full mark), ``missing`` and the inputs;
* ``subject_type='kpi'``, ``subject_key`` = ``<room>:<indicator>``, one per plan indicator: the
  room's month ``target`` (and ``target_basic``, ``target_challenge``), ``actual``,
  ``completion_pct``, ``tier``, and the plan's split of the month for the room's customer
  managers: ``managers``, ``working_days``, ``manager_month`` (each manager's month),
  ``manager_day`` (per working day) and ``manager_weeks`` (each ISO week of the month).

Review (``processes/room_kpi_review.bpmn``, 001 gives the customer managers' chain 「报集团客户部,
集团客户部进行审核无误后报分管市场副总审批」 and the room manager is reviewed by the next two steps
of it): rows are written ``draft``; per room one ``bpm_score_sheet`` and one review: the
department manager of the room's department (集团客户部) checks, the vice-president approves,
which makes the rows ``final`` (``engine.jobs.room_review``). Re-running a period: a sheet in
review keeps its review (a changed summary restarts it at the department check through the
message ``room_score_sheet_recomputed``); a rejected sheet (or a review that is gone) gets a
fresh review; a final sheet keeps its approved rows.
"""

from __future__ import annotations

from sqlalchemy import select

from engine.errors import NotFound
from engine.identity.names import split_name
from engine.jobs.results import replace_results
from engine.jobs.scoring import competition_ranks, load_rules, score_customer_manager
from engine.jobs.sheets import SheetReview, missing_text, review_sheet, tier_table
from engine.jobs.target_plan import manager_breakdown, plan_number, room_managers, working_days
from engine.store.models import Fact, JobResult, OrgUnit, ScoreSheet, User, UserRole

JOB = "key_account_room_kpi"
ROLE = "key_account_manager"
REVIEW_PROCESS = "room_kpi_review"
RECOMPUTED_MESSAGE = "room_score_sheet_recomputed"
# the review's form fields: a restarted review starts with none of them filled in
REVIEW_FIELDS = ("check_decision", "check_reject_reason", "check_comment", "approval_decision",
                 "approval_reject_reason", "approval_comment")
REVIEW = SheetReview(JOB, REVIEW_PROCESS, RECOMPUTED_MESSAGE, REVIEW_FIELDS)


def room_heads(session) -> list[tuple[str, str | None, str]]:
    """``[(username, display name, room)]``: the active key-account room managers in a room."""
    query = (select(User.username, User.display_name, User.org_unit)
             .join(UserRole, UserRole.user_id == User.id)
             .join(OrgUnit, OrgUnit.key == User.org_unit)
             .where(UserRole.role == ROLE, User.is_active.is_(True), OrgUnit.kind == "room")
             .order_by(User.org_unit, User.username))
    return [tuple(r) for r in session.execute(query).all()]


def metric_names(section: dict) -> list[str]:
    names: set[str] = set()
    for dim in section["dimensions"]:
        names.update(dim.get("actual", []))
        names.update(dim.get("targets", {}).values())
        names.update(dim[n] for n in ("target", "churned", "total") if n in dim)
    return sorted(names)


def room_facts(session, period_key: str, rooms: list[str], names: list[str]) -> dict[str, dict[str, float]]:
    rows = session.execute(select(Fact.subject_key, Fact.metric, Fact.value).where(
        Fact.period == period_key, Fact.subject_key.in_(rooms or [""]), Fact.metric.in_(names)))
    out: dict[str, dict[str, float]] = {}
    for subject, metric, value in rows:
        out.setdefault(subject, {})[metric] = value
    return out


def score_room(section: dict, values: dict, table) -> dict:
    """One room month: the generic KPI scoring plus the sheet's headings and the % of the full mark."""
    metrics = score_customer_manager(section, values, table)
    for group in section["groups"]:
        metrics[group["key"]] = round(sum(metrics.get(d, 0.0) for d in group["dimensions"]), 2)
    metrics["score_pct"] = round(metrics["total"] / metrics["full_marks"] * 100.0, 2) if metrics["full_marks"] else 0.0
    return metrics


def indicator_rows(session, section: dict, period, room: str, values: dict, metrics: dict) -> list[dict]:
    """Per plan indicator: the room's month target and actual, and the split per manager, week and day."""
    dims = {d["key"]: d for d in section["dimensions"]}
    year, month = int(period.key[:4]), int(period.key[5:7])
    days = working_days(session, year, month)
    managers = room_managers(session, room)
    names = {u: split_name(n or u)[0] for u, n in managers}  # the Chinese name (engine/identity/names.py)
    rows = []
    for ind in section["plan"]["indicators"]:
        dim = dims[ind["dimension"]]
        targets = {t: values.get(m) for t, m in dim["targets"].items()}
        actual_values = [values.get(m) for m in dim["actual"] if values.get(m) is not None]
        actual = sum(actual_values) if actual_values else None
        full = targets.get("full")
        row = {"target": full, "target_basic": targets.get("basic"), "target_challenge": targets.get("challenge"),
               "actual": actual, "completion_pct": round(actual / full * 100.0, 2) if actual is not None and full else None,
               "completion_tier": metrics.get(f"{dim['key']}_tier"), "points": dim["points"], "score": metrics.get(dim["key"]),
               "managers": len(managers), "working_days": len(days)}
        if full is not None and managers:
            split = manager_breakdown(full, ind["kind"], [u for u, _ in managers], days)
            row["manager_month"] = {names[u]: d["month"] for u, d in split["managers"].items()}
            row["manager_day"] = {names[u]: d["day"] for u, d in split["managers"].items()}
            row["manager_weeks"] = "；".join(
                f"{names[u]}: " + "，".join(f"{_week(w)} {plan_number(v, ind['kind'])}" for w, v in d["weeks"].items())
                for u, d in split["managers"].items())
        rows.append({"unit_key": room, "subject_type": "kpi", "subject_key": f"{room}:{ind['key']}",
                     "subject_label": ind["label_zh"], "metrics": {k: v for k, v in row.items() if v is not None},
                     "rank": None})
    return rows


def _week(key: str) -> str:
    """An ISO week key as the sheet reads it: "2026-W41" -> "第41周"."""
    year, sep, week = key.partition("-W")
    return f"第{int(week)}周" if sep and week.isdigit() else key


def _summary(section: dict, heads: list[dict]) -> str:
    full = section["max_total"]
    headings = "、".join(f"{g['label_zh']}{g['points']:g}分" for g in section["groups"])
    lines = [f"满分{full:g}分（{headings}）"]
    for row in heads:
        m = row["metrics"]
        parts = [f"{g['label_zh']} {m.get(g['key'], 0):g}/{g['points']:g}" for g in section["groups"]]
        line = f"{split_name(row['subject_label'] or row['subject_key'])[0]}：总分 {m['total']:g}（{'；'.join(parts)}）"
        details = [f"{d['label_zh']} {m.get(d['key'], 0):g}/{d['points']:g}" for d in section["dimensions"]]
        line += "\n  " + "；".join(details)
        if m.get("churn_rate_pct") is not None:
            line += f"\n  离网率 {m['churn_rate_pct']:g}%"
        if m.get("missing"):
            line += "\n  " + missing_text(m["missing"], {d["key"]: d["label_zh"] for d in section["dimensions"]})
        lines.append(line)
    return "\n".join(lines)


def _review(uow, period, section: dict, room: str, room_name: str, heads: list[dict], sheet: ScoreSheet | None) -> None:
    data = {"job": JOB, "period": period.key, "room": room, "room_name": split_name(room_name)[0],
            "summary": _summary(section, heads)}
    review_sheet(uow, REVIEW, period, room, sheet, data, len(heads))


def compute_key_account_room_kpi(uow, period) -> int:
    rules = load_rules()
    section = rules.get("key_account_room_kpi")
    if not section:
        raise NotFound("the scoring rules have no key_account_room_kpi section")
    session = uow.session
    sheets = {s.unit_key: s for s in session.execute(
        select(ScoreSheet).where(ScoreSheet.job == JOB, ScoreSheet.period == period.key)).scalars()}
    frozen = {unit for unit, s in sheets.items() if s.status == "final"}
    heads = [h for h in room_heads(session) if h[2] not in frozen]
    rooms = sorted({room for _, _, room in heads})
    table = tier_table(session, section["tiers"].get("decision"), "room KPI")
    facts = room_facts(session, period.key, rooms, metric_names(section))
    unit_names = dict(session.execute(select(OrgUnit.key, OrgUnit.name)).all())
    rows: list[dict] = []
    by_room: dict[str, list[dict]] = {}
    for username, display_name, room in heads:
        values = facts.get(room, {})
        row = {"unit_key": room, "subject_type": "user", "subject_key": username, "subject_label": display_name,
               "metrics": score_room(section, values, table), "rank": None}
        by_room.setdefault(room, []).append(row)
    ranks = competition_ranks([(f"{r['unit_key']}|{r['subject_key']}", r["metrics"]["total"])
                               for people in by_room.values() for r in people])
    for room, people in sorted(by_room.items()):
        for r in people:
            r["rank"] = ranks[f"{room}|{r['subject_key']}"]
        rows.extend(people)
        rows.extend(indicator_rows(session, section, period, room, facts.get(room, {}), people[0]["metrics"]))
    kept = session.execute(
        select(JobResult.unit_key, JobResult.subject_type, JobResult.subject_key, JobResult.subject_label,
               JobResult.metrics, JobResult.rank, JobResult.status)
        .where(JobResult.job == JOB, JobResult.period == period.key, JobResult.unit_key.in_(frozen))
    ).mappings().all() if frozen else []
    written = replace_results(uow, JOB, period, rows + [dict(r) for r in kept], status="draft")
    for room, people in sorted(by_room.items()):
        _review(uow, period, section, room, unit_names.get(room, room), people, sheets.get(room))
    session.flush()
    return written


__all__ = ["compute_key_account_room_kpi", "JOB", "REVIEW_PROCESS"]
