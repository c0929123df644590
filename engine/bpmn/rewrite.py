"""Drawn constructs the engine runs by rewriting them, before SpiffWorkflow parses a document,
into constructs with exactly the same BPMN 2.0 semantics that SpiffWorkflow runs:

* **Link events** (BPMN 2.0 §10.5.6: a pair of link events is a "go to", a virtual sequence
  flow). A link throw event becomes a pass-through event with a sequence flow to the link catch
  event of the same name in the same process or subprocess, which becomes a pass-through event.
* **Camunda's multi-instance attributes** (``camunda:collection``, ``camunda:elementVariable``,
  which the modeler's properties panel writes) become the standard ``loopDataInputRef`` and
  ``inputDataItem``.

Every parse goes through :func:`prepare` (deploy checks and the runtime's spec cache alike), so
what is checked is what runs. Element ids are kept: timelines and tasks name what was drawn.
"""

from __future__ import annotations

import re
from copy import deepcopy

from lxml import etree

from engine.bpmn.names import BPMN_NS, CAMUNDA_NS, NS, named

SCOPES = ("process", "subProcess", "transaction", "adHocSubProcess")
VARIABLE_RE = re.compile(r"^(?:\$\{\s*)?([A-Za-z_][A-Za-z0-9_]*)(?:\s*\})?$")


def _q(tag: str) -> str:
    return f"{{{BPMN_NS}}}{tag}"


def _link_name(event) -> str | None:
    link = event.find("bpmn:linkEventDefinition", NS)
    if link is None:
        return None
    return (link.get("name") or event.get("name") or "").strip()


def _links(scope, errors: list[dict]) -> None:
    catches: dict[str, etree._Element] = {}
    for event in scope.findall("bpmn:intermediateCatchEvent", NS):
        name = _link_name(event)
        if name is None:
            continue
        if not name:
            errors.append({"element_id": event.get("id"), "message": "link catch event has no link name: name the "
                                                                     "link so that a link throw event can go to it"})
        elif name in catches:
            errors.append({"element_id": event.get("id"), "message": f"two link catch events are named {name!r} in "
                                                                     "the same process: a link name must be unique"})
        else:
            catches[name] = event
    n = 0
    for event in scope.findall("bpmn:intermediateThrowEvent", NS):
        name = _link_name(event)
        if name is None:
            continue
        target = catches.get(name)
        if target is None:
            errors.append({"element_id": event.get("id"),
                           "message": f"link throw event {named(event)} goes to link {name!r}, but no link catch event "
                                      "of that name is in the same process or subprocess"})
            continue
        if scope.find(f"bpmn:sequenceFlow[@sourceRef='{event.get('id')}']", NS) is not None:
            errors.append({"element_id": event.get("id"),
                           "message": f"link throw event {named(event)} has an outgoing sequence flow: the link is its only way "
                                      "on, remove the flow"})
            continue
        n += 1
        flow = etree.SubElement(scope, _q("sequenceFlow"))
        flow.set("id", f"{event.get('id')}__link{n}")
        flow.set("sourceRef", event.get("id"))
        flow.set("targetRef", target.get("id"))
    for event in [*catches.values(), *scope.findall("bpmn:intermediateThrowEvent", NS)]:
        for link in event.findall("bpmn:linkEventDefinition", NS):
            event.remove(link)


def _multi_instance(root, errors: list[dict]) -> None:
    for loop in root.iter(_q("multiInstanceLoopCharacteristics")):
        collection = loop.get(f"{{{CAMUNDA_NS}}}collection")
        element_var = loop.get(f"{{{CAMUNDA_NS}}}elementVariable")
        owner = loop.getparent()
        if collection is None:
            if element_var is not None:
                errors.append({"element_id": owner.get("id"), "message": "camunda:elementVariable without "
                                                                         "camunda:collection: name the list to go over"})
            continue
        match = VARIABLE_RE.match(collection.strip())
        if match is None:
            errors.append({"element_id": owner.get("id"),
                           "message": f"camunda:collection {collection!r} must name a list variable of the process "
                                      "(for example items or ${items})"})
            continue
        if loop.find("bpmn:loopDataInputRef", NS) is not None or loop.find("bpmn:loopCardinality", NS) is not None:
            errors.append({"element_id": owner.get("id"), "message": "camunda:collection together with a loop "
                                                                     "cardinality or loopDataInputRef: keep one"})
            continue
        ref = etree.Element(_q("loopDataInputRef"))
        ref.text = match.group(1)
        loop.insert(0, ref)
        if element_var:
            var = element_var.strip()
            if not VARIABLE_RE.match(var) or var.startswith("$"):
                errors.append({"element_id": owner.get("id"),
                               "message": f"camunda:elementVariable {element_var!r} must be a variable name"})
                continue
            item = etree.Element(_q("inputDataItem"))
            item.set("id", var)  # SpiffWorkflow names the variable after the id
            item.set("name", var)
            ref.addnext(item)


