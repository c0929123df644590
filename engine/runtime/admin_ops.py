"""A way out of every instance, for administrators (Camunda's suspension, variable and instance
modification and incident list): suspend and resume, set or correct variables, cancel an active
element or start a token before or after one, the incident list and a bulk retry. Each is audited with the administrator's reason. Cancelling an instance
and retrying one incident are in ``engine.runtime.instances``.

* **Suspended**: no task of the instance may be completed, none of its timers fires (they are
  held as ``suspended`` and armed again on resume; a timer that fell due meanwhile fires at
  once), no message or signal reaches it.
* **Set variables**: the values are written into the instance's data as every waiting step
  sees it; conditional events are re-evaluated at once (a condition may now hold).
"""

from __future__ import annotations

from sqlalchemy import func, select, update

from engine.clock import utcnow
from engine.errors import Conflict, EngineError, Forbidden, NotFound, ValidationFailed
from engine.identity.policy import may_cancel_instance, may_retry
from engine.runtime import definitions
from engine.runtime.instances import retry
from engine.runtime.spiff import LIVE, StepResult, advance, current_data
from engine.runtime.steps import check_data_size, load_workflow, save
from engine.store.models import ProcessInstance, Timer
from engine.store.records import load_instance, update_instance

_TM = Timer.__table__
HELD = "suspended"  # a suspended instance's timers


def _admin(uow, reason: str) -> str:
    if not may_cancel_instance(uow.actor):
        raise Forbidden("only an administrator may suspend, resume or change a process instance")
    if not (reason or "").strip():
        raise ValidationFailed("a reason is required", {"reason": ["say why"]})
    return reason.strip()


def _load(uow, instance_id: str):
    inst = load_instance(uow.session, instance_id)
    if inst is None:
        raise NotFound(f"process instance {instance_id!r} not found")
    return inst


def suspend(uow, instance_id: str, reason: str):
    return _hold(uow, instance_id, reason, suspend=True)


def resume(uow, instance_id: str, reason: str):
    return _hold(uow, instance_id, reason, suspend=False)


def _hold(uow, instance_id: str, reason: str, suspend: bool):
    """Suspend (hold its pending timers) or resume (arm them again) an instance."""
    reason = _admin(uow, reason)
    inst = _load(uow, instance_id)
    before, after = ("running", "suspended") if suspend else ("suspended", "running")
    if inst.status != before:
        raise Conflict(f"instance is {inst.status}: only a running instance can be suspended" if suspend
                       else f"instance is {inst.status}, not suspended")
    timers = uow.session.execute(update(_TM).where(_TM.c.instance_id == inst.id,
                                                   _TM.c.state == ("pending" if suspend else HELD))
                                 .values(state=HELD if suspend else "pending")).rowcount
    inst.status = after
    if not update_instance(uow.session, inst):
        raise Conflict("the instance was changed by someone else at the same time; reload and try again")
    uow.audit("instance_suspended" if suspend else "instance_resumed", instance_id=inst.id, reason=reason,
              timers=timers, before={"status": before}, after={"status": after})
    return inst


def _open_for_change(uow, instance_id: str, reason: str, statuses: tuple, refusal: str):
    """An administrator's change of an instance: ``(reason, instance, definition, workflow)``."""
    reason = _admin(uow, reason)
    inst = _load(uow, instance_id)
    if inst.status not in statuses:
        raise Conflict(f"instance is {inst.status}: {refusal}")
    definition = definitions.by_id(uow.engine, uow.session, inst.definition_id)
    return reason, inst, definition, load_workflow(uow.engine, inst, definition)


def set_variables(uow, instance_id: str, values: dict, reason: str):
    """Write ``values`` into the instance's data (every waiting step's data too) and go on: a
    conditional event may now fire."""
    if not values:
        raise ValidationFailed("nothing to set", {"data": ["name at least one variable"]})
    reason, inst, definition, workflow = _open_for_change(uow, instance_id, reason, ("running", "suspended"),
                                                          "its variables can no longer change")
    for task in workflow.tasks.values():
        if task.state & LIVE:
            task.data.update(values)
    if workflow.last_task is not None:
        workflow.last_task.data.update(values)
    before = {k: (inst.data or {}).get(k) for k in values}
    uow.audit("variables_set", instance_id=inst.id, reason=reason, before=before, after=dict(values))
    status = inst.status
    result = advance(workflow) if status == "running" else None
    if result is None:  # suspended: the data changes, nothing moves until it is resumed
        from engine.runtime.spiff import describe

        result = describe(workflow)
        result.status = "suspended"
    check_data_size(uow.engine.settings.max_data_bytes, result.data)
    save(uow, inst, definition, workflow, result)
    return inst


