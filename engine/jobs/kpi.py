"""customer_manager_kpi (monthly): the five dimensions of 客户经理考核制度 per customer manager.

Inputs, all read with SQL aggregates for the month (local Asia/Shanghai boundaries):

* imported facts (``bpm_fact``, ``bpm facts import``) of each manager, pivoted to one row per
  manager with conditional aggregation: the metric names the rules file uses (revenues and
  their basic / full / challenge targets, member growth and target, product promotions and
  target, churned customers and the total of group customers);
* engine facts from our own tables:
  - ``agreements_signed``: ``group_agreement`` ``sign`` tasks the manager completed in the month
    (a new group agreement signed: counted towards industry-product promotion by default);
  - ``complaints_dissatisfied``: ``complaint_handling`` instances whose registration names
    the manager as the person the complaint is about (field ``manager_concerned`` of the
    form ``complaint_intake``, 涉及人员) and whose closing call (``close`` task) was
    completed in the month with satisfaction ``dissatisfied`` (a deduction by default).
    000 「对客户经理执行“4W”服务情况通过抽查以及客户投诉进行监控」: complaints *about* the
    manager count. Who registered the complaint does not matter: a manager who took a
    complaint in as first responder (首问负责制) is not blamed for it, and a complaint naming
    nobody (network, billing ...) deducts from nobody.

  - ``perception_score``: the average ``call_score`` (0-100) of the manager's reached
    ``perception_survey`` calls of the month (``engine.jobs.perception``; 000 篇3/4 感知度).

Customer managers are the active users with role ``customer_manager`` and an org unit (a
manager without one has nobody to review them and is left out). 001 客户经理考核制度
「客户经理的的考核直接由重要室经理进行考核,报集团客户部,集团客户部进行审核无误后报分管市场副总审批」:
customer managers work in the key-account room (重要室, org unit kind ``room``) of the group
customer department (集团客户部), and the sheets are computed per unit of the managers (one
per room). Scoring is ``engine.jobs.scoring.score_customer_manager`` with
``engine/jobs/data/scoring_rules.json``; the dimensions with ``room_share_pct`` (a-c) are also
scored against the room's month: the sums of the metrics over the managers of the same unit
(001 「…及重要室当月集团收入为标准」).

Result rows (``bpm_job_result``, job ``customer_manager_kpi``):

* ``subject_type='user'``, ``subject_key`` = username, ``unit_key`` = the manager's room, ``rank`` =
  rank within the room by total. ``metrics``: one score per dimension key (``revenue``,
  ``informatisation``, ``members``, ``promotion``, ``retention``, ``perception``: what the item
  earned, bonuses included), ``<key>_own`` / ``<key>_room`` (the two standards of a-c),
  ``<key>_tier`` / ``<key>_room_tier`` for tier dimensions (challenge | full | basic |
  below_basic), ``churn_rate_pct``, ``complaints`` and ``adjustments`` (points), ``total``
  (never above the sheet's full mark ``max_total`` of the rules, 满分100分, nor below 0),
  ``raw_total`` (the sum before that cap), ``full_marks``, ``missing`` (comma-separated
  dimensions without facts, scored 0) and every input that was present.
* one row per unit, ``subject_type`` = the unit's kind (``room``; ``hall`` for managers kept in a
  service hall), ``subject_key`` = the unit: ``managers``, ``avg_total``, ``min_total``,
  ``max_total``, ``with_missing`` (managers with a missing dimension) and ``room_<metric>``, the
  room's month the a-c dimensions were scored against. The row ``status`` (draft | final)
  follows the unit's review.

Review (``processes/kpi_review.bpmn``): rows are written ``draft`` and each room gets one
``bpm_score_sheet`` (``in_review``) and one review instance: its key-account room manager
(重要室经理) assesses (task scoped to the room), the department manager of the room's department
(集团客户部) checks, the vice-president approves. That approval makes the rows ``final``
(``engine.jobs.review``).
Re-running a period:

* sheet ``in_review`` with its review open: the draft rows are replaced and the same review is
  kept; if the scores changed, the review receives ``score_sheet_recomputed`` and starts
  again at the room manager with the new summary and no earlier decisions (still one review);
* sheet ``rejected`` (or its review was cancelled): a fresh review is started;
* sheet ``final``: the approved rows are kept unchanged (an approved month is not silently
  re-scored).
When ``kpi_review`` is not deployed the sheet stays ``in_review`` without an instance
(audited ``score_review_not_started``); the next run starts the review.
"""

