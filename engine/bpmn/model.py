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
from copy import deepcopy
from dataclasses import dataclass, field
from datetime import UTC, datetime

from lxml import etree

from engine.bpmn import coverage
from engine.bpmn.cycles import timer_start_cycle
from engine.bpmn.expressions import evaluate
from engine.bpmn.names import BPMN_NS, CAMUNDA_NS, NAME_EN, NS, is_external
from engine.bpmn.names import local as _local
from engine.bpmn.names import named as _named
from engine.bpmn.restricted import ExpressionError, check_expression, check_script
from engine.bpmn.rewrite import compensation_parts, prepare, rewrite
from engine.identity.names import join_name
from engine.identity.policy import task_scope
from engine.identity.roles import ROLES, is_known_role

MAX_XML_BYTES = 2 * 1024 * 1024
ID_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,127}$")
# Column sizes of what the runtime stores per element (task and audit rows).
MAX_ELEMENT_ID = 128
MAX_NAME = 256

@dataclass
class ParsedModel:
    """What a valid document yields: the executable process and its metadata."""

    process_id: str
    name: str | None
    meta: dict
    errors: list[dict] = field(default_factory=list)


def _err(element_id: str | None, message: str, message_zh: str | None = None, code: str | None = None) -> dict:
    out = {"element_id": element_id, "message": message}
    if message_zh:
        out["message_zh"] = message_zh
    if code:
        out["code"] = code
    return out


def _role_zh(role: str) -> str:
    """How a Chinese message names a role someone typed: its Chinese name, or what was typed."""
    return ROLES[role][0] if role in ROLES else role


def _unknown_role(el_id: str | None, el, role: str, where: str, field_zh: str) -> dict:
    """A candidate (starter) group that is no role key; a Chinese role name typed instead of its key
    says which key to pick."""
    key = next((k for k, (zh, en) in ROLES.items() if role in (zh, en)), None)
    hint = (f"“{role}”是角色名称，请在角色列表中选择“{role}”（{key}）" if key
            else f"没有名为“{role}”的角色，请在角色列表中选择")
    return _err(el_id, f"unknown role {role!r} in camunda:{where}", f"{_named(el)}的{field_zh}有误：{hint}",
                "unknown_role")


def _split_roles(raw: str | None) -> list[str]:
    return [r.strip() for r in (raw or "").split(",") if r.strip()]


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
        return None, [_err(None, f"document is larger than {MAX_XML_BYTES} bytes", f"文档超过 {MAX_XML_BYTES} 字节")]
    try:
        xml.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, [_err(None, f"document must be UTF-8 encoded: {exc}", "文档须为 UTF-8 编码")]
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, load_dtd=False)
    try:
        root = etree.fromstring(xml, parser)
    except etree.XMLSyntaxError as exc:
        return None, [_err(None, f"XML is not well-formed: {exc}", f"XML 格式错误：{exc}")]
    except ValueError as exc:
        return None, [_err(None, f"XML could not be read: {exc}", f"无法读取 XML：{exc}")]
    if root.getroottree().docinfo.doctype:
        # BPMN needs no DTD; entities would let text differ between this check and the runtime parser.
        return None, [_err(None, "DOCTYPE declarations (DTDs, entities) are not allowed in BPMN documents",
                                "BPMN 文档中不允许 DOCTYPE 声明（DTD、实体）")]
    if root.tag != f"{{{BPMN_NS}}}definitions":
        return None, [_err(None, f"not a BPMN 2.0 document: root element is {root.tag!r}, expected bpmn:definitions",
                                "不是 BPMN 2.0 文档：根元素应为 bpmn:definitions")]
    schema = _xsd()
    if not schema.validate(root):
        errors = []
        for entry in list(schema.error_log)[:20]:
            errors.append(_err(_schema_error_element(root, entry), f"BPMN schema (line {entry.line}): {entry.message}",
                                 f"不符合 BPMN 规范（第 {entry.line} 行）：{entry.message}"))
        return None, errors
    return root, []


def two_language_name(el) -> str | None:
    """An element's name as the engine stores it: the drawn ``name`` (Chinese), and where the model
    gives its English as ``camunda:properties`` ``name.en``, both as ``中文|English``
    (engine/identity/names.py shows one of the two). A name without ``name.en`` is stored as drawn."""
    return join_name(el.get("name"), _properties(el, with_name=True).get(NAME_EN))


def _properties(el, *, with_name: bool = False) -> dict:
    """An element's ``camunda:properties``; its English name (``name.en``) only ``with_name``:
    it is part of the element's name (:func:`two_language_name`), not a setting."""
    props = {}
    for prop in el.iterfind("bpmn:extensionElements/camunda:properties/camunda:property", NS):
        name = prop.get("name")
        if name and (with_name or name != NAME_EN):
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
            errors.append(_err(el_id, f"timer {kind} {expr!r}: {exc} (durations must be quoted, e.g. \"PT24H\")",
                               f"定时器 {kind} {expr!r}：{exc}（时长须加引号，如 \"PT24H\"）"))
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
            errors.append(_err(el_id, f"timer {kind} {value!r} is not a valid ISO 8601 value: {exc}",
                               f"定时器 {kind} {value!r} 不是有效的 ISO 8601 值"))
        return
    errors.append(_err(el_id, "timer has no timeDuration, timeDate or timeCycle", "定时器缺少时长、日期或周期"))


