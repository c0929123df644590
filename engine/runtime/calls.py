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

from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import (
    ErrorEventDefinition,
    EscalationEventDefinition,
)
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.util import BpmnEvent
from sqlalchemy import select

from engine.bpmn.rewrite import CALL_MESSAGE, call_message
from engine.errors import Conflict, NotFound
from engine.extensions import Extension
from engine.runtime import definitions
from engine.runtime.instances import start_unchecked, terminate
from engine.runtime.spiff import advance
from engine.runtime.steps import load_workflow, save
from engine.store.models import ProcessDefinition, ProcessInstance
from engine.store.records import InstanceRecord, load_instance

MAX_DEPTH = 16  # calls within calls: a process calling itself without end is refused here


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


def start_child(uow, inst: InstanceRecord, definition, element: str, data: dict) -> InstanceRecord:
    call = (((definition.meta or {}).get("elements") or {}).get(element) or {}).get("call")
    if call is None:
        raise Conflict(f"{element!r} is not a call activity of {definition.key!r}")
    if _depth(uow, inst) >= MAX_DEPTH:
        raise Conflict(f"call activity {element!r}: calls nested more than {MAX_DEPTH} deep (a process calling itself "
                       "without end?)")
    target = _called_definition(uow, call)
    child = start_unchecked(uow, target.key, _mapped(call["in"], data), inst.org_unit,
                            inst.business_key if call["business_key"] else None, definition=target,
                            parent=(inst.id, element), called_from={"instance_id": inst.id, "element_id": element})
    uow.audit("called_instance_started", instance_id=inst.id, element_id=element, child_instance_id=child.id,
              key=target.key, version=target.version)
    return child


def _resume_parent(uow, child: InstanceRecord, event: BpmnEvent, action: str, **details) -> None:
    parent = load_instance(uow.session, child.parent_id)
    if parent is None or parent.status != "running":
        return
    definition = definitions.by_id(uow.engine, uow.session, parent.definition_id)
    workflow = load_workflow(uow.engine, parent, definition)
    caught = workflow.event_manager.catch(event)
    uow.audit(action, instance_id=parent.id, element_id=child.parent_element, child_instance_id=child.id, **details)
    result = advance(workflow)
    if not caught and isinstance(event.event_definition, ErrorEventDefinition) and result.status == "running":
        # an error nothing catches: the caller cannot go on as drawn
        result.status, result.incident = "incident", {
            "element_id": child.parent_element, "task_id": None,
            "message": f"the called instance {child.id} ended with error {details.get('code')!r}, and no error "
                       f"boundary event of call activity {child.parent_element!r} catches it; cancel the instance, "
                       "or correct the model"}
    save(uow, parent, definition, workflow, result)


def _child_ended(uow, child: InstanceRecord, data: dict) -> None:
    parent_def = _parent_definition(uow, child)
    call = ((((parent_def.meta or {}).get("elements") or {}).get(child.parent_element) or {}).get("call")) or {}
    payload = _mapped(call.get("out") or [], data)
    _resume_parent(uow, child, BpmnEvent(MessageEventDefinition(call_message(child.parent_element)), payload=payload),
                   "called_instance_completed")


def _parent_definition(uow, child: InstanceRecord):
    parent = load_instance(uow.session, child.parent_id)
    return definitions.by_id(uow.engine, uow.session, parent.definition_id)


def saved(uow, inst: InstanceRecord, definition, step) -> None:
    """After a step: start called processes, cancel the ones whose call activity ended, hand a
    finished called instance's results, errors and escalations to its caller."""
    for kind, name, element in step.subscribed:
        if kind == "message" and name.startswith(CALL_MESSAGE):
            start_child(uow, inst, definition, element, step.result.data)
    for kind, name, element in step.unsubscribed:
        if kind == "message" and name.startswith(CALL_MESSAGE):
            for child_id in uow.session.execute(select(ProcessInstance.id).where(
                    ProcessInstance.parent_id == inst.id, ProcessInstance.parent_element == element,
                    ProcessInstance.status.in_(("running", "incident")))).scalars().all():
                child = load_instance(uow.session, child_id)
                terminate(uow.engine, uow, child, f"its call activity {element!r} ended", parent_instance_id=inst.id)
    if inst.parent_id is None:
        return
    failed = False
    for kind, code, name, payload in step.result.events_out:
        if kind in ("error", "escalation"):
            cls = ErrorEventDefinition if kind == "error" else EscalationEventDefinition
            _resume_parent(uow, inst, BpmnEvent(cls(name, code=code), payload=payload),
                           f"called_instance_{kind}", code=code)
            failed = failed or kind == "error"
    if step.result.status == "completed" and step.previous != "completed" and not failed:
        _child_ended(uow, inst, step.result.data)


EXTENSION = Extension("calls", kinds=(), saved=saved)
