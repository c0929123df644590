"""Task specs where the engine's BPMN semantics differ from SpiffWorkflow's defaults, and the
parser that uses them (``engine.bpmn.model.spiff_parse``)."""

from __future__ import annotations

from SpiffWorkflow.bpmn.parser import BpmnParser
from SpiffWorkflow.bpmn.parser.TaskParser import TaskParser
from SpiffWorkflow.bpmn.parser.util import full_tag
from SpiffWorkflow.bpmn.serializer.default.task_spec import BpmnTaskSpecConverter
from SpiffWorkflow.bpmn.specs.mixins import BpmnSpecMixin


class PassThroughTask(BpmnSpecMixin):
    """``bpmn:task`` and ``bpmn:manualTask``: no behaviour in an engine (BPMN 2.0 §10.3.3; Camunda
    and Flowable pass through them), where SpiffWorkflow would wait for someone to complete
    them. The engine completes it as soon as a token arrives (``manual`` stays False)."""


class EngineParser(BpmnParser):
    OVERRIDE_PARSER_CLASSES = {full_tag("task"): (TaskParser, PassThroughTask),
                               full_tag("manualTask"): (TaskParser, PassThroughTask)}


# What the serializer needs to know of these specs (SpiffWorkflow's spec diff for instance migration).
CONVERTERS = {PassThroughTask: BpmnTaskSpecConverter}
