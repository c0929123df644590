"""Process instances: start, read, list, retry after an incident, timeline."""

from __future__ import annotations

import uuid

from marshmallow import ValidationError
from sqlalchemy import bindparam, func, select

from engine.clock import utcnow
from engine.errors import BadRequest, Conflict, Forbidden, NotFound, ValidationFailed
from engine.forms import definitions as formdefs
from engine.forms.model import document_ids, validate_submission
from engine.identity.actor import Actor
from engine.identity.policy import (
    can_read_instance,
    may_cancel_instance,
    may_retry,
    may_start,
    reads_everything,
    unit_managed_by,
)
from engine.runtime import definitions, documents, references
from engine.runtime.spiff import StepResult, advance, new_workflow, start_on
from engine.runtime.steps import attach, load_workflow, save, subscribes
from engine.store.models import EventSubscription, ProcessDefinition, ProcessInstance, Task, Timer
from engine.store.records import InstanceRecord, load_instance

STATUSES = ("running", "completed", "incident", "cancelled", "suspended")
_T, _TM, _D = Task.__table__, Timer.__table__, ProcessDefinition.__table__
DEFINITION_LABEL = select(_D.c.version, _D.c.name).where(_D.c.id == bindparam("b_id"))
OPEN_TASKS = select(_T).where(_T.c.instance_id == bindparam("b_instance"), _T.c.status == "open").order_by(
    _T.c.created_at, _T.c.id)
PENDING_TIMERS = (
    select(_TM.c.id, _TM.c.element_id, _TM.c.kind, _TM.c.fire_at)
    .where(_TM.c.instance_id == bindparam("b_instance"), _TM.c.state == "pending")
    .order_by(_TM.c.fire_at)
)


def validate_form_data(session, engine, form_key: str, version: int | None, data) -> tuple[dict, list[str]]:
    """Validate ``data`` against a deployed form; 422 with ``{field: [messages]}``."""
    if version is None:
        version = formdefs.latest_version(session, form_key)
        if version is None:
            raise NotFound(f"form {form_key!r} not found")
    return validate_against(formdefs.form_content(engine, session, form_key, version), data)


def validate_against(content: dict, data) -> tuple[dict, list[str]]:
    """Validate ``data`` against a form's content: cleaned data and the document ids it names."""
    try:
        cleaned = validate_submission(content, data)
    except ValidationError as exc:
        raise ValidationFailed("form data is invalid", exc.messages) from exc
    return cleaned, document_ids(content, cleaned)


def validate_start_data(session, engine, definition: ProcessDefinition, data: dict) -> tuple[dict, list[str]]:
    """``data`` of a new instance checked against the start form; a process without one takes
    no data (an empty form: every field is unknown)."""
    start_form = definition.meta.get("start_form")
    if start_form:
        return validate_form_data(session, engine, start_form, None, data)
    if data:
        raise ValidationFailed("form data is invalid", {
            key: [f"Unknown field: {definition.key!r} has no start form, so a new instance takes no data."]
            for key in list(data)[:50]})
    return {}, []


def start(engine, uow, key: str, data: dict, business_key: str | None = None) -> ProcessInstance:
    definition = definitions.latest_of(engine, uow.session, key)
    starters = definition.meta.get("candidate_starter_groups", [])
    if not may_start(uow.actor, starters):
        raise Forbidden(f"only {', '.join(starters)} may start {key!r}" if starters else
                        f"{key!r} is not startable by users (it names no camunda:candidateStarterGroups): only an "
                        "administrator may start it by hand")
    if not (definition.meta or {}).get("none_start", True):
        raise Conflict(_starts_on(definition))
    data, docs = validate_start_data(uow.session, engine, definition, data)
    inst_id = str(uuid.uuid4())
    spec, subspecs = definitions.spec_for(engine, definition)
    workflow = attach(engine, definition, new_workflow(spec, subspecs))
    workflow.task_tree.data.update(data)
    result = advance(workflow)
    inst = InstanceRecord(
        id=inst_id,
        definition_id=definition.id,
        process_key=definition.key,
        business_key=business_key,
        status="running",
        data={},
        state="",
        visited=[],
        incident=None,
        lock_version=1,
        started_by=uow.actor.username,
        started_at=utcnow(),
        ended_at=None,
        org_unit=uow.actor.org_unit,
    )
    references.assign(uow.session, definition, inst)
    uow.audit(
        "instance_started",
        instance_id=inst_id,
        key=definition.key,
        version=definition.version,
        business_key=inst.business_key,
        reference=inst.reference,
        data=data,
    )
    save(uow, inst, definition, workflow, result, new=True)
    documents.link(uow, "data", docs, inst_id)
    return inst


