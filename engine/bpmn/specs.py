"""Task specs and event definitions where the engine's BPMN semantics differ from
SpiffWorkflow's defaults, and the parser that uses them (``engine.bpmn.model.spiff_parse``)."""

from __future__ import annotations

import ast

from SpiffWorkflow.bpmn.parser import BpmnParser
from SpiffWorkflow.bpmn.parser.event_parsers import (
    CANCEL_EVENT_XPATH,
    ERROR_EVENT_XPATH,
    ESCALATION_EVENT_XPATH,
    MESSAGE_EVENT_XPATH,
    SIGNAL_EVENT_XPATH,
    TERMINATION_EVENT_XPATH,
    BoundaryEventParser,
    EndEventParser,
    IntermediateCatchEventParser,
    SendTaskParser,
    StartEventParser,
)
from SpiffWorkflow.bpmn.parser.TaskParser import TaskParser
from SpiffWorkflow.bpmn.parser.util import full_tag
from SpiffWorkflow.bpmn.serializer.default.event_definition import TimerConditionalEventDefinitionConverter
from SpiffWorkflow.bpmn.serializer.default.task_spec import (
    BpmnTaskSpecConverter,
    EventConverter,
    MultiInstanceTaskConverter,
)
from SpiffWorkflow.bpmn.specs.defaults import (
    BoundaryEvent,
    EndEvent,
    IntermediateCatchEvent,
    ParallelMultiInstanceTask,
    SendTask,
    SequentialMultiInstanceTask,
    StartEvent,
)
from SpiffWorkflow.bpmn.specs.event_definitions.conditional import ConditionalEventDefinition
from SpiffWorkflow.bpmn.specs.mixins import BpmnSpecMixin
from SpiffWorkflow.util.task import TaskState

from engine.bpmn.names import is_external


class ExternalTask(BpmnSpecMixin):
    """A ``serviceTask``, ``sendTask`` or ``businessRuleTask`` with ``camunda:type="external"``:
    the work is done outside the engine, by a worker of its topic (Camunda's external tasks). The
    task waits (STARTED) from the moment a token arrives; the runtime keeps a ``bpm_external_task``
    row for it (``engine.runtime.external``) and completes it, or throws a BPMN error from it,
    when the worker reports back. Its boundary events wait beside it meanwhile."""

    def _run_hook(self, my_task):
        return None  # STARTED: completed by the runtime when a worker reports


class DecisionTask(BpmnSpecMixin):
    """A ``businessRuleTask`` with ``camunda:decisionRef``: evaluates the deployed DMN decision
    through the decider the runtime sets on the workflow (``engine.runtime.decisions.Decider``)."""

    def _run_hook(self, my_task):
        decider = getattr(my_task.workflow.top_workflow, "decider", None)
        if decider is None:
            raise RuntimeError("no decision service is attached to this workflow")
        decider.decide(my_task)
        return True


class PassThroughTask(BpmnSpecMixin):
    """``bpmn:task`` and ``bpmn:manualTask``: no behaviour in an engine (BPMN 2.0 §10.3.3; Camunda
    and Flowable pass through them), where SpiffWorkflow would wait for someone to complete
    them. The engine completes it as soon as a token arrives (``manual`` stays False)."""


def _free_names(expression: str) -> set[str]:
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError:
        return set()
    called = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    bound = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} - called - bound


class DataConditionEventDefinition(ConditionalEventDefinition):
    """A conditional event (BPMN 2.0 §10.5.2): it fires once its condition is true over the
    instance's *current* data, which the engine re-evaluates after every step that can change
    data (a task completed, a message caught, data set by an administrator). SpiffWorkflow reads
    only the data the token carried when it arrived. A condition naming data the instance does
    not have (yet) is false, not an error: it is waiting for that data."""

    def current(self, my_task) -> dict:
        view = getattr(my_task.workflow.top_workflow, "engine_view", None)
        return {**my_task.data, **(view or {})}

    def has_fired(self, my_task):
        # a key of its own: the timers of an event-based gateway read ``event_fired`` of the same task
        if my_task._get_internal_data("condition_fired", False):
            return True
        context = self.current(my_task)
        if _free_names(self.expression) - set(context):
            return False
        fired = bool(my_task.workflow.script_engine.environment.evaluate(self.expression, context))
        if fired:
            my_task._set_internal_data(condition_fired=True, condition_data=context)
        return fired

    def update_task_data(self, my_task):
        # the branch goes on with the data that fired it
        my_task.set_data(**(my_task._get_internal_data("condition_data") or {}))

    def reset(self, my_task):
        my_task.internal_data.pop("condition_fired", None)
        my_task.internal_data.pop("condition_data", None)
        super().reset(my_task)

    def __eq__(self, other):
        return super().__eq__(other) and self.expression == other.expression


