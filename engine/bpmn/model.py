"""Read and check a BPMN 2.0 document before anything is stored.

Checks run in order and every problem is reported as ``{"element_id", "message"}``:
well-formed XML, the BPMN 2.0 XSD, SpiffWorkflow's parser, then our rules (candidate
groups naming known roles, forms that exist, sandboxed expressions and scripts, timers
that parse, unsupported elements). Nothing here touches the database.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from lxml import etree

from engine.bpmn.expressions import evaluate
from engine.bpmn.restricted import ExpressionError, check_expression, check_script
from engine.identity.policy import task_scope
from engine.identity.roles import is_known_role

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
NS = {"bpmn": BPMN_NS, "camunda": CAMUNDA_NS}
MAX_XML_BYTES = 2 * 1024 * 1024
ID_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,127}$")
# Column sizes of what the runtime stores per element (task and audit rows).
MAX_ELEMENT_ID = 128
MAX_NAME = 256

UNSUPPORTED = {
    "serviceTask": "service tasks are not supported: model the work as a user task or a script task",
    "sendTask": "send tasks are not supported",
    "businessRuleTask": "business rule tasks are not supported",
    "complexGateway": "complex gateways are not supported",
    "transaction": "transactions are not supported",
}


@dataclass
class ParsedModel:
    """What a valid document yields: the executable process and its metadata."""

    process_id: str
    name: str | None
    meta: dict
    errors: list[dict] = field(default_factory=list)


def _err(element_id: str | None, message: str) -> dict:
    return {"element_id": element_id, "message": message}


def _split_roles(raw: str | None) -> list[str]:
    return [r.strip() for r in (raw or "").split(",") if r.strip()]


def _local(tag) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""


@functools.lru_cache(maxsize=1)
def _xsd():
    from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnValidator

    return BpmnValidator().validator


def _element_at_line(root, line: int) -> str | None:
    best = None
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        if el.sourceline is not None and el.sourceline <= line and el.get("id"):
            best = el.get("id")
        if el.sourceline is not None and el.sourceline > line:
            break
    return best


def _schema_error_element(root, entry) -> str | None:
    """The id of the element a schema error is about (or its nearest ancestor with an id).

    libxml2 reports the XPath of the offending node; the line number alone is ambiguous
    when several elements share a line (a document written on one line names the last one).
    """
    found = None
    if entry.path:
        try:
            hits = root.getroottree().xpath(entry.path, namespaces={k: v for k, v in root.nsmap.items() if k})
            found = hits[0] if hits and isinstance(hits[0], etree._Element) else None
        except (etree.XPathError, TypeError, ValueError):
            found = None
    while found is not None:
        if found.get("id"):
            return found.get("id")
        found = found.getparent()
    return _element_at_line(root, entry.line)


def parse_xml(xml: bytes) -> tuple[etree._Element | None, list[dict]]:
    """Well-formedness and XSD validation with a parser that resolves nothing external."""
    if len(xml) > MAX_XML_BYTES:
        return None, [_err(None, f"document is larger than {MAX_XML_BYTES} bytes")]
    try:
        xml.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, [_err(None, f"document must be UTF-8 encoded: {exc}")]
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, load_dtd=False)
    try:
        root = etree.fromstring(xml, parser)
    except etree.XMLSyntaxError as exc:
        return None, [_err(None, f"XML is not well-formed: {exc}")]
    except ValueError as exc:
        return None, [_err(None, f"XML could not be read: {exc}")]
    if root.getroottree().docinfo.doctype:
        # BPMN needs no DTD; entities would let text differ between this check and the runtime parser.
        return None, [_err(None, "DOCTYPE declarations (DTDs, entities) are not allowed in BPMN documents")]
    if root.tag != f"{{{BPMN_NS}}}definitions":
        return None, [_err(None, f"not a BPMN 2.0 document: root element is {root.tag!r}, expected bpmn:definitions")]
    schema = _xsd()
    if not schema.validate(root):
        errors = []
        for entry in list(schema.error_log)[:20]:
            errors.append(_err(_schema_error_element(root, entry), f"BPMN schema (line {entry.line}): {entry.message}"))
        return None, errors
    return root, []


def _properties(el) -> dict:
    props = {}
    for prop in el.iterfind("bpmn:extensionElements/camunda:properties/camunda:property", NS):
        name = prop.get("name")
        if name:
            props[name] = prop.get("value")
    return props


def _reads_data(expr: str) -> bool:
    """True when the expression names process variables (not only whitelisted functions)."""
    import ast


    try:
        tree = ast.parse(expr, mode="eval")
    except SyntaxError:
        return False
    called = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    return bool(names - called) or bool(called & {"now", "today"})


def _check_timer(el_id: str, timer_el, errors: list[dict]) -> None:
    from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition as T

    for kind in ("timeDuration", "timeDate", "timeCycle"):
        expr_el = timer_el.find(f"bpmn:{kind}", NS)
        if expr_el is None:
            continue
        expr = (expr_el.text or "").strip()
        try:
            check_expression(expr)
            if re.fullmatch(r"P[0-9YMWDTHS.]+", expr):
                raise ExpressionError(f"{expr} is not quoted")
            if _reads_data(expr):
                return  # e.g. a date computed from process data: its value is checked when the timer starts
            value = evaluate(expr, {})
        except ExpressionError as exc:
            errors.append(_err(el_id, f"timer {kind} {expr!r}: {exc} (durations must be quoted, e.g. \"PT24H\")"))
            return
        try:
            if kind == "timeCycle":
                _, start, step = T.parse_iso_recurring_interval(str(value))
                start + step  # noqa: B018 - the next due time must be a date
            elif kind == "timeDate":
                T.get_datetime(str(value))
            else:
                datetime.now(UTC) + T.get_timedelta_from_start(T.parse_iso_duration(str(value)))
        except Exception as exc:  # noqa: BLE001 - any parse failure is a model error
            errors.append(_err(el_id, f"timer {kind} {value!r} is not a valid ISO 8601 value: {exc}"))
        return
    errors.append(_err(el_id, "timer has no timeDuration, timeDate or timeCycle"))


def _check_user_task(el, el_id: str | None, info: dict, meta: dict, errors: list[dict], form_exists) -> None:
    if len(el.get("name") or "") > MAX_NAME:
        errors.append(_err(el_id, f"user task name is longer than {MAX_NAME} characters"))
    groups = _split_roles(el.get(f"{{{CAMUNDA_NS}}}candidateGroups"))
    form_key = el.get(f"{{{CAMUNDA_NS}}}formKey")
    if not groups:
        errors.append(_err(el_id, "user task has no camunda:candidateGroups: name the role(s) that may work on it"))
    for role in groups:
        if not is_known_role(role):
            errors.append(_err(el_id, f"unknown role {role!r} in camunda:candidateGroups"))
    if not form_key:
        errors.append(_err(el_id, "user task has no camunda:formKey: name the form it shows"))
    elif not form_exists(form_key):
        errors.append(_err(el_id, f"form {form_key!r} does not exist: deploy it first"))
    # the unit boundary (engine/identity/policy.py): the instance's unit unless the model says otherwise
    info.update(candidate_groups=groups, form_key=form_key, scope=task_scope(info.get("properties")))


def _check_start_event(el, el_id: str | None, info: dict, meta: dict, errors: list[dict], form_exists) -> None:
    form_key = el.get(f"{{{CAMUNDA_NS}}}formKey")
    if form_key and meta["process"] is el.getparent():
        if not form_exists(form_key):
            errors.append(_err(el_id, f"form {form_key!r} does not exist: deploy it first"))
        meta["start_form"] = form_key


def _check_script_task(el, el_id: str | None, info: dict, meta: dict, errors: list[dict], form_exists) -> None:
    try:
        check_script(el.findtext("bpmn:script", default="", namespaces=NS))
    except ExpressionError as exc:
        errors.append(_err(el_id, f"script: {exc}"))


def _check_sequence_flow(el, el_id: str | None, info: dict, meta: dict, errors: list[dict], form_exists) -> None:
    for ref in ("sourceRef", "targetRef"):
        if el.get(ref) not in meta["ids"]:
            errors.append(_err(el_id, f"{ref} {el.get(ref)!r} does not name an element of the process"))
    cond = el.find("bpmn:conditionExpression", NS)
    if cond is not None:
        try:
            check_expression((cond.text or "").strip())
        except ExpressionError as exc:
            errors.append(_err(el_id, f"condition {(cond.text or '').strip()!r}: {exc}"))


def _check_event_subprocess(el, el_id: str | None, info: dict, meta: dict, errors: list[dict], form_exists) -> None:
    if el.get("triggeredByEvent") != "true":
        return
    for start in el.iterfind("bpmn:startEvent", NS):
        for bad in ("escalationEventDefinition", "errorEventDefinition"):
            if start.find(f"bpmn:{bad}", NS) is not None:
                errors.append(_err(start.get("id"), f"event subprocess started by {bad[:-15]} events is not supported"))


def _check_expressions(el, el_id: str | None, errors: list[dict]) -> None:
    """Timer values and multi-instance expressions of any element."""
    for timer in el.iterfind("bpmn:timerEventDefinition", NS):
        _check_timer(el_id, timer, errors)
    for loop in el.iterfind("bpmn:multiInstanceLoopCharacteristics", NS):
        for tag in ("loopCardinality", "completionCondition"):
            text = loop.findtext(f"bpmn:{tag}", default=None, namespaces=NS)
            if text and text.strip():
                try:
                    check_expression(text.strip())
                except ExpressionError as exc:
                    errors.append(_err(el_id, f"{tag}: {exc}"))


_CHECKS = {"userTask": _check_user_task, "startEvent": _check_start_event, "scriptTask": _check_script_task,
           "sequenceFlow": _check_sequence_flow, "subProcess": _check_event_subprocess}


def _check_element(el, meta: dict, errors: list[dict], form_exists: Callable[[str], bool]) -> None:
    """The element's own rules; its ``camunda:properties`` are checked by the extensions that own
    them (``engine.extensions``), which is why they are only collected here."""
    kind = _local(el.tag)
    el_id = el.get("id")
    if kind in UNSUPPORTED:
        errors.append(_err(el_id, UNSUPPORTED[kind]))
        return
    if el_id and len(el_id) > MAX_ELEMENT_ID:
        errors.append(_err(el_id, f"element id is longer than {MAX_ELEMENT_ID} characters"))
        return
    info = {"type": kind, "name": el.get("name")}
    props = _properties(el)
    if props:
        info["properties"] = props
    check = _CHECKS.get(kind)
    if check is not None:
        check(el, el_id, info, meta, errors, form_exists)
    _check_expressions(el, el_id, errors)
    if el_id:
        meta["elements"][el_id] = info


def _messages(root) -> dict:
    """``{name: {id, properties}}`` of the document's messages (their properties, such as who may
    send them, belong to the runtime's message extension)."""
    return {msg.get("name") or msg.get("id"): {"id": msg.get("id"), "properties": _properties(msg)}
            for msg in root.iterfind("bpmn:message", NS)}