from __future__ import annotations

from sqlalchemy import case, func, select

from engine.identity.names import split_name
from engine.jobs.perception import perception_scores
from engine.jobs.results import replace_results
from engine.jobs.review import STAGES
from engine.jobs.scoring import (
    DEFAULT_MAX_TOTAL,
    ENGINE_METRICS,
    competition_ranks,
    kpi_metric_names,
    load_rules,
    score_customer_manager,
)
from engine.jobs.sheets import SheetReview, missing_text, review_sheet, tier_table
from engine.store.models import Fact, JobResult, OrgUnit, ProcessInstance, ScoreSheet, Task, User, UserRole

JOB = "customer_manager_kpi"
ROLE = "customer_manager"
REVIEW_PROCESS = "kpi_review"
RECOMPUTED_MESSAGE = "score_sheet_recomputed"
# an open review gets new figures when the summary or the number of managers changed; every
# step's decision fields are cleared so no earlier decision pre-fills a form
REVIEW = SheetReview(JOB, REVIEW_PROCESS, RECOMPUTED_MESSAGE,
                     tuple(name for stage in STAGES.values() for name in (stage.decision, stage.reject_reason,
                                                                          stage.comment)),
                     compared=("summary", "managers"))


def managers_query():
    return (
        select(User.username, User.display_name, User.org_unit)
        .join(UserRole, UserRole.user_id == User.id)
        .where(UserRole.role == ROLE, User.is_active.is_(True), User.org_unit.is_not(None))
    )


def _fact_pivot(period_key: str, metrics: list[str]):
    """One row per manager, one column per imported metric (conditional aggregation)."""
    managers = managers_query().subquery()
    columns = [func.max(case((Fact.metric == name, Fact.value))).label(name) for name in metrics]
    return (
        select(Fact.subject_key, *columns)
        .where(Fact.period == period_key, Fact.metric.in_(metrics), Fact.subject_key.in_(select(managers.c.username)))
        .group_by(Fact.subject_key)
    )


def _agreements_signed(period):
    return (
        select(Task.completed_by.label("username"), func.count().label("n"))
        .where(Task.process_key == "group_agreement", Task.element_id == "sign", Task.status == "completed",
               Task.completed_at >= period.start, Task.completed_at < period.end)
        .group_by(Task.completed_by)
    )


MANAGER_CONCERNED = "manager_concerned"  # complaint_intake: the staff member the complaint is about (涉及人员)


def _complaints_dissatisfied(period):
    """Dissatisfied complaints closed in the month, by the person they are about (not by who registered them)."""
    concerned = ProcessInstance.data[MANAGER_CONCERNED].as_string()
    return (
        select(concerned.label("username"), func.count().label("n"))
        .select_from(Task)
        .join(ProcessInstance, ProcessInstance.id == Task.instance_id)
        .where(Task.process_key == "complaint_handling", Task.element_id == "close", Task.status == "completed",
               Task.completed_at >= period.start, Task.completed_at < period.end,
               Task.submitted["satisfaction"].as_string() == "dissatisfied",
               concerned.is_not(None), concerned != "")
        .group_by(concerned)
    )