def _starts_on(definition) -> str:
    meta = definition.meta or {}
    on = [f"message {m!r}" for m in meta.get("message_starts", [])] + [f"signal {m!r}" for m in meta.get("signal_starts", [])]
    return (f"{definition.key!r} has no plain start event: it starts on {', '.join(on) or 'an event'} "
            "(POST /api/messages or /api/signals)")


def start_unchecked(uow, key: str, data: dict, org_unit: str | None, business_key: str | None = None,
                    trigger=None, definition=None, parent: tuple[str, str, str] | None = None,
                    **audit_details) -> InstanceRecord:
    """Start the latest version of ``key`` on the engine's own initiative (linked starts,
    congestion alerts, a message or signal start with ``trigger``, the BpmnEvent it starts on):
    the model or the evaluator decided it, so starter groups are not checked; ``started_by``
    still records whose action caused it. ``definition`` picks a version (a call activity's
    binding); ``parent`` is ``(instance id, call activity, its waiting task)`` of a called instance."""
    definition = definition or definitions.get_version(uow.session, key)
    spec, subspecs = definitions.spec_for(uow.engine, definition)
    workflow = attach(uow.engine, definition, new_workflow(spec, subspecs))
    workflow.task_tree.data.update(data)
    if trigger is not None:
        start_on(workflow, trigger)
    elif not (definition.meta or {}).get("none_start", True):
        raise Conflict(_starts_on(definition))
    result = advance(workflow)
    inst = InstanceRecord(
        id=str(uuid.uuid4()), definition_id=definition.id, process_key=definition.key, business_key=business_key,
        status="running", data={}, state="", visited=[], incident=None, lock_version=1,
        started_by=uow.actor.username, started_at=utcnow(), ended_at=None, org_unit=org_unit,
        parent_id=parent[0] if parent else None, parent_element=parent[1] if parent else None,
        parent_task=parent[2] if parent else None,
    )
    references.assign(uow.session, definition, inst)
    if inst.reference is not None:
        audit_details = {**audit_details, "reference": inst.reference}
    uow.audit("instance_started", instance_id=inst.id, key=definition.key, version=definition.version, data=data,
              **audit_details)
    save(uow, inst, definition, workflow, result, new=True)
    return inst


def get_readable(session, actor: Actor, instance_id: str) -> ProcessInstance:
    inst = session.get(ProcessInstance, instance_id)
    if inst is None:
        raise NotFound(f"process instance {instance_id!r} not found")
    if not can_read_instance(session, actor, inst):
        raise Forbidden("you may not read this process instance")
    return inst


CHILDREN = (select(ProcessInstance.id, ProcessInstance.process_key, ProcessInstance.parent_element,
                   ProcessInstance.status, _D.c.name)
            .join(_D, _D.c.id == ProcessInstance.definition_id)
            .where(ProcessInstance.parent_id == bindparam("b_parent")).order_by(ProcessInstance.started_at))


WAITING_AT = select(EventSubscription.element_id).where(EventSubscription.instance_id == bindparam("b_instance"))


def open_task_rows(session, instance_id: str) -> list:
    """The instance's open task rows (whole rows), oldest first."""
    return session.connection().execute(OPEN_TASKS, {"b_instance": instance_id}).all()


