"""Tests for the expression/script sandbox and its SpiffWorkflow integration."""
from __future__ import annotations

from xml.sax.saxutils import escape

import pytest
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.parser import BpmnParser
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState

from engine.bpmn.expressions import evaluate, execute_script
from engine.bpmn.restricted import ExpressionError, check_expression, check_script
from engine.runtime.script_engine import SandboxScriptEngine

DATA = {"approved": True, "amount": 1500, "category": "b", "lines": [{"qty": 2}, {"qty": 5}],
        "order": {"qty": 4}, "x": 1}


@pytest.mark.parametrize("source, expected", [
    ("approved == True", True),
    ("amount > 1000 and category in ['a','b']", True),
    ("amount > 2000 and category in ['a','b']", False),
    ("len(lines) >= 1", True),
    ('"PT24H"', "PT24H"),
    ("order['qty'] > 3", True),
    ("sum(l['qty'] for l in lines)", 7),
    ("category.upper() if approved else None", "B"),
])
def test_legit_expressions(source: str, expected: object) -> None:
    check_expression(source)
    assert evaluate(source, DATA) == expected


def test_missing_name_is_reported() -> None:
    with pytest.raises(ExpressionError, match="name 'missing' is not defined"):
        evaluate("missing > 1", DATA)


def test_expressions_cannot_mutate_task_data() -> None:
    data = {"lines": [1]}
    with pytest.raises(ExpressionError, match="attribute 'append' is not allowed"):
        evaluate("lines.append(2) or True", data)
    assert data == {"lines": [1]}


PROBES = {
    "__import__('os').system('id')": "name '__import__' is not allowed",
    "().__class__.__base__.__subclasses__()": "attribute '__class__' is not allowed",
    "open('/etc/passwd').read()": "name 'open' is not allowed",
    "getattr(x, '__class__')": "name 'getattr' is not allowed",
    "'{0.__class__}'.format(x)": "attribute 'format' is not allowed",
    "x.__dict__": "attribute '__dict__' is not allowed",
    "(lambda: 1)()": "lambda is not allowed",
    "globals()": "name 'globals' is not allowed",
    "eval('1')": "name 'eval' is not allowed",
    "[c for c in ().__class__.__mro__]": "attribute '__class__' is not allowed",
}


@pytest.mark.parametrize("probe", list(PROBES))
def test_probes_rejected_statically_and_at_runtime(probe: str) -> None:
    with pytest.raises(ExpressionError, match=PROBES[probe]):
        check_expression(probe)
    with pytest.raises(ExpressionError):
        evaluate(probe, dict(DATA))


def test_os_system_probe_never_runs(tmp_path) -> None:
    marker = tmp_path / "pwned"
    probe = f"__import__('os').system('touch {marker}')"
    with pytest.raises(ExpressionError):
        evaluate(probe, {})
    assert not marker.exists()


def test_syntax_error_is_reported_with_line() -> None:
    with pytest.raises(ExpressionError, match="syntax error at line 1"):
        check_expression("amount >")


def test_script_sets_task_data() -> None:
    data = {"lines": [{"qty": 2}, {"qty": 5}], "old": 1}
    source = "total = sum(l['qty'] for l in lines)\ndel old\ndef helper():\n    return 1\n"
    check_script(source)
    execute_script(source, data)
    assert data["total"] == 7
    assert "old" not in data and "helper" not in data


@pytest.mark.parametrize("source, message", [
    ("import os", "import statements are not allowed"),
    ("y = x.__class__", "attribute '__class__' is not allowed"),
    ("t = open('/etc/passwd').read()", "name 'open' is not allowed"),
])
def test_forbidden_scripts_rejected(source: str, message: str) -> None:
    with pytest.raises(ExpressionError, match=message):
        check_script(source)
    data = {"x": 1}
    with pytest.raises(ExpressionError):
        execute_script(source, data)
    assert data == {"x": 1}


def test_script_runtime_error_names_the_line() -> None:
    data = {"a": 1}
    with pytest.raises(ExpressionError, match="line 2: ZeroDivisionError") as info:
        execute_script("b = 2\nc = 1/0\n", data)
    assert info.value.lineno == 2
    assert data == {"a": 1}


BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="defs" targetNamespace="test">
  <bpmn:process id="proc" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f0</bpmn:outgoing></bpmn:startEvent>
    <bpmn:scriptTask id="prepare" name="Prepare order">
      <bpmn:incoming>f0</bpmn:incoming><bpmn:outgoing>f1</bpmn:outgoing>
      <bpmn:script>{script}</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:exclusiveGateway id="gw"><bpmn:incoming>f1</bpmn:incoming>
      <bpmn:outgoing>to_big</bpmn:outgoing><bpmn:outgoing>to_small</bpmn:outgoing>
    </bpmn:exclusiveGateway>
    <bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="prepare"/>
    <bpmn:sequenceFlow id="f1" sourceRef="prepare" targetRef="gw"/>
    <bpmn:sequenceFlow id="to_big" sourceRef="gw" targetRef="end_big">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">{condition}</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="to_small" sourceRef="gw" targetRef="end_small">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">not ({condition})</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:endEvent id="end_big"><bpmn:incoming>to_big</bpmn:incoming></bpmn:endEvent>
    <bpmn:endEvent id="end_small"><bpmn:incoming>to_small</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>