def _check_user_task(el, el_id: str | None, info: dict, meta: dict, errors: list[dict], form_exists) -> None:
    if len(el.get("name") or "") > MAX_NAME:
        errors.append(_err(el_id, f"user task name is longer than {MAX_NAME} characters", f"人工任务名称超过 {MAX_NAME} 个字符"))
    groups = _split_roles(el.get(f"{{{CAMUNDA_NS}}}candidateGroups"))
    form_key = el.get(f"{{{CAMUNDA_NS}}}formKey")
    if not groups:
        errors.append(_err(el_id, "user task has no camunda:candidateGroups: name the role(s) that may work on it",
                           f"{_named(el)}没有指定办理角色：请在“办理角色”中选择可以办理的角色", "no_candidate_groups"))
    for role in groups:
        if not is_known_role(role):
            errors.append(_unknown_role(el_id, el, role, "candidateGroups", "办理角色"))
    if not form_key:
        errors.append(_err(el_id, "user task has no camunda:formKey: name the form it shows",
                           f"{_named(el)}没有选择表单：请在“表单”中选择办理时显示的表单", "no_form"))
    elif not form_exists(form_key):
        errors.append(_err(el_id, f"form {form_key!r} does not exist: deploy it first",
                           f"{_named(el)}使用的表单“{form_key}”不存在：请先部署该表单", "form_missing"))
    # the unit boundary (engine/identity/policy.py): the instance's unit unless the model says otherwise
    info.update(candidate_groups=groups, form_key=form_key, scope=task_scope(info.get("properties")))


def _check_start_event(el, el_id: str | None, info: dict, meta: dict, errors: list[dict], form_exists) -> None:
    form_key = el.get(f"{{{CAMUNDA_NS}}}formKey")
    if form_key and meta["process"] is el.getparent():
        if not form_exists(form_key):
            errors.append(_err(el_id, f"form {form_key!r} does not exist: deploy it first",
                               f"{_named(el)}使用的表单“{form_key}”不存在：请先部署该表单", "form_missing"))
        meta["start_form"] = form_key


PYTHON_FORMATS = ("", "python", "python3", "py", "text/x-python", "text/python")


def _check_script_task(el, el_id: str | None, info: dict, meta: dict, errors: list[dict], form_exists) -> None:
    fmt = (el.get("scriptFormat") or "").strip().lower()
    if fmt not in PYTHON_FORMATS:
        errors.append(_err(el_id, f"script task {_named(el)}: scriptFormat {el.get('scriptFormat')!r} is not supported: "
                                  "scripts are restricted Python (scriptFormat python)",
                           f"脚本任务 {_named(el)}：不支持脚本格式 {el.get('scriptFormat')!r}，脚本须为受限 Python"))
        return
    try:
        check_script(el.findtext("bpmn:script", default="", namespaces=NS))
    except ExpressionError as exc:
        errors.append(_err(el_id, f"script: {exc}", f"脚本：{exc}"))


def _check_sequence_flow(el, el_id: str | None, info: dict, meta: dict, errors: list[dict], form_exists) -> None:
    for ref in ("sourceRef", "targetRef"):
        if el.get(ref) not in meta["ids"]:
            errors.append(_err(el_id, f"{ref} {el.get(ref)!r} does not name an element of the process",
                               f"顺序流的 {ref} {el.get(ref)!r} 不是本流程的元素"))
    cond = el.find("bpmn:conditionExpression", NS)
    if cond is not None:
        try:
            check_expression((cond.text or "").strip())
        except ExpressionError as exc:
            errors.append(_err(el_id, f"condition {(cond.text or '').strip()!r}: {exc}", f"条件 {(cond.text or '').strip()!r}：{exc}"))


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
                    errors.append(_err(el_id, f"{tag}: {exc}", f"{tag}：{exc}"))


IO_KINDS = ("userTask", "scriptTask")
_EXPR = re.compile(r"^\$\{(.*)\}$", re.S)


def io_value(text: str | None) -> tuple[str, str]:
    """``("expr", python)`` for ``${...}``, else ``("text", literal)``."""
    text = (text or "").strip()
    match = _EXPR.match(text)
    return ("expr", match.group(1).strip()) if match else ("text", text)


def _input_output(el, kind: str, errors: list[dict]) -> dict | None:
    """``camunda:inputOutput`` of a user or script task: ``{"in": [[name, kind, value]], "out": [...]}``;
    values are text or ``${expression}`` (a restricted expression over the instance's data)."""
    block = el.find("bpmn:extensionElements/camunda:inputOutput", NS)
    if block is None:
        return None
    zh = f"{_named(el)} 的输入输出参数："
    if kind not in IO_KINDS and not is_external(el):
        errors.append(_err(el.get("id"), f"{kind} {_named(el)}: camunda:inputOutput is supported on user, script and "
                                         "external tasks only: compute the values in a script task",
                           zh + "仅支持人工任务、脚本任务和外部任务"))
        return None
    io: dict = {"in": [], "out": []}
    for tag, key in (("inputParameter", "in"), ("outputParameter", "out")):
        for param in block.iterfind(f"camunda:{tag}", NS):
            name = param.get("name") or ""
            if len(param):  # camunda:list, camunda:map, camunda:script
                errors.append(_err(el.get("id"), f"{_named(el)}: {tag} {name!r} holds a list, map or script, which "
                                                 "is not supported: use a ${{expression}} or text",
                                   zh + f"参数 {name!r} 不支持列表、映射或脚本"))
                continue
            if not ID_RE.match(name) or "." in name:
                errors.append(_err(el.get("id"), f"{_named(el)}: {tag} name {name!r} must be a variable name",
                                   zh + f"参数名 {name!r} 须为变量名"))
                continue
            value_kind, value = io_value(param.text)
            if value_kind == "expr":
                try:
                    check_expression(value)
                except ExpressionError as exc:
                    errors.append(_err(el.get("id"), f"{_named(el)}: {tag} {name!r}: {exc}", zh + f"参数 {name!r}：{exc}"))
                    continue
            io[key].append([name, value_kind, value])
    return io


CALL_BINDINGS = ("latest", "version", "versionTag")


