"""Call activities (BPMN 2.0 §10.3.4; Camunda's call activity).

A call activity runs its called process as an instance of its own, with its own timeline, and
waits until that instance ends:

* When the caller reaches the call activity (it now waits for the engine-internal message of
  ``engine.bpmn.rewrite.call_message``), the called process starts: the version the binding
  names (``latest``, ``version``, ``versionTag``), the ``camunda:in`` variables (or all), the
  caller's business key when ``camunda:in businessKey`` says so, in the caller's unit. The
  called process's starter groups do not apply (the caller started it); its tasks keep their
  own candidate groups and unit rules.
* When the called instance completes, the caller goes on with the ``camunda:out`` variables
  (or all). An error or escalation the called instance does not catch goes to the call
  activity's boundary events (an error nobody catches there makes the caller an incident).
* When the call activity ends otherwise (an interrupting boundary event, the caller cancelled),
  the called instance is cancelled with it.

Both instances point at each other (``parent_id``/``parent_element``, the API's ``parent`` and
``children``, both timelines).
"""

from __future__ import annotations

from uuid import UUID

from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import (
    ErrorEventDefinition,
    EscalationEventDefinition,
)
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.util import BpmnEvent
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select

from engine.bpmn.rewrite import CALL_MESSAGE, call_message
from engine.clock import utcnow
from engine.errors import Conflict, NotFound
from engine.extensions import Extension, TimerKind
from engine.runtime import definitions
from engine.runtime.instances import start_unchecked, terminate
from engine.runtime.spiff import advance
from engine.runtime.steps import load_workflow, save
from engine.store.models import ProcessDefinition, ProcessInstance, Timer
from engine.store.records import InstanceRecord, load_instance

MAX_DEPTH = 16
HELD = "suspended"  # a timer row held until its instance runs (engine/runtime/admin_ops.py)  # calls within calls: a process calling itself without end is refused here


def _called_definition(uow, call: dict) -> ProcessDefinition:
    key = call["process"]
    if call["binding"] == "version":
        return definitions.get_version(uow.session, key, call["version"])
    if call["binding"] == "versionTag":
        for row in definitions.versions(uow.session, key):  # newest first
            if (row.meta or {}).get("version_tag") == call["version_tag"]:
                return row
        raise NotFound(f"process {key!r} has no version tagged {call['version_tag']!r}")
    return definitions.get_version(uow.session, key)


def _mapped(mappings: list[dict], data: dict) -> dict:
    out: dict = {}
    for m in mappings:
        if m.get("all"):
            out.update(data)
        elif m["source"] in data:
            out[m["target"]] = data[m["source"]]
    return out


def _depth(uow, inst: InstanceRecord) -> int:
    depth, parent = 0, inst.parent_id
    while parent is not None and depth <= MAX_DEPTH:
        depth += 1
        parent = uow.session.execute(select(ProcessInstance.parent_id).where(ProcessInstance.id == parent)).scalar()
    return depth


def start_child(uow, inst: InstanceRecord, definition, element: str, task_id: str, data: dict) -> InstanceRecord:
    call = (((definition.meta or {}).get("elements") or {}).get(element) or {}).get("call")
    if call is None:
        raise Conflict(f"{element!r} is not a call activity of {definition.key!r}")
    if _depth(uow, inst) >= MAX_DEPTH:
        raise Conflict(f"call activity {element!r}: calls nested more than {MAX_DEPTH} deep (a process calling itself "
                       "without end?)")
    target = _called_definition(uow, call)
    child = start_unchecked(uow, target.key, _mapped(call["in"], data), inst.org_unit,
                            inst.business_key if call["business_key"] else None, definition=target,
                            parent=(inst.id, element, task_id), called_from={"instance_id": inst.id, "element_id": element})
    uow.audit("called_instance_started", instance_id=inst.id, element_id=element, child_instance_id=child.id,
              key=target.key, version=target.version)
    return child


def _event(kind: str, code: str | None, name: str | None, payload: dict, element: str) -> BpmnEvent:
    if kind == "completed":
        return BpmnEvent(MessageEventDefinition(call_message(element)), payload=payload)
    cls = ErrorEventDefinition if kind == "error" else EscalationEventDefinition
    return BpmnEvent(cls(name, code=code), payload=payload)


