"""DMN decision tables: read from the modeller's XML, checked at deploy, evaluated in process.

Business rule tasks decide with tables drawn in dmn-js / Camunda Modeler (DMN 1.1 to 1.3), so
the cells hold what those users type: input entries are S-FEEL simple unary tests (``< 5``,
``[1..10]``, ``"a","b"``, ``not("x")``, ``-``), and only decision tables are supported (no
literal expressions, contexts or decision requirements between decisions). Input expressions
(column headers) and output entries are engine expressions (``engine.bpmn.expressions``, so
the same restrictions and sandbox as conditions), with FEEL's ``true``/``false``/``null`` and
dotted paths on dicts (``customer.level``) resolved here. A unary test follows FEEL's
three-valued logic: a type mismatch (a string against a number, a missing value) is null and
simply does not match, also under ``not(...)``. Each entry is parsed once per source text
into a closure, so evaluating a table of literal cells costs microseconds per rule.

:func:`validate` is the deploy check (every error names the decision, the rule row and the
column); :func:`parse` returns the decisions of a valid file; :func:`evaluate` applies one
decision's hit policy to the data and raises :class:`DecisionError` when the policy is broken
(UNIQUE or ANY with conflicting rules) or a cell fails.
"""

from __future__ import annotations

import ast
import functools
import keyword
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from engine.bpmn.expressions import evaluate as evaluate_expression
from engine.bpmn.names import CAMUNDA_NS, NAME_EN
from engine.bpmn.restricted import ExpressionError, check_expression
from engine.identity.names import join_name

DMN_NAMESPACES = (
    "https://www.omg.org/spec/DMN/20191111/MODEL/",  # DMN 1.3
    "http://www.omg.org/spec/DMN/20180521/MODEL/",  # DMN 1.2
    "http://www.omg.org/spec/DMN/20151101/dmn.xsd",  # DMN 1.1
)
HIT_POLICIES = ("UNIQUE", "FIRST", "PRIORITY", "ANY", "COLLECT", "RULE ORDER", "OUTPUT ORDER")
AGGREGATIONS = ("SUM", "MIN", "MAX", "COUNT")
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, remove_comments=True, remove_pis=True)
# Children of <decision> that are not its decision logic.
_DECISION_META = frozenset(
    "description extensionElements question allowedAnswers variable informationRequirement knowledgeRequirement "
    "authorityRequirement supportedObjective impactedPerformanceIndicator decisionMaker decisionOwner usingProcess "
    "usingTask".split()
)
_FEEL_LITERALS = {"true": True, "false": False, "null": None}
_PATH = re.compile(r"[A-Za-z][A-Za-z0-9_]*(?:\.[A-Za-z][A-Za-z0-9_]*)*\Z")  # no '_' names, as in expressions


class DecisionError(Exception):
    """A decision could not be made: a broken hit policy or a failing cell. ``rules`` are the
    row numbers (1-based) concerned, if any."""

    def __init__(self, message: str, rules: tuple[int, ...] = ()) -> None:
        super().__init__(message)
        self.rules = tuple(rules)


@dataclass(frozen=True)
class Input:
    id: str
    label: str | None
    expression: str
    type_ref: str | None


@dataclass(frozen=True)
class Output:
    id: str
    label: str | None
    name: str
    type_ref: str | None
    values: tuple = ()  # outputValues: the priority order for PRIORITY and OUTPUT ORDER, highest first


@dataclass(frozen=True)
class Rule:
    id: str
    index: int  # the row, from 1
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    description: str | None = None


@dataclass(frozen=True)
class Decision:
    id: str
    name: str | None
    hit_policy: str
    aggregation: str | None
    inputs: tuple[Input, ...]
    outputs: tuple[Output, ...]
    rules: tuple[Rule, ...]


@dataclass
class Result:
    """``matched``: every rule whose input entries all match, in rule order. ``outputs``: the
    output values of the rules the hit policy returns, in its order (at most one for UNIQUE,
    FIRST, PRIORITY and ANY; all matches for COLLECT, also aggregated, and RULE ORDER; sorted by
    priority for OUTPUT ORDER), Camunda's result list. ``value``: the hit policy's result, the
    single rule's dict (None when none matched), a list of dicts, or the aggregated number.
    ``inputs``: the input columns' values, in column order (what the rules were matched against)."""

    matched: list[Rule] = field(default_factory=list)
    outputs: list[dict] = field(default_factory=list)
    value: Any = None
    inputs: list = field(default_factory=list)


