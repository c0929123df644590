"""Deliver a BPMN message to a waiting instance (message catch events, boundary messages)."""

from __future__ import annotations

from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.util import BpmnEvent

from engine import definitions
from engine.access import can_read_instance
from engine.errors import Conflict, Forbidden, NotFound
from engine.progress import load_workflow, save
from engine.runtime import advance
from engine.store.models import ProcessInstance
from engine.store.records import InstanceRecord, load_instance


def waiting_for(workflow, name: str) -> bool:
    return any(
        isinstance(t.task_spec.event_definition, MessageEventDefinition) and t.task_spec.event_definition.name == name
        for t in workflow.event_manager.tasks.values()
    )


def deliver(uow, instance_id: str, name: str, data: dict | None = None, check_access: bool = True) -> InstanceRecord:
    """Catch message ``name`` with ``data`` as payload; 409 when nothing waits for it."""
    inst = load_instance(uow.session, instance_id)
    if inst is None:
        raise NotFound(f"process instance {instance_id!r} not found")
    if check_access:
        actor = uow.actor
        row = uow.session.get(ProcessInstance, instance_id)
        if actor.roles <= {"auditor"} or not (actor.is_admin or can_read_instance(uow.session, actor, row)):
            raise Forbidden("you may not send messages to this process instance")
    if inst.status != "running":
        raise Conflict(f"instance is {inst.status}: it waits for no message")
    definition = definitions.by_id(uow.engine, uow.session, inst.definition_id)
    workflow = load_workflow(uow.engine, inst, definition)
    if not waiting_for(workflow, name):
        raise Conflict(f"the instance is not waiting for message {name!r}")
    workflow.catch(BpmnEvent(MessageEventDefinition(name), payload=dict(data or {})))
    uow.audit("message_received", instance_id=inst.id, message=name, data=data or {})
    result = advance(workflow)
    save(uow, inst, definition, workflow, result)
    return inst
