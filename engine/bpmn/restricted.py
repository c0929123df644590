"""Restricted code: the static checks and the evaluation of BPMN expressions and scripts.

Expressions (conditions, timers, cardinality ...) are checked by a strict AST whitelist and
evaluated with ``simpleeval.EvalWithCompoundTypes``; scripts are checked and compiled with
RestrictedPython and run with guarded builtins, and their top-level JSON-like variables become
task data. ``check_expression``/``check_script`` are the deploy-time checks; ``evaluate_here``
and ``execute_here`` run code in the calling process (the sandbox worker's side: every call
that is not plainly bounded goes through ``engine.bpmn.expressions``, which routes it to a
worker under resource limits). Every failure is an ``ExpressionError``. This module imports
nothing of SpiffWorkflow, so that the worker process stays small.
"""
from __future__ import annotations

import ast
import functools
import math
import operator
import re
import threading
import traceback
from typing import Any

import simpleeval
from RestrictedPython import PrintCollector, compile_restricted_exec, safe_builtins
from RestrictedPython.Guards import (
    full_write_guard,
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
    safer_getattr_raise,
)

from engine.bpmn.datefuncs import DATE_FUNCTIONS
from engine.jsondata import MAX_DEPTH

MAX_EXPRESSION_LENGTH = 10_000
MAX_SCRIPT_LENGTH = 100_000
MAX_RANGE = 100_000
MAX_INT_BITS = 10_000

# Functions callable from expressions (no dict(): literals cover it; no clock: time is injected).
EXPRESSION_FUNCTIONS: dict[str, Any] = {f.__name__: f for f in (
    len, min, max, abs, round, int, float, str, bool, sum, any, all, sorted, list, set, tuple)}
EXPRESSION_FUNCTIONS.update(DATE_FUNCTIONS)
# Read-only methods callable on values in expressions, per exact type (nothing that mutates
# task data, nothing that can blow up memory such as str.center/ljust/replace, no str.format).
_STR_METHODS = {
    "capitalize", "casefold", "count", "endswith", "find", "index", "isalnum", "isalpha",
    "isdecimal", "isdigit", "islower", "isnumeric", "isspace", "istitle", "isupper", "join",
    "lower", "lstrip", "partition", "removeprefix", "removesuffix", "rfind", "rindex",
    "rpartition", "rsplit", "rstrip", "split", "splitlines", "startswith", "strip", "swapcase",
    "title", "upper"}
ALLOWED_ATTRS: dict[Any, set[str]] = {
    str: _STR_METHODS, dict: {"get", "keys", "values", "items", "copy"},
    list: {"count", "index", "copy"}, tuple: {"count", "index"}, float: {"is_integer"},
    set: {"union", "intersection", "difference", "symmetric_difference", "issubset",
          "issuperset", "isdisjoint", "copy"}}
_ALLOWED_METHOD_NAMES = frozenset().union(*ALLOWED_ATTRS.values())
FORBIDDEN_NAMES = frozenset({
    "exec", "eval", "open", "compile", "getattr", "setattr", "delattr", "globals", "locals",
    "vars", "type", "__import__", "breakpoint", "input", "dir", "help", "memoryview", "object",
    "super", "classmethod", "staticmethod", "property", "exit", "quit"})
_FRIENDLY = {"Lambda": "lambda", "NamedExpr": "assignment expression (:=)",
             "SetComp": "set comprehension", "Await": "await", "Yield": "yield"}
_EXPR_NODES = (
    ast.Expression, ast.Constant, ast.Name, ast.Load, ast.Store, ast.BoolOp, ast.And, ast.Or,
    ast.BinOp, ast.UnaryOp, ast.Compare, ast.IfExp, ast.Call, ast.keyword, ast.Attribute,
    ast.Subscript, ast.Slice, ast.List, ast.Tuple, ast.Dict, ast.Set, ast.ListComp,
    ast.GeneratorExp, ast.DictComp, ast.comprehension, ast.JoinedStr, ast.FormattedValue,
    ast.Starred, *simpleeval.DEFAULT_OPERATORS)


class ExpressionError(ValueError):
    """An expression or script is not allowed or failed; the message says why. ``limit`` names
    the resource limit it breached (``cpu``, ``memory``, ``output``, ``time``), if any."""

    def __init__(self, message: str, lineno: int | None = None, limit: str | None = None) -> None:
        super().__init__(message)
        self.lineno = lineno
        self.limit = limit


class ExpressionSyntaxError(ExpressionError, SyntaxError):
    """The source does not parse (also a SyntaxError, which SpiffWorkflow's DMN code expects)."""

    def __str__(self) -> str:
        return str(self.args[0])


def _parse(source: str, mode: str, max_length: int) -> ast.AST:
    if not isinstance(source, str) or (mode == "eval" and not source.strip()):
        raise ExpressionError("expression must be a non-empty string")
    if len(source) > max_length:
        raise ExpressionError(f"source is too long ({len(source)} > {max_length} characters)")
    try:
        return ast.parse(source.strip() if mode == "eval" else source, mode=mode)
    except SyntaxError as err:
        raise ExpressionSyntaxError(f"syntax error at line {err.lineno}: {err.msg}", err.lineno) from None
    except (RecursionError, MemoryError):
        raise ExpressionError("expression is too deeply nested") from None