def _check_call_activity(el, el_id: str | None, info: dict, meta: dict, errors: list[dict], form_exists) -> None:
    """``calledElement`` with ``camunda:calledElementBinding`` (latest, version + calledElementVersion,
    versionTag + calledElementVersionTag) and the ``camunda:in`` / ``camunda:out`` mappings."""
    called = (el.get("calledElement") or "").strip()
    binding = el.get(f"{{{CAMUNDA_NS}}}calledElementBinding") or "latest"
    call = {"process": called, "binding": binding, "version": None, "version_tag": None, "in": [], "out": [],
            "business_key": False}
    zh = f"调用活动 {_named(el)}："
    if not ID_RE.match(called):
        errors.append(_err(el_id, f"call activity {_named(el)}: calledElement must name the process to call (its id)",
                           zh + "calledElement 须为被调用流程的 id"))
    if binding not in CALL_BINDINGS:
        errors.append(_err(el_id, f"call activity {_named(el)}: calledElementBinding {binding!r} is not supported "
                                  "(latest, version or versionTag)", zh + f"不支持绑定方式 {binding!r}"))
    elif binding == "version":
        version = el.get(f"{{{CAMUNDA_NS}}}calledElementVersion") or ""
        if not version.isdigit() or int(version) < 1:
            errors.append(_err(el_id, f"call activity {_named(el)}: binding version needs camunda:calledElementVersion, "
                                      "a version number", zh + "按版本绑定须填写版本号"))
        else:
            call["version"] = int(version)
    elif binding == "versionTag":
        call["version_tag"] = el.get(f"{{{CAMUNDA_NS}}}calledElementVersionTag")
        if not call["version_tag"]:
            errors.append(_err(el_id, f"call activity {_named(el)}: binding versionTag needs "
                                      "camunda:calledElementVersionTag", zh + "按版本标签绑定须填写版本标签"))
    if el.find("bpmn:multiInstanceLoopCharacteristics", NS) is not None or \
            el.find("bpmn:standardLoopCharacteristics", NS) is not None:
        errors.append(_err(el_id, f"call activity {_named(el)}: a looping or multi-instance call activity is not "
                                  "supported: call from a multi-instance subprocess instead", zh + "不支持循环或多实例调用活动"))
    for direction in ("in", "out"):
        for mapping in el.iterfind(f"bpmn:extensionElements/camunda:{direction}", NS):
            if direction == "in" and mapping.get("businessKey") is not None:
                call["business_key"] = True  # the caller's business key (#{execution.processBusinessKey})
                continue
            if mapping.get("variables") == "all":
                call[direction].append({"all": True})
                continue
            source, target = mapping.get("source"), mapping.get("target") or mapping.get("source")
            if not source or not ID_RE.match(source) or not ID_RE.match(target or ""):
                errors.append(_err(el_id, f"call activity {_named(el)}: camunda:{direction} needs source and target "
                                          "variable names (or variables=\"all\"); expressions are not supported",
                                   zh + f"camunda:{direction} 须填写 source 和 target 变量名"))
                continue
            call[direction].append({"source": source, "target": target})
    info["call"] = call



_IMPLEMENTATIONS = ("class", "expression", "delegateExpression")
DECISION_BINDINGS = ("latest", "version")
DECISION_MAPPINGS = ("singleEntry", "singleResult", "collectEntries", "resultList")
MAX_TOPIC = 128


def _check_external(el, el_id: str | None, info: dict, meta: dict, errors: list[dict], form_exists) -> None:
    """``serviceTask``, ``sendTask`` and ``businessRuleTask``: an external task (``camunda:type=
    "external"`` + ``camunda:topic``, done by a worker of the topic, engine/runtime/external.py), a
    send task's message throw, or a business rule task's DMN decision (``camunda:decisionRef``).
    Java implementations (class, expression, delegateExpression, connectors) cannot run here."""
    kind = _local(el.tag)
    label = {"serviceTask": "service task", "sendTask": "send task", "businessRuleTask": "business rule task"}[kind]
    zh = {"serviceTask": "服务任务", "sendTask": "发送任务", "businessRuleTask": "业务规则任务"}[kind] + f" {_named(el)}："
    kind_attr = el.get(f"{{{CAMUNDA_NS}}}type")
    java = [a for a in _IMPLEMENTATIONS if el.get(f"{{{CAMUNDA_NS}}}{a}")]
    if el.find("bpmn:extensionElements/camunda:connector", NS) is not None:
        java.append("connector")
    if is_external(el):
        topic = (el.get(f"{{{CAMUNDA_NS}}}topic") or "").strip()
        if not topic:
            errors.append(_err(el_id, f"{label} {_named(el)}: an external task needs camunda:topic (the topic its "
                                      "workers fetch)", zh + "外部任务须设置 camunda:topic"))
            return
        if len(topic) > MAX_TOPIC:
            errors.append(_err(el_id, f"{label} {_named(el)}: topic longer than {MAX_TOPIC} characters",
                               zh + f"主题超过 {MAX_TOPIC} 个字符"))
            return
        priority = (el.get(f"{{{CAMUNDA_NS}}}taskPriority") or "0").strip()
        if not re.fullmatch(r"-?\d{1,9}", priority):
            errors.append(_err(el_id, f"{label} {_named(el)}: camunda:taskPriority {priority!r} must be a whole "
                                      "number (expressions are not supported)",
                               zh + f"优先级 {priority!r} 须为整数"))
            return
        info["external"] = {"topic": topic, "priority": int(priority)}
        meta["external"] = True
        return
    if kind_attr or java:
        what = f"camunda:type {kind_attr!r}" if kind_attr else f"camunda:{java[0]}"
        errors.append(_err(el_id, f"{label} {_named(el)}: {what} is not supported: the engine runs no Java; make it an "
                                  "external task (camunda:type=\"external\" and camunda:topic) that a worker of the "
                                  "topic completes", zh + f"不支持 {what}，请改为外部任务（camunda:type=external 和 "
                                                         "camunda:topic）"))
        return
    if kind == "sendTask":
        return  # a message throw (SpiffWorkflow's send task)
    if kind == "businessRuleTask" and el.get(f"{{{CAMUNDA_NS}}}decisionRef"):
        _check_decision_ref(el, el_id, info, errors, label, zh)
        meta["decisions"] = True
        return
    what = ("a DMN decision (camunda:decisionRef) or an external task (camunda:type=\"external\")"
            if kind == "businessRuleTask" else "an external task (camunda:type=\"external\" and camunda:topic)")
    errors.append(_err(el_id, f"{label} {_named(el)} has no implementation the engine can run: make it {what}",
                       zh + "没有可执行的实现" + ("，请引用决策表（camunda:decisionRef）或改为外部任务"
                                            if kind == "businessRuleTask" else "，请改为外部任务")))


