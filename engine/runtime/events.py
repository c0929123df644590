"""Signals and messages between instances (BPMN 2.0 §10.5.4; Camunda's signal and message
correlation APIs).

* A **signal** is broadcast: every running instance waiting for it (a catch event, boundary
  event, event-based gateway branch or event-subprocess start, found through
  ``bpm_event_subscription``) catches it, and every process whose start event is that signal
  starts. A signal thrown inside a model reaches its own instance (SpiffWorkflow) and every
  other one (here), in the same transaction.
* A **message** goes to exactly one receiver: the one running instance waiting for it (narrowed
  by business key and by ``correlation`` values of the instance's data), or else a new instance
  of the one process whose start event is that message. More than one candidate is ambiguous
  (409), none is 404. A message thrown inside a model (throw or end event, send task) that its
  own instance does not catch is correlated by the thrower's business key; nobody to receive it
  refuses the step (409), so nothing is lost.

From outside (the API) only what a model declares sendable may be sent: the message's or
signal's ``sendableBy`` roles within the receiving instance's unit (administrators anywhere),
with a payload valid against its ``payloadForm``. Everything else is the engine's own.
Deliveries nest (a signal whose receiver throws a message ...) up to :data:`MAX_DEPTH` levels.
"""

from __future__ import annotations

from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import SignalEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.util import BpmnEvent
from sqlalchemy import select

from engine.bpmn.rewrite import CALL_MESSAGE
from engine.errors import Conflict, Forbidden, NotFound, ValidationFailed
from engine.extensions import Extension
from engine.identity.policy import may_send_message
from engine.runtime import definitions
from engine.runtime.messages import declaration, payload
from engine.runtime.spiff import advance
from engine.runtime.steps import load_workflow, save
from engine.store.models import EventSubscription
from engine.store.records import InstanceRecord, load_instance

MAX_DEPTH = 8
SUBS = EventSubscription.__table__


def _event(kind: str, name: str, data: dict) -> BpmnEvent:
    definition = MessageEventDefinition(name) if kind == "message" else SignalEventDefinition(name)
    return BpmnEvent(definition, payload=dict(data or {}))


class _Depth:
    def __init__(self, uow):
        self.uow = uow

    def __enter__(self):
        depth = getattr(self.uow, "event_depth", 0) + 1
        if depth > MAX_DEPTH:
            raise Conflict(f"signals and messages set off more than {MAX_DEPTH} deliveries in a row: a cycle between "
                           "processes?")
        self.uow.event_depth = depth

    def __exit__(self, *exc):
        self.uow.event_depth -= 1


def _thrown_payload(uow, definition, kind: str, name: str, data: dict) -> dict:
    """What of a thrower's data a receiver gets: the fields of the ``payloadForm`` the receiving
    model declares for the message or signal, valid against it; without a form, nothing (a
    process's data does not spill into another's)."""
    form = declaration(definition, name, kind)["form"]
    if not form:
        return {}
    from engine.forms import definitions as formdefs
    from engine.forms.model import form_fields

    content = formdefs.form_content(uow.engine, uow.session, form, formdefs.latest_version(uow.session, form))
    keys = {f.path.split(".", 1)[0].split("[]", 1)[0] for f in form_fields(content)}
    try:
        return payload(uow, definition, name, {k: v for k, v in data.items() if k in keys}, kind)
    except ValidationFailed:
        # the thrower's data does not make the receiver's payload: it is delivered without one (one strict
        # receiver must not block a thrower, or the other receivers)
        return {}


def _may_send(uow, definition, kind: str, name: str, unit: str | None) -> bool:
    senders = declaration(definition, name, kind)["senders"]
    return bool(senders) and may_send_message(uow.actor, senders, unit)


def _receivable(uow, definition, kind: str, name: str, data: dict, unit: str | None, external: bool) -> dict | None:
    """The payload ``definition`` receives: from outside, what its declaration accepts (None: the
    sender may not send it there); between instances, what its payload form takes of the data."""
    if not external:
        return _thrown_payload(uow, definition, kind, name, data)
    if not _may_send(uow, definition, kind, name, unit):
        return None
    return payload(uow, definition, name, data, kind)


