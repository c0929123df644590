"""The scoring processes' extension of the runtime (:data:`EXTENSION`).

A user task marked with a ``camunda:property`` is dispatched here before the task is marked
completed, inside the same unit of work; raising refuses the completion and writes nothing:

* ``score_review=customer_manager_kpi`` with ``review_stage`` (``processes/kpi_review.bpmn``):
  one step of the three-step review of a room's score sheet (001 客户经理考核制度: the key-account
  room manager assesses, stage ``room``; the group customer department checks, ``department``;
  the vice-president approves, ``vice_president``; stage ``hall`` is the hall manager's step of
  the reviews started before the rooms, version 2). Each stage has its own form fields
  (``STAGES``), so an earlier step's decision never pre-fills a later one. ``approve`` at an
  intermediate stage is audited ``score_sheet_checked`` and the sheet stays ``in_review``;
  ``approve`` at the final stage makes the hall's result rows and the sheet ``final``
  (``score_sheet_approved``); ``reject`` at any stage marks the sheet ``rejected`` (rows stay
  ``draft``; re-running the job for the period starts a fresh review) and is audited
  ``score_sheet_rejected`` with the stage and reason. Every event carries the totals decided on.
  A task without ``review_stage`` (a version-1 review, one step) decides finally.
* ``record=inspection`` (``processes/counter_inspection.bpmn``): one counter-service
  checklist. The person checked must be an active ``counter_staff`` user of the task's hall
  (422 naming ``staff_username`` otherwise); the item points (clamped to each item's points in
  the rules) are written as one ``bpm_inspection`` row (audited ``inspection_recorded``) and
  ``inspection_score`` is added to the task's data.
* ``record=perception_sample`` / ``record=perception_call`` (``processes/perception_survey.bpmn``):
  the sample of a customer manager's customers and each call of the perception survey
  (``engine.jobs.perception``); the sample form's select of managers is filled when the task
  is read (``task_read``).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update

from engine.clock import utcnow
from engine.errors import Conflict, ValidationFailed
from engine.extensions import Completion, DeployContext, Element, Extension
from engine.jobs import perception
from engine.jobs.periods import LOCAL_TZ
from engine.jobs.scoring import checklist_score, load_rules
from engine.store.models import Inspection, JobResult, ScoreSheet, User, UserRole

REVIEWED_JOBS = ("customer_manager_kpi",)


@dataclass(frozen=True)
class Stage:
    """The form fields of one review step, and whether its approval makes the scores final."""

    decision: str
    reject_reason: str
    comment: str
    final: bool


# review_stage property -> its fields (forms/kpi_review*.form); the last stage decides
STAGES = {
    "room": Stage("decision", "reject_reason", "review_comment", final=False),
    "hall": Stage("decision", "reject_reason", "review_comment", final=False),
    "department": Stage("check_decision", "check_reject_reason", "check_comment", final=False),
    "vice_president": Stage("approval_decision", "approval_reject_reason", "approval_comment", final=True),
}
SINGLE_STEP = Stage("decision", "reject_reason", "review_comment", final=True)  # kpi_review version 1


RECORDS = ("inspection", "perception_sample", "perception_call")


def check(element: Element, ctx: DeployContext) -> list[str]:
    """The values of ``score_review``, ``review_stage`` and ``record`` name something that exists."""
    props, messages = element.properties, []
    if "score_review" in props and props["score_review"] not in REVIEWED_JOBS:
        messages.append(f"score_review {props['score_review']!r} names no reviewed job ({', '.join(REVIEWED_JOBS)})")
    if "review_stage" in props:
        if props["review_stage"] not in STAGES:
            messages.append(f"review_stage {props['review_stage']!r} is not one of {', '.join(STAGES)}")
        if "score_review" not in props:
            messages.append("review_stage belongs to a score_review task")
    if "record" in props and props["record"] not in RECORDS:
        messages.append(f"record {props['record']!r} is not one of {', '.join(RECORDS)}")
    return messages


def completing(ctx: Completion) -> dict:
    """Before the task is marked completed, in the same unit of work; raising refuses it."""
    props = ctx.task.properties or {}
    if props.get("score_review"):
        return decide_review(ctx.uow, props["score_review"], ctx.task, ctx.inst, ctx.definition, ctx.data)
    if props.get("record") == "inspection":
        return record_inspection(ctx.uow, ctx.task, ctx.inst, ctx.data)
    if props.get("record") == "perception_sample":
        return perception.record_sample(ctx.uow, ctx.task, ctx.inst, ctx.data)
    if props.get("record") == "perception_call":
        return perception.record_call(ctx.uow, ctx.task, ctx.inst, ctx.data)
    return ctx.data


# --------------------------------------------------------------------------- score sheet review


def _current_properties(definition, task) -> dict:
    """The task's properties in the instance's current definition. A task row keeps the
    properties of the version it was created in, but an instance migrated to a newer version
    follows that version's steps: a one-step review moved to the three-step version must not
    make the scores final at the hall manager's approval."""
    info = ((definition.meta or {}).get("elements") or {}).get(task.element_id) or {}
    return info.get("properties") or task.properties or {}


