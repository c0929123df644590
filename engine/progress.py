"""Persist a step: instance state, human-task rows, timer rows and audit events.

Shared by starting an instance, completing a task, firing a timer and retrying an
incident, so each of them is one transaction with the same bookkeeping.
"""

from __future__ import annotations

from sqlalchemy import select, update

from engine import formdefs
from engine.clock import utcnow
from engine.definitions import spec_for
from engine.runtime import StepResult, bpmn_id, compact, dump_state, load_state
from engine.store.models import ProcessDefinition, ProcessInstance, Task, TaskCandidate, Timer


def load_workflow(engine, inst: ProcessInstance, definition: ProcessDefinition):
    spec, subspecs = spec_for(engine, definition)
    return load_state(inst.state, spec, subspecs)


def _create_task(uow, inst: ProcessInstance, definition: ProcessDefinition, spiff_task, now) -> Task:
    element = bpmn_id(spiff_task)
    info = (definition.meta.get("elements") or {}).get(element, {})
    form_key = info.get("form_key")
    form_row = formdefs.latest(uow.session, form_key) if form_key else None
    groups = info.get("candidate_groups", [])
    row = Task(
        id=str(spiff_task.id),
        instance_id=inst.id,
        process_key=inst.process_key,
        element_id=element,
        name=info.get("name") or spiff_task.task_spec.bpmn_name,
        form_key=form_key,
        form_version=form_row.version if form_row else None,
        candidate_groups=groups,
        properties=info.get("properties", {}),
        status="open",
        created_at=now,
    )
    uow.session.add(row)
    for role in groups:
        uow.session.add(TaskCandidate(task_id=row.id, role=role))
    uow.audit("task_created", instance_id=inst.id, task_id=row.id, element_id=element, name=row.name, candidate_groups=groups)
    return row


def _sync_timers(uow, inst: ProcessInstance, result: StepResult, now) -> None:
    pending = {
        t.task_id: t
        for t in uow.session.execute(
            select(Timer).where(Timer.instance_id == inst.id, Timer.state == "pending", Timer.kind == "bpmn")
        ).scalars()
    }
    wanted = {t.task_id: t for t in result.timers}
    for task_id, row in pending.items():
        if task_id not in wanted:
            row.state = "cancelled"
        elif row.fire_at != wanted[task_id].fire_at:
            row.fire_at = wanted[task_id].fire_at
    for task_id, timer in wanted.items():
        if task_id not in pending:
            uow.session.add(
                Timer(
                    instance_id=inst.id,
                    task_id=task_id,
                    element_id=timer.element_id,
                    kind="bpmn",
                    fire_at=timer.fire_at,
                    state="pending",
                    attempts=0,
                )
            )
            uow.audit("timer_scheduled", instance_id=inst.id, element_id=timer.element_id, fire_at=timer.fire_at.isoformat())


def save(uow, inst: ProcessInstance, definition: ProcessDefinition, workflow, result: StepResult, new: bool = False) -> list[Task]:
    """Write everything one step changed; the ORM version check guards ``inst``."""
    now = utcnow()
    previous = None if new else inst.status
    inst.status = result.status
    inst.data = result.data
    inst.incident = result.incident
    inst.visited = sorted(set(inst.visited or ()) | result.completed_elements)
    compact(workflow)
    inst.state = dump_state(workflow)
    if result.status == "completed" and previous != "completed":
        inst.ended_at = now
        uow.audit("instance_completed", instance_id=inst.id)
    if result.incident and previous != "incident":
        uow.audit(
            "incident_raised",
            instance_id=inst.id,
            element_id=result.incident.get("element_id"),
            message=result.incident.get("message"),
        )
    if new:
        uow.session.add(inst)
        uow.session.flush()
        open_ids: set[str] = set()
    else:
        open_ids = set(
            uow.session.execute(select(Task.id).where(Task.instance_id == inst.id, Task.status == "open")).scalars()
        )
    ready = {str(t.id): t for t in result.ready_tasks}
    created = [_create_task(uow, inst, definition, t, now) for tid, t in ready.items() if tid not in open_ids]
    gone = [tid for tid in open_ids if tid not in ready]
    if gone:
        uow.session.execute(
            update(Task).where(Task.id.in_(gone), Task.status == "open").values(status="cancelled", completed_at=now)
        )
        for tid in gone:
            uow.audit("task_cancelled", instance_id=inst.id, task_id=tid)
    if (definition.meta or {}).get("has_timers"):
        _sync_timers(uow, inst, result, now)
    uow.session.flush()  # the version check on the instance happens here
    return created