def incidents(session, page: int = 1, per_page: int = 50) -> dict:
    query = select(ProcessInstance).where(ProcessInstance.status == "incident")
    total = session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    rows = session.execute(query.order_by(ProcessInstance.started_at, ProcessInstance.id)
                           .offset((page - 1) * per_page).limit(per_page)).scalars()
    return {"items": [{"instance_id": r.id, "process_key": r.process_key, "business_key": r.business_key,
                       "org_unit": r.org_unit, "element_id": (r.incident or {}).get("element_id"),
                       "message": (r.incident or {}).get("message"), "started_at": r.started_at} for r in rows],
            "page": page, "per_page": per_page, "total": total}


def retry_many(engine, actor, instance_ids: list[str]) -> list[dict]:
    """Retry each incident in a transaction of its own; one failing does not stop the others."""
    if not may_retry(actor):
        raise Forbidden("only an administrator may retry incidents")
    out = []
    for iid in instance_ids:
        try:
            with engine.uow(actor) as uow:
                inst = retry(engine, uow, iid)
                out.append({"instance_id": iid, "ok": True, "status": inst.status, "error": None})
        except EngineError as exc:
            out.append({"instance_id": iid, "ok": False, "status": None, "error": exc.message})
    return out


MODIFY_TYPES = ("cancel", "start_before", "start_after")


def modify(uow, instance_id: str, instructions: list[dict], reason: str):
    """Camunda's instance modification, at the top level of the process: ``cancel`` every active
    token of an element, ``start_before`` an element (a new token there), ``start_after`` it (a
    new token on its one outgoing flow). Instructions apply in order, then the instance runs on;
    one that cannot apply refuses them all. An instance left with nothing active ends
    ``cancelled``."""
    from SpiffWorkflow.util.task import TaskState

    from engine.runtime.spiff import bpmn_id

    if not instructions:
        raise ValidationFailed("nothing to do", {"instructions": ["give at least one instruction"]})
    reason, inst, definition, workflow = _open_for_change(uow, instance_id, reason, ("running", "incident"),
                                                          "only a running instance or one in incident can be modified")
    specs = {getattr(s, "bpmn_id", None): s for s in workflow.spec.task_specs.values()}
    data = current_data(workflow)  # a new token carries the instance's data as it is now
    for n, step in enumerate(instructions):
        kind, element = step.get("type"), step.get("element_id")
        spec = specs.get(element)
        if kind not in MODIFY_TYPES or spec is None or element is None:
            raise ValidationFailed("instruction cannot apply", {f"instructions.{n}": [
                f"{kind!r} {element!r}: type must be one of {', '.join(MODIFY_TYPES)} and element_id an element at "
                "the top level of the process"]})
        if kind == "cancel":
            active = TaskState.READY | TaskState.WAITING | TaskState.STARTED | TaskState.ERROR
            live = [t for t in workflow.tasks.values() if t.task_spec is spec and t.state & active]
            if not live:
                raise Conflict(f"instruction {n}: {element!r} is not active")
            for task in live:
                if task.state == TaskState.ERROR:  # an incident's element: SpiffWorkflow counts it as finished
                    task._set_state(TaskState.CANCELLED)
                    task._drop_children()
                else:
                    task.cancel()
            continue
        targets = [spec] if kind == "start_before" else list(spec.outputs)
        if kind == "start_after" and len(targets) != 1:
            raise Conflict(f"instruction {n}: {element!r} has {len(targets)} ways on; start before one of them instead")
        if type(targets[0]).__name__ in ("StartEvent", "BoundaryEvent", "BoundaryEventSplit", "_EndJoin", "End"):
            raise Conflict(f"instruction {n}: a token cannot be started at {element!r}")
        anchor = workflow.task_tree
        child = anchor._add_child(targets[0], TaskState.FUTURE)
        child.task_spec._update(child)  # (SpiffWorkflow copies the anchor's old data onto it here)
        child.set_data(**data)
    uow.audit("instance_modified", instance_id=inst.id, reason=reason, instructions=list(instructions))
    active = TaskState.READY | TaskState.WAITING | TaskState.STARTED | TaskState.ERROR
    if not any(t.state & active and bpmn_id(t) is not None for t in workflow.tasks.values()):
        # the instructions cancelled everything and started nothing: the instance ends here
        workflow.cancel()
        inst.ended_at = utcnow()
        uow.audit("instance_cancelled", instance_id=inst.id, reason=reason, before={"status": inst.status},
                  after={"status": "cancelled"})
        save(uow, inst, definition, workflow, StepResult("cancelled", dict(inst.data or {})))
        return inst
    save(uow, inst, definition, workflow, advance(workflow))
    return inst
