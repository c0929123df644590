"""What of BPMN 2.0 this engine runs, in one table: the deploy check refuses by it, the README's
"BPMN coverage" table is generated from it (``bpm coverage``), and the conformance matrix test
walks it.

Two tables:

* :data:`ELEMENTS`: every element of the BPMN 2.0 XSD that may appear inside a process, by its
  local name: it *runs* (with its BPMN semantics), is *kept* (documentation, no behaviour:
  lanes, annotations, groups ...), or is *refused* at deploy with the reason and what to draw
  instead.
* :data:`EVENTS`: every event definition in every position (start, event-subprocess start,
  intermediate catch and throw, boundary, end): runs or refused.

An element or combination missing from the tables is refused: nothing deploys by omission.
Reasons are given in Chinese first and English (``zh``, ``en``).
"""

from __future__ import annotations

from dataclasses import dataclass

RUNS, KEPT, REFUSED = "runs", "kept", "refused"


@dataclass(frozen=True)
class Rule:
    status: str
    en: str = ""
    zh: str = ""


def runs(en: str = "", zh: str = "") -> Rule:
    return Rule(RUNS, en, zh)


def kept(en: str = "kept as documentation, no behaviour", zh: str = "作为说明保留，不影响运行") -> Rule:
    return Rule(KEPT, en, zh)


def refused(en: str, zh: str) -> Rule:
    return Rule(REFUSED, en, zh)


_NOT_AN_ELEMENT = ("is not an element of a process", "不是流程内的元素")