def _to_parent(uow, child: InstanceRecord, kind: str, payload: dict, code: str | None = None,
               name: str | None = None) -> None:
    """Hand the called instance's end (``completed``), error or escalation to the call activity
    that waits for it: that task only (a call activity in a loop or a multi-instance body waits
    once per child). A caller that is suspended or in incident gets it when it runs again (a
    held ``call_done`` timer); a call activity that no longer waits ignores it."""
    parent = load_instance(uow.session, child.parent_id)
    if parent is None or parent.status in ("completed", "cancelled"):
        return
    if parent.status != "running":
        uow.session.add(Timer(instance_id=parent.id, task_id=child.parent_task or "", element_id=child.parent_element,
                              kind="call_done", fire_at=utcnow(), state=HELD, attempts=0,
                              payload={"child": child.id, "kind": kind, "code": code, "name": name, "payload": payload}))
        uow.session.flush()
        return
    deliver_to_parent(uow, parent, child, kind, payload, code, name)


def deliver_to_parent(uow, parent: InstanceRecord, child: InstanceRecord, kind: str, payload: dict,
                      code: str | None = None, name: str | None = None) -> None:
    definition = definitions.by_id(uow.engine, uow.session, parent.definition_id)
    workflow = load_workflow(uow.engine, parent, definition)
    task = workflow.get_task_from_id(UUID(child.parent_task)) if child.parent_task else None
    if task is None or task.state != TaskState.WAITING:
        return  # the call activity ended otherwise (a boundary event, a modification)
    if kind == "completed":  # the called instance's data, handed back as the call activity's camunda:out says
        call = (((definition.meta or {}).get("elements") or {}).get(child.parent_element) or {}).get("call") or {}
        payload = _mapped(call.get("out") or [], payload)
    event = _event(kind, code, name, payload, child.parent_element)
    if kind == "completed":
        targets = [task]
    else:  # the call activity's own boundary events
        targets = [t for t in workflow.event_manager.tasks.values()
                   if t is not task and t.parent is task.parent and t.task_spec.catches(t, event)]
    for target in targets:
        target.task_spec.catch(target, event)
        target.task_spec._update(target)
    action = "called_instance_completed" if kind == "completed" else f"called_instance_{kind}"
    uow.audit(action, instance_id=parent.id, element_id=child.parent_element, child_instance_id=child.id,
              **({"code": code} if code else {}))
    result = advance(workflow)
    if not targets and kind == "error" and result.status == "running":
        # an error nothing catches: the caller cannot go on as drawn
        result.status, result.incident = "incident", {
            "element_id": child.parent_element, "task_id": None,
            "message": f"the called instance {child.id} ended with error {code!r}, and no error boundary event of "
                       f"call activity {child.parent_element!r} catches it; cancel the instance, or correct the model"}
    save(uow, parent, definition, workflow, result)


def saved(uow, inst: InstanceRecord, definition, step) -> None:
    """After a step: start called processes, cancel the ones whose call activity ended, hand a
    finished called instance's results, errors and escalations to its caller."""
    for kind, name, element, task_id in step.subscribed:
        if kind == "message" and name.startswith(CALL_MESSAGE):
            start_child(uow, inst, definition, element, task_id, step.result.call_data.get(task_id, step.result.data))
    for kind, name, element, task_id in step.unsubscribed:
        if kind == "message" and name.startswith(CALL_MESSAGE):
            for child_id in uow.session.execute(select(ProcessInstance.id).where(
                    ProcessInstance.parent_id == inst.id, ProcessInstance.parent_task == task_id,
                    ProcessInstance.status.in_(("running", "incident", "suspended")))).scalars().all():
                child = load_instance(uow.session, child_id)
                terminate(uow.engine, uow, child, f"its call activity {element!r} ended", parent_instance_id=inst.id)
    if inst.parent_id is None:
        return
    failed = False
    for kind, code, name, payload in step.result.events_out:
        if kind in ("error", "escalation"):
            _to_parent(uow, inst, kind, payload, code, name)
            failed = failed or kind == "error"
    if step.result.status == "completed" and step.previous != "completed" and not failed:
        _to_parent(uow, inst, "completed", step.result.data)


def _fire_call_done(engine, uow, timer) -> bool:
    """A called instance's end, error or escalation held while its caller was suspended or in
    incident: delivered now that it runs (held again if it does not)."""
    parent = load_instance(uow.session, timer.instance_id)
    child = load_instance(uow.session, timer.payload["child"])
    if parent is None or child is None or parent.status in ("completed", "cancelled"):
        return False
    p = timer.payload
    if parent.status != "running":
        _to_parent(uow, child, p["kind"], p.get("payload") or {}, p.get("code"), p.get("name"))
        return True
    deliver_to_parent(uow, parent, child, p["kind"], p.get("payload") or {}, p.get("code"), p.get("name"))
    return True


EXTENSION = Extension("calls", kinds=(), saved=saved, timers={"call_done": TimerKind(_fire_call_done)})
