"""SpiffWorkflow's script engine, replaced: every expression and script of a workflow runs
through ``engine.bpmn.expressions`` (restricted, and within the limits of ``engine.bpmn.sandbox``)."""

from __future__ import annotations

from typing import Any

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment

from engine.bpmn.expressions import evaluate, execute_script
from engine.bpmn.restricted import ExpressionError, check_expression
from engine.runtime.io_params import io_enter, io_leave


class SandboxEnvironment(BasePythonScriptEngineEnvironment):
    """Spiff environment; some Spiff code calls ``script_engine.environment`` directly."""

    def evaluate(self, expression: str, context: dict, external_context: dict | None = None) -> Any:
        return evaluate(expression, {**external_context, **context} if external_context else context)

    def execute(self, script: str, context: dict, external_context: dict | None = None) -> bool:
        execute_script(script, context, external_context)
        return True

    def call_service(self, context: dict, **kwargs: Any) -> Any:
        raise ExpressionError("service tasks are not supported")


def _limit_note(err: ExpressionError) -> str:
    return f" [limit: {err.limit}]" if getattr(err, "limit", None) else ""


class SandboxScriptEngine(PythonScriptEngine):
    """SpiffWorkflow script engine running every expression and script in the sandbox."""

    def __init__(self) -> None:
        super().__init__(environment=SandboxEnvironment())

    def validate(self, expression: str) -> None:
        check_expression(expression)

    def evaluate(self, task: Any, expression: str, external_context: dict | None = None) -> Any:
        try:
            return self.environment.evaluate(expression, task.data, external_context)
        except ExpressionError as err:
            raise WorkflowTaskException(
                f"Error evaluating expression '{expression[:200]}': {err}{_limit_note(err)}", task=task, exception=err
            ) from err

    def execute(self, task: Any, script: str, external_context: dict | None = None) -> bool:
        io_enter(task)  # camunda:inputOutput: inside the task's run, before its data flows on
        try:
            done = self.environment.execute(script, task.data, external_context)
            io_leave(task)
            return done
        except ExpressionError as err:
            lines = script.splitlines()
            line = lines[err.lineno - 1] if err.lineno and err.lineno <= len(lines) else None
            raise WorkflowTaskException(
                f"Error executing script of '{task.task_spec.bpmn_name or task.task_spec.name}': {err}"
                f"{_limit_note(err)}", task=task, exception=err, line_number=err.lineno, error_line=line) from err

    def call_service(self, task: Any, **kwargs: Any) -> Any:
        raise WorkflowTaskException("service tasks are not supported", task=task)
