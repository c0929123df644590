"""``camunda:inputOutput`` of user and script tasks (Camunda's input/output mapping): input
parameters are the activity's own variables while it runs; output parameters go into the
instance's data when it ends. Values are text or ``${expression}`` (restricted, sandboxed)."""

from __future__ import annotations

_ABSENT = "__absent__"


def io_values(task, params: list, extra: dict | None = None) -> dict:
    """``camunda:inputOutput`` parameters evaluated over the task's data (text or ``${expr}``)."""
    from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException

    from engine.bpmn.expressions import evaluate
    from engine.bpmn.restricted import ExpressionError

    context = {**task.data, **(extra or {})}
    out = {}
    for name, kind, value in params:
        if kind == "text":
            out[name] = value
            continue
        try:
            out[name] = evaluate(value, context)
        except ExpressionError as exc:
            raise WorkflowTaskException(f"parameter {name!r} ${{{value}}}: {exc}", task=task, exception=exc) from exc
    return out


def io_enter(task) -> None:
    """Input parameters: local variables of the activity, shadowing the instance's while it runs."""
    io = getattr(task.task_spec, "io", None)
    if not io or not io["in"]:
        return
    values = io_values(task, io["in"])
    task.internal_data["io_locals"] = {k: task.data.get(k, _ABSENT) for k in values}
    task.data.update(values)


def io_leave(task, extra: dict | None = None) -> None:
    """Output parameters into the instance's data; the activity's local variables end with it."""
    io = getattr(task.task_spec, "io", None)
    if not io:
        return
    outputs = io_values(task, io["out"], extra) if io["out"] else {}
    for name, original in (task.internal_data.pop("io_locals", None) or {}).items():
        if original == _ABSENT:
            task.data.pop(name, None)
        else:
            task.data[name] = original
    task.data.update(outputs)