def _check_decision_ref(el, el_id, info: dict, errors: list[dict], label: str, zh: str) -> None:
    ref = el.get(f"{{{CAMUNDA_NS}}}decisionRef").strip()
    binding = el.get(f"{{{CAMUNDA_NS}}}decisionRefBinding") or "latest"
    mapping = el.get(f"{{{CAMUNDA_NS}}}mapDecisionResult") or "resultList"
    result = (el.get(f"{{{CAMUNDA_NS}}}resultVariable") or "").strip()
    decision = {"ref": ref, "binding": binding, "version": None, "map": mapping, "result_variable": result}
    if binding not in DECISION_BINDINGS:
        errors.append(_err(el_id, f"{label} {_named(el)}: decisionRefBinding {binding!r} is not supported (latest or "
                                  "version)", zh + f"不支持绑定方式 {binding!r}（latest 或 version）"))
    elif binding == "version":
        version = (el.get(f"{{{CAMUNDA_NS}}}decisionRefVersion") or "").strip()
        if not version.isdigit() or int(version) < 1:
            errors.append(_err(el_id, f"{label} {_named(el)}: binding version needs camunda:decisionRefVersion, a "
                                      "version number", zh + "按版本绑定须设置 camunda:decisionRefVersion"))
        else:
            decision["version"] = int(version)
    if mapping not in DECISION_MAPPINGS:
        errors.append(_err(el_id, f"{label} {_named(el)}: mapDecisionResult {mapping!r} is not one of "
                                  f"{', '.join(DECISION_MAPPINGS)}", zh + f"不支持结果映射 {mapping!r}"))
    if not result.isidentifier():
        errors.append(_err(el_id, f"{label} {_named(el)}: camunda:resultVariable must name the variable that takes the "
                                  "decision's result (without it the decision would change nothing)",
                           zh + "须设置 camunda:resultVariable（决策结果存入的变量）"))
    info["decision"] = decision


_CHECKS = {"callActivity": _check_call_activity, "userTask": _check_user_task, "startEvent": _check_start_event, "scriptTask": _check_script_task,
           "sequenceFlow": _check_sequence_flow, "serviceTask": _check_external, "sendTask": _check_external,
           "businessRuleTask": _check_external}


KIND_ZH = {
    "process": "流程", "userTask": "人工任务", "scriptTask": "脚本任务", "serviceTask": "服务任务", "sendTask": "发送任务",
    "receiveTask": "接收任务", "businessRuleTask": "业务规则任务", "manualTask": "手工任务", "task": "任务",
    "callActivity": "调用活动", "subProcess": "子流程", "transaction": "事务子流程", "adHocSubProcess": "临时子流程",
    "startEvent": "开始事件", "endEvent": "结束事件", "intermediateCatchEvent": "中间捕获事件",
    "intermediateThrowEvent": "中间抛出事件", "boundaryEvent": "边界事件", "exclusiveGateway": "排他网关",
    "parallelGateway": "并行网关", "inclusiveGateway": "包容网关", "eventBasedGateway": "事件网关",
    "complexGateway": "复杂网关", "sequenceFlow": "顺序流", "message": "消息", "signal": "信号", "lane": "泳道",
    "participant": "参与者", "dataObjectReference": "数据对象", "dataStoreReference": "数据存储",
    "textAnnotation": "注释", "error": "错误", "escalation": "升级",
}


def label_zh(el) -> str:
    """How a Chinese message names an element for a process owner: its kind and its name
    (``人工任务「值班经理处理」``); its kind and id only when it has no name."""
    kind = KIND_ZH.get(_local(el.tag), "元素")
    name = " ".join((el.get("name") or "").split())
    return f"{kind}「{name}」" if name else f"{kind} {el.get('id')}"


# English messages without a Chinese wording (the extensions' property checks): (pattern, code, Chinese)
_SLA_ZH = (
    (r"sla\.kind must be one of", "计时方式须为日历时间、工作时间或工作日"),
    (r"sla\.amount is missing", "没有填写时限"),
    (r"working_days amount must be a whole number", "按工作日计时的时限须为整数天"),
    (r"SLA amount .* is longer than", "时限过长"),
    (r"sla\.warn must be below 1", "预警须在到期之前（小于 100%）"),
    (r"sla\.warn .* (is not a number|must be between)", "预警比例无效"),
    (r"sla\.escalate entry .* names unknown roles", "升级对象中有未知角色，请在角色列表中选择"),
    (r"sla\.escalate", "升级设置无效"),
    (r"sla\.amountVariable", "时限变量须为流程变量名"),
    (r"duration|ISO 8601", "时限须为有效的时长"),
)


def _zh_for(message: str, el) -> tuple[str | None, str]:
    """A Chinese wording and a code for a message that came without one."""
    if message.startswith("SLA policy:"):
        detail = next((zh for pattern, zh in _SLA_ZH if re.search(pattern, message)), "设置无效")
        return f"{label_zh(el)}的时限（SLA）设置有误：{detail}", "sla_invalid"
    match = re.match(r"unknown property '([^']*)'", message)
    if match:
        return f"{label_zh(el)}有无法识别的扩展属性“{match.group(1)}”：请删除或改正", "unknown_property"
    match = re.match(r"property '([^']*)' does not belong on", message)
    if match:
        return f"{label_zh(el)}上不能使用扩展属性“{match.group(1)}”", "property_misplaced"
    return None, "invalid"