TIMER_START_SIGNAL = "__timer_start__"
CALL_MESSAGE = "__call__"


def call_message(element_id: str) -> str:
    """The engine-internal message a call activity waits for: its called instance has ended."""
    return f"{CALL_MESSAGE}{element_id}"


def _call_activities(root) -> None:
    """A call activity runs its called process as an instance of its own (engine/runtime/calls.py)
    and waits until it ends: to SpiffWorkflow it is a receive task of an engine-internal message,
    which keeps its boundary events (timers, errors and escalations from the called instance)."""
    for call in list(root.iter(_q("callActivity"))):
        name = call_message(call.get("id"))
        message = etree.SubElement(root, _q("message"))
        message.set("id", name)
        message.set("name", name)
        call.tag = _q("receiveTask")
        for attr in list(call.attrib):
            if attr not in ("id", "name"):
                del call.attrib[attr]
        call.set("messageRef", name)


def timer_start_signal(element_id: str) -> str:
    """The engine-internal signal a timer start event of the process is rewritten to start on."""
    return f"{TIMER_START_SIGNAL}{element_id}"


def _timer_starts(root) -> None:
    """A timer start event of a process starts it when the engine's schedule fires
    (``engine.scheduling.schedules``), not when someone starts it by hand: it becomes a start
    event on an engine-internal signal, which the schedule sends to exactly that start event."""
    for process in root.iterfind("bpmn:process", NS):
        for start in process.iterfind("bpmn:startEvent", NS):
            timer = start.find("bpmn:timerEventDefinition", NS)
            if timer is None or len([d for d in start if isinstance(d.tag, str) and d.tag.endswith("EventDefinition")]) != 1:
                continue
            name = timer_start_signal(start.get("id"))
            signal = etree.SubElement(root, _q("signal"))
            signal.set("id", name)
            signal.set("name", name)
            ref = etree.Element(_q("signalEventDefinition"))
            ref.set("id", f"{timer.get('id') or start.get('id')}__signal")
            ref.set("signalRef", name)
            timer.addprevious(ref)
            start.remove(timer)


COMPENSATION_LOG, COMPENSATION_QUEUE, COMPENSATING = "compensation_log", "compensation_queue", "compensating"


def _script(parent, sid: str, name: str, code: str):
    task = etree.SubElement(parent, _q("scriptTask"))
    task.set("id", sid)
    task.set("name", name)
    task.set("scriptFormat", "python")
    etree.SubElement(task, _q("script")).text = code
    return task


def _flow(parent, fid: str, source: str, target: str, condition: str | None = None):
    flow = etree.SubElement(parent, _q("sequenceFlow"))
    flow.set("id", fid)
    flow.set("sourceRef", source)
    flow.set("targetRef", target)
    if condition is not None:
        expr = etree.SubElement(flow, _q("conditionExpression"))
        expr.set("{http://www.w3.org/2001/XMLSchema-instance}type", "bpmn:tFormalExpression")
        expr.text = condition
    return flow


def compensation_parts(process) -> tuple[dict, list]:
    """``({activity id: handler element}, [compensation throw and end events])`` of a process's
    top level (what :func:`_compensation` rewrites)."""
    by_id = {el.get("id"): el for el in process if isinstance(el.tag, str) and el.get("id")}
    handlers = {}
    for boundary in process.findall("bpmn:boundaryEvent", NS):
        if boundary.find("bpmn:compensateEventDefinition", NS) is None:
            continue
        for assoc in process.iter(_q("association")):
            if assoc.get("sourceRef") == boundary.get("id") and assoc.get("targetRef") in by_id:
                handlers[boundary.get("attachedToRef")] = (boundary, by_id[assoc.get("targetRef")], assoc)
    throws = [el for el in process if isinstance(el.tag, str) and el.tag in (_q("intermediateThrowEvent"), _q("endEvent"))
              and el.find("bpmn:compensateEventDefinition", NS) is not None]
    return handlers, throws