def _deliver(uow, inst: InstanceRecord, definition, kind: str, name: str, data: dict, source: str | None) -> None:
    workflow = load_workflow(uow.engine, inst, definition)
    workflow.catch(_event(kind, name, data))
    uow.audit(f"{kind}_received", instance_id=inst.id, **{kind: name}, data=data, from_instance=source)
    save(uow, inst, definition, workflow, advance(workflow))


def _start(uow, definition, kind: str, name: str, data: dict, business_key: str | None, unit: str | None,
           source: str | None) -> InstanceRecord:
    from engine.runtime.instances import start_unchecked

    return start_unchecked(uow, definition.key, {}, unit, business_key, trigger=_event(kind, name, data),
                           started_on={"kind": kind, "name": name, "from_instance": source})


def _waiting(uow, kind: str, name: str, exclude: str | None = None, business_key: str | None = None) -> list[str]:
    query = select(SUBS.c.instance_id).where(SUBS.c.kind == kind, SUBS.c.name == name).distinct()
    if exclude:
        query = query.where(SUBS.c.instance_id != exclude)
    if business_key is not None:
        query = query.where(SUBS.c.business_key == business_key)
    return sorted(uow.session.connection().execute(query).scalars())


def _starters(uow, kind: str, name: str) -> list:
    return [d for d in definitions.list_latest(uow.session) if name in ((d.meta or {}).get(f"{kind}_starts") or ())]


def _declared_for_me(uow, kind: str, name: str) -> None:
    """From outside only what a deployed model declares sendable by the sender's roles (anything
    else is the engine's own): 403 before anything is looked up."""
    for definition in definitions.list_latest(uow.session):
        senders = declaration(definition, name, kind)["senders"]
        if senders and (uow.actor.is_admin or uow.actor.has_any(senders)):
            return
    raise Forbidden(f"{kind} {name!r} is not sendable from outside by your roles: no deployed process declares it "
                    f"so (property sendableBy of the {kind})")


def broadcast(uow, name: str, data: dict | None = None, source: InstanceRecord | None = None,
              external: bool = False) -> dict:
    """Send signal ``name`` to every instance waiting for it and start every process it starts;
    ``{"delivered": [ids], "started": [ids]}``."""
    data = dict(data or {})
    delivered, started, refused = [], [], 0
    if external:
        _declared_for_me(uow, "signal", name)
    with _Depth(uow):
        for iid in _waiting(uow, "signal", name, exclude=source.id if source else None):
            inst = load_instance(uow.session, iid)
            if inst is None or inst.status != "running":
                continue
            definition = definitions.by_id(uow.engine, uow.session, inst.definition_id)
            received = _receivable(uow, definition, "signal", name, data, inst.org_unit, external)
            if received is None:
                refused += 1
                continue
            _deliver(uow, inst, definition, "signal", name, received, source.id if source else None)
            delivered.append(inst.id)
        for definition in _starters(uow, "signal", name):
            unit = source.org_unit if source else uow.actor.org_unit
            received = _receivable(uow, definition, "signal", name, data, unit, external)
            if received is None:
                refused += 1
                continue
            started.append(_start(uow, definition, "signal", name, received, source.business_key if source else None,
                                  unit, source.id if source else None).id)
    if external and refused and not delivered and not started:
        raise Forbidden(f"signal {name!r} is not yours to send: no process waiting for it declares it sendable by "
                        "your roles (property sendableBy of the signal)")
    uow.audit("signal_sent", signal=name, delivered=len(delivered), started=len(started),
              from_instance=source.id if source else None)
    return {"delivered": delivered, "started": started}