# --- S-FEEL simple unary tests ------------------------------------------------------------

_TOKEN = re.compile(
    r'\s*(?:(?P<str>"(?:[^"\\]|\\.)*")|(?P<num>\d+(?:\.\d+)?|\.\d+)|(?P<op><=|>=|\.\.|[<>\[\](),-])'
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*))"
)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r"}


def _tokens(src: str) -> list[tuple[str, Any]]:
    tokens, pos = [], 0
    while pos < len(src):
        m = _TOKEN.match(src, pos)
        if not m or m.end() == pos:
            if not src[pos:].strip():
                break
            raise ValueError(f"unexpected {src[pos:].strip()[:20]!r}")
        pos = m.end()
        kind = m.lastgroup
        text = m.group(kind)
        if kind == "str":
            tokens.append(("lit", re.sub(r"\\(.)", lambda e: _ESCAPES.get(e[1], e[1]), text[1:-1])))
        elif kind == "num":
            tokens.append(("num", float(text) if "." in text else int(text)))
        else:
            tokens.append((kind, text))
    return tokens


class _UnaryParser:
    """tests -> test (',' test)* ; test -> ('<'|'<='|'>'|'>=')? operand | range ;
    range -> ('['|']'|'(') operand '..' operand (']'|'['|')') ;
    operand -> number | -number | "string" | true | false | null | name(.name)* | date("...")."""

    def __init__(self, tokens: list) -> None:
        self.tokens, self.i = tokens, 0

    def peek(self, ahead: int = 0) -> tuple:
        i = self.i + ahead
        return self.tokens[i] if i < len(self.tokens) else ("end", None)

    def take(self, *expected: tuple) -> tuple:
        tok = self.peek()
        if expected and tok not in expected:
            found = "the end" if tok[0] == "end" else repr(str(tok[1]))
            wanted = " or ".join("the end" if e[0] == "end" else repr(e[1]) for e in expected)
            raise ValueError(f"expected {wanted}, found {found}")
        self.i += 1
        return tok

    def tests(self) -> list[Callable]:
        tests = [self.test()]
        while self.peek() == ("op", ","):
            self.take()
            tests.append(self.test())
        return tests

    def test(self) -> Callable:
        kind, value = self.peek()
        if kind == "op" and value in _ORDER:
            self.take()
            compare, get = _ORDER[value], self.operand()
            return lambda v, data: _ordered(compare, v, get(data))
        if kind == "op" and value in ("[", "]", "("):
            self.take()
            low = self.operand()
            self.take(("op", ".."))
            high = self.operand()
            end = self.take(("op", "]"), ("op", "["), ("op", ")"))[1]
            return _range(low, value == "[", high, end == "]")
        get = self.operand()
        return lambda v, data: _equal(v, get(data))

    def operand(self) -> Callable[[dict], Any]:
        kind, value = self.take()
        if kind == "op" and value == "-" and self.peek()[0] == "num":
            number = -self.take()[1]
            return lambda data: number
        if kind == "num" or kind == "lit":
            return lambda data: value
        if kind == "name" and value in _FEEL_LITERALS:
            literal = _FEEL_LITERALS[value]
            return lambda data: literal
        if kind == "name":
            # date("2024-01-31"), time("..."), date and time("..."): compared as ISO strings
            if value == "date" and self.peek() == ("name", "and") and self.peek(1) == ("name", "time"):
                self.i += 2
                value = "date and time"
            if value == "date and time" or (value in ("date", "time") and self.peek() == ("op", "(")):
                self.take(("op", "("))
                text = self.take()
                if text[0] != "lit":
                    raise ValueError(f"{value}() takes a quoted string")
                self.take(("op", ")"))
                return lambda data: text[1]
            path = tuple(value.split("."))
            return lambda data: _lookup(data, path)
        raise ValueError("expected a value, found " + ("the end" if kind == "end" else repr(str(value))))


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    return "number" if isinstance(value, (int, float)) else type(value).__name__