ELEMENTS: dict[str, Rule] = {
    # activities
    "userTask": runs("a person's step: candidate groups, form, unit boundary", "人工任务：候选角色、表单、单位边界"),
    "scriptTask": runs("restricted Python, within CPU, memory and size limits", "受限脚本，受CPU、内存、大小限制"),
    "task": runs("no behaviour: the token passes through", "无行为：直接通过"),
    "manualTask": runs("no behaviour (done outside the system): the token passes through", "线下完成：直接通过"),
    "receiveTask": runs("waits for its message", "等待其消息"),
    "subProcess": runs("embedded subprocess; with triggeredByEvent an event subprocess", "内嵌子流程；事件子流程"),
    "serviceTask": runs("an external task (camunda:type=\"external\", camunda:topic): a worker of the topic fetches, "
                        "locks and completes it; priorities, retries with back-off, BPMN errors to boundary events",
                        "外部任务：由该主题的工作者领取、锁定并完成；支持优先级、重试退避、BPMN 错误"),
    "sendTask": runs("sends its message, as a message throw event does; or an external task",
                     "发送其消息（同消息抛出事件）；或作为外部任务"),
    "businessRuleTask": runs("evaluates a deployed DMN decision table (camunda:decisionRef, binding latest/version, "
                             "resultVariable, mapDecisionResult); or an external task",
                             "执行已部署的 DMN 决策表；或作为外部任务"),
    "callActivity": runs("the called process runs as an instance of its own, linked both ways; camunda:in/out, "
                         "business key, binding latest/version/versionTag; its errors and escalations reach the "
                         "call activity's boundary events; cancelling the caller cancels it",
                         "被调用流程作为独立实例运行，双向关联；支持 in/out 映射、业务键、版本绑定"),
    "adHocSubProcess": refused("ad-hoc subprocesses are not supported: draw the steps with a parallel or inclusive "
                               "gateway", "不支持自由子流程：请用并行或包容网关画出各步骤"),
    "transaction": refused("transactions (and their cancel events) are not supported: draw an embedded subprocess "
                           "with an error boundary event", "不支持事务子流程：请用内嵌子流程加错误边界事件"),
    "callChoreography": refused("choreographies do not run in a process", "编排图不能在流程中运行"),
    "choreographyTask": refused("choreographies do not run in a process", "编排图不能在流程中运行"),
    "subChoreography": refused("choreographies do not run in a process", "编排图不能在流程中运行"),
    # gateways
    "exclusiveGateway": runs("first true condition, else the default flow; none: an incident", "排他网关"),
    "parallelGateway": runs("forks and joins all flows", "并行网关"),
    "inclusiveGateway": runs("every true condition; the join waits for the flows that can still arrive", "包容网关"),
    "eventBasedGateway": runs("the first of its events to happen wins, the others are dropped", "事件网关：先发生者胜出"),
    "complexGateway": refused("complex gateways are not supported: use an inclusive gateway with conditions",
                              "不支持复杂网关：请用带条件的包容网关"),
    # events (what each definition does in each position is in EVENTS)
    "startEvent": runs(), "endEvent": runs(), "intermediateCatchEvent": runs(), "intermediateThrowEvent": runs(),
    "boundaryEvent": runs(),
    "implicitThrowEvent": refused("implicit throw events are not supported", "不支持隐式抛出事件"),
    # flows, loops, expressions
    "sequenceFlow": runs("conditions are restricted expressions over the instance's data", "条件为受限表达式"),
    "conditionExpression": runs(), "formalExpression": runs(), "expression": runs(),
    "multiInstanceLoopCharacteristics": runs("parallel or sequential, over a cardinality or a collection "
                                             "(camunda:collection/elementVariable), with completionCondition",
                                             "多实例：并行或顺序，按数量或集合"),
    "standardLoopCharacteristics": runs("loops while loopCondition holds (loopMaximum bounds it)", "标准循环"),
    "loopCardinality": runs(), "completionCondition": runs(), "loopDataInputRef": runs(), "loopDataOutputRef": runs(),
    "inputDataItem": runs(), "outputDataItem": runs(), "loopCondition": runs(), "condition": runs(),
    "script": runs(), "timeDate": runs(), "timeDuration": runs(), "timeCycle": runs(),
    "complexBehaviorDefinition": refused("complex multi-instance behaviour is not supported: use a completionCondition",
                                         "不支持复杂多实例行为：请用完成条件"),
    # data: objects run (SpiffWorkflow's data objects), stores only as drawings
    "dataObject": runs("process-wide data object", "流程数据对象"), "dataObjectReference": runs(),
    "dataInputAssociation": runs("reads a data object into the task", "读入数据对象"),
    "dataOutputAssociation": runs("writes the task's data to a data object", "写出到数据对象"),
    "dataStoreReference": kept("kept as a drawing; a task that reads or writes it is refused",
                               "作为图示保留；任务读写数据存储时拒绝部署"),
    "dataState": kept(), "sourceRef": runs(), "targetRef": runs(),
    "ioSpecification": runs("task inputs and outputs", "任务输入输出"), "dataInput": runs(), "dataOutput": runs(),
    "inputSet": runs(), "outputSet": runs(), "dataInputRefs": runs(), "dataOutputRefs": runs(),
    "assignment": refused("data assignments are not supported: compute the value in a script task",
                          "不支持数据赋值：请在脚本任务中计算"),
    "transformation": refused("data transformations are not supported: compute the value in a script task",
                              "不支持数据转换：请在脚本任务中计算"),
    "property": kept(),
    # drawings and documentation: never block a deploy
    "documentation": kept(), "extensionElements": kept(), "laneSet": kept("lanes are drawings; who works on a task "
                                                                         "is its candidate groups", "泳道为图示；任务由候选角色办理"),
    "lane": kept(), "childLaneSet": kept(), "flowNodeRef": kept(), "textAnnotation": kept(), "text": kept(),
    "association": kept(), "group": kept(), "incoming": kept(), "outgoing": kept(), "auditing": kept(),
    "monitoring": kept(), "category": kept(), "categoryValue": kept(), "categoryValueRef": kept(),
    "performer": refused("performers are not supported: name the roles in camunda:candidateGroups",
                         "不支持执行者：请在候选角色中填写角色"),
    "humanPerformer": refused("performers are not supported: name the roles in camunda:candidateGroups",
                              "不支持执行者：请在候选角色中填写角色"),
    "potentialOwner": refused("potential owners are not supported: name the roles in camunda:candidateGroups",
                              "不支持潜在所有者：请在候选角色中填写角色"),
    "resourceRole": refused("resource roles are not supported: name the roles in camunda:candidateGroups",
                            "不支持资源角色：请在候选角色中填写角色"),
    "rendering": kept(), "correlationSubscription": refused("correlation subscriptions are not supported: correlate by "
                                                            "business key", "不支持关联订阅：请按业务键关联"),
}