def label_errors(xml: bytes, errors: list[dict]) -> list[dict]:
    """Every error names its element: the English message by kind, id and name, the Chinese one
    by kind and name (a process owner finds the element by its name; by its id when unnamed).
    Each error keeps its ``element_id`` and gets a ``code`` for machines."""
    if not errors:
        return errors
    try:
        root = etree.fromstring(xml, etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False))
    except (etree.XMLSyntaxError, ValueError):
        return [{**e, "code": e.get("code") or "invalid"} for e in errors]
    by_id = {el.get("id"): el for el in root.iter() if isinstance(el.tag, str) and el.get("id")}
    out = []
    for e in errors:
        el = by_id.get(e.get("element_id"))
        if el is None:
            out.append({**e, "code": e.get("code") or "invalid"})
            continue
        label = f"{_local(el.tag)} {_named(el)}"
        message = e["message"] if repr(el.get("id")) in e["message"] else f"{label}: {e['message']}"
        zh, code = e.get("message_zh"), e.get("code")
        if not zh:
            zh, guessed = _zh_for(e["message"], el)
            code = code or guessed
            zh = zh or f"{label_zh(el)}设置有误：{e['message']}"
        zh_label = label_zh(el)
        kind_zh = KIND_ZH.get(_local(el.tag), "")
        if kind_zh and f"{kind_zh} {_named(el)}" in zh:
            zh = zh.replace(f"{kind_zh} {_named(el)}", zh_label)
        zh = zh.replace(_named(el), zh_label)
        if zh_label not in zh:
            zh = f"{zh_label}：{zh}"
        out.append({**e, "message": message, "message_zh": zh, "code": code or "invalid"})
    return out


def _refuse(el, errors: list[dict], rule, what: str) -> None:
    errors.append(_err(el.get("id") or _nearest_id(el), f"{what} {_named(el)}: {rule.en}",
                       f"{what} {_named(el)}：{rule.zh}"))


def _nearest_id(el) -> str | None:
    while el is not None and not el.get("id"):
        el = el.getparent()
    return None if el is None else el.get("id")


def _coverage(el, kind: str, errors: list[dict]) -> bool:
    """Refuse what the engine would not run as drawn (``engine.bpmn.coverage``); False when refused."""
    if kind.endswith("EventDefinition") or kind == "eventDefinitionRef":
        if kind == "eventDefinitionRef":
            errors.append(_err(_nearest_id(el), "event definitions referenced from the root (eventDefinitionRef) are "
                                                "not supported: draw the definition inside the event",
                                                "不支持引用的事件定义：请在事件内定义"))
            return False
        return True  # judged with its event, by position
    rule = coverage.element_rule(kind)
    if rule.status == coverage.REFUSED:
        _refuse(el, errors, rule, kind)
        return False
    position = _event_position(el, kind)
    if position is not None:
        definitions = [_local(d.tag)[:-len("EventDefinition")] for d in el
                       if isinstance(d.tag, str) and _local(d.tag).endswith("EventDefinition")]
        definition = "none" if not definitions else definitions[0] if len(definitions) == 1 else "multiple"
        rule = coverage.event_rule(position, definition)
        if rule.status == coverage.REFUSED:
            _refuse(el, errors, rule, f"{definition} {position} event")
            return False
    return True


def _event_position(el, kind: str) -> str | None:
    parent = el.getparent()
    if kind == "startEvent":
        if _local(parent.tag) == "process":
            return coverage.START
        if parent.get("triggeredByEvent") == "true":
            return coverage.EVENT_SUB_START_NI if el.get("isInterrupting") == "false" else coverage.EVENT_SUB_START
        return coverage.SUB_START
    if kind == "boundaryEvent":
        return coverage.BOUNDARY_NI if el.get("cancelActivity") == "false" else coverage.BOUNDARY
    return {"intermediateCatchEvent": coverage.CATCH, "intermediateThrowEvent": coverage.THROW,
            "endEvent": coverage.END}.get(kind)


def _check_element(el, meta: dict, errors: list[dict], form_exists: Callable[[str], bool]) -> bool:
    """The element's own rules; its ``camunda:properties`` are checked by the extensions that own
    them (``engine.extensions``), which is why they are only collected here. False when the
    element is refused as a whole (its parts are not judged on their own)."""
    kind = _local(el.tag)
    el_id = el.get("id")
    if not _coverage(el, kind, errors):
        return False
    if el_id and len(el_id) > MAX_ELEMENT_ID:
        errors.append(_err(el_id, f"element id is longer than {MAX_ELEMENT_ID} characters", f"元素 id 超过 {MAX_ELEMENT_ID} 个字符"))
        return True
    info = {"type": kind, "name": two_language_name(el)}
    props = _properties(el)
    if props:
        info["properties"] = props
    check = _CHECKS.get(kind)
    if check is not None:
        check(el, el_id, info, meta, errors, form_exists)
    io = _input_output(el, kind, errors)
    if io:
        info["io"] = io
    _check_expressions(el, el_id, errors)
    if el_id:
        meta["elements"][el_id] = info
    return True


_GATEWAY_BRANCHES = {"message", "timer", "signal", "conditional"}