def _equal(a: Any, b: Any) -> bool | None:
    if a is None or b is None:
        return a is None and b is None
    return a == b if _kind(a) == _kind(b) else None


def _orderable(*values: Any) -> bool:
    kind = _kind(values[0])
    return kind in ("number", "str") and all(_kind(v) == kind for v in values[1:])


def _ordered(compare: Callable[[Any, Any], bool], value: Any, bound: Any) -> bool | None:
    return compare(value, bound) if _orderable(value, bound) else None


_ORDER: dict[str, Callable[[Any, Any], bool]] = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def _range(low: Callable, low_closed: bool, high: Callable, high_closed: bool) -> Callable:
    def test(value: Any, data: dict) -> bool | None:
        lo, hi = low(data), high(data)
        if not _orderable(value, lo, hi):
            return None
        return (lo <= value if low_closed else lo < value) and (value <= hi if high_closed else value < hi)

    return test


def _lookup(data: Any, path: tuple[str, ...]) -> Any:
    for segment in path:
        data = data.get(segment) if isinstance(data, dict) else None
    return data


@functools.lru_cache(maxsize=8192)
def unary_tests(source: str) -> Callable[[Any, dict], bool] | None:
    """Parse an input entry into ``match(value, data) -> bool``; None for ``-`` or an empty
    entry (any value). Raises ValueError, saying why, when it is not a simple unary test."""
    src = source.strip()
    if src in ("", "-"):
        return None
    parser = _UnaryParser(_tokens(src))
    negate = parser.peek() == ("name", "not") and parser.peek(1) == ("op", "(")
    if negate:
        parser.i += 2
    tests = parser.tests()
    if negate:
        parser.take(("op", ")"))
    parser.take(("end", None))

    def match(value: Any, data: dict) -> bool:
        unknown = False
        for test in tests:
            outcome = test(value, data)
            if outcome is True:
                return not negate
            unknown = unknown or outcome is None
        return negate and not unknown  # not(null) is null: no match

    return match


def _output_values(source: str) -> tuple:
    """The literals of an ``<outputValues>`` list (``"high","medium","low"``), highest first."""
    parser, values = _UnaryParser(_tokens(source.strip())), []
    while True:
        start = parser.i
        get = parser.operand()
        kind, value = parser.tokens[start]
        if parser.i == start + 1 and kind == "name" and value not in _FEEL_LITERALS:
            raise ValueError(f"expected a literal, found {value!r}")
        values.append(get({}))
        if parser.take(("op", ","), ("end", None))[0] == "end":
            return tuple(values)


# --- input expressions and output entries -------------------------------------------------


@functools.lru_cache(maxsize=8192)
def _cell(source: str) -> tuple[str, Any]:
    """How an input expression or output entry is evaluated: ``("literal", value)``,
    ``("path", names)`` or ``("expression", source)``. Raises ExpressionError when refused."""
    src = source.strip()
    if src in _FEEL_LITERALS:
        return "literal", _FEEL_LITERALS[src]
    if _PATH.match(src) and not keyword.iskeyword(src.split(".")[0]):
        return "path", tuple(src.split("."))
    check_expression(src)
    try:
        value = ast.literal_eval(src)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return "expression", src
    # a cached list or dict would be shared by every result: those are built anew each time
    return ("literal", value) if value is None or type(value) in (str, int, float, bool) else ("expression", src)


def _cell_value(source: str, data: dict, strict: bool) -> Any:
    """The value of an input expression (``strict=False``: a missing name is None) or an output
    entry (``strict=True``: its first name must be in the data, as for any engine expression)."""
    kind, value = _cell(source)
    if kind == "literal":
        return value
    if kind == "path":
        if strict and value[0] not in data:
            raise ExpressionError(f"name '{value[0]}' is not defined")
        return _lookup(data, value)
    return evaluate_expression(value, data)


# --- evaluation ---------------------------------------------------------------------------


def _label(decision_id: str | None, name: str | None) -> str:
    return f"decision {decision_id!r}" + (f" ({name})" if name and name != decision_id else "")


def _column(kind: str, column: Input | Output) -> str:
    text = column.label or (column.expression if isinstance(column, Input) else column.name) or column.id
    return f"{kind} {text!r}"