# Root elements, collaboration and choreography elements, diagram interchange: outside the
# process, documentation of the definitions (or refused where they would have to run).
OUTSIDE_PROCESS = ("message", "signal", "error", "escalation", "itemDefinition", "collaboration", "participant",
                   "messageFlow", "interface", "operation", "dataStore", "resource", "partnerEntity", "partnerRole",
                   "endPoint", "correlationProperty", "choreography", "conversation", "globalConversation")

# ---------------------------------------------------------------------------------------------- events

START, SUB_START = "start", "subprocess start"
EVENT_SUB_START, EVENT_SUB_START_NI = "event subprocess start (interrupting)", "event subprocess start (non-interrupting)"
CATCH, THROW = "intermediate catch", "intermediate throw"
BOUNDARY, BOUNDARY_NI = "boundary (interrupting)", "boundary (non-interrupting)"
END = "end"
POSITIONS = (START, SUB_START, EVENT_SUB_START, EVENT_SUB_START_NI, CATCH, THROW, BOUNDARY, BOUNDARY_NI, END)
DEFINITIONS = ("none", "message", "timer", "signal", "conditional", "error", "escalation", "link", "terminate",
               "compensate", "cancel", "multiple")

_COMPENSATION = refused("compensation is supported through a compensation boundary event with its handler, and "
                        "compensation throw or end events, at the top level of a process; not here",
                        "仅支持流程顶层的补偿边界事件（及其补偿处理活动）和补偿抛出/结束事件")
_CANCEL = refused("cancel events belong to transactions, which are not supported", "取消事件属于事务子流程，不支持")
_INVALID = ("BPMN 2.0 does not allow this event here", "BPMN 2.0 不允许在此使用该事件")


