"""Persist a step: instance state, human-task rows, timer rows and audit events.

Shared by starting an instance, completing a task, firing a timer and retrying an
incident, so each of them is one transaction with the same bookkeeping.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial

from sqlalchemy import insert, select, update

from engine.clock import utcnow
from engine.errors import PayloadTooLarge, StaleInstance
from engine.extensions import REGISTRY
from engine.forms import definitions as formdefs
from engine.identity.policy import scoped_unit, task_scope
from engine.jsondata import json_size
from engine.runtime.decisions import Decider
from engine.runtime.definitions import spec_for
from engine.runtime.io_params import io_values
from engine.runtime.references import summary_of
from engine.runtime.spiff import StepResult, bpmn_id, compact, dump_state, load_state
from engine.store.models import EventSubscription, ProcessDefinition, Task, TaskCandidate, Timer
from engine.store.records import OPEN_TASKS_DUE, InstanceRecord, insert_instance, update_instance

TASKS = Task.__table__
CANDIDATES = TaskCandidate.__table__
INSERT_TASK = insert(TASKS)
INSERT_CANDIDATE = insert(CANDIDATES)


def check_data_size(limit: int, data: dict) -> None:
    """Refuse (413, nothing stored) a step that would leave an instance with more data than ``limit`` bytes."""
    size = json_size(data)
    if size > limit:
        raise PayloadTooLarge(f"the instance's data would be {size} bytes, more than the limit of {limit} bytes "
                              "(BPM_MAX_DATA_BYTES): store large content as a document (upload) instead")


def load_workflow(engine, inst: InstanceRecord, definition: ProcessDefinition):
    """The instance's workflow: the one its last step left in this process when the row has
    not changed since (``engine.runtime.spiff.WorkflowCache``), else rebuilt from the state."""
    cached = engine.workflows.take(inst.id, inst.lock_version, definition.id)
    if cached is not None:
        return cached
    spec, subspecs = spec_for(engine, definition)
    return attach(engine, definition, load_state(inst.state, spec, subspecs))


def attach(engine, definition: ProcessDefinition, workflow):
    """Give a loaded or new workflow what its tasks ask of the engine while they run: the
    decisions of its business rule tasks."""
    if (definition.meta or {}).get("decisions"):
        workflow.decider = Decider(engine, definition)
    return workflow


def local_data(spiff_task) -> dict | None:
    """What a task alone sees beyond the instance's data: its ``camunda:inputOutput`` input
    parameters, and a multi-instance task's element variable and ``loopCounter`` (0-based)."""
    io = getattr(spiff_task.task_spec, "io", None)
    inputs = io_values(spiff_task, io["in"]) if io and io["in"] else {}
    local = _multi_instance_data(spiff_task)
    if inputs:
        local = {**(local or {}), **inputs}
    return local


def _multi_instance_data(spiff_task) -> dict | None:
    parent = spiff_task.parent
    spec = getattr(parent, "task_spec", None)
    if spec is None or not hasattr(spec, "input_item") or not hasattr(spec, "condition"):
        return None
    local: dict = {}
    if spec.input_item is not None and spec.input_item.bpmn_id in spiff_task.data:
        local[spec.input_item.bpmn_id] = spiff_task.data[spec.input_item.bpmn_id]
    siblings = [c.id for c in parent.children if c.task_spec is spiff_task.task_spec]
    if spiff_task.id in siblings:
        local["loopCounter"] = siblings.index(spiff_task.id)
    return local