def _rows(rules: list[Rule]) -> str:
    rows = [str(r.index) for r in rules]
    return rows[0] if len(rows) == 1 else ", ".join(rows[:-1]) + " and " + rows[-1]


def _rank(decision: Decision, outputs: dict) -> tuple:
    """A matched rule's priority, smaller first: per output with output values, in column order,
    the position of its value in them (a value not listed ranks last)."""
    rank = []
    for out in decision.outputs:
        if out.values:
            value = outputs.get(out.name)
            pos = next((i for i, v in enumerate(out.values) if _equal(v, value) is True), len(out.values))
            rank.append(pos)
    return tuple(rank)


def input_value(column: Input, data: dict) -> Any:
    """The value of an input column's expression over ``data``: a name or dotted path missing
    from the data is None; any other failure is an ExpressionError."""
    return _cell_value(column.expression, data, strict=False)


def evaluate(decision: Decision, data: dict) -> Result:
    """Apply ``decision`` to ``data`` (the variables its input expressions read)."""
    label = _label(decision.id, decision.name)
    values = []
    for column in decision.inputs:
        try:
            values.append(input_value(column, data))
        except ExpressionError as err:
            raise DecisionError(f"{label}: {_column('input', column)}: {err}") from err
    matched = []
    for rule in decision.rules:
        for column, entry, value in zip(decision.inputs, rule.inputs, values, strict=True):
            try:
                match = unary_tests(entry)
            except ValueError as err:
                raise DecisionError(
                    f"{label}: rule {rule.index}, {_column('input', column)}: {err}", (rule.index,)
                ) from err
            if match is not None and not match(value, data):
                break
        else:
            matched.append(rule)
    policy = decision.hit_policy
    if policy == "UNIQUE" and len(matched) > 1:
        raise DecisionError(
            f"{label}: hit policy UNIQUE but rules {_rows(matched)} match", tuple(r.index for r in matched)
        )
    chosen = matched[:1] if policy in ("UNIQUE", "FIRST") else matched
    outputs = [_rule_outputs(decision, label, rule, data) for rule in chosen]
    if policy == "ANY":
        differing = [r for r, o in zip(matched, outputs, strict=True) if o != outputs[0]]
        if differing:
            rules = [matched[0], *differing]
            raise DecisionError(
                f"{label}: hit policy ANY but rules {_rows(rules)} match with different outputs",
                tuple(r.index for r in rules),
            )
        outputs = outputs[:1]
    elif policy == "PRIORITY":
        outputs = [min(outputs, key=lambda o: _rank(decision, o))] if outputs else []
    elif policy == "OUTPUT ORDER":
        outputs.sort(key=lambda o: _rank(decision, o))
    if policy in ("UNIQUE", "FIRST", "ANY", "PRIORITY"):
        value = outputs[0] if outputs else None
    elif decision.aggregation:
        value = _aggregate(decision, label, matched, outputs)
    else:  # COLLECT, RULE ORDER, OUTPUT ORDER
        value = list(outputs)
    return Result(matched, outputs, value, values)


def _rule_outputs(decision: Decision, label: str, rule: Rule, data: dict) -> dict:
    outputs = {}
    for column, entry in zip(decision.outputs, rule.outputs, strict=True):
        try:
            outputs[column.name] = _cell_value(entry, data, strict=True) if entry.strip() else None
        except ExpressionError as err:
            raise DecisionError(
                f"{label}: rule {rule.index}, {_column('output', column)}: {err}", (rule.index,)
            ) from err
    return outputs


def _aggregate(decision: Decision, label: str, matched: list[Rule], outputs: list[dict]) -> Any:
    """COLLECT with SUM, MIN, MAX (over the single output's non-null values; None when there
    are none) or COUNT (the number of matched rules, not of distinct values as DMN 1.3 says,
    like Camunda)."""
    if decision.aggregation == "COUNT":
        return len(matched)
    name = decision.outputs[0].name
    pairs = [(r, o[name]) for r, o in zip(matched, outputs, strict=True) if o[name] is not None]
    if not pairs:
        return None
    values = [v for _, v in pairs]
    wanted = ("number",) if decision.aggregation == "SUM" else ("number", "str")
    kind = _kind(values[0])
    for rule, value in pairs:
        if _kind(value) != kind or kind not in wanted:
            raise DecisionError(
                f"{label}: COLLECT {decision.aggregation} of {_column('output', decision.outputs[0])}: "
                f"rule {rule.index} gives {value!r}",
                (rule.index,),
            )
    return {"SUM": sum, "MIN": min, "MAX": max}[decision.aggregation](values)


