"""The key-account room's extension of the runtime (:data:`EXTENSION`): its score review and target plan.

A user task marked with one of these ``camunda:properties`` is dispatched here before the task
is marked completed, inside the same unit of work; raising refuses the completion and writes
nothing:

* ``room_review`` = ``department`` | ``vice_president`` (``processes/room_kpi_review.bpmn``): one
  step of the review of a room's ``key_account_room_kpi`` score sheet. The department (集团客户部)
  checks: ``approve`` is audited ``score_sheet_checked``; the vice-president approves: ``approve``
  makes the room's result rows and the sheet ``final`` (``score_sheet_approved``); ``reject`` at
  either step marks the sheet ``rejected`` (``score_sheet_rejected``, with the reason; re-running
  the job starts a fresh review).
* ``target_plan`` = ``draft`` | ``approve`` (``processes/target_plan.bpmn``): the room manager's
  yearly targets are split (``engine.jobs.target_plan.draft``); the department's approval writes
  the monthly targets as facts (``engine.jobs.target_plan.approve``).
"""

from __future__ import annotations

from sqlalchemy import select, update

from engine.clock import utcnow
from engine.errors import Conflict, ValidationFailed
from engine.extensions import Completion, DeployContext, Element, Extension
from engine.jobs import target_plan
from engine.jobs.review import Stage
from engine.store.models import JobResult, ScoreSheet

JOB = "key_account_room_kpi"


STAGES = {
    "department": Stage("check_decision", "check_reject_reason", "check_comment", final=False),
    "vice_president": Stage("approval_decision", "approval_reject_reason", "approval_comment", final=True),
}
PLAN_STEPS = ("draft", "approve")


def check(element: Element, ctx: DeployContext) -> list[str]:
    props, messages = element.properties, []
    if "room_review" in props and props["room_review"] not in STAGES:
        messages.append(f"room_review {props['room_review']!r} is not one of {', '.join(STAGES)}")
    if "target_plan" in props and props["target_plan"] not in PLAN_STEPS:
        messages.append(f"target_plan {props['target_plan']!r} is not one of {', '.join(PLAN_STEPS)}")
    return messages


def completing(ctx: Completion) -> dict:
    props = ctx.task.properties or {}
    if props.get("room_review"):
        return decide(ctx.uow, props["room_review"], ctx.task, ctx.inst, ctx.data)
    if props.get("target_plan") == "draft":
        return target_plan.draft(ctx.uow, ctx.task, ctx.inst, ctx.data)
    if props.get("target_plan") == "approve":
        return target_plan.approve(ctx.uow, ctx.task, ctx.inst, ctx.data)
    return ctx.data


def decide(uow, stage_key: str, task, inst, cleaned: dict) -> dict:
    session = uow.session
    stage = STAGES.get(stage_key)
    if stage is None:
        raise Conflict(f"task property room_review={stage_key!r} is not one of {', '.join(STAGES)}")
    sheet = session.execute(
        select(ScoreSheet).where(ScoreSheet.instance_id == inst.id).with_for_update()
    ).scalar_one_or_none()
    if sheet is None or sheet.job != JOB:
        raise Conflict(f"this review is not linked to a score sheet: reviews are started by the {JOB} job")
    if sheet.status != "in_review":
        raise Conflict(f"the score sheet of {sheet.unit_key} {sheet.period} is already {sheet.status}")
    decision = cleaned.get(stage.decision)
    if decision not in ("approve", "reject"):
        raise ValidationFailed("form data is invalid", {stage.decision: ["must be approve or reject"]})
    rows = select(JobResult.subject_type, JobResult.subject_key, JobResult.metrics).where(
        JobResult.job == sheet.job, JobResult.period == sheet.period, JobResult.unit_key == sheet.unit_key)
    totals = {r.subject_key: (r.metrics or {}).get("total") for r in session.execute(rows) if r.subject_type == "user"}
    before = {"status": sheet.status}
    details = dict(instance_id=inst.id, task_id=task.id, element_id=task.element_id, job=sheet.job,
                   period=sheet.period, unit_key=sheet.unit_key, sheet_id=sheet.id, totals=totals, stage=stage_key,
                   comment=cleaned.get(stage.comment))
    if decision == "approve" and not stage.final:
        uow.audit("score_sheet_checked", before=before, after={"status": sheet.status}, **details)
    elif decision == "approve":
        done = session.execute(
            update(JobResult)
            .where(JobResult.job == sheet.job, JobResult.period == sheet.period, JobResult.unit_key == sheet.unit_key)
            .values(status="final")
            .execution_options(synchronize_session=False)
        ).rowcount
        sheet.status, sheet.decided_at, sheet.decided_by = "final", utcnow(), uow.actor.username
        uow.audit("score_sheet_approved", before=before, after={"status": "final"}, rows=done, **details)
    else:
        sheet.status, sheet.decided_at, sheet.decided_by = "rejected", utcnow(), uow.actor.username
        uow.audit("score_sheet_rejected", before=before, after={"status": "rejected"},
                  reason=cleaned.get(stage.reject_reason), **details)
    session.flush()
    return cleaned


EXTENSION = Extension("room_kpi", properties=("room_review", "target_plan"), check=check, task_completing=completing)