class InterruptingEventStart(StartEvent):
    """The start event of an interrupting event subprocess (``isInterrupting`` true, the BPMN
    default): when it fires, everything else still active in the enclosing process or
    subprocess is cancelled (BPMN 2.0 §10.3.5), where SpiffWorkflow would let both run on."""

    def _on_complete_hook(self, my_task):
        super()._on_complete_hook(my_task)
        sub = my_task.workflow
        scope = sub.parent_workflow
        if scope is None:
            return
        keep = scope.get_task_from_id(sub.parent_task_id)
        chain = set()
        node = keep
        while node is not None:
            chain.add(node.id)
            node = node.parent
        for task in list(scope.tasks.values()):
            if task.id in chain or task.has_state(TaskState.FINISHED_MASK):
                continue
            if task.parent is not None and task.parent.id not in chain and not task.parent.has_state(
                    TaskState.FINISHED_MASK):
                continue  # cancelled with its parent
            task.cancel()


class _LocalElementVariable:
    """A multi-instance activity's element variable (``camunda:elementVariable``, the
    ``inputDataItem``) belongs to each instance alone, as in Camunda: it is not merged back into
    the activity's data (SpiffWorkflow merges it, and a sequential loop then stops at its second
    item with "input item already exists")."""

    def merge_child(self, workflow, child):
        if self.input_item is not None and self.output_item is None:
            child.data.pop(self.input_item.bpmn_id, None)
        super().merge_child(workflow, child)


class EngineParallelMultiInstance(_LocalElementVariable, ParallelMultiInstanceTask):
    pass


class EngineSequentialMultiInstance(_LocalElementVariable, SequentialMultiInstanceTask):
    pass


# Every task parser builds multi-instance activities through these class attributes.
TaskParser.PARALLEL_MI_CLASS = EngineParallelMultiInstance
TaskParser.SEQUENTIAL_MI_CLASS = EngineSequentialMultiInstance


class _EngineEvents:
    """Event parsers of the engine: conditional events read current data."""

    def parse_conditional_event(self, event):
        found = event.xpath("./bpmn:condition", namespaces={"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL"})
        expression = found[0].text if found else None
        return DataConditionEventDefinition((expression or "").strip(),
                                            description=self.get_event_description(event))


class EngineStartEventParser(_EngineEvents, StartEventParser):
    def create_task(self):
        task = super().create_task()
        parent = self.node.getparent()
        if (parent is not None and parent.get("triggeredByEvent") == "true"
                and self.node.get("isInterrupting", "true") != "false"):
            task.__class__ = InterruptingEventStart
        return task


class EngineCatchEventParser(_EngineEvents, IntermediateCatchEventParser):
    pass


class EngineBoundaryEventParser(_EngineEvents, BoundaryEventParser):
    pass


class EngineEndEventParser(_EngineEvents, EndEventParser):
    """End events also throw signals (BPMN 2.0 §10.5.3), which SpiffWorkflow's parser ignores
    (the end event would silently throw nothing)."""

    def create_task(self):
        event_definition = self.get_event_definition(
            [MESSAGE_EVENT_XPATH, SIGNAL_EVENT_XPATH, CANCEL_EVENT_XPATH, ERROR_EVENT_XPATH, ESCALATION_EVENT_XPATH,
             TERMINATION_EVENT_XPATH])
        task = self._create_task(event_definition)
        task.connect(self.spec.end)
        return task


class ExternalTaskParser(TaskParser):
    """Service and business rule tasks: external tasks (the deploy check refuses any other kind)."""

    def create_task(self):
        return ExternalTask(self.spec, self.bpmn_id, **self.bpmn_attributes)


class BusinessRuleTaskParser(TaskParser):
    """A business rule task evaluates a DMN decision, or is an external task."""

    def create_task(self):
        spec_class = ExternalTask if is_external(self.node) else DecisionTask
        return spec_class(self.spec, self.bpmn_id, **self.bpmn_attributes)


class EngineSendTaskParser(SendTaskParser):
    """A send task is a message throw, or an external task when ``camunda:type="external"``."""

    def create_task(self):
        if is_external(self.node):
            return ExternalTask(self.spec, self.bpmn_id, **self.bpmn_attributes)
        return super().create_task()


class EngineParser(BpmnParser):
    OVERRIDE_PARSER_CLASSES = {
        full_tag("serviceTask"): (ExternalTaskParser, ExternalTask),
        full_tag("sendTask"): (EngineSendTaskParser, SendTask),
        full_tag("businessRuleTask"): (BusinessRuleTaskParser, DecisionTask),
        full_tag("task"): (TaskParser, PassThroughTask),
        full_tag("manualTask"): (TaskParser, PassThroughTask),
        full_tag("startEvent"): (EngineStartEventParser, StartEvent),
        full_tag("endEvent"): (EngineEndEventParser, EndEvent),
        full_tag("intermediateCatchEvent"): (EngineCatchEventParser, IntermediateCatchEvent),
        full_tag("boundaryEvent"): (EngineBoundaryEventParser, BoundaryEvent),
    }


# What the serializer needs to know of these specs (SpiffWorkflow's spec diff for instance migration).
CONVERTERS = {PassThroughTask: BpmnTaskSpecConverter, ExternalTask: BpmnTaskSpecConverter,
              DecisionTask: BpmnTaskSpecConverter, InterruptingEventStart: EventConverter,
              EngineParallelMultiInstance: MultiInstanceTaskConverter,
              EngineSequentialMultiInstance: MultiInstanceTaskConverter,
              DataConditionEventDefinition: TimerConditionalEventDefinitionConverter}