# --- reading and checking the XML ---------------------------------------------------------


def _child(el, name: str, ns: str):
    return el.find(f"{{{ns}}}{name}")


def _text(el, ns: str) -> str:
    """The text of an element's ``<text>`` child ('' when there is none)."""
    if el is None:
        return ""
    text = _child(el, "text", ns)
    return (text.text or "") if text is not None else ""


def _local(el) -> str:
    return etree.QName(el).localname if isinstance(el.tag, str) else ""


def _read(xml: bytes | str) -> tuple[list[Decision], list[dict]]:
    errors: list[dict] = []

    def error(element_id: str | None, message: str) -> None:
        errors.append({"element_id": element_id, "message": message})

    if isinstance(xml, str):
        xml = xml.encode("utf-8")
    try:
        root = etree.fromstring(xml, _PARSER)
    except etree.XMLSyntaxError as err:
        line = f"line {err.lineno}: " if err.lineno else ""
        error(None, f"the DMN file is not well-formed XML: {line}{err.msg}")
        return [], errors
    ns = etree.QName(root).namespace
    if _local(root) != "definitions" or ns not in DMN_NAMESPACES:
        error(root.get("id"), f"not a DMN 1.1-1.3 file: the root element is {root.tag!r}")
        return [], errors
    decisions, seen = [], set()
    for el in root.iterfind(f"{{{ns}}}decision"):
        did, label = el.get("id"), _label(el.get("id"), el.get("name"))
        if not did:
            error(None, f"{label}: a decision needs an id")
        elif did in seen:
            error(did, f"{label}: the decision id is used twice")
        seen.add(did)
        required = [r for r in el.iterfind(f"{{{ns}}}informationRequirement")
                    if _child(r, "requiredDecision", ns) is not None]
        if required:
            # it would be evaluated without the decisions it reads: refused, never run half
            error(did, f"{label}: decisions that require other decisions (decision requirements) are not supported: "
                       "evaluate each in a business rule task of its own and pass the result on as data")
            continue
        table = _child(el, "decisionTable", ns)
        if table is None:
            logic = next((_local(c) for c in el if _local(c) and _local(c) not in _DECISION_META), None)
            what = f"{logic} is not supported" if logic else "it has no decision logic"
            error(did, f"{label}: only decision tables are supported, {what}")
            continue
        decision = _read_table(el, table, ns, label, error)
        if decision is not None:
            decisions.append(decision)
    if not decisions and not errors:
        error(root.get("id"), "the DMN file has no decision table")
    return decisions, errors


