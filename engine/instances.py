"""Process instances: start, read, list, retry after an incident, timeline."""

from __future__ import annotations

import uuid

from marshmallow import ValidationError
from sqlalchemy import func, select

from engine import definitions, documents, formdefs
from engine.access import can_read_instance, reads_everything
from engine.clock import utcnow
from engine.errors import BadRequest, Conflict, Forbidden, NotFound, ValidationFailed
from engine.forms import document_ids, validate_submission
from engine.identity import Actor
from engine.progress import load_workflow, save
from engine.runtime import advance, describe, new_workflow
from engine.store.models import AuditEvent, ProcessDefinition, ProcessInstance, Task, Timer

STATUSES = ("running", "completed", "incident", "cancelled")


def validate_form_data(session, engine, form_key: str, version: int | None, data) -> tuple[dict, list[str]]:
    """Validate ``data`` against a deployed form; 422 with ``{field: [messages]}``."""
    row = formdefs.get_form(session, form_key, version)
    content = formdefs.form_content(engine, session, row.form_key, row.version)
    try:
        cleaned = validate_submission(content, data)
    except ValidationError as exc:
        raise ValidationFailed("form data is invalid", exc.messages) from exc
    return cleaned, document_ids(content, cleaned)


def start(engine, uow, key: str, data: dict, business_key: str | None = None) -> ProcessInstance:
    definition = definitions.get_version(uow.session, key)
    starters = definition.meta.get("candidate_starter_groups", [])
    if not uow.actor.has_any(starters):
        raise Forbidden(f"only {', '.join(starters)} may start {key!r}")
    start_form = definition.meta.get("start_form")
    docs: list[str] = []
    if start_form:
        data, docs = validate_form_data(uow.session, engine, start_form, None, data)
    inst_id = str(uuid.uuid4())
    spec, subspecs = definitions.spec_for(engine, definition)
    workflow = new_workflow(spec, subspecs)
    workflow.task_tree.data.update(data)
    result = advance(workflow)
    inst = ProcessInstance(
        id=inst_id,
        definition_id=definition.id,
        process_key=definition.key,
        business_key=business_key,
        status="running",
        data={},
        state="",
        visited=[],
        started_by=uow.actor.username,
        started_at=utcnow(),
    )
    uow.audit(
        "instance_started",
        instance_id=inst_id,
        key=definition.key,
        version=definition.version,
        business_key=business_key,
        data=data,
    )
    save(uow, inst, definition, workflow, result, new=True)
    documents.link(uow, "data", docs, inst_id)
    return inst


def get_readable(session, actor: Actor, instance_id: str) -> ProcessInstance:
    inst = session.get(ProcessInstance, instance_id)
    if inst is None:
        raise NotFound(f"process instance {instance_id!r} not found")
    if not can_read_instance(session, actor, inst):
        raise Forbidden("you may not read this process instance")
    return inst


def instance_to_dict(session, inst: ProcessInstance, detail: bool = True) -> dict:
    definition = session.get(ProcessDefinition, inst.definition_id)
    out = {
        "id": inst.id,
        "process_key": inst.process_key,
        "definition_version": definition.version,
        "name": definition.name,
        "business_key": inst.business_key,
        "status": inst.status,
        "started_by": inst.started_by,
        "started_at": inst.started_at,
        "ended_at": inst.ended_at,
        "incident": inst.incident,
    }
    if detail:
        tasks = session.execute(
            select(Task).where(Task.instance_id == inst.id, Task.status == "open").order_by(Task.created_at)
        ).scalars()
        timers = session.execute(
            select(Timer).where(Timer.instance_id == inst.id, Timer.state == "pending").order_by(Timer.fire_at)
        ).scalars()
        out.update(
            data=inst.data,
            completed_elements=inst.visited,
            open_tasks=[
                {
                    "id": t.id,
                    "element_id": t.element_id,
                    "name": t.name,
                    "assignee": t.assignee,
                    "candidate_groups": t.candidate_groups,
                    "created_at": t.created_at,
                    "due_at": t.due_at,
                }
                for t in tasks
            ],
            pending_timers=[
                {"id": t.id, "element_id": t.element_id, "kind": t.kind, "fire_at": t.fire_at} for t in timers
            ],
        )
    return out


def list_instances(session, actor: Actor, key: str | None, status: str | None, page: int, per_page: int) -> dict:
    if status is not None and status not in STATUSES:
        raise BadRequest(f"status must be one of {', '.join(STATUSES)}")
    query = select(ProcessInstance)
    if key:
        query = query.where(ProcessInstance.process_key == key)
    if status:
        query = query.where(ProcessInstance.status == status)
    if not reads_everything(actor):
        participated = select(Task.instance_id).where(
            (Task.assignee == actor.username) | (Task.completed_by == actor.username)
        )
        query = query.where((ProcessInstance.started_by == actor.username) | ProcessInstance.id.in_(participated))
    total = session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    rows = session.execute(
        query.order_by(ProcessInstance.started_at.desc(), ProcessInstance.id).offset((page - 1) * per_page).limit(per_page)
    ).scalars()
    return {
        "items": [instance_to_dict(session, r, detail=False) for r in rows],
        "page": page,
        "per_page": per_page,
        "total": total,
    }


def retry(engine, uow, instance_id: str, data: dict | None = None) -> ProcessInstance:
    """Re-run the failed element (optionally with corrected variables) and continue."""
    if not uow.actor.is_admin:
        raise Forbidden("only an administrator may retry incidents")
    inst = uow.session.get(ProcessInstance, instance_id)
    if inst is None:
        raise NotFound(f"process instance {instance_id!r} not found")
    if inst.status != "incident":
        raise Conflict(f"instance is {inst.status}, not in incident: nothing to retry")
    definition = uow.session.get(ProcessDefinition, inst.definition_id)
    workflow = load_workflow(engine, inst, definition)
    failed_id = (inst.incident or {}).get("task_id")
    failed = workflow.get_task_from_id(uuid.UUID(failed_id)) if failed_id else None
    if failed is None:
        raise Conflict("the failed element is no longer in the instance state")
    new_data = None
    if data:
        new_data = dict(failed.parent.data if failed.parent is not None else failed.data)
        new_data.update(data)
    workflow.reset_from_task_id(failed.id, data=new_data)
    uow.audit("incident_retried", instance_id=inst.id, element_id=inst.incident.get("element_id"), data=data or {})
    result = advance(workflow)
    save(uow, inst, definition, workflow, result)
    return inst


def timeline(session, actor: Actor, instance_id: str) -> list[dict]:
    get_readable(session, actor, instance_id)
    rows = session.execute(
        select(AuditEvent).where(AuditEvent.instance_id == instance_id).order_by(AuditEvent.seq)
    ).scalars()
    return [
        {
            "seq": r.seq,
            "at": r.at,
            "actor": r.actor,
            "action": r.action,
            "task_id": r.task_id,
            "element_id": r.element_id,
            "details": r.details,
        }
        for r in rows
    ]


__all__ = ["start", "get_readable", "instance_to_dict", "list_instances", "retry", "timeline", "describe"]