def read_model(root, form_exists: Callable[[str], bool]) -> ParsedModel:
    """Apply our rules to a schema-valid document and collect its metadata."""
    processes = root.findall("bpmn:process", NS)
    executable = [p for p in processes if p.get("isExecutable", "true") == "true"] or processes
    if len(executable) != 1:
        msg = "the document must contain exactly one executable process" + (
            f" (found {', '.join(p.get('id') or '(no id)' for p in executable)})" if executable else ""
        )
        return ParsedModel("", None, {}, [_err(None, msg)])
    process = executable[0]
    pid = process.get("id") or ""
    errors: list[dict] = []
    if not ID_RE.match(pid):
        errors.append(_err(pid or None, "process id must start with a letter and use letters, digits, _ . -"))
    if len(process.get("name") or "") > MAX_NAME:
        errors.append(_err(pid, f"process name is longer than {MAX_NAME} characters"))
    starters = _split_roles(process.get(f"{{{CAMUNDA_NS}}}candidateStarterGroups"))
    if not starters:
        errors.append(_err(pid, "process has no camunda:candidateStarterGroups: name the role(s) that may start it"))
    for role in starters:
        if not is_known_role(role):
            errors.append(_err(pid, f"unknown role {role!r} in camunda:candidateStarterGroups"))
    meta: dict = {
        "name": process.get("name"),
        "candidate_starter_groups": starters,
        "start_form": None,
        "properties": _properties(process),
        "elements": {},
        "lanes": {},
        "ids": {el.get("id") for el in process.iter() if isinstance(el.tag, str) and el.get("id")},
        "process": process,
    }
    for lane in process.iterfind(".//bpmn:lane", NS):
        for ref in lane.iterfind("bpmn:flowNodeRef", NS):
            meta["lanes"][(ref.text or "").strip()] = lane.get("name") or lane.get("id")
    for el in process.iter():
        if isinstance(el.tag, str) and el.tag.startswith(f"{{{BPMN_NS}}}") and el is not process:
            _check_element(el, meta, errors, form_exists)
    meta["messages"] = _messages(root)
    del meta["ids"], meta["process"]
    return ParsedModel(pid, process.get("name"), meta, errors)


