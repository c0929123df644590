"""The FEEL subset of form-js ``conditional.hide`` expressions, evaluated on the server.

Literals, names and paths (``this`` and ``parent`` in dynamic-list rows), ``= != < <= > >=``,
``and``, ``or`` and ``not(...)``, with FEEL's three-valued logic: a type mismatch is null.
"""

from __future__ import annotations

import functools
import operator
import re
from typing import Any

HIDDEN = object()  # a value hidden by its condition (marked before validation): reads as null

_FEEL_TOKEN = re.compile(r'\s*(?:(-?[0-9]+(?:\.[0-9]+)?)|("(?:[^"\\]|\\.)*")|(<=|>=|!=|=|<|>|\(|\))'
                         r'|([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*))')
_FEEL_WORDS = {"true": ("lit", True), "false": ("lit", False), "null": ("lit", None),
               "and": ("kw", "and"), "or": ("kw", "or"), "not": ("kw", "not")}
_CMP = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


def _feel_tokens(src: str) -> list[tuple[str, Any]]:
    tokens, pos, src = [], 0, src.strip()
    while pos < len(src):
        m = _FEEL_TOKEN.match(src, pos)
        if not m:
            raise ValueError(src)
        pos = m.end()
        num, text, op, name = m.groups()
        if num:
            tokens.append(("lit", float(num) if "." in num else int(num)))
        elif text:
            body = re.sub(r"\\(.)", lambda e: {"n": "\n", "t": "\t"}.get(e[1], e[1]), text[1:-1])
            tokens.append(("lit", body))
        elif op:
            tokens.append(("op", op))
        else:
            tokens.append(_FEEL_WORDS.get(name, ("name", name)))
    return tokens


class _FeelParser:
    """Recursive descent: or -> and -> comparison -> not(...) | (expr) | literal | name."""

    def __init__(self, tokens: list) -> None:
        self.tokens, self.i = tokens, 0

    def take(self, expected: tuple | None = None) -> tuple:
        tok = self.peek()
        if expected and tok != expected:
            raise ValueError(tok)
        self.i += 1
        return tok

    def peek(self) -> tuple:
        return self.tokens[self.i] if self.i < len(self.tokens) else ("end", None)

    def parse(self) -> tuple:
        node = self.binary("or")
        self.take(("end", None))
        return node

    def binary(self, word: str) -> tuple:
        node = self.binary("and") if word == "or" else self.compare()
        while self.peek() == ("kw", word):
            self.take()
            node = (word, node, self.binary("and") if word == "or" else self.compare())
        return node

    def compare(self) -> tuple:
        left = self.unary()
        kind, op = self.peek()
        if kind == "op" and op in ("=", "!=", "<", "<=", ">", ">="):
            self.take()
            return ("cmp", op, left, self.unary())
        return left

    def unary(self) -> tuple:
        kind, value = self.take()
        if (kind, value) in (("kw", "not"), ("op", "(")):
            if kind == "kw":
                self.take(("op", "("))
            inner = self.binary("or")
            self.take(("op", ")"))
            return ("not", inner) if kind == "kw" else inner
        if kind == "lit":
            return ("lit", value)
        if kind == "name":
            return ("var", value.split("."))
        raise ValueError(value)


@functools.lru_cache(maxsize=1024)
def parse_hide(expr: Any) -> tuple | None:
    """Parse a ``=<FEEL>`` hide condition; None when it is outside the supported subset."""
    if not isinstance(expr, str) or not expr.startswith("=") or len(expr) > 1000:
        return None
    try:
        return _FeelParser(_feel_tokens(expr[1:])).parse()
    except (ValueError, RecursionError):
        return None


def kind_of(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    return "number" if isinstance(value, (int, float)) else type(value).__name__


def _lookup(path: list[str], scopes: list[dict]) -> Any:
    head, value = path[0], None
    if head == "this":
        value = scopes[0]
    elif head == "parent":
        value = scopes[1] if len(scopes) > 1 else None
    else:
        value = next((scope[head] for scope in scopes if head in scope), None)
    for segment in path[1:]:
        value = value.get(segment) if isinstance(value, dict) else None
    return None if value is HIDDEN else value


def evaluate(node: tuple, scopes: list[dict]) -> Any:
    """Evaluate with FEEL three-valued logic: type mismatches yield None (null)."""
    kind = node[0]
    if kind == "lit":
        return node[1]
    if kind == "var":
        return _lookup(node[1], scopes)
    if kind == "not":
        value = evaluate(node[1], scopes)
        return (not value) if isinstance(value, bool) else None
    if kind in ("and", "or"):
        a, b = evaluate(node[1], scopes), evaluate(node[2], scopes)
        absorbing = kind == "or"  # True absorbs "or", False absorbs "and"
        if a is absorbing or b is absorbing:
            return absorbing
        return (not absorbing) if a is (not absorbing) and b is (not absorbing) else None
    op, a, b = node[1], evaluate(node[2], scopes), evaluate(node[3], scopes)
    if op in ("=", "!="):
        if a is None or b is None:
            equal = a is None and b is None
        elif kind_of(a) != kind_of(b):
            return None
        else:
            equal = a == b
        return equal if op == "=" else not equal
    if kind_of(a) != kind_of(b) or kind_of(a) not in ("number", "str"):
        return None
    return _CMP[op](a, b)