def _create_task(uow, inst: InstanceRecord, definition: ProcessDefinition, spiff_task, now) -> dict:
    """Insert the tasklist row (and its candidate rows) for a newly waiting user task."""
    element = bpmn_id(spiff_task)
    info = (definition.meta.get("elements") or {}).get(element, {})
    form_key = info.get("form_key")
    groups = info.get("candidate_groups", [])
    props = info.get("properties", {})
    scope = task_scope(props)
    row = {
        "id": str(spiff_task.id),
        "instance_id": inst.id,
        "process_key": inst.process_key,
        "element_id": element,
        "name": info.get("name") or spiff_task.task_spec.bpmn_name,
        "form_key": form_key,
        "form_version": formdefs.latest_version(uow.session, form_key) if form_key else None,
        "candidate_groups": groups,
        "properties": props,
        "status": "open",
        "created_at": now,
        "org_unit": scoped_unit(uow.session, inst.org_unit, scope),
        "local_data": local_data(spiff_task),
    }
    if scope == "starter" and inst.started_by and inst.started_by != "system":
        # the starter's own step: theirs from the start, handed over only by a manager (engine/identity/policy.py)
        row.update(assignee=inst.started_by, claimed_at=now)
    for hook in REGISTRY.hooks("task_creating"):  # e.g. an SLA's due date and its timers
        hook(uow, inst, definition, row)
    conn = uow.session.connection()
    conn.execute(INSERT_TASK, row)
    if groups:
        conn.execute(INSERT_CANDIDATE, [{"task_id": row["id"], "role": role} for role in groups])
    uow.audit("task_created", instance_id=inst.id, task_id=row["id"], element_id=element, name=row["name"],
              candidate_groups=groups, scope=scope, org_unit=row["org_unit"], assignee=row.get("assignee"))
    return row


def _continue_later(uow, inst: InstanceRecord, continuation: dict, now) -> None:
    """A run longer than one chunk goes on in a transaction of its own: a ``continue`` timer due
    at once, which a worker fires (engine/scheduling/timers.py) like an asynchronous continuation."""
    uow.session.add(Timer(instance_id=inst.id, task_id=continuation["task_id"], element_id=continuation["element_id"],
                          kind="continue", fire_at=now, state="pending", attempts=0,
                          payload={"steps": continuation["steps"]}))
    uow.audit("instance_continued_later", instance_id=inst.id, element_id=continuation["element_id"],
              steps=continuation["steps"])
    uow.session.flush()


def _sync_timers(uow, inst: InstanceRecord, result: StepResult, now) -> None:
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
    uow.session.flush()  # later reads in this unit (the response) must see the timer rows


SUBSCRIPTIONS = EventSubscription.__table__


def subscribes(definition: ProcessDefinition) -> bool:
    """The definition has catches by name (versions deployed before the flag existed: read the XML)."""
    meta = definition.meta or {}
    if "subscribes" in meta:
        return bool(meta["subscribes"])
    return any(tag in definition.xml for tag in ("messageEventDefinition", "signalEventDefinition", "receiveTask"))


@dataclass
class SavedStep:
    """What a ``saved`` hook learns of a step just written: its result, the instance's status
    before it (None: a new instance), and the subscriptions it added and removed."""

    result: StepResult
    previous: str | None
    subscribed: list = field(default_factory=list)
    unsubscribed: list = field(default_factory=list)


def sync_subscriptions(uow, inst: InstanceRecord, result: StepResult, now) -> tuple[list, list]:
    """Keep ``bpm_event_subscription`` equal to what the instance waits for by name; return the
    ``(kind, name, element_id)`` added and removed."""
    conn = uow.session.connection()
    have = {(r.kind, r.name, r.element_id, r.task_id or ""): r.id for r in conn.execute(
        select(SUBSCRIPTIONS.c.id, SUBSCRIPTIONS.c.kind, SUBSCRIPTIONS.c.name, SUBSCRIPTIONS.c.element_id,
               SUBSCRIPTIONS.c.task_id).where(SUBSCRIPTIONS.c.instance_id == inst.id))}
    gone = [rid for key, rid in have.items() if key not in result.subscriptions]
    if gone:
        conn.execute(SUBSCRIPTIONS.delete().where(SUBSCRIPTIONS.c.id.in_(gone)))
    new = [{"instance_id": inst.id, "kind": kind, "name": name[:256], "element_id": element[:128],
            "task_id": task_id or None, "business_key": inst.business_key, "created_at": now}
           for kind, name, element, task_id in sorted(result.subscriptions) if (kind, name, element, task_id) not in have]
    if new:
        conn.execute(insert(SUBSCRIPTIONS), new)
    return ([(r["kind"], r["name"], r["element_id"], r["task_id"]) for r in new],
            [key for key, rid in have.items() if rid in gone])