</bpmn:definitions>
"""


def make_workflow(script: str, condition: str) -> BpmnWorkflow:
    parser = BpmnParser()
    parser.add_bpmn_str(BPMN.format(script=escape(script), condition=escape(condition)).encode())
    return BpmnWorkflow(parser.get_spec("proc"), script_engine=SandboxScriptEngine())


def completed(workflow: BpmnWorkflow, name: str) -> bool:
    return any(t.state == TaskState.COMPLETED for t in workflow.get_tasks(spec_name=name))


@pytest.mark.parametrize("amount, branch", [(1500, "end_big"), (10, "end_small")])
def test_workflow_takes_the_right_branch(amount: int, branch: str) -> None:
    workflow = make_workflow(f"amount = {amount}\nlines = [1, 2]", "amount > 1000 and len(lines) >= 1")
    workflow.do_engine_steps()
    assert workflow.is_completed()
    assert completed(workflow, branch)
    assert not completed(workflow, "end_small" if branch == "end_big" else "end_big")


def test_workflow_gateway_probe_errors_without_running(tmp_path) -> None:
    marker = tmp_path / "pwned"
    workflow = make_workflow("amount = 1", f"__import__('os').system('touch {marker}') == 0")
    with pytest.raises(WorkflowTaskException) as info:
        workflow.do_engine_steps()
    assert not marker.exists()
    assert info.value.task.task_spec.bpmn_id == "gw"
    assert info.value.task.state == TaskState.ERROR
    assert "name '__import__' is not allowed" in str(info.value)


def test_workflow_script_error_names_the_task() -> None:
    workflow = make_workflow("a = 1\nb = a / 0", "True")
    with pytest.raises(WorkflowTaskException) as info:
        workflow.do_engine_steps()
    err = info.value
    assert err.task.task_spec.bpmn_id == "prepare"
    assert err.task.state == TaskState.ERROR
    assert "Prepare order" in str(err) and "ZeroDivisionError" in str(err)
    assert err.line_number == 2 and err.error_line == "b = a / 0"


TIMER_BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="defs" targetNamespace="test">
  <bpmn:process id="timer_proc" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f0</bpmn:outgoing></bpmn:startEvent>
    <bpmn:intermediateCatchEvent id="wait"><bpmn:incoming>f0</bpmn:incoming><bpmn:outgoing>f1</bpmn:outgoing>
      <bpmn:timerEventDefinition><bpmn:timeDuration xsi:type="bpmn:tFormalExpression">{expression}</bpmn:timeDuration>
      </bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:endEvent id="end"><bpmn:incoming>f1</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="wait"/>
    <bpmn:sequenceFlow id="f1" sourceRef="wait" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>
"""


def make_timer_workflow(expression: str) -> BpmnWorkflow:
    parser = BpmnParser()
    parser.add_bpmn_str(TIMER_BPMN.format(expression=escape(expression)).encode())
    return BpmnWorkflow(parser.get_spec("timer_proc"), script_engine=SandboxScriptEngine())


def test_timer_expression_is_evaluated_in_sandbox(tmp_path) -> None:
    workflow = make_timer_workflow('"PT24H"')
    workflow.do_engine_steps()
    assert workflow.get_tasks(spec_name="wait")[0].state == TaskState.WAITING
    marker = tmp_path / "pwned"
    workflow = make_timer_workflow(f"__import__('os').system('touch {marker}')")
    with pytest.raises(WorkflowTaskException, match="name '__import__' is not allowed"):
        workflow.do_engine_steps()
    assert not marker.exists()


def test_engine_environment_is_sandboxed_too() -> None:
    # Spiff calls script_engine.environment.evaluate directly for ad hoc completion
    # conditions and message correlation expressions.
    with pytest.raises(ExpressionError, match="name '__import__' is not allowed"):
        SandboxScriptEngine().environment.evaluate("__import__('os')", {})


def test_huge_arithmetic_is_refused_quickly() -> None:
    # Plain simpleeval accepts 4000000 ** 4000000, which blocks a worker for ~25 s.
    with pytest.raises(ExpressionError, match="integer result would exceed"):
        evaluate("4000000 ** 4000000", {})
    with pytest.raises(ExpressionError, match="string formatting is not allowed"):
        evaluate("'%0999999999d' % 1", {})


def test_empty_script_is_a_no_op() -> None:
    data = {"a": 1}
    execute_script("", data)
    assert data == {"a": 1}