def _check_structure(process, errors: list[dict]) -> None:
    """Rules between elements: what may follow an event-based gateway, that a thrown error is
    caught, that no task reads or writes a data store."""
    by_id = {el.get("id"): el for el in process.iter() if isinstance(el.tag, str) and el.get("id")}
    for gateway in process.iter(f"{{{BPMN_NS}}}eventBasedGateway"):
        if gateway.get("instantiate") == "true" or gateway.get("eventGatewayType") == "Parallel":
            errors.append(_err(gateway.get("id"), f"event-based gateway {_named(gateway)}: instantiating (process-"
                                                  "starting) event-based gateways are not supported",
                               f"事件网关 {_named(gateway)}：不支持用于发起流程的事件网关"))
        for flow in process.iter(f"{{{BPMN_NS}}}sequenceFlow"):
            if flow.get("sourceRef") != gateway.get("id"):
                continue
            target = by_id.get(flow.get("targetRef"))
            if target is None:
                continue
            defs = [_local(d.tag)[:-15] for d in target if isinstance(d.tag, str) and _local(d.tag).endswith("EventDefinition")]
            if _local(target.tag) != "intermediateCatchEvent" or len(defs) != 1 or defs[0] not in _GATEWAY_BRANCHES:
                errors.append(_err(target.get("id"), f"{_local(target.tag)} {_named(target)} follows event-based gateway "
                                                     f"{_named(gateway)}: only message, timer, signal or conditional "
                                                     "catch events may follow it",
                                   f"事件网关 {_named(gateway)} 之后只能是消息、定时、信号或条件捕获事件"))
    for evsub in process.iter(f"{{{BPMN_NS}}}subProcess"):
        if evsub.get("triggeredByEvent") == "true" and _local(evsub.getparent().tag) != "process":
            errors.append(_err(evsub.get("id"), f"event subprocess {_named(evsub)} inside a subprocess: event "
                                                "subprocesses run at the top level of a process only; draw it there, or "
                                                "use boundary events on the subprocess",
                               f"事件子流程 {_named(evsub)} 位于子流程内：仅支持流程顶层的事件子流程，请移到顶层或改用子流程上的边界事件"))
    called_only = not _split_roles(process.get(f"{{{CAMUNDA_NS}}}candidateStarterGroups"))
    for end in process.iter(f"{{{BPMN_NS}}}endEvent"):
        definition = end.find("bpmn:errorEventDefinition", NS)
        if definition is None or (called_only and _top_level(end)):
            continue  # a process others call ends with an error for its caller's boundary event
        if not _error_caught(end, definition.get("errorRef"), by_id):
            errors.append(_err(end.get("id"), f"error end event {_named(end)}: no error boundary event on an enclosing "
                                              "subprocess catches its error, so the instance would end as if nothing "
                                              "had failed: draw an error boundary event on the subprocess, or use a "
                                              "plain end event (a process without candidateStarterGroups, which "
                                              "others call, may end with an error for its caller)",
                               f"错误结束事件 {_named(end)}：外层子流程上没有捕获该错误的错误边界事件，请添加错误边界事件或改用普通结束事件"))
    stores = {el.get("id") for el in process.iter(f"{{{BPMN_NS}}}dataStoreReference")}
    for assoc in [*process.iter(f"{{{BPMN_NS}}}dataInputAssociation"), *process.iter(f"{{{BPMN_NS}}}dataOutputAssociation")]:
        refs = {(r.text or "").strip() for r in assoc if isinstance(r.tag, str) and _local(r.tag) in ("sourceRef", "targetRef")}
        if refs & stores:
            task = assoc.getparent()
            errors.append(_err(task.get("id"), f"{_local(task.tag)} {_named(task)} reads or writes a data store: data "
                                               "stores are not supported, keep the data in the process's variables",
                               f"{_named(task)} 读写数据存储：不支持数据存储，请使用流程变量"))


def _check_compensation(process, errors: list[dict], meta: dict) -> None:
    """Compensation at the top level of a process, as ``engine.bpmn.rewrite`` runs it: a
    compensation boundary event with its handler (associated, ``isForCompensation``, no
    sequence flows), and compensation throw or end events (``activityRef`` naming such an
    activity, waiting for completion)."""
    zh = "补偿："
    for el in process.iter():
        if not isinstance(el.tag, str):
            continue
        compensating = el.find("bpmn:compensateEventDefinition", NS) is not None or el.get("isForCompensation") == "true"
        if compensating and not _top_level(el):
            errors.append(_err(el.get("id"), f"{_local(el.tag)} {_named(el)}: compensation inside a subprocess is not "
                                             "supported: draw the compensated activities, their handlers and the "
                                             "compensation throw at the top level of the process",
                               zh + f"{_named(el)} 位于子流程内：仅支持流程顶层的补偿"))
    handlers, throws = compensation_parts(process)
    flows = [(f.get("sourceRef"), f.get("targetRef")) for f in process.iter(f"{{{BPMN_NS}}}sequenceFlow")]
    for boundary in process.findall("bpmn:boundaryEvent", NS):
        if boundary.find("bpmn:compensateEventDefinition", NS) is not None and \
                boundary.get("attachedToRef") not in handlers:
            errors.append(_err(boundary.get("id"), f"compensation boundary event {_named(boundary)} has no compensation "
                                                   "handler: connect it with an association to the activity that "
                                                   "undoes the work (marked isForCompensation)",
                               zh + f"补偿边界事件 {_named(boundary)} 没有关联补偿处理活动"))
    for activity_id, (_boundary, handler, _assoc) in handlers.items():
        hid = handler.get("id")
        if handler.get("isForCompensation") != "true":
            errors.append(_err(hid, f"{_named(handler)} handles compensation of {activity_id!r}: mark it "
                                    "isForCompensation=\"true\"", zh + f"{_named(handler)} 须标记为补偿活动"))
        if any(hid in pair for pair in flows):
            errors.append(_err(hid, f"compensation handler {_named(handler)} must have no sequence flows: it runs "
                                    "only when compensation is thrown", zh + f"补偿处理活动 {_named(handler)} 不能有顺序流"))
    for throw in throws:
        definition = throw.find("bpmn:compensateEventDefinition", NS)
        ref = definition.get("activityRef")
        if ref and ref not in handlers:
            errors.append(_err(throw.get("id"), f"compensation event {_named(throw)}: activityRef {ref!r} is not an "
                                                "activity with a compensation boundary event",
                               zh + f"activityRef {ref!r} 不是带补偿边界事件的活动"))
        if definition.get("waitForCompletion") == "false":
            errors.append(_err(throw.get("id"), f"compensation event {_named(throw)}: waitForCompletion=\"false\" is "
                                                "not supported: the process goes on after the compensation",
                               zh + "不支持不等待补偿完成"))
    if len(throws) > 1:  # each throw runs its own copy of the handlers (engine.bpmn.rewrite)
        for _activity, (_b, handler, _a) in handlers.items():
            info = meta["elements"].get(handler.get("id"))
            for throw in throws:
                copy_id = f"{handler.get('id')}__{throw.get('id')}"
                if len(copy_id) > MAX_ELEMENT_ID:
                    errors.append(_err(handler.get("id"), f"compensation handler {_named(handler)}: its copy for "
                                                          f"{throw.get('id')!r} would have an id longer than "
                                                          f"{MAX_ELEMENT_ID} characters: shorten the ids",
                                       zh + "补偿处理活动与补偿事件的 id 过长，请缩短"))
                if info is not None:
                    meta["elements"][copy_id] = info