def instance_to_dict(session, inst: ProcessInstance, detail: bool = True, engine=None, label=None,
                     open_rows=None) -> dict:
    """The instance as the API shows it; with ``engine``, its definition comes from the cache of
    versions, and a definition that waits for nothing by name skips the subscriptions' read;
    ``label`` (the definition's version and name) is what a list read for all its rows at once;
    ``open_rows``, the instance's open task rows when the caller read them already."""
    if detail:
        # Core reads below bypass autoflush: write pending ORM changes of this unit of work
        # first (save() changes timer rows through the ORM), or a response lists stale timers
        session.flush()
    conn = session.connection()
    full = definitions.by_id(engine, session, inst.definition_id) if engine is not None and label is None else None
    definition = label or full or conn.execute(DEFINITION_LABEL, {"b_id": inst.definition_id}).one()
    out = {
        "id": inst.id,
        "process_key": inst.process_key,
        "definition_version": definition.version,
        "name": definition.name,
        "business_key": inst.business_key,
        "reference": inst.reference,
        "summary": references.summary_values(inst.summary),
        "status": inst.status,
        "started_by": inst.started_by,
        "started_at": inst.started_at,
        "ended_at": inst.ended_at,
        "incident": inst.incident,
        "org_unit": inst.org_unit,
        "parent": {"id": inst.parent_id, "element_id": inst.parent_element} if inst.parent_id else None,
    }
    if detail:
        out["children"] = [{"id": c.id, "process_key": c.process_key, "name": c.name, "element_id": c.parent_element,
                            "status": c.status} for c in conn.execute(CHILDREN, {"b_parent": inst.id})]
        waits = full is None or subscribes(full)
        out["waiting_at"] = sorted(set(conn.execute(WAITING_AT, {"b_instance": inst.id}).scalars())) if waits else []
        tasks = open_rows if open_rows is not None else open_task_rows(session, inst.id)
        timers = conn.execute(PENDING_TIMERS, {"b_instance": inst.id})
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


def list_instances(session, actor: Actor, key: str | None, status: str | None, page: int, per_page: int,
                   q: str | None = None) -> dict:
    """A page of the instances ``actor`` may read, newest first; ``q`` searches the reference, the
    business key and the list fields' values (engine/runtime/references.py) and the id's start."""
    if status is not None and status not in STATUSES:
        raise BadRequest(f"status must be one of {', '.join(STATUSES)}")
    query = select(ProcessInstance)
    search = references.search_params(q)
    if search is not None:
        query = query.where(references.search_clause(ProcessInstance.__table__).params(**search))
    if key:
        query = query.where(ProcessInstance.process_key == key)
    if status:
        query = query.where(ProcessInstance.status == status)
    if not reads_everything(actor):
        participated = select(Task.instance_id).where(
            (Task.assignee == actor.username) | (Task.completed_by == actor.username)
        )
        visible = (ProcessInstance.started_by == actor.username) | ProcessInstance.id.in_(participated)
        if unit_managed_by(actor):
            visible = visible | (ProcessInstance.org_unit == actor.org_unit)
        query = query.where(visible)
    total = session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    rows = session.execute(
        query.order_by(ProcessInstance.started_at.desc(), ProcessInstance.id).offset((page - 1) * per_page).limit(per_page)
    ).scalars().all()
    # the page's definitions in one read, not one per row
    ids = sorted({r.definition_id for r in rows})
    labels = {d.id: d for d in session.execute(select(_D.c.id, _D.c.version, _D.c.name).where(_D.c.id.in_(ids)))} if ids else {}
    return {
        "items": [instance_to_dict(session, r, detail=False, label=labels[r.definition_id]) for r in rows],
        "page": page,
        "per_page": per_page,
        "total": total,
    }