def _room_line(kpi_rules: dict, room: dict | None) -> str | None:
    """The room's month the a-c items were also scored against: actual / full target per item."""
    parts = []
    for dim in kpi_rules["dimensions"]:
        if not dim.get("room_share_pct") or not room:
            continue
        actual = sum(room.get(m) or 0 for m in dim["actual"])
        target = room.get(dim["targets"]["full"]) if "targets" in dim else room.get(dim.get("target"))
        parts.append(f"{dim['label_zh']} {actual:g}/{target:g}（占{dim['room_share_pct']:g}%）" if target is not None
                     else f"{dim['label_zh']} {actual:g}")
    return f"重要室当月合计（实际/指标）：{'；'.join(parts)}" if parts else None


def _summary(kpi_rules: dict, rows: list[dict], room: dict | None = None) -> str:
    """The sheet as the reviewers read it: the full mark, the room's month, then per manager the
    total and what each item earned; a total cut to the full mark says so and gives the sum
    before the cap."""
    labels = [(d["key"], d["label_zh"], d["points"]) for d in kpi_rules["dimensions"]]
    full_marks = float(kpi_rules.get("max_total", DEFAULT_MAX_TOTAL))
    lines = [f"满分{full_marks:g}分（各项含加分，总分超过满分的按满分计）"]
    room_line = _room_line(kpi_rules, room)
    if room_line:
        lines.append(room_line)
    for row in sorted(rows, key=lambda r: (r["rank"] or 0, r["subject_key"])):
        m = row["metrics"]
        parts = [f"{label} {m.get(key, 0):g}/{points:g}" for key, label, points in labels]
        if m.get("adjustments"):
            parts.append(f"调整 {m['adjustments']:g}")
        line = f"{row['rank']}. {split_name(row['subject_label'] or row['subject_key'])[0]}：总分 {m['total']:g}（{'；'.join(parts)}）"
        if m.get("raw_total") is not None and m["raw_total"] > m["total"]:
            line += f" 合计{m['raw_total']:g}分，超过满分，按满分{m.get('full_marks', full_marks):g}分计"
        if m.get("missing"):
            line += " " + missing_text(m["missing"], {key: label for key, label, _points in labels})
        lines.append(line)
    return "\n".join(lines)


def _room_values(names: list[str], people: list[dict]) -> dict:
    """The room's month: each metric summed over the room's managers (None when none has it)."""
    out = {}
    for name in names:
        present = [p[name] for p in people if p.get(name) is not None]
        out[name] = float(sum(present)) if present else None
    return out


def _score_managers(session, period, rules: dict, frozen: set[str]) -> tuple[dict[str, list[dict]], dict[str, dict]]:
    """Each customer manager's scored row (facts imported and counted by the engine) by unit, and
    each unit's month (the sums the a-c dimensions are also scored against); units whose sheet
    is final are left out."""
    kpi_rules = rules["customer_manager_kpi"]
    table = tier_table(session, kpi_rules["tiers"].get("decision"))
    imported = [name for name in kpi_metric_names(rules) if name not in ENGINE_METRICS]
    managers = session.execute(managers_query().order_by(User.org_unit, User.username)).all()
    facts = {row.subject_key: row._mapping for row in session.execute(_fact_pivot(period.key, imported))}
    engine_facts = {
        "agreements_signed": dict(session.execute(_agreements_signed(period)).all()),
        "complaints_dissatisfied": dict(session.execute(_complaints_dissatisfied(period)).all()),
    }
    perception = perception_scores(session, period)
    inputs: dict[str, list[tuple[str, str, dict]]] = {}
    for username, display_name, unit in managers:
        if unit in frozen:
            continue
        values = {name: facts.get(username, {}).get(name) for name in imported}
        for name, counts in engine_facts.items():
            values[name] = counts.get(username, 0)
        values["perception_score"] = perception.get(username)  # None: no reached call, the item is missing
        inputs.setdefault(unit, []).append((username, display_name, values))
    by_unit: dict[str, list[dict]] = {}
    rooms: dict[str, dict] = {}
    names = kpi_metric_names(rules)
    for unit, people in inputs.items():
        room = rooms[unit] = _room_values(names, [values for _u, _n, values in people])
        by_unit[unit] = [{
            "unit_key": unit, "subject_type": "user", "subject_key": username, "subject_label": display_name,
            "metrics": score_customer_manager(kpi_rules, values, table, room_values=room, room_size=len(people)),
            "rank": None,
        } for username, display_name, values in people]
    return by_unit, rooms