def _compensation(process) -> None:
    """Compensation (BPMN 2.0 §10.6), which SpiffWorkflow lacks, as constructs it runs:

    * every activity with a compensation boundary event is followed by a step that records the
      instant it completed in ``compensation_log[<activity>]`` (again for every completion);
    * a compensation throw event is followed (an end event preceded) by a step that takes the
      log in reverse (only its ``activityRef`` if it names one) into ``compensation_queue`` and
      empties it, then a sequential multi-instance subprocess over the queue that runs each
      recorded activity's handler (``compensating`` is the activity's id), then goes on (a throw
      event) or ends (an end event).

    The handlers keep their ids when one throw uses them (copies get ``<handler>__<throw>``)."""
    handlers, throws = compensation_parts(process)
    if not handlers:
        return
    if not throws:  # nothing ever compensates: the handlers never run
        for boundary, handler, assoc in handlers.values():
            for el in (boundary, assoc, handler):
                process.remove(el)
        return
    # one log for the instance, a list of completion instants per activity: parallel branches each
    # add their own keys, which their join merges (a dict is merged key by key)
    for start in process.findall("bpmn:startEvent", NS):
        sid = f"{start.get('id')}__compensation_log"
        _script(process, sid, "补偿记录 compensation log", f"{COMPENSATION_LOG} = {{}}")
        for flow in process.findall("bpmn:sequenceFlow", NS):
            if flow.get("sourceRef") == start.get("id"):
                flow.set("sourceRef", sid)
        _flow(process, f"{sid}__in", start.get("id"), sid)
    for activity_id in handlers:
        sid = f"{activity_id}__compensable"
        done = f'{COMPENSATION_LOG}.get("{activity_id}", [])'
        _script(process, sid, "补偿记录 compensation log",
                f'{COMPENSATION_LOG} = {{**{COMPENSATION_LOG}, "{activity_id}": {done} + [[now(), len({done})]]}}')
        for flow in process.findall("bpmn:sequenceFlow", NS):
            if flow.get("sourceRef") == activity_id:
                flow.set("sourceRef", sid)
        _flow(process, f"{sid}__in", activity_id, sid)
    for boundary, handler, assoc in handlers.values():
        process.remove(boundary)
        process.remove(assoc)
        process.remove(handler)
    for throw in throws:
        tid = throw.get("id")
        definition = throw.find("bpmn:compensateEventDefinition", NS)
        only = definition.get("activityRef")
        throw.remove(definition)
        prepare = f"{tid}__prepare"
        chosen = [a for a in handlers if not only or a == only]
        entries = " + ".join(f'[[e[0], e[1], "{a}"] for e in {COMPENSATION_LOG}.get("{a}", [])]' for a in chosen)
        _script(process, prepare, "补偿 compensation",
                f"{COMPENSATION_QUEUE} = [e[2] for e in sorted({entries}, reverse=True)]\n"
                f"{COMPENSATION_LOG} = {{k: v for k, v in {COMPENSATION_LOG}.items() if k not in {chosen!r}}}")
        sub = etree.SubElement(process, _q("subProcess"))
        sub.set("id", f"{tid}__compensate")
        sub.set("name", "补偿 compensation")
        loop = etree.SubElement(sub, _q("multiInstanceLoopCharacteristics"))
        loop.set("isSequential", "true")
        etree.SubElement(loop, _q("loopDataInputRef")).text = COMPENSATION_QUEUE
        item = etree.SubElement(loop, _q("inputDataItem"))
        item.set("id", COMPENSATING)
        item.set("name", COMPENSATING)
        start, route, end = f"{tid}__c_start", f"{tid}__c_route", f"{tid}__c_end"
        etree.SubElement(sub, _q("startEvent")).set("id", start)
        etree.SubElement(sub, _q("exclusiveGateway")).set("id", route)
        etree.SubElement(sub, _q("endEvent")).set("id", end)
        _flow(sub, f"{start}__f", start, route)
        for n, (activity_id, (_b, handler, _a)) in enumerate(handlers.items()):
            copy = deepcopy(handler) if len(throws) > 1 else handler
            if len(throws) > 1:
                copy.set("id", f"{handler.get('id')}__{tid}")
            copy.attrib.pop("isForCompensation", None)
            sub.append(copy)
            _flow(sub, f"{route}__{n}", route, copy.get("id"), f'{COMPENSATING} == "{activity_id}"')
            _flow(sub, f"{route}__{n}__end", copy.get("id"), end)
        # flows into the throw now reach it after the compensation
        if throw.tag == _q("endEvent"):
            for flow in process.findall("bpmn:sequenceFlow", NS):
                if flow.get("targetRef") == tid:
                    flow.set("targetRef", prepare)
            _flow(process, f"{prepare}__f", prepare, sub.get("id"))
            _flow(process, f"{sub.get('id')}__f", sub.get("id"), tid)
        else:
            for flow in process.findall("bpmn:sequenceFlow", NS):
                if flow.get("sourceRef") == tid:
                    flow.set("sourceRef", sub.get("id"))
            _flow(process, f"{tid}__f", tid, prepare)
            _flow(process, f"{prepare}__f", prepare, sub.get("id"))


def rewrite(root) -> list[dict]:
    """Rewrite ``root`` in place; return the problems found (``{"element_id", "message"}``)."""
    errors: list[dict] = []
    _timer_starts(root)
    _call_activities(root)
    for process in root.iterfind("bpmn:process", NS):
        _compensation(process)
    for tag in SCOPES:
        for scope in root.iter(_q(tag)):
            _links(scope, errors)
    _multi_instance(root, errors)
    return errors


def prepare(xml: bytes) -> bytes:
    """The document as SpiffWorkflow must parse it (problems are reported by the deploy checks)."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    root = etree.fromstring(xml, parser)
    rewrite(root)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")