def save(uow, inst: InstanceRecord, definition: ProcessDefinition, workflow, result: StepResult, new: bool = False) -> list[dict]:
    """Write everything one step changed; the version check on ``inst`` refuses lost updates."""
    now = utcnow()
    check_data_size(uow.engine.settings.max_data_bytes, result.data)
    previous = None if new else inst.status
    inst.status = result.status
    inst.data = result.data
    inst.incident = result.incident
    inst.summary = summary_of(definition, result.data)  # the list fields' values (engine/runtime/references.py)
    inst.visited = sorted(set(inst.visited or ()) | result.completed_elements)
    decider = getattr(workflow, "decider", None)
    if decider is not None:  # each decision a business rule task took: inputs, matched rules, output
        for record in decider.evaluated:
            uow.audit("decision_evaluated", instance_id=inst.id, **record)
        decider.evaluated.clear()
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
        insert_instance(uow.session, inst)
        open_ids: dict = {}
    else:
        if not update_instance(uow.session, inst):
            raise StaleInstance("the instance was changed by someone else at the same time; reload and try again")
        open_ids = dict(uow.session.connection().execute(OPEN_TASKS_DUE, {"b_instance": inst.id}).all())
    ready = {str(t.id): t for t in result.ready_tasks}
    created = [_create_task(uow, inst, definition, t, now) for tid, t in ready.items() if tid not in open_ids]
    uow.created_tasks.extend(row["id"] for row in created)
    gone = [tid for tid in open_ids if tid not in ready]
    if gone:
        conn = uow.session.connection()
        conn.execute(update(TASKS).where(TASKS.c.id.in_(gone), TASKS.c.status == "open")
                     .values(status="cancelled", completed_at=now))
        conn.execute(CANDIDATES.delete().where(CANDIDATES.c.task_id.in_(gone)))  # only open tasks have candidates
        for tid in gone:
            uow.audit("task_cancelled", instance_id=inst.id, task_id=tid)
            for hook in REGISTRY.hooks("task_closed"):
                hook(uow, tid, False, now, open_ids[tid])
    if (definition.meta or {}).get("has_timers") and result.status != "suspended":  # held timers stay held
        _sync_timers(uow, inst, result, now)
    if result.continuation is not None:
        _continue_later(uow, inst, result.continuation, now)
    if previous == "incident" and result.status == "running":
        # what was held for it while it could not go on (a called instance's end) is due now
        uow.session.execute(update(Timer).where(Timer.instance_id == inst.id, Timer.kind == "call_done",
                                                Timer.state == "suspended").values(state="pending", fire_at=now))
    # the next step of this instance in this process starts from this workflow, once committed
    uow.after_commit.append(partial(uow.engine.workflows.keep, inst.id, inst.lock_version, definition.id, workflow,
                                    len(inst.state)))
    step = SavedStep(result, previous)
    if subscribes(definition):
        step.subscribed, step.unsubscribed = sync_subscriptions(uow, inst, result, now)
    for hook in REGISTRY.hooks("saved"):  # e.g. signals and messages for other instances, called processes
        hook(uow, inst, definition, step)
    for element, data in result.thrown:  # e.g. a linked start (engine/runtime/linked.py)
        props = ((definition.meta.get("elements") or {}).get(element) or {}).get("properties") or {}
        for hook in REGISTRY.hooks("thrown"):
            hook(uow, inst, element, props, data)
    return created