def _check_expr_node(node: ast.AST, parent: ast.AST | None = None) -> None:
    name = type(node).__name__
    if not isinstance(node, _EXPR_NODES):
        raise ExpressionError(f"{_FRIENDLY.get(name, name)} is not allowed")
    for child in ast.iter_child_nodes(node):
        _check_expr_node(child, node)
    if isinstance(node, ast.Name) and (node.id.startswith("_") or node.id in FORBIDDEN_NAMES):
        raise ExpressionError(f"name '{node.id}' is not allowed")
    if isinstance(node, ast.Attribute) and (
            node.attr.startswith("_") or node.attr not in _ALLOWED_METHOD_NAMES):
        raise ExpressionError(f"attribute '{node.attr}' is not allowed")
    if isinstance(node, ast.Call):
        if isinstance(node.func, ast.Name) and node.func.id not in EXPRESSION_FUNCTIONS:
            raise ExpressionError(f"function '{node.func.id}' is not allowed")
        if not isinstance(node.func, (ast.Name, ast.Attribute)):
            raise ExpressionError("only named functions and methods may be called")
        if any(k.arg is None for k in node.keywords):
            raise ExpressionError("'**' arguments are not allowed")
    if isinstance(node, ast.Starred) and not isinstance(parent, ast.List):
        raise ExpressionError("'*' unpacking is only allowed inside a list literal")
    if isinstance(node, ast.comprehension) and node.is_async:
        raise ExpressionError("async comprehensions are not allowed")
    if isinstance(node, ast.Constant) and isinstance(node.value, (str, bytes)) \
            and len(node.value) > simpleeval.MAX_STRING_LENGTH:
        raise ExpressionError("string literal is too long")
    if isinstance(node, ast.FormattedValue) and node.format_spec is not None:
        spec = node.format_spec
        if not all(isinstance(v, ast.Constant) for v in spec.values) or \
                re.search(r"\d{4,}", "".join(str(v.value) for v in spec.values)):
            raise ExpressionError("format specification is not allowed")


@functools.lru_cache(maxsize=4096)
def _compile_expression(source: str) -> ast.expr:
    tree = _parse(source, "eval", MAX_EXPRESSION_LENGTH)
    try:
        _check_expr_node(tree)
    except RecursionError:
        raise ExpressionError("expression is too deeply nested") from None
    return tree.body


def check_expression(source: str) -> None:
    """Statically check an expression (deploy time); raise ExpressionError if not allowed."""
    _compile_expression(source)


def _int_guard(op: Any, limit_check: Any) -> Any:
    def guarded(a: Any, b: Any) -> Any:
        if type(a) is int and type(b) is int and limit_check(a, b):
            raise simpleeval.NumberTooHigh(f"integer result would exceed {MAX_INT_BITS} bits")
        return op(a, b)
    return guarded


def _no_str_mod(a: Any, b: Any) -> Any:
    if isinstance(a, (str, bytes)):
        raise simpleeval.FeatureNotAvailable("'%' string formatting is not allowed")
    return operator.mod(a, b)


# simpleeval's limits, tightened so big-integer arithmetic cannot stall a worker
# (simpleeval alone allows 4000000 ** 4000000, which takes ~25 s).
_OPERATORS = {**simpleeval.DEFAULT_OPERATORS, ast.Mod: _no_str_mod,
              ast.Pow: _int_guard(simpleeval.safe_power,
                                  lambda a, b: abs(a) > 1 and b * a.bit_length() > MAX_INT_BITS),
              ast.Mult: _int_guard(simpleeval.safe_mult,
                                   lambda a, b: a.bit_length() + b.bit_length() > MAX_INT_BITS)}
_local = threading.local()


def _evaluator() -> simpleeval.EvalWithCompoundTypes:
    # simpleeval evaluators keep per-call state, so use one per thread.
    ev = getattr(_local, "evaluator", None)
    if ev is None:
        ev = simpleeval.EvalWithCompoundTypes(operators=_OPERATORS, functions={},
                                              allowed_attrs=ALLOWED_ATTRS)
        ev.functions = dict(EXPRESSION_FUNCTIONS)  # the constructor adds dict(); drop it
        ev.ATTR_INDEX_FALLBACK = False
        _local.evaluator = ev
    return ev


def evaluate_here(source: str, names: dict) -> Any:
    """Evaluate a checked expression in this process (the worker's side of :func:`evaluate`)."""
    node = _compile_expression(source)
    ev = _evaluator()
    ev.names = names
    try:
        return ev.eval(source, previously_parsed=node)
    except simpleeval.NameNotDefined as err:
        raise ExpressionError(f"name '{err.name}' is not defined") from None
    except simpleeval.InvalidExpression as err:
        raise ExpressionError(str(err)) from None
    except MemoryError:
        raise  # a breach of the worker's memory limit (engine.bpmn.sandbox.worker)
    except Exception as err:
        raise ExpressionError(f"{type(err).__name__}: {err}") from err
    finally:
        ev.names = {}


