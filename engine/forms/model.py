"""form-js (Camunda Forms) definitions turned into server-side validation.

A form is the JSON document produced by the bpmn-io form-js editor::

    {"id": "supply_request", "type": "default", "components": [...]}

The browser renders it with the form-js viewer; the server compiles the same
document into a marshmallow schema so both sides agree on what is valid.

* ``check_form`` validates a definition at deploy time and never raises.
* ``build_schema`` compiles a definition (cached by content) into a schema.
* ``validate_submission`` validates submitted data and returns cleaned data.
* ``document_ids`` / ``filepicker_paths`` expose file-picker references.
* ``field_summary`` lists the data fields for API/UI use.

Conditional ``hide`` expressions are evaluated with a small FEEL subset
(literals, names/paths, ``= != < <= > >=``, ``and``, ``or``, ``not(...)``).
A hidden field is never required and its submitted value is dropped.  A field
whose expression is not understood is never hidden but is not required either.
"""

from __future__ import annotations

import functools
import json
import math
import operator
import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

import re2
from marshmallow import Schema, ValidationError, fields, missing, pre_load

__all__ = [
    "FormDefinitionError",
    "check_form",
    "build_schema",
    "validate_submission",
    "filepicker_paths",
    "document_ids",
    "field_summary",
]

FORM_ID_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,99}$")
_SEGMENT_RE = re.compile(r"[^\W\d][\w-]{0,99}")
INPUT_TYPES = frozenset({"textfield", "textarea", "number", "select", "radio", "checkbox",
                         "checklist", "taglist", "datetime", "filepicker"})
DISPLAY_TYPES = frozenset({"text", "html", "spacer", "separator", "image", "button", "iframe",
                           "table", "expression", "documentPreview"})
_KNOWN_TYPES = INPUT_TYPES | DISPLAY_TYPES | {"group", "dynamiclist"}
_OPTION_TYPES = ("select", "radio", "checklist")
_MAX_DEPTH = 16
REQUIRED = "Field is required."
_EMAIL_RE = re.compile(r"[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?"
                       r"(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*")
_PHONE_RE = re.compile(r"(?:\+|00)[1-9][0-9]{5,19}")
_NUMBER_STR_RE = re.compile(r"-?[0-9]{1,30}(?:\.[0-9]{1,30})?")
_TIME = r"(?:[01][0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9](?:\.[0-9]{1,6})?)?(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])?"
_DATE_FORMATS = {
    "date": (re.compile(r"([0-9]{4}-[0-9]{2}-[0-9]{2})"), "Not a valid date (expected YYYY-MM-DD)."),
    "time": (re.compile(_TIME), "Not a valid time (expected HH:MM, 24h)."),
    "datetime": (re.compile(r"([0-9]{4}-[0-9]{2}-[0-9]{2})T" + _TIME),
                 "Not a valid date-time (expected ISO 8601, e.g. 2026-11-23T14:30)."),
}