def _read_table(el, table, ns: str, label: str, error: Callable[[str | None, str], None]) -> Decision | None:
    did = el.get("id")
    policy = " ".join((table.get("hitPolicy") or "UNIQUE").replace("_", " ").upper().split())
    aggregation = (table.get("aggregation") or "").strip().upper() or None
    if policy not in HIT_POLICIES:
        error(did, f"{label}: unknown hit policy {table.get('hitPolicy')!r} (one of {', '.join(HIT_POLICIES)})")
    if aggregation and policy != "COLLECT":
        error(did, f"{label}: an aggregation ({aggregation}) is only allowed with hit policy COLLECT")
    elif aggregation and aggregation not in AGGREGATIONS:
        error(did, f"{label}: unknown aggregation {aggregation!r} (one of {', '.join(AGGREGATIONS)})")

    inputs = []
    for inp in table.iterfind(f"{{{ns}}}input"):
        expr_el = _child(inp, "inputExpression", ns)
        column = Input(
            inp.get("id") or did,
            inp.get("label"),
            _text(expr_el, ns).strip(),
            expr_el.get("typeRef") if expr_el is not None else None,
        )
        inputs.append(column)
        if not column.expression:
            error(column.id, f"{label}: {_column('input', column)} has no input expression")
            continue
        try:
            _cell(column.expression)
        except ExpressionError as err:
            error(column.id, f"{label}: {_column('input', column)}: input expression {column.expression!r}: {err}")

    outputs, names = [], set()
    for out in table.iterfind(f"{{{ns}}}output"):
        values: tuple = ()
        source = _text(_child(out, "outputValues", ns), ns)
        column = Output(out.get("id") or did, out.get("label"), (out.get("name") or "").strip(), out.get("typeRef"))
        if source.strip():
            try:
                values = _output_values(source)
            except ValueError as err:
                error(column.id, f"{label}: {_column('output', column)}: output values {source!r}: {err}")
        column = Output(column.id, column.label, column.name, column.type_ref, values)
        outputs.append(column)
        if not column.name:
            error(column.id, f"{label}: {_column('output', column)} has no name")
        elif column.name in names:
            error(column.id, f"{label}: two outputs are named {column.name!r}")
        names.add(column.name)
    if not outputs:
        error(did, f"{label}: the decision table has no output")
    if aggregation and len(outputs) != 1:
        error(did, f"{label}: COLLECT {aggregation} needs exactly one output, the table has {len(outputs)}")
    if policy in ("PRIORITY", "OUTPUT ORDER") and outputs and not any(o.values for o in outputs):
        error(did, f"{label}: hit policy {policy} needs the output values (their priority order) of an output")

    rules = []
    for index, rule_el in enumerate(table.iterfind(f"{{{ns}}}rule"), start=1):
        rid = rule_el.get("id") or did
        entries = tuple(_text(e, ns).strip() for e in rule_el.iterfind(f"{{{ns}}}inputEntry"))
        results = tuple(_text(e, ns).strip() for e in rule_el.iterfind(f"{{{ns}}}outputEntry"))
        description = (
            (rule_el.findtext(f"{{{ns}}}description") or "").strip()
            or (_text(_child(rule_el, "annotationEntry", ns), ns).strip())
            or None
        )
        rules.append(Rule(rid, index, entries, results, description))
        # a cell's error names the cell (the entry's id, which the decision-table editor marks), else the rule
        in_ids = [e.get("id") or rid for e in rule_el.iterfind(f"{{{ns}}}inputEntry")]
        out_ids = [e.get("id") or rid for e in rule_el.iterfind(f"{{{ns}}}outputEntry")]
        where = f"{label}: rule {index}"
        if len(entries) != len(inputs) or len(results) != len(outputs):
            error(
                rid,
                f"{where} has {len(entries)} input and {len(results)} output entries, "
                f"the table has {len(inputs)} inputs and {len(outputs)} outputs",
            )
            continue
        for column, entry, cell in zip(inputs, entries, in_ids, strict=True):
            try:
                unary_tests(entry)
            except ValueError as err:
                error(cell, f"{where}, {_column('input', column)}: {entry.strip()!r} is not a unary test: {err}")
        for column, entry, cell in zip(outputs, results, out_ids, strict=True):
            try:
                if entry.strip():
                    _cell(entry)
            except ExpressionError as err:
                error(cell, f"{where}, {_column('output', column)}: {entry.strip()!r}: {err}")
    if policy not in HIT_POLICIES:
        return None
    return Decision(did, _two_language_name(el), policy, aggregation, tuple(inputs), tuple(outputs), tuple(rules))


def _two_language_name(el) -> str | None:
    """A decision's name as the engine stores it: ``中文|English`` when the model gives its English
    name (``name.en`` in a camunda:properties of its extensionElements, as on BPMN elements), else
    as drawn (engine/identity/names.py shows one of the two)."""
    ns = etree.QName(el).namespace
    prop = el.find(f"{{{ns}}}extensionElements/{{{CAMUNDA_NS}}}properties/{{{CAMUNDA_NS}}}property[@name='{NAME_EN}']")
    return join_name(el.get("name"), prop.get("value") if prop is not None else None)


def validate(xml: bytes | str) -> list[dict]:
    """Deploy-time errors of a DMN file, each ``{"element_id", "message"}``; [] when it is valid."""
    return _read(xml)[1]


def parse(xml: bytes | str) -> list[Decision]:
    """The decisions of a DMN file, in document order; DecisionError when :func:`validate`
    finds errors (its message joins them)."""
    decisions, errors = _read(xml)
    if errors:
        raise DecisionError("; ".join(e["message"] for e in errors))
    return decisions