def _top_level(el) -> bool:
    node = el.getparent()
    while node is not None and _local(node.tag) != "process":
        if _local(node.tag) in ("subProcess", "transaction", "adHocSubProcess"):
            return False
        node = node.getparent()
    return True


def _error_caught(end, error_ref: str | None, by_id: dict) -> bool:
    node = end.getparent()
    while node is not None and _local(node.tag) != "process":
        if _local(node.tag) in ("subProcess", "transaction") and node.get("triggeredByEvent") != "true":
            for el in by_id.values():
                if _local(el.tag) == "boundaryEvent" and el.get("attachedToRef") == node.get("id"):
                    catch = el.find("bpmn:errorEventDefinition", NS)
                    if catch is not None and (catch.get("errorRef") in (None, error_ref) or error_ref is None):
                        return True
        node = node.getparent()
    return False


def _messages(root, tag: str = "message") -> dict:
    """``{name: {id, properties}}`` of the document's messages (or signals); their properties, such
    as who may send them, belong to the runtime's message extension."""
    return {msg.get("name") or msg.get("id"): {"id": msg.get("id"), "properties": _properties(msg)}
            for msg in root.iterfind(f"bpmn:{tag}", NS)}


def _timer_start(start, timer) -> dict:
    """``{element_id, kind, value}`` of a timer start event; its value is a constant (there is no
    instance data yet), checked by ``_check_timer``."""
    for kind in ("timeCycle", "timeDate", "timeDuration"):
        expr = timer.find(f"bpmn:{kind}", NS)
        if expr is not None:
            try:
                value = evaluate((expr.text or "").strip(), {})
            except ExpressionError:
                value = None
            return {"element_id": start.get("id"), "kind": kind, "value": value if isinstance(value, str) else None}
    return {"element_id": start.get("id"), "kind": None, "value": None}


def _events(root, process) -> dict:
    """What the process starts on and waits for by name: ``message_starts``, ``signal_starts``
    (top-level start events), ``none_start`` (a user may start it by hand), ``subscribes`` (it
    catches messages or signals, so the runtime keeps its event subscriptions)."""
    names = {"message": {m.get("id"): m.get("name") or m.get("id") for m in root.iterfind("bpmn:message", NS)},
             "signal": {m.get("id"): m.get("name") or m.get("id") for m in root.iterfind("bpmn:signal", NS)}}
    out = {"message_starts": [], "signal_starts": [], "timer_starts": [], "none_start": False, "subscribes": False}
    for start in process.iterfind("bpmn:startEvent", NS):
        defs = [d for d in start if isinstance(d.tag, str) and _local(d.tag).endswith("EventDefinition")]
        if not defs:
            out["none_start"] = True
        for d in defs:
            kind = _local(d.tag)[:-len("EventDefinition")]
            if kind == "timer":
                out["timer_starts"].append(_timer_start(start, d))
            if kind in names:
                ref = d.get("messageRef" if kind == "message" else "signalRef")
                out[f"{kind}_starts"].append(names[kind].get(ref, ref))
    for el in process.iter(*(f"{{{BPMN_NS}}}{t}" for t in ("intermediateCatchEvent", "boundaryEvent",
                                                            "receiveTask", "startEvent"))):
        if _local(el.tag) == "startEvent" and el.getparent() is process:
            continue  # a start of the process itself, not something a running instance waits for
        if (_local(el.tag) == "receiveTask" or el.find("bpmn:messageEventDefinition", NS) is not None
                or el.find("bpmn:signalEventDefinition", NS) is not None):
            out["subscribes"] = True
    if process.find(".//bpmn:callActivity", NS) is not None:
        out["subscribes"] = True  # a call activity waits for its called instance (engine/runtime/calls.py)
    return out


def executable_processes(root) -> list:
    """The processes of a document that run, in document order: those marked isExecutable="true"
    (or the only process, when none is marked). The others, and black-box participants, are
    documentation of a collaboration (lanes, annotations, other organisations' pools)."""
    processes = root.findall("bpmn:process", NS)
    marked = [p for p in processes if p.get("isExecutable") == "true"]
    if marked:
        return marked
    return [p for p in processes if p.get("isExecutable") != "false"][:1] if len(processes) == 1 else []