def _safe_range(*args: int) -> range:
    r = range(*args)
    if len(r) > MAX_RANGE:
        raise ValueError(f"range() is limited to {MAX_RANGE} elements")
    return r


_INPLACE = {"+=": operator.iadd, "-=": operator.isub, "*=": operator.imul,
            "/=": operator.itruediv, "//=": operator.ifloordiv, "%=": operator.imod,
            "**=": operator.ipow, "<<=": operator.ilshift, ">>=": operator.irshift,
            "&=": operator.iand, "|=": operator.ior, "^=": operator.ixor}
_UNSAFE_BUILTINS = {"__build_class__", "setattr", "delattr", "_getattr_", "BaseException",
                    "SystemExit", "KeyboardInterrupt", "GeneratorExit"}
SCRIPT_BUILTINS: dict[str, Any] = {k: v for k, v in safe_builtins.items() if k not in _UNSAFE_BUILTINS}
SCRIPT_BUILTINS.update({f.__name__: f for f in (
    len, min, max, abs, round, sum, any, all, sorted, list, dict, set, tuple, enumerate, zip,
    str, int, float, bool)}, range=_safe_range, **DATE_FUNCTIONS)
_SCRIPT_GLOBALS: dict[str, Any] = {
    "__builtins__": SCRIPT_BUILTINS, "__name__": "<script>",
    "_getattr_": safer_getattr_raise, "_getitem_": operator.getitem, "_getiter_": iter,
    "_write_": full_write_guard, "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
    "_unpack_sequence_": guarded_unpack_sequence, "_print_": PrintCollector,
    "_inplacevar_": lambda op, x, y: _INPLACE[op](x, y),
    "_apply_": lambda f, *a, **kw: f(*a, **kw)}


def _check_script_node(node: ast.AST) -> None:
    err = None
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        err = "import statements are not allowed"
    elif isinstance(node, (ast.Global, ast.Nonlocal)):
        err = f"{type(node).__name__.lower()} statements are not allowed"
    elif isinstance(node, ast.ClassDef):
        err = "class definitions are not allowed"
    elif isinstance(node, ast.Name) and (node.id.startswith("_") or node.id in FORBIDDEN_NAMES):
        err = f"name '{node.id}' is not allowed"
    elif isinstance(node, ast.Attribute) and (
            node.attr.startswith("_") or node.attr in ("format", "format_map", "mro")):
        err = f"attribute '{node.attr}' is not allowed"
    if err:
        raise ExpressionError(f"line {node.lineno}: {err}", node.lineno)


@functools.lru_cache(maxsize=1024)
def _compile_script(source: str) -> Any:
    tree = _parse(source, "exec", MAX_SCRIPT_LENGTH)
    for node in ast.walk(tree):
        _check_script_node(node)
    result = compile_restricted_exec(source, filename="<script>")
    if result.errors or result.code is None:
        raise ExpressionError("; ".join(result.errors) or "script could not be compiled")
    return result.code


def check_script(source: str) -> None:
    """Statically check a script (deploy time); raise ExpressionError if not allowed."""
    _compile_script(source)


def _is_json_like(value: Any, depth: int = 0) -> bool:
    if type(value) is float:
        return math.isfinite(value)  # inf/nan would be served back as invalid JSON
    if value is None or type(value) in (str, int, bool):
        return True
    if depth > MAX_DEPTH or type(value) not in (list, dict):
        return False
    items = value.items() if type(value) is dict else enumerate(value)
    return all(_is_json_like(k, depth + 1) and _is_json_like(v, depth + 1) for k, v in items)


def execute_here(source: str, data: dict, external_context: dict | None = None) -> tuple[dict, list[str]]:
    """Run a checked script in this process (the worker's side of :func:`execute_script`);
    return what it set (JSON-like values only) and the names it deleted."""
    code = _compile_script(source)
    originals = {**(external_context or {}), **data}
    namespace = {**originals, **_SCRIPT_GLOBALS}
    try:
        exec(code, namespace)  # noqa: S102 - restricted bytecode with guarded builtins
    except MemoryError:
        raise  # a breach of the worker's memory limit (engine.bpmn.sandbox.worker)
    except Exception as err:
        frames = [f for f in traceback.extract_tb(err.__traceback__) if f.filename == "<script>"]
        lineno = frames[-1].lineno if frames else None
        where = f"line {lineno}: " if lineno else ""
        raise ExpressionError(f"{where}{type(err).__name__}: {err}", lineno) from err
    deleted = [k for k in data if k not in namespace]
    changed = {}
    for key, value in namespace.items():
        if key in _SCRIPT_GLOBALS or (key in originals and value is originals[key]):
            continue
        if _is_json_like(value):
            changed[key] = value
        elif key in data:
            deleted.append(key)
    return changed, deleted
