"""Where an expression or script of a BPMN model runs: in this process, or in a sandbox worker.

BPMN models are uploaded by process owners, so their conditions, timer and multi-instance
expressions and scripts are untrusted code. ``engine.bpmn.restricted`` restricts *what* they
may do (a strict AST whitelist and simpleeval for expressions, RestrictedPython for scripts);
this module decides *where* they run. Every script, and every expression that could loop or
build large values (calls beyond a few bounded functions, comprehensions, ``*``, ``**``), runs in
a worker process under CPU time, memory and output size limits (``engine.bpmn.sandbox``); a
breach is an :class:`~engine.bpmn.restricted.ExpressionError` naming the limit, which the runtime
turns into an incident. Plain comparisons of data (``decision == "approve"``) cost what their
input costs and are evaluated here, in process, in microseconds. ``engine.runtime.script_engine``
plugs :func:`evaluate` and :func:`execute_script` into SpiffWorkflow.
"""

from __future__ import annotations

import ast
import functools
from typing import Any

from engine.bpmn.restricted import _compile_expression, _compile_script, evaluate_here
from engine.bpmn.sandbox import pool

# What an expression may use and still be evaluated in process: its cost is bounded by the
# size of its input (the instance data, itself bounded) and of its source. Anything else
# (other calls, comprehensions, ``*``, ``**``) may loop or amplify and goes to a worker.
_INLINE_NODES = (
    ast.Expression, ast.Constant, ast.Name, ast.Load, ast.BoolOp, ast.And, ast.Or, ast.UnaryOp, ast.Not,
    ast.USub, ast.UAdd, ast.Compare, ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.In, ast.NotIn,
    ast.Is, ast.IsNot, ast.IfExp, ast.Subscript, ast.Slice, ast.List, ast.Tuple, ast.Dict, ast.BinOp,
    ast.Add, ast.Sub, ast.Div, ast.FloorDiv, ast.Mod, ast.Call, ast.Attribute, ast.keyword)
_INLINE_FUNCTIONS = frozenset({"len", "abs", "round", "int", "float", "bool", "str", "min", "max", "any", "all",
                               "now", "today", "add_days", "date_time", "days_between"})
_INLINE_METHODS = frozenset({"get", "lower", "upper", "strip", "lstrip", "rstrip", "startswith", "endswith",
                             "isdigit", "isalpha", "isalnum", "isspace", "isnumeric", "isdecimal", "keys", "values",
                             "items", "casefold", "is_integer"})


@functools.lru_cache(maxsize=4096)
def is_inline(source: str) -> bool:
    """True when a checked expression is evaluated in process (see ``_INLINE_NODES``)."""
    for node in ast.walk(ast.parse(source.strip(), mode="eval")):
        if not isinstance(node, _INLINE_NODES):
            return False
        if isinstance(node, ast.Call) and not (
                (isinstance(node.func, ast.Name) and node.func.id in _INLINE_FUNCTIONS)
                or (isinstance(node.func, ast.Attribute) and node.func.attr in _INLINE_METHODS)):
            return False
    return True


def evaluate(source: str, names: dict) -> Any:
    """Evaluate a checked expression with ``names`` (the task data) as variables, in process
    when it :func:`is_inline`, else in a worker under the sandbox's limits."""
    _compile_expression(source)
    if is_inline(source):
        return evaluate_here(source, names)
    return pool().evaluate(source, names)


def execute_script(source: str, data: dict, external_context: dict | None = None) -> None:
    """Run a checked script in a worker under the sandbox's limits; top-level JSON-like
    variables are written back into ``data``.

    ``data`` is only updated when the script succeeds (names deleted with ``del`` are
    removed). ``external_context`` names are readable but not copied into ``data``.
    """
    _compile_script(source)  # a refused script never reaches a worker
    changed, deleted = pool().execute(source, data, external_context)
    for key in deleted:
        data.pop(key, None)
    data.update(changed)


