"""Deliver a BPMN message to a waiting instance (message catch events, boundary messages)."""

from __future__ import annotations

from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.util import BpmnEvent

from engine.errors import Conflict, Forbidden, NotFound, ValidationFailed
from engine.extensions import DeployContext, Element, Extension
from engine.identity.policy import can_read_instance, may_send_message
from engine.identity.roles import is_known_role
from engine.runtime import definitions
from engine.runtime.spiff import advance
from engine.runtime.steps import load_workflow, save
from engine.store.models import ProcessInstance
from engine.store.records import InstanceRecord, load_instance


def waiting_for(workflow, name: str) -> bool:
    """Something of the instance catches message ``name`` now: a waiting catch event, receive task,
    boundary event or event-based gateway, or the start event of an event subprocess."""
    event = BpmnEvent(MessageEventDefinition(name))
    if any(t.task_spec.catches(t, event) for t in workflow.event_manager.tasks.values()):
        return True
    return any(start.event_definition == event.event_definition
               for spec_name in workflow.spec.start.trigger_specs
               for start in workflow.subprocess_specs[spec_name].bpmn_start_events)


def deliver(uow, instance_id: str, name: str, data: dict | None = None, internal: bool = False) -> InstanceRecord:
    """Catch message ``name`` with ``data`` as payload; 409 when nothing waits for it.

    ``internal`` is the engine's own delivery (the congestion evaluator, the KPI job). From
    outside (the API) only a message the model declares sendable may be sent: by a holder of
    one of its ``sendableBy`` roles within the instance's unit (or an administrator), with a
    payload valid against its ``payloadForm`` (none: an empty payload). Every other message is
    the engine's own and refused (403)."""
    inst = load_instance(uow.session, instance_id)
    if inst is None:
        raise NotFound(f"process instance {instance_id!r} not found")
    definition = definitions.by_id(uow.engine, uow.session, inst.definition_id)
    if not internal:
        data = _check_sender(uow, inst, definition, name, data or {})
    if inst.status != "running":
        raise Conflict(f"instance is {inst.status}: it waits for no message")
    workflow = load_workflow(uow.engine, inst, definition)
    if not waiting_for(workflow, name):
        raise Conflict(f"the instance is not waiting for message {name!r}")
    workflow.catch(BpmnEvent(MessageEventDefinition(name), payload=dict(data or {})))
    uow.audit("message_received", instance_id=inst.id, message=name, data=data or {}, internal=internal)
    result = advance(workflow)
    save(uow, inst, definition, workflow, result)
    return inst


def _check_sender(uow, inst: InstanceRecord, definition, name: str, data: dict) -> dict:
    """Who may send ``name`` to ``inst`` from outside, and its payload checked like a form."""
    actor = uow.actor
    row = uow.session.get(ProcessInstance, inst.id)
    if not (actor.is_admin or can_read_instance(uow.session, actor, row)):
        raise Forbidden("you may not send messages to this process instance")
    declared = declaration(definition, name)
    if not declared["senders"]:
        raise Forbidden(f"message {name!r} is not sendable from outside: the process sends it itself (a model "
                        "makes a message sendable with the properties sendableBy and payloadForm)")
    if not may_send_message(actor, declared["senders"], inst.org_unit):
        raise Forbidden(f"only {', '.join(declared['senders'])} of the instance's unit may send {name!r}")
    return payload(uow, definition, name, data)


def declaration(definition, name: str, kind: str = "message") -> dict:
    """``{senders, form}``: who may send message (or signal) ``name`` from outside (none: the
    engine's own) and the form its payload must fit."""
    table = (definition.meta or {}).get("messages" if kind == "message" else "signals") or {}
    props = (table.get(name) or {}).get("properties") or {}
    return {"senders": [r.strip() for r in (props.get("sendableBy") or "").split(",") if r.strip()],
            "form": props.get("payloadForm")}


def payload(uow, definition, name: str, data: dict, kind: str = "message") -> dict:
    """``data`` checked like a form against the declared ``payloadForm`` (none: no payload)."""
    form = declaration(definition, name, kind)["form"]
    if form:
        from engine.runtime.instances import validate_form_data

        cleaned, _ = validate_form_data(uow.session, uow.engine, form, None, data)
        return cleaned
    if data:
        raise ValidationFailed(f"{kind} payload is invalid",
                               {k: [f"Unknown field: the {kind} declares no payloadForm."] for k in list(data)[:50]})
    return {}


def check(element: Element, ctx: DeployContext) -> list[str]:
    """A message's ``sendableBy`` roles and ``payloadForm`` exist, and a form has senders."""
    messages = []
    senders = [r.strip() for r in (element.properties.get("sendableBy") or "").split(",") if r.strip()]
    for role in senders:
        if not is_known_role(role):
            messages.append(f"unknown role {role!r} in sendableBy")
    form = element.properties.get("payloadForm")
    if form and not ctx.form_exists(form):
        messages.append(f"form {form!r} does not exist: deploy it first")
    if form and not senders:
        messages.append("payloadForm without sendableBy: name the roles that may send the message")
    return messages


EXTENSION = Extension("messages", properties=("sendableBy", "payloadForm"), kinds=("message", "signal"), check=check)