def read_model(root, form_exists: Callable[[str], bool], process_id: str | None = None) -> ParsedModel:
    """Apply our rules to the executable process ``process_id`` (default: the first) of a
    schema-valid document and collect its metadata."""
    executable = executable_processes(root)
    if not executable:
        return ParsedModel("", None, {}, [_err(None, "the document has no executable process: mark the process "
                                                      "to run with isExecutable=\"true\"",
                                               "文档中没有可执行流程：请将要运行的流程设为 isExecutable=\"true\"")])
    if len({p.get("id") for p in executable}) != len(executable) or any(not p.get("id") for p in executable):
        return ParsedModel("", None, {}, [_err(None, "every executable process needs an id of its own")])
    process = next((p for p in executable if p.get("id") == process_id), None) if process_id else executable[0]
    if process is None:
        return ParsedModel("", None, {}, [_err(None, f"the document has no executable process {process_id!r}")])
    pid = process.get("id") or ""
    errors: list[dict] = []
    if not ID_RE.match(pid):
        errors.append(_err(pid or None, "process id must start with a letter and use letters, digits, _ . -",
                           "流程 id 须以字母开头，只能包含字母、数字和 _ . -", "invalid_id"))
    if len(process.get("name") or "") > MAX_NAME:
        errors.append(_err(pid, f"process name is longer than {MAX_NAME} characters",
                           f"{_named(process)}的名称超过 {MAX_NAME} 个字符"))
    starters = _split_roles(process.get(f"{{{CAMUNDA_NS}}}candidateStarterGroups"))
    for role in starters:
        if not is_known_role(role):
            errors.append(_unknown_role(pid, process, role, "candidateStarterGroups", "可发起角色"))
    meta: dict = {
        "name": two_language_name(process),
        "version_tag": process.get(f"{{{CAMUNDA_NS}}}versionTag"),
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
            meta["lanes"][(ref.text or "").strip()] = two_language_name(lane) or lane.get("id")
    refused: set = set()
    for el in process.iter():
        if isinstance(el.tag, str) and el.tag.startswith(f"{{{BPMN_NS}}}") and el is not process:
            if refused and any(a in refused for a in el.iterancestors()):
                continue
            if not _check_element(el, meta, errors, form_exists):
                refused.add(el)
    _check_structure(process, errors)
    _check_compensation(process, errors, meta)
    meta["messages"] = _messages(root)
    meta["signals"] = _messages(root, "signal")
    meta.update(_events(root, process))
    for timer in meta["timer_starts"]:
        if timer["value"] is None:
            errors.append(_err(timer["element_id"], "a timer start event needs a constant timeDate, timeDuration or "
                                                    "timeCycle (there is no instance data before the start)",
                               "定时开始事件须为常量时间（发起前没有流程数据）"))
            continue
        try:
            timer_start_cycle(timer["kind"], timer["value"], datetime.now(UTC))
        except ValueError as exc:
            errors.append(_err(timer["element_id"], f"timer start event: {exc}", f"定时开始事件：{exc}"))
    del meta["ids"], meta["process"]
    return ParsedModel(pid, two_language_name(process), meta, errors)


def spiff_parse(xml: bytes, process_id: str):
    """Parse with SpiffWorkflow (and the engine's own specs, engine/bpmn/specs.py); return
    ``(spec, subprocess_specs)``."""
    from engine.bpmn.specs import EngineParser

    parser = EngineParser()
    parser.add_bpmn_str(prepare(xml), filename=f"{process_id}.bpmn")
    spec = parser.get_spec(process_id)
    subprocess_specs = parser.get_subprocess_specs(process_id)
    _mark_async(xml, [spec, *subprocess_specs.values()])
    return spec, subprocess_specs


def _mark_async(xml: bytes, specs: list) -> None:
    """``camunda:asyncBefore`` / ``asyncAfter`` on the task specs: transaction boundaries the
    runtime honours (``engine.runtime.spiff``)."""
    if b"async" not in xml and b"inputOutput" not in xml:
        return
    root = etree.fromstring(xml, etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False))
    flags, ios = {}, {}
    for el in root.iter():
        if isinstance(el.tag, str) and el.get("id"):
            before = el.get(f"{{{CAMUNDA_NS}}}asyncBefore") == "true"
            after = el.get(f"{{{CAMUNDA_NS}}}asyncAfter") == "true"
            if before or after:
                flags[el.get("id")] = (before, after)
            if el.find("bpmn:extensionElements/camunda:inputOutput", NS) is not None:
                ios[el.get("id")] = _input_output(el, _local(el.tag), [])
    for spec in specs:
        for task_spec in spec.task_specs.values():
            bid = getattr(task_spec, "bpmn_id", None)
            if bid in flags:
                task_spec.async_before, task_spec.async_after = flags[bid]
            if ios.get(bid):
                task_spec.io = ios[bid]


def validate_document(xml: bytes, form_exists: Callable[[str], bool], process_id: str | None = None) -> ParsedModel:
    """Every check of the document itself; ``errors`` is empty when the BPMN is sound. The
    properties of its elements are checked by the extensions that own them
    (``engine.runtime.definitions.validate`` runs both)."""
    root, errors = parse_xml(xml)
    if root is None:
        return ParsedModel("", None, {}, errors)
    model = read_model(root, form_exists, process_id)
    if not model.process_id:
        return model
    model.errors.extend(rewrite(deepcopy(root)))
    if model.errors:
        return model  # the parser would only say the same less plainly
    try:
        spiff_parse(xml, model.process_id)
    except Exception as exc:  # noqa: BLE001 - the parser raises many kinds; all are model errors
        element = getattr(exc, "id", None) or None
        model.errors.insert(0, _err(element, f"the process could not be read: {plain(str(exc))}",
                                    f"无法读取流程：{plain(str(exc))}"))
    return model


_RAW = (re.compile(r"b'<.*?'(?=[),. ]|$)", re.S), re.compile(r"<[A-Za-z_][\w.]* [^<>]*? at 0x[0-9a-f]+>"),
        re.compile(r"<bpmn:[^>]*>"), re.compile(r"0x[0-9a-f]{6,}"))


def plain(text: str) -> str:
    """A parser's message without Python reprs, memory addresses or raw XML."""
    for pattern in _RAW:
        text = pattern.sub("…", text)
    return " ".join(text.split())[:500]