def retry(engine, uow, instance_id: str, data: dict | None = None) -> ProcessInstance:
    """Re-run the failed element (optionally with corrected variables) and continue."""
    if not may_retry(uow.actor):
        raise Forbidden("only an administrator may retry incidents")
    inst = load_instance(uow.session, instance_id)
    if inst is None:
        raise NotFound(f"process instance {instance_id!r} not found")
    if inst.status != "incident":
        raise Conflict(f"instance is {inst.status}, not in incident: nothing to retry")
    timer_id = (inst.incident or {}).get("timer_id")
    if timer_id is not None:
        return _retry_timer(uow, inst, timer_id)
    definition = uow.session.get(ProcessDefinition, inst.definition_id)
    workflow = load_workflow(engine, inst, definition)
    failed_id = (inst.incident or {}).get("task_id")
    failed = workflow.get_task_from_id(uuid.UUID(failed_id)) if failed_id else None
    if failed is None:
        raise Conflict("the failed element is no longer in the instance state")
    workflow.reset_from_task_id(failed.id)
    if data:
        # SpiffWorkflow's reset re-inherits the parent's data over any data passed to it
        # (parent values win), so the corrections go onto the reset, now READY, task itself.
        failed.data.update(data)
    uow.audit("incident_retried", instance_id=inst.id, element_id=inst.incident.get("element_id"), data=data or {})
    result = advance(workflow)
    save(uow, inst, definition, workflow, result)
    return inst


def cancel(engine, uow, instance_id: str, reason: str) -> InstanceRecord:
    """Terminate a running or failed instance by hand (administrators, with a reason): its open
    tasks are cancelled, its timers of every kind too, and it ends ``cancelled``."""

    if not may_cancel_instance(uow.actor):
        raise Forbidden("only an administrator may cancel a process instance")
    if not (reason or "").strip():
        raise ValidationFailed("a reason is required", {"reason": ["say why the instance is cancelled"]})
    inst = load_instance(uow.session, instance_id)
    if inst is None:
        raise NotFound(f"process instance {instance_id!r} not found")
    if inst.status not in ("running", "incident", "suspended"):
        raise Conflict(f"instance is {inst.status}: only a running instance or one in incident can be cancelled")
    return terminate(engine, uow, inst, reason.strip())


def terminate(engine, uow, inst: InstanceRecord, reason: str, **audit_details) -> InstanceRecord:
    """End ``inst`` as cancelled, with everything it waits for (no permission check: an
    administrator's cancel, or the engine cancelling a called instance with its caller)."""
    from sqlalchemy import update

    definition = uow.session.get(ProcessDefinition, inst.definition_id)
    workflow = load_workflow(engine, inst, definition)
    workflow.cancel()
    before = inst.status
    inst.ended_at = utcnow()
    uow.session.execute(update(_TM).where(_TM.c.instance_id == inst.id, _TM.c.state.in_(("pending", "failed", "suspended")))
                        .values(state="cancelled"))
    uow.audit("instance_cancelled", instance_id=inst.id, reason=reason, before={"status": before},
              after={"status": "cancelled"}, **audit_details)
    save(uow, inst, definition, workflow, StepResult("cancelled", dict(inst.data or {})))
    return inst


def _retry_timer(uow, inst: InstanceRecord, timer_id: int) -> InstanceRecord:
    """A timer given up after repeated failures (engine/scheduling/timers.py): armed again, due at once."""
    from sqlalchemy import update

    from engine.store.records import update_instance

    uow.session.execute(update(_TM).where(_TM.c.id == timer_id, _TM.c.state == "failed")
                        .values(state="pending", attempts=0, last_error=None))
    uow.audit("incident_retried", instance_id=inst.id, element_id=inst.incident.get("element_id"), timer_id=timer_id)
    inst.status, inst.incident = "running", None
    if not update_instance(uow.session, inst):
        raise Conflict("the instance was changed by someone else at the same time; reload and try again")
    return inst


def timeline(session, actor: Actor, instance_id: str) -> list[dict]:
    """The instance's audit events in seq order, with actor names, action labels and element names.

    Readable by whoever may read the instance (auditors and admins read every instance).
    """
    from engine.audit import query as audit_views

    get_readable(session, actor, instance_id)
    return audit_views.timeline(session, instance_id)