def decide_review(uow, job: str, task, inst, definition, cleaned: dict) -> dict:
    session = uow.session
    if job not in REVIEWED_JOBS:
        raise Conflict(f"task property score_review={job!r} names no reviewed job ({', '.join(REVIEWED_JOBS)})")
    stage_key = _current_properties(definition, task).get("review_stage")
    stage = STAGES.get(stage_key) if stage_key else SINGLE_STEP
    if stage is None:
        raise Conflict(f"task property review_stage={stage_key!r} is not one of {', '.join(STAGES)}")
    sheet = session.execute(
        select(ScoreSheet).where(ScoreSheet.instance_id == inst.id).with_for_update()
    ).scalar_one_or_none()
    if sheet is None or sheet.job != job:
        raise Conflict("this review is not linked to a score sheet: reviews are started by the customer_manager_kpi job")
    if sheet.status != "in_review":
        raise Conflict(f"the score sheet of {sheet.unit_key} {sheet.period} is already {sheet.status}")
    decision = cleaned.get(stage.decision)
    if decision not in ("approve", "reject"):
        raise ValidationFailed("form data is invalid", {stage.decision: ["must be approve or reject"]})
    rows = select(JobResult.subject_type, JobResult.subject_key, JobResult.metrics).where(
        JobResult.job == sheet.job, JobResult.period == sheet.period, JobResult.unit_key == sheet.unit_key)
    totals = {r.subject_key: (r.metrics or {}).get("total") for r in session.execute(rows) if r.subject_type == "user"}
    now, who = utcnow(), uow.actor.username
    before = {"status": sheet.status}
    details = dict(instance_id=inst.id, task_id=task.id, element_id=task.element_id, job=sheet.job,
                   period=sheet.period, unit_key=sheet.unit_key, sheet_id=sheet.id, totals=totals,
                   stage=stage_key or "single", comment=cleaned.get(stage.comment))
    if decision == "approve" and not stage.final:
        uow.audit("score_sheet_checked", before=before, after={"status": sheet.status}, **details)
    elif decision == "approve":
        done = session.execute(
            update(JobResult)
            .where(JobResult.job == sheet.job, JobResult.period == sheet.period, JobResult.unit_key == sheet.unit_key)
            .values(status="final")
            .execution_options(synchronize_session=False)
        ).rowcount
        sheet.status, sheet.decided_at, sheet.decided_by = "final", now, who
        uow.audit("score_sheet_approved", before=before, after={"status": "final"}, rows=done, **details)
    else:
        sheet.status, sheet.decided_at, sheet.decided_by = "rejected", now, who
        uow.audit("score_sheet_rejected", before=before, after={"status": "rejected"},
                  reason=cleaned.get(stage.reject_reason), **details)
    session.flush()
    return cleaned


# --------------------------------------------------------------------------- counter inspection

STAFF_FIELD = "staff_username"
STAFF_ROLE = "counter_staff"


def _staff_error(message: str) -> ValidationFailed:
    return ValidationFailed("form data is invalid", {STAFF_FIELD: [message]})


def record_inspection(uow, task, inst, cleaned: dict) -> dict:
    session = uow.session
    unit = task.org_unit or inst.org_unit
    staff = (cleaned.get(STAFF_FIELD) or "").strip()
    user = session.execute(select(User).where(User.username == staff)).scalar_one_or_none()
    if user is None or not user.is_active:
        raise _staff_error(f"no active user {staff!r}")
    roles = set(session.execute(select(UserRole.role).where(UserRole.user_id == user.id)).scalars())
    if STAFF_ROLE not in roles:
        raise _staff_error(f"{staff!r} is not counter staff (营业员)")
    if unit is None or user.org_unit != unit:
        raise _staff_error(f"{staff!r} does not work in this hall ({unit or 'no hall'})")
    if staff == uow.actor.username:
        raise _staff_error("an inspector cannot inspect themselves")
    items = load_rules()["counter_service"]["items"]
    absent = [item["key"] for item in items if item["key"] not in cleaned]
    if absent:
        raise Conflict(f"the inspection form lacks checklist items {', '.join(absent)} of the scoring rules: "
                       "deploy a counter_inspection form that matches engine/jobs/data/scoring_rules.json")
    points, score = checklist_score(items, cleaned)
    now = utcnow()
    day = now.astimezone(LOCAL_TZ).date().isoformat()
    if session.execute(select(Inspection.id).where(Inspection.instance_id == inst.id)).first() is not None:
        raise Conflict("this inspection is already recorded")
    session.add(Inspection(instance_id=inst.id, inspected_user=staff, inspector=uow.actor.username, unit_key=unit,
                           inspected_at=now, day=day, items=points, score=score))
    session.flush()
    uow.audit("inspection_recorded", instance_id=inst.id, task_id=task.id, element_id=task.element_id,
              inspected_user=staff, unit_key=unit, day=day, score=score, items=points)
    return {**cleaned, STAFF_FIELD: staff, "inspection_score": score}


EXTENSION = Extension("score_review", properties=("score_review", "review_stage", "record"), check=check,
                      task_completing=completing, task_read=perception.task_read)
