"""Linked starts: an intermediate throw event with ``startProcess=KEY`` (and ``startData.<field>=
<expression>``) starts an instance of KEY, as a start by hand would: the actor whose step reached
the event must be allowed to start KEY, and the data must fit KEY's start form."""

from __future__ import annotations

from engine.bpmn.expressions import evaluate
from engine.bpmn.model import ID_RE
from engine.bpmn.restricted import ExpressionError, _is_json_like, check_expression
from engine.errors import Conflict, Forbidden, ValidationFailed
from engine.extensions import DeployContext, Element, Extension
from engine.identity.policy import is_engine, may_start
from engine.runtime import definitions, documents
from engine.runtime.instances import start_unchecked, validate_start_data
from engine.store.records import InstanceRecord


def check(element: Element, ctx: DeployContext) -> list[str]:
    """Checked at deploy, not when a task completes: left unchecked they would refuse every
    completion of the step before the throw event (the instance could not move on)."""
    messages = []
    for name, value in element.properties.items():
        if name.startswith("startData."):
            try:
                check_expression((value or "").strip())
            except ExpressionError as exc:
                messages.append(f"property {name} {value!r}: {exc}")
    target = element.properties.get("startProcess")
    if target is None:
        return messages
    if not ID_RE.match(target):
        messages.append(f"startProcess {target!r} is not a process id")
    elif ctx.process_exists is not None and target != ctx.process_id and not ctx.process_exists(target):
        messages.append(f"startProcess {target!r} is not deployed: deploy it first")
    return messages


def thrown(uow, inst: InstanceRecord, element: str, props: dict, data: dict) -> None:
    if props.get("startProcess"):
        start_linked(uow, inst, element, props, data)


def start_linked(uow, parent: InstanceRecord, element: str, props: dict, data: dict) -> InstanceRecord:
    """Start the process named by ``startProcess`` from a throw event of ``parent``.

    The new instance records who caused it, belongs to the same org unit, and both
    instances point at each other (``linked_from`` in its data, an audit event in each).
    """
    key = props["startProcess"]
    new_data: dict = {}
    for name, expr in props.items():
        if name.startswith("startData."):
            try:
                value = evaluate(expr, data)
                if not _is_json_like(value):  # e.g. a bare function name such as ``all``
                    raise ExpressionError(f"the value is a {type(value).__name__}, not data (text, number, list ...)")
            except ExpressionError as exc:
                raise Conflict(f"cannot start {key!r} from {element!r}: startData {name}: {exc}") from exc
            new_data[name[len("startData."):]] = value
    # the same rules as a start by hand: whoever completed the step before the throw event must be
    # allowed to start the target, and the data must fit its start form (the engine itself may)
    target = definitions.get_version(uow.session, key)
    starters = target.meta.get("candidate_starter_groups", [])
    # a process no user may start (no candidateStarterGroups) is started by the model, like a called one
    if starters and not (is_engine(uow.actor) or may_start(uow.actor, starters)):
        raise Forbidden(f"{element!r} starts {key!r}, which only {', '.join(starters)} may start")
    try:
        new_data, docs = validate_start_data(uow.session, uow.engine, target, new_data)
    except ValidationFailed as exc:
        raise ValidationFailed(f"{element!r} cannot start {key!r}: its startData does not fit the start form of "
                               f"{key!r}", exc.errors) from exc
    new_data["linked_from"] = {"instance_id": parent.id, "process_key": parent.process_key, "element_id": element}
    child = start_unchecked(uow, key, new_data, parent.org_unit, parent.business_key, linked_from=parent.id)
    documents.link(uow, "data", docs, child.id)
    uow.audit("linked_instance_started", instance_id=parent.id, element_id=element, child_instance_id=child.id, key=key)
    return child


EXTENSION = Extension("linked_start", properties=("startProcess", "startData."), kinds=("intermediateThrowEvent",),
                      check=check, thrown=thrown)