def _event_rules() -> dict[tuple[str, str], Rule]:
    rules: dict[tuple[str, str], Rule] = {}
    for position in POSITIONS:
        for definition in DEFINITIONS:
            rules[(position, definition)] = refused(*_INVALID)
        rules[(position, "compensate")] = _COMPENSATION
        rules[(position, "cancel")] = _CANCEL
    ok = {
        (START, "none"): runs("started by a user of camunda:candidateStarterGroups", "由可发起角色发起"),
        (SUB_START, "none"): runs(),
        (CATCH, "message"): runs("waits for the message (API or a throw of the instance)", "等待消息"),
        (CATCH, "timer"): runs("durable timer: timeDuration, timeDate, timeCycle", "持久定时器"),
        (CATCH, "signal"): runs("waits for the signal", "等待信号"),
        (CATCH, "conditional"): runs("waits until its condition holds over the instance's data, re-evaluated after "
                                     "every step", "等待条件成立，每步之后重新判断"),
        (CATCH, "link"): runs("goes on from the link throw event of the same name", "链接：从同名抛出事件继续"),
        (CATCH, "multiple"): runs("whichever of its definitions happens first (parallelMultiple: all)",
                                  "多个定义：任一先发生（并行多重：全部）"),
        (THROW, "none"): runs("passes through", "直接通过"),
        (START, "message"): runs("a message sent to the process starts it (POST /api/messages, or a message thrown by "
                                 "another instance)", "收到消息即发起（接口或其他实例抛出的消息）"),
        (START, "timer"): runs("the schedule starts it: timeDate once, timeDuration once after the deploy, timeCycle "
                               "R[n]/start/period; each occurrence exactly once; a new version replaces the schedule",
                               "按时自动发起：每次恰好一次；新版本替换原计划"),
        (START, "signal"): runs("a signal starts it (POST /api/signals, or a signal thrown by any instance)",
                                "收到信号即发起"),
        (THROW, "signal"): runs("broadcast to every instance waiting for it, and starts the processes it starts",
                                "向所有等待该信号的实例广播，并发起以其开始的流程"),
        (THROW, "message"): runs("to the one instance waiting for it (same business key) or the process it starts; "
                                 "nobody to receive it refuses the step", "发给等待它的那个实例（同业务键）或以其开始的流程"),
        (END, "message"): runs("as a message throw event, then ends", "同消息抛出事件，然后结束"),
        (THROW, "escalation"): runs("to the escalation boundary of the enclosing subprocess; uncaught it goes on",
                                    "上报到外层子流程的升级边界事件；无人捕获时继续"),
        (THROW, "link"): runs("goes on at the link catch event of the same name", "链接：在同名捕获事件处继续"),
        (END, "none"): runs(),
        (END, "terminate"): runs("ends the whole instance (or subprocess): every other token is cancelled",
                                 "终止整个实例（或子流程）"),
        (END, "error"): runs("ends the subprocess through the error boundary event that catches it (an error nothing "
                             "catches is refused at deploy)", "经捕获它的错误边界事件结束子流程"),
        (END, "escalation"): runs("to the escalation boundary of the enclosing subprocess", "上报到外层子流程"),
        (END, "signal"): runs("broadcast, as a signal throw event", "广播信号，同信号抛出事件"),
    }
    for position in (BOUNDARY, BOUNDARY_NI):
        for definition in ("message", "timer", "signal", "conditional", "escalation"):
            ok[(position, definition)] = runs()
    ok[(BOUNDARY, "error")] = runs("catches the error thrown inside the activity", "捕获活动内抛出的错误")
    ok[(BOUNDARY, "compensate")] = runs("when the activity has completed, its associated handler "
                                        "(isForCompensation) is what a compensation throw runs", "活动完成后，补偿时运行其补偿处理活动")
    ok[(THROW, "compensate")] = runs("runs the handlers of the completed activities in reverse order (or only "
                                     "activityRef's), then goes on", "按完成的逆序运行补偿处理活动，然后继续")
    ok[(END, "compensate")] = runs("compensates as a compensation throw event does, then ends", "补偿后结束")
    for position in (EVENT_SUB_START, EVENT_SUB_START_NI):
        for definition in ("message", "timer", "signal"):
            ok[(position, definition)] = runs("starts the event subprocess (at the top level of a process; one inside "
                                              "a subprocess is refused)" + (
                "; the rest of the enclosing scope is cancelled" if position == EVENT_SUB_START else ""),
                "启动事件子流程" + ("，并取消所在范围的其余部分" if position == EVENT_SUB_START else ""))
    rules.update(ok)
    later = {
        (START, "conditional"): refused("conditional start events are not supported", "不支持条件开始事件"),
        (START, "multiple"): refused("start events with several definitions are not supported", "不支持多定义开始事件"),
        (EVENT_SUB_START, "conditional"): refused("conditional event subprocesses are not supported: use a conditional "
                                                  "boundary event", "不支持条件事件子流程：请用条件边界事件"),
        (EVENT_SUB_START_NI, "conditional"): refused("conditional event subprocesses are not supported: use a "
                                                     "conditional boundary event", "不支持条件事件子流程：请用条件边界事件"),
        (EVENT_SUB_START, "error"): refused("error event subprocesses are not supported: use an error boundary event",
                                            "不支持错误事件子流程：请用错误边界事件"),
        (EVENT_SUB_START, "escalation"): refused("escalation event subprocesses are not supported: use an escalation "
                                                 "boundary event", "不支持升级事件子流程：请用升级边界事件"),
        (EVENT_SUB_START_NI, "escalation"): refused("escalation event subprocesses are not supported: use an escalation "
                                                    "boundary event", "不支持升级事件子流程：请用升级边界事件"),
        (BOUNDARY, "multiple"): refused("boundary events with several definitions are not supported: draw one boundary "
                                        "event per definition", "不支持多定义边界事件：请每种定义画一个边界事件"),
        (BOUNDARY_NI, "multiple"): refused("boundary events with several definitions are not supported: draw one "
                                           "boundary event per definition", "不支持多定义边界事件：请每种定义画一个边界事件"),
        (BOUNDARY_NI, "error"): refused("an error boundary event always interrupts (BPMN 2.0)", "错误边界事件总是中断的（BPMN 2.0）"),
        (END, "multiple"): refused("end events with several definitions are not supported", "不支持多定义结束事件"),
        (THROW, "multiple"): refused("throw events with several definitions are not supported", "不支持多定义抛出事件"),
    }
    rules.update(later)
    return rules