def correlate(uow, name: str, data: dict | None = None, business_key: str | None = None,
              correlation: dict | None = None, source: InstanceRecord | None = None, external: bool = False) -> dict:
    """Deliver message ``name`` to the one instance waiting for it (or start the one process it
    starts): ``{"delivered": [id]}`` or ``{"started": [id]}``; 409 when ambiguous, 404 when none."""
    data = dict(data or {})
    if external:
        _declared_for_me(uow, "message", name)
    with _Depth(uow):
        candidates = []
        for iid in _waiting(uow, "message", name, exclude=source.id if source else None, business_key=business_key):
            inst = load_instance(uow.session, iid)
            if inst is None or inst.status != "running":
                continue
            if external:  # only instances the sender may send to count, and only their data is compared
                definition = definitions.by_id(uow.engine, uow.session, inst.definition_id)
                if not _may_send(uow, definition, "message", name, inst.org_unit):
                    continue
            if correlation and any((inst.data or {}).get(k) != v for k, v in correlation.items()):
                continue
            candidates.append(inst)
        if len(candidates) > 1:
            raise Conflict(f"message {name!r} is ambiguous: {len(candidates)} instances wait for it"
                           + ("" if external else f" ({', '.join(i.id for i in candidates[:5])})")
                           + "; narrow it by business_key or correlation")
        if candidates:  # (from outside, only instances the sender may send to are candidates)
            inst = candidates[0]
            definition = definitions.by_id(uow.engine, uow.session, inst.definition_id)
            data = _receivable(uow, definition, "message", name, data, inst.org_unit, external)
            _deliver(uow, inst, definition, "message", name, data, source.id if source else None)
            return {"delivered": [inst.id], "started": []}
        starters = _starters(uow, "message", name) if not correlation else []
        if len(starters) > 1:
            raise Conflict(f"message {name!r} is ambiguous: it starts {', '.join(d.key for d in starters)}")
        if not starters:
            where = f" with business key {business_key!r}" if business_key else ""
            raise NotFound(f"no instance waits for message {name!r}{where} and no process starts on it")
        definition = starters[0]
        unit = source.org_unit if source else uow.actor.org_unit
        data = _receivable(uow, definition, "message", name, data, unit, external)
        if data is None:
            raise Forbidden(f"message {name!r} is not yours to send (property sendableBy of the message)")
        inst = _start(uow, definition, "message", name, data, business_key, unit, source.id if source else None)
        return {"delivered": [], "started": [inst.id]}


def backfill_subscriptions(engine) -> int:
    """Record what unfinished instances wait for by name when nothing is recorded for them (the
    instances of an upgrade from before ``bpm_event_subscription``): run by ``bpm init``, each
    instance in a transaction of its own; returns how many got rows."""
    from sqlalchemy import exists

    from engine.identity.actor import SYSTEM
    from engine.runtime.spiff import describe
    from engine.runtime.steps import subscribes, sync_subscriptions
    from engine.store.models import ProcessInstance

    with engine.read() as session:
        ids = list(session.execute(
            select(ProcessInstance.id).where(ProcessInstance.status.in_(("running", "incident", "suspended")),
                                             ~exists().where(SUBS.c.instance_id == ProcessInstance.id))).scalars())
    filled = 0
    for iid in ids:
        with engine.uow(SYSTEM) as uow:
            inst = load_instance(uow.session, iid)
            definition = definitions.by_id(engine, uow.session, inst.definition_id)
            if not subscribes(definition):
                continue
            result = describe(load_workflow(engine, inst, definition), inst.incident)
            if result.subscriptions:
                sync_subscriptions(uow, inst, result, inst.started_at)
                filled += 1
    return filled


def saved(uow, inst: InstanceRecord, definition, step) -> None:
    """After a step is written (``engine.runtime.steps.save``): deliver what it threw."""
    if step.result.events_out:
        dispatch(uow, inst, step.result.events_out)


def dispatch(uow, source: InstanceRecord, events_out: list) -> None:
    """What a step of ``source`` threw for other instances, delivered in the same transaction."""
    for kind, name, _element, data in events_out:
        if kind in ("error", "escalation") or name.startswith(CALL_MESSAGE):
            continue  # for the caller of a called instance (engine/runtime/calls.py)
        if kind == "signal":
            broadcast(uow, name, data, source=source)
            continue
        try:
            correlate(uow, name, data, business_key=source.business_key, source=source)
        except NotFound as exc:
            raise Conflict(f"{exc.message}: the step that throws it cannot complete (thrown by {source.process_key!r})"
                           ) from exc


EXTENSION = Extension("events", kinds=(), saved=saved)