class FormDefinitionError(ValueError):
    """The form definition is invalid; ``errors`` lists ``{component, message}`` dicts."""

    def __init__(self, errors: list[dict]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{e['component']}: {e['message']}" for e in errors))


# --------------------------------------------------------------------------- FEEL subset

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
def _parse_hide(expr: Any) -> tuple | None:
    """Parse a ``=<FEEL>`` hide condition; None when it is outside the supported subset."""
    if not isinstance(expr, str) or not expr.startswith("=") or len(expr) > 1000:
        return None
    try:
        return _FeelParser(_feel_tokens(expr[1:])).parse()
    except (ValueError, RecursionError):
        return None


def _kind(value: Any) -> str:
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
    return None if value is _HIDDEN else value


def _feel_eval(node: tuple, scopes: list[dict]) -> Any:
    """Evaluate with FEEL three-valued logic: type mismatches yield None (null)."""
    kind = node[0]
    if kind == "lit":
        return node[1]
    if kind == "var":
        return _lookup(node[1], scopes)
    if kind == "not":
        value = _feel_eval(node[1], scopes)
        return (not value) if isinstance(value, bool) else None
    if kind in ("and", "or"):
        a, b = _feel_eval(node[1], scopes), _feel_eval(node[2], scopes)
        absorbing = kind == "or"  # True absorbs "or", False absorbs "and"
        if a is absorbing or b is absorbing:
            return absorbing
        return (not absorbing) if a is (not absorbing) and b is (not absorbing) else None
    op, a, b = node[1], _feel_eval(node[2], scopes), _feel_eval(node[3], scopes)
    if op in ("=", "!="):
        if a is None or b is None:
            equal = a is None and b is None
        elif _kind(a) != _kind(b):
            return None
        else:
            equal = a == b
        return equal if op == "=" else not equal
    if _kind(a) != _kind(b) or _kind(a) not in ("number", "str"):
        return None
    return _CMP[op](a, b)


# --------------------------------------------------------------------------- definition tree

_HIDDEN = object()  # pre_load marker: the field is hidden by its condition


@dataclass
class _Leaf:
    comp: dict
    hides: list  # parsed hide conditions (None = not understood), evaluated in the node's scope
    required: bool = False


@dataclass
class _Obj:
    children: dict = field(default_factory=dict)
    required: bool = False  # some descendant is required: inject {} so errors point at it
    dynamic: bool = False


@dataclass
class _Rows:
    comp: dict
    hides: list
    children: dict = field(default_factory=dict)
    required: bool = False
    dynamic: bool = False


def _valid_path(value: Any) -> bool:
    return isinstance(value, str) and len(value) <= 200 and all(
        _SEGMENT_RE.fullmatch(seg) for seg in value.split("."))


def _is_number(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    return isinstance(value, int) and not isinstance(value, bool)


def _is_scalar(value: Any) -> bool:
    return isinstance(value, (str, bool)) or _is_number(value)


_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False  # a refused pattern is a form error, not a server log line


@functools.lru_cache(maxsize=1024)
def compile_pattern(pattern: str):
    """A form field's ``validate.pattern`` compiled with RE2, a linear-time engine (no
    backtracking: ``(a|aa)+$`` cannot take exponential time). Its syntax is JavaScript's for the
    patterns people write: ``$`` is the end of the input, ``\\d`` and ``\\w`` are ASCII.
    Lookaround and backreferences are refused (``re2.error``): such a pattern never deploys."""
    return re2.compile(pattern, _RE2_OPTIONS)


class _Analyzer:
    """Walks a form definition once, collecting errors and building the data tree."""

    def __init__(self) -> None:
        self.errors: list[dict] = []
        self.root: dict = {}
        self.in_rows = 0  # inside a dynamic list's rows

    def error(self, component: str, message: str) -> None:
        self.errors.append({"component": component, "message": message})

    def walk(self, comps: Any, level: dict, prefix: list, hides: list, where: str, depth: int) -> None:
        if depth > _MAX_DEPTH:
            return self.error(where, "Components are nested too deeply.")
        if not isinstance(comps, list):
            return self.error(where, "'components' must be a list.")
        for i, comp in enumerate(comps):
            loc = f"{where}[{i}]"
            if not isinstance(comp, dict):
                self.error(loc, "Component must be an object.")
                continue
            name = next((v for v in (comp.get("key"), comp.get("id")) if isinstance(v, str) and v), loc)
            self.component(comp, name, level, prefix, hides, loc, depth)

    def component(self, comp: dict, name: str, level: dict, prefix: list, hides: list, loc: str, depth: int) -> None:
        ctype, cond = comp.get("type"), comp.get("conditional")
        if not isinstance(ctype, str) or ctype not in _KNOWN_TYPES:
            return self.error(name, f"Unknown component type {ctype!r}.")
        if cond is not None and not isinstance(cond, dict):
            return self.error(name, "'conditional' must be an object.")
        if cond and cond.get("hide"):
            hides = hides + [_parse_hide(cond["hide"]) if isinstance(cond["hide"], str) else None]
        if ctype == "group":
            path = comp.get("path")
            if path not in (None, "") and not _valid_path(path):
                return self.error(name, f"Invalid group path {path!r}.")
            sub = prefix + path.split(".") if path else prefix
            return self.walk(comp.get("components", []), level, sub, hides, loc + ".components", depth + 1)
        if ctype == "dynamiclist":
            if not _valid_path(comp.get("path")):
                return self.error(name, "Dynamic list needs a valid 'path'.")
            self.check_validate(comp, name)
            rows = _Rows(comp, hides)
            if self.insert(level, prefix + comp["path"].split("."), rows, name):
                self.in_rows += 1
                self.walk(comp.get("components", []), rows.children, [], [], loc + ".components", depth + 1)
                self.in_rows -= 1
            return None
        if ctype in DISPLAY_TYPES and (ctype != "expression" or comp.get("key") in (None, "")):
            return None
        if not _valid_path(comp.get("key")):
            return self.error(name, "Input component needs a valid 'key'.")
        if ctype in INPUT_TYPES:
            self.check_validate(comp, name)
            self.check_input(comp, name, ctype)
        if is_secret(comp) and (prefix or self.in_rows or "." in comp["key"] or ctype not in ("textfield", "number")):
            return self.error(name, "A secret field (property secret=true) must be a top-level text or number field.")
        self.insert(level, prefix + comp["key"].split("."), _Leaf(comp, hides), name)
        return None

    def insert(self, level: dict, segments: list[str], node: Any, name: str) -> bool:
        for seg in segments[:-1]:
            level.setdefault(seg, _Obj())
            if not isinstance(level[seg], _Obj):
                self.error(name, f"Duplicate key {'.'.join(segments)!r}.")
                return False
            level = level[seg].children
        if segments[-1] in level:
            self.error(name, f"Duplicate key {'.'.join(segments)!r}.")
            return False
        level[segments[-1]] = node
        return True

    def check_validate(self, comp: dict, name: str) -> None:
        rules = comp.get("validate")
        if rules is None:
            return
        if not isinstance(rules, dict):
            return self.error(name, "'validate' must be an object.")
        for low, high, check, what in (("min", "max", _is_number, "a number"),
                                       ("minLength", "maxLength", _is_count, "a non-negative integer"),
                                       ("minItems", "maxItems", _is_count, "a non-negative integer")):
            bad = [k for k in (low, high) if rules.get(k) is not None and not check(rules[k])]
            for k in bad:
                self.error(name, f"validate.{k} must be {what}.")
            if not bad and rules.get(low) is not None and rules.get(high) is not None and rules[low] > rules[high]:
                self.error(name, f"validate.{low} is greater than validate.{high}.")
        if rules.get("required") not in (None, True, False):
            self.error(name, "validate.required must be a boolean.")
        if rules.get("validationType") not in (None, "", "email", "phone"):
            self.error(name, f"Unknown validate.validationType {rules['validationType']!r}.")
        pattern = rules.get("pattern")
        if pattern not in (None, ""):
            try:
                compile_pattern(pattern)
            except Exception as exc:  # noqa: BLE001 - any failure means an unusable pattern
                reason = exc.args[0].decode("utf-8", "replace") if exc.args and isinstance(exc.args[0], bytes) else exc
                self.error(name, f"Invalid validate.pattern {pattern!r}: {reason} (patterns run on a linear-time "
                                 "engine: no lookaround, no backreferences).")
        return None

    def check_input(self, comp: dict, name: str, ctype: str) -> None:
        values = comp.get("values")
        dynamic = any(comp.get(k) for k in ("valuesKey", "valuesExpression"))
        if ctype in _OPTION_TYPES and values is None and not dynamic:  # a bare taglist takes free tags
            self.error(name, "Options need 'values', 'valuesKey' or 'valuesExpression'.")
        if values is not None and not (isinstance(values, list) and all(
                isinstance(v, dict) and isinstance(v.get("label"), str) and _is_scalar(v.get("value"))
                for v in values)):
            self.error(name, "'values' must be a list of {label, value} objects.")
        subtype = comp.get("subtype", "date")
        if ctype == "datetime" and (not isinstance(subtype, str) or subtype not in _DATE_FORMATS):
            self.error(name, f"Unknown datetime subtype {comp.get('subtype')!r}.")
        if ctype == "number":
            if comp.get("decimalDigits") is not None and not _is_count(comp["decimalDigits"]):
                self.error(name, "'decimalDigits' must be a non-negative integer.")
            if comp.get("increment") not in (None, "") and not (_decimal(comp["increment"]) or 0) > 0:
                self.error(name, "'increment' must be a positive number.")


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        result = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return result if result.is_finite() else None


def _analyze(form: Any) -> _Analyzer:
    an = _Analyzer()
    if not isinstance(form, dict):
        an.error("form", "Form must be a JSON object.")
        return an
    if not isinstance(form.get("id"), str) or not FORM_ID_RE.fullmatch(form["id"]):
        an.error("form", "Form needs an 'id' matching ^[A-Za-z][A-Za-z0-9_.-]{0,99}$.")
    if form.get("type") != "default":
        an.error("form", "Form 'type' must be 'default'.")
    an.walk(form.get("components"), an.root, [], [], "components", 0)
    return an


def check_form(form: Any) -> list[dict]:
    """Statically validate a form definition; returns ``{component, message}`` errors."""
    try:
        return _analyze(form).errors
    except RecursionError:
        return [{"component": "form", "message": "Form is nested too deeply."}]


# --------------------------------------------------------------------------- fields


def _rule(test: Any, message: str) -> Any:
    def check(value: Any) -> None:
        if not test(value):
            raise ValidationError(message)
    return check


class _FormField:
    """Mixin giving form-js emptiness semantics: hidden -> dropped, empty -> required check."""

    blank_ok = False

    def __init__(self, *args: Any, form_required: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.form_required = form_required

    def is_empty(self, value: Any) -> bool:
        return value is None or (self.blank_ok and value == "")

    def deserialize(self, value: Any, attr: str | None = None, data: Any = None, **kwargs: Any) -> Any:
        if value is _HIDDEN:
            return missing
        if value is missing or self.is_empty(value):
            if self.form_required:
                raise ValidationError(REQUIRED)
            return value
        return super().deserialize(value, attr, data, **kwargs)


class _Text(_FormField, fields.Field):
    blank_ok = True

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> str:
        if not isinstance(value, str):
            raise ValidationError("Not a valid string.")
        return value


class _Number(_FormField, fields.Field):
    def __init__(self, *, as_string: bool, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.as_string = self.blank_ok = as_string

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, str) and self.as_string and _NUMBER_STR_RE.fullmatch(value):
            return value
        if not _is_number(value):
            raise ValidationError("Not a valid number.")
        return value


class _Bool(_FormField, fields.Field):
    def is_empty(self, value: Any) -> bool:
        return value is None or (self.form_required and value is False)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise ValidationError("Not a valid boolean.")
        return value


def _choice_error(value: Any, options: dict | None) -> str | None:
    if not _is_scalar(value):
        return "Not a valid choice."
    if options is not None and (_kind(value), value) not in options:
        shown = ", ".join(str(v) for v in list(options.values())[:10])
        return f"Must be one of: {shown}{', ...' if len(options) > 10 else ''}."
    return None


class _Choice(_FormField, fields.Field):
    blank_ok = True

    def __init__(self, *, options: dict | None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.options = options

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        message = _choice_error(value, self.options)
        if message:
            raise ValidationError(message)
        return value


class _MultiChoice(_Choice):
    blank_ok = False

    def is_empty(self, value: Any) -> bool:
        return value is None or value == []

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> list:
        if not isinstance(value, list):
            raise ValidationError("Not a valid list.")
        errors = {i: [m] for i, v in enumerate(value) if (m := _choice_error(v, self.options))}
        if errors:
            raise ValidationError(errors)
        return list(value)


class _DateTime(_FormField, fields.Field):
    blank_ok = True

    def __init__(self, *, subtype: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.regex, self.message = _DATE_FORMATS[subtype]

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> str:
        m = self.regex.fullmatch(value) if isinstance(value, str) else None
        try:
            if m is None:
                raise ValueError(value)
            if self.regex.groups:
                date.fromisoformat(m[1])  # rejects 2026-13-01, 2026-02-30, ...
        except ValueError:
            raise ValidationError(self.message) from None
        return value


class _Files(_FormField, fields.Field):
    def __init__(self, *, multiple: bool, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.multiple = multiple

    def is_empty(self, value: Any) -> bool:
        return value is None or value == []

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> list:
        if not isinstance(value, list):
            raise ValidationError("Not a valid list of document ids.")
        errors = {i: ["Not a valid document id."] for i, v in enumerate(value) if not isinstance(v, str) or not v}
        if errors:
            raise ValidationError(errors)
        if not self.multiple and len(value) > 1:
            raise ValidationError("Only one file is allowed.")
        return list(value)


class _Ignored(fields.Field):
    """Computed ``expression`` value: accepted and dropped (the client's result is not trusted)."""

    def deserialize(self, value: Any, attr: str | None = None, data: Any = None, **kwargs: Any) -> Any:
        return missing


class _Object(_FormField, fields.Nested):
    pass


class _List(_FormField, fields.List):
    pass


def _text_rules(rules: dict) -> list:
    out = []
    if rules.get("minLength") is not None:
        low = rules["minLength"]
        out.append(_rule(lambda s: len(s.strip()) >= low, f"Field must have minimum length of {low}."))
    if rules.get("maxLength") is not None:
        high = rules["maxLength"]
        out.append(_rule(lambda s: len(s) <= high, f"Field must have maximum length of {high}."))
    if rules.get("pattern"):
        regex = compile_pattern(rules["pattern"])
        out.append(_rule(lambda s: regex.search(s), f"Field must match pattern {rules['pattern']}."))
    if rules.get("validationType") == "email":
        out.append(_rule(_EMAIL_RE.fullmatch, "Field must be a valid email."))
    if rules.get("validationType") == "phone":
        out.append(_rule(_PHONE_RE.fullmatch,
                         "Field must be a valid international phone number. (e.g. +4930664040900)"))
    return out


def _number_rules(comp: dict, rules: dict) -> list:
    out = []
    if rules.get("min") is not None:
        low = _decimal(rules["min"])
        out.append(_rule(lambda v: _decimal(v) >= low, f"Field must have minimum value of {rules['min']}."))
    if rules.get("max") is not None:
        high = _decimal(rules["max"])
        out.append(_rule(lambda v: _decimal(v) <= high, f"Field must have maximum value of {rules['max']}."))
    digits = comp.get("decimalDigits")
    if digits is not None:
        text = "be an integer" if digits == 0 else f"have at most {digits} decimal digit{'s' if digits > 1 else ''}"
        out.append(_rule(lambda v: -min(_decimal(v).normalize().as_tuple().exponent, 0) <= digits,
                         f"Value is expected to {text}."))
    step = _decimal(comp.get("increment"))
    if step:
        out.append(functools.partial(_check_increment, step=step))
    return out


def _check_increment(value: Any, step: Decimal) -> None:
    number = _decimal(value)
    try:
        offset = number % step
    except InvalidOperation:
        raise ValidationError(f"Value must be a multiple of {step}.") from None
    if offset:
        low = number - offset
        raise ValidationError("Please select a valid value, the two nearest valid values "
                              f"are {low} and {low + step}.")


def _options(comp: dict) -> dict | None:
    if any(comp.get(k) for k in ("valuesKey", "valuesExpression")) or comp.get("values") is None:
        return None
    return {(_kind(v["value"]), v["value"]): v["value"] for v in comp["values"]}


def _make_field(leaf: _Leaf) -> fields.Field:
    comp, kind = leaf.comp, leaf.comp["type"]
    rules = comp.get("validate") or {}
    common = {"form_required": leaf.required}
    if kind in ("textfield", "textarea"):
        return _Text(validate=_text_rules(rules), **common)
    if kind == "number":
        return _Number(as_string=bool(comp.get("serializeToString")), validate=_number_rules(comp, rules), **common)
    if kind == "checkbox":
        return _Bool(**common)
    if kind in ("select", "radio"):
        return _Choice(options=_options(comp), **common)
    if kind in ("checklist", "taglist"):
        return _MultiChoice(options=_options(comp), **common)
    if kind == "datetime":
        return _DateTime(subtype=comp.get("subtype", "date"), **common)
    if kind == "filepicker":
        return _Files(multiple=bool(comp.get("multiple")), **common)
    return _Ignored()


def _item_bound(comp: dict, name: str) -> int | None:
    """minItems/maxItems from ``validate`` or from form-js custom ``properties`` (strings)."""
    value = (comp.get("validate") or {}).get(name)
    props = comp.get("properties")
    if value is None and isinstance(props, dict):
        value = props.get(name)
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    return value if _is_count(value) else None


def _leaf_required(comp: dict, hides: list) -> bool:
    declared = bool((comp.get("validate") or {}).get("required"))
    # Unparsed conditions (None) might hide the field: be lenient. Disabled/readonly
    # fields cannot be filled by the user, so they are never required either.
    return declared and None not in hides and not comp.get("disabled") and not comp.get("readonly")


def _schema_class(level: dict, name: str, base: type[Schema] = Schema) -> type[Schema]:
    """Build the schema class of one level; also fills the required/dynamic flags."""
    attrs: dict[str, fields.Field] = {}
    for i, (key, node) in enumerate(level.items()):
        if isinstance(node, _Leaf):
            node.required = _leaf_required(node.comp, node.hides)
            made = _make_field(node)
        elif isinstance(node, _Obj):
            made = _Object(_schema_class(node.children, f"{name}_{key}"))
            node.required = any(child.required for child in node.children.values())
            node.dynamic = node.required or _level_dynamic(node.children)
        else:
            row_cls = _schema_class(node.children, f"{name}_{key}")
            min_items, max_items = _item_bound(node.comp, "minItems"), _item_bound(node.comp, "maxItems")
            node.required = (_leaf_required(node.comp, node.hides) or bool(min_items)) and None not in node.hides
            node.dynamic = _level_dynamic(node.children)
            rules = [_rule(lambda v, n=min_items: len(v) >= n, f"At least {min_items} item(s) required.")
                     ] if min_items else []
            if max_items is not None:
                rules.append(_rule(lambda v, n=max_items: len(v) <= n, f"At most {max_items} item(s) allowed."))
            made = _List(fields.Nested(row_cls), validate=rules,
                         form_required=node.required)
        made.data_key = made.attribute = key
        attrs[f"f{i}"] = made
    return base.from_dict(attrs, name=name)


def _level_dynamic(level: dict) -> bool:
    return any(getattr(n, "hides", None) or getattr(n, "dynamic", False) or
               (isinstance(n, _Obj) and n.required) for n in level.values())


def _prepare(level: dict, data: dict, scopes: list[dict]) -> bool:
    """Mark hidden fields in ``data`` (a private copy) in document order.

    Returns True when a visible required field lives in this level, so that a missing
    parent object is injected as ``{}`` and the error points at the field itself.
    """
    needed = False
    for name, node in level.items():
        if isinstance(node, _Obj):
            value = data.get(name, missing)
            # null counts as absent: {"group": null} must not skip the group's required fields
            if node.dynamic and (isinstance(value, dict) or ((value is missing or value is None) and node.required)):
                child = data[name] = dict(value) if isinstance(value, dict) else {}
                sub_needed = _prepare(node.children, child, scopes)
                marks = [v is _HIDDEN for v in child.values()]
                if not sub_needed and all(marks) and (any(marks) or value is missing):
                    data[name] = _HIDDEN
        elif any(h is not None and _feel_eval(h, scopes) is True for h in node.hides):
            data[name] = _HIDDEN
        else:
            needed = needed or node.required
            if isinstance(node, _Rows) and node.dynamic and isinstance(data.get(name), list):
                data[name] = [_prepare_row(node, row, scopes) for row in data[name]]
    return needed


def _prepare_row(node: _Rows, row: Any, scopes: list[dict]) -> Any:
    if not isinstance(row, dict):
        return row
    row = dict(row)
    _prepare(node.children, row, [row, *scopes])
    return row


class _FormSchema(Schema):
    """Root schema: applies ``conditional.hide`` before field validation."""

    form_tree: dict = {}
    form_dynamic = False

    @pre_load
    def _apply_conditions(self, data: Any, **kwargs: Any) -> Any:
        if not self.form_dynamic or not isinstance(data, dict):
            return data
        data = dict(data)
        _prepare(self.form_tree, data, [data])
        return data


@dataclass
class _Compiled:
    tree: dict
    schema: Schema


@functools.lru_cache(maxsize=256)
def _compile(canonical: str) -> _Compiled:
    analysis = _analyze(json.loads(canonical))
    if analysis.errors:
        raise FormDefinitionError(analysis.errors)
    schema_cls = _schema_class(analysis.root, "FormSchema", _FormSchema)
    schema_cls.form_tree = analysis.root
    schema_cls.form_dynamic = _level_dynamic(analysis.root)
    return _Compiled(analysis.root, schema_cls())


def _compiled(form: Any) -> _Compiled:
    try:
        canonical = json.dumps(form, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError, RecursionError) as exc:
        raise FormDefinitionError([{"component": "form", "message": f"Form is not valid JSON: {exc}"}]) from None
    return _compile(canonical)


# --------------------------------------------------------------------------- public API


def build_schema(form: dict) -> Schema:
    """Return the (cached, shared) marshmallow schema for ``form``; raises FormDefinitionError."""
    return _compiled(form).schema


def validate_submission(form: dict, data: Any) -> dict:
    """Validate submitted ``data``; returns cleaned data or raises ``ValidationError``."""
    return _compiled(form).schema.load(data)


def _walk_tree(level: dict, prefix: str, data: Any):
    """Yield ``(path, node, value)`` for every leaf/list; ``data`` may be None."""
    for name, node in level.items():
        value = data.get(name) if isinstance(data, dict) else None
        path = f"{prefix}{name}"
        if isinstance(node, _Obj):
            yield from _walk_tree(node.children, path + ".", value)
            continue
        yield path, node, value
        if isinstance(node, _Rows):
            for row in value if isinstance(value, list) else [None]:
                yield from _walk_tree(node.children, path + "[].", row)


def is_secret(comp: dict) -> bool:
    """A field marked secret with the form-js custom property ``secret: true`` (the form editor's
    "Custom properties"), e.g. a seal PIN: never stored in data, task history or audit."""
    props = comp.get("properties")
    return isinstance(props, dict) and str(props.get("secret", "")).lower() == "true"


def secret_keys(form: dict) -> list[str]:
    """Keys of the form's secret fields (top-level only: check_form refuses nested ones)."""
    return [p for p, node, _ in _walk_tree(_compiled(form).tree, "", None)
            if isinstance(node, _Leaf) and is_secret(node.comp)]


def filepicker_paths(form: dict) -> list[str]:
    """Data paths of all filepicker fields, e.g. ``["attachments", "lines[].photos"]``."""
    return [p for p, node, _ in _walk_tree(_compiled(form).tree, "", None)
            if isinstance(node, _Leaf) and node.comp["type"] == "filepicker"]


def document_ids(form: dict, cleaned: dict) -> list[str]:
    """Every document id referenced by filepicker fields in ``cleaned`` (deduplicated, in order)."""
    ids = [doc for _, node, value in _walk_tree(_compiled(form).tree, "", cleaned)
           if isinstance(node, _Leaf) and node.comp["type"] == "filepicker" and isinstance(value, list)
           for doc in value if isinstance(doc, str)]
    return list(dict.fromkeys(ids))


def field_summary(form: dict) -> list[dict]:
    """Flattened ``[{key, type, label, required}]``; ``required`` means "required when shown"."""
    return [{"key": path, "type": node.comp["type"], "label": node.comp.get("label") or path,
             "required": node.required}
            for path, node, _ in _walk_tree(_compiled(form).tree, "", None)
            if node.comp["type"] != "expression"]