EVENTS: dict[tuple[str, str], Rule] = _event_rules()


def element_rule(name: str) -> Rule:
    if name in ELEMENTS:
        return ELEMENTS[name]
    if name in OUTSIDE_PROCESS:
        return refused(f"bpmn:{name} {_NOT_AN_ELEMENT[0]}", f"bpmn:{name} {_NOT_AN_ELEMENT[1]}")
    return refused(f"bpmn:{name} is not supported by this engine", f"本引擎不支持 bpmn:{name}")


def event_rule(position: str, definition: str) -> Rule:
    return EVENTS.get((position, definition)) or refused(*_INVALID)


# ---------------------------------------------------------------------------------------------- the table


_MARK = {RUNS: "runs", KEPT: "kept (no behaviour)", REFUSED: "refused at deploy"}
# the flow elements a process owner draws, in palette order (the rest of ELEMENTS are their parts)
PALETTE = ("task", "userTask", "manualTask", "scriptTask", "receiveTask", "serviceTask", "sendTask", "businessRuleTask",
           "callActivity", "subProcess", "adHocSubProcess", "transaction", "exclusiveGateway", "parallelGateway",
           "inclusiveGateway", "eventBasedGateway", "complexGateway", "multiInstanceLoopCharacteristics",
           "standardLoopCharacteristics", "dataObjectReference", "dataStoreReference", "laneSet", "textAnnotation",
           "group")


# Camunda attributes and extensions the modeler's properties panel writes, and what they do here.
ATTRIBUTES = (
    ("camunda:candidateStarterGroups", "who may start it by hand; none: not startable by users (only administrators, "
                                       "call activities, messages, signals and timers)"),
    ("camunda:candidateGroups, camunda:formKey", "the roles (within the unit boundary) and the form of a user task"),
    ("camunda:asyncBefore, camunda:asyncAfter", "transaction boundaries: the step commits, a worker continues it"),
    ("camunda:inputOutput", "user and script tasks: inputs are the task's own variables, outputs go to the "
                            "instance (text or ${expression}); elsewhere refused"),
    ("camunda:collection, camunda:elementVariable", "multi-instance over a list; each task's own item and loopCounter"),
    ("camunda:calledElementBinding, camunda:in, camunda:out", "call activity version binding and variable mappings"),
    ("camunda:versionTag", "a process version's tag, for calledElementBinding versionTag"),
    ("scriptFormat", "python (restricted) or empty; any other language refused"),
    ("camunda:properties", "engine features (SLAs, seals, sendableBy/payloadForm on messages and signals ...); "
                           "an unknown key is refused"),
)


def markdown() -> str:
    """The README's "BPMN coverage" tables (``bpm coverage`` prints them)."""
    lines = ["| Element | On this engine | Why / what to draw instead |", "|---|---|---|"]
    for name in PALETTE:
        rule = ELEMENTS[name]
        lines.append(f"| `{name}` | {_MARK[rule.status]} | {rule.en} |")
    lines += ["", "| Event definition | " + " | ".join(POSITIONS) + " |", "|---" * (len(POSITIONS) + 1) + "|"]
    for definition in DEFINITIONS:
        cells = []
        for position in POSITIONS:
            rule = event_rule(position, definition)
            cells.append("runs" if rule.status == RUNS else "—" if rule.en == _INVALID[0] else "refused")
        lines.append(f"| {definition} | " + " | ".join(cells) + " |")
    lines += ["", "| Attribute | On this engine |", "|---|---|"]
    lines += [f"| `{name}` | {what} |" for name, what in ATTRIBUTES]
    lines += ["", "Refused event combinations, with the reason the deploy answer gives:", ""]
    seen = set()
    for (position, definition), rule in EVENTS.items():
        if rule.status == REFUSED and rule.en != _INVALID[0] and (definition, rule.en) not in seen:
            seen.add((definition, rule.en))
            lines.append(f"- {definition} ({position}): {rule.en}")
    return "\n".join(lines) + "\n"