def spiff_parse(xml: bytes, process_id: str):
    """Parse with SpiffWorkflow (and the engine's own specs, engine/bpmn/specs.py); return
    ``(spec, subprocess_specs)``."""
    from engine.bpmn.rewrite import prepare
    from engine.bpmn.specs import EngineParser

    parser = EngineParser()
    parser.add_bpmn_str(prepare(xml), filename=f"{process_id}.bpmn")
    spec = parser.get_spec(process_id)
    return spec, parser.get_subprocess_specs(process_id)


def validate_document(xml: bytes, form_exists: Callable[[str], bool]) -> ParsedModel:
    """Every check of the document itself; ``errors`` is empty when the BPMN is sound. The
    properties of its elements are checked by the extensions that own them
    (``engine.runtime.definitions.validate`` runs both)."""
    root, errors = parse_xml(xml)
    if root is None:
        return ParsedModel("", None, {}, errors)
    model = read_model(root, form_exists)
    if not model.process_id:
        return model
    from copy import deepcopy

    from engine.bpmn.rewrite import rewrite

    model.errors.extend(rewrite(deepcopy(root)))
    try:
        spiff_parse(xml, model.process_id)
    except Exception as exc:  # noqa: BLE001 - the parser raises many kinds; all are model errors
        element = getattr(exc, "id", None) or None
        model.errors.insert(0, _err(element, f"SpiffWorkflow could not parse the process: {exc}"))
    return model