def _ranked_rows(by_unit: dict[str, list[dict]], units: dict[str, tuple[str, str]], rooms: dict[str, dict],
                 room_metrics: list[str]) -> list[dict]:
    """The managers ranked within their room, and a summary row per room (subject type: the unit's kind)."""
    rows: list[dict] = []
    for unit, people in sorted(by_unit.items()):
        ranks = competition_ranks([(p["subject_key"], p["metrics"]["total"]) for p in people])
        for p in people:
            p["rank"] = ranks[p["subject_key"]]
        totals = [p["metrics"]["total"] for p in people]
        rows.extend(people)
        name, kind = units.get(unit, (unit, "room"))
        room = {f"room_{m}": rooms[unit][m] for m in room_metrics if rooms.get(unit, {}).get(m) is not None}
        rows.append({
            "unit_key": unit, "subject_type": kind or "room", "subject_key": unit, "subject_label": name,
            "metrics": {"managers": len(people), "avg_total": round(sum(totals) / len(totals), 2),
                        "min_total": min(totals), "max_total": max(totals),
                        "with_missing": sum(1 for p in people if p["metrics"]["missing"]), **room},
            "rank": None,
        })
    return rows


def _review_sheets(uow, period, kpi_rules: dict, by_unit: dict[str, list[dict]], sheets: dict,
                   unit_names: dict[str, str], rooms: dict[str, dict]) -> None:
    """A score sheet under review per room: started, refreshed, or reopened after a rejection."""
    for unit, people in sorted(by_unit.items()):
        name = split_name(unit_names.get(unit, unit))[0]  # case data reads in Chinese (names.py)
        # hall / hall_name: what reviews started before the rooms (kpi_review version 2) show
        data = {"job": JOB, "period": period.key, "unit": unit, "unit_name": name, "hall": unit, "hall_name": name,
                "managers": len(people), "summary": _summary(kpi_rules, people, rooms.get(unit))}
        review_sheet(uow, REVIEW, period, unit, sheets.get(unit), data, len(people))


def compute_customer_manager_kpi(uow, period) -> int:
    rules = load_rules()
    session = uow.session
    sheets = {s.unit_key: s for s in session.execute(
        select(ScoreSheet).where(ScoreSheet.job == JOB, ScoreSheet.period == period.key)).scalars()}
    frozen = {unit for unit, s in sheets.items() if s.status == "final"}
    units = {key: (name, kind) for key, name, kind in session.execute(select(OrgUnit.key, OrgUnit.name, OrgUnit.kind))}
    unit_names = {key: name for key, (name, _kind) in units.items()}
    by_unit, rooms = _score_managers(session, period, rules, frozen)
    room_metrics = sorted({m for d in rules["customer_manager_kpi"]["dimensions"] if d.get("room_share_pct")
                           for m in [*d.get("actual", []), *d.get("targets", {}).values(), d.get("target")] if m})
    rows = _ranked_rows(by_unit, units, rooms, room_metrics)
    # approved rooms keep their rows exactly as approved
    kept = session.execute(
        select(JobResult.unit_key, JobResult.subject_type, JobResult.subject_key, JobResult.subject_label,
               JobResult.metrics, JobResult.rank, JobResult.status)
        .where(JobResult.job == JOB, JobResult.period == period.key, JobResult.unit_key.in_(frozen or {""}))
    ).mappings().all() if frozen else []
    written = replace_results(uow, JOB, period, rows + [dict(r) for r in kept], status="draft")
    _review_sheets(uow, period, rules["customer_manager_kpi"], by_unit, sheets, unit_names, rooms)
    session.flush()
    return written


__all__ = ["compute_customer_manager_kpi", "JOB", "REVIEW_PROCESS"]
