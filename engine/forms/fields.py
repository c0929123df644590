"""The marshmallow fields a form-js component compiles to, with form-js's own messages and
rules (required when shown, text length and pattern, number bounds and increments, options,
dates, file pickers)."""

from __future__ import annotations

import functools
import math
import re
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

import re2
from marshmallow import ValidationError, fields, missing

from engine.forms.feel import HIDDEN, kind_of

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


def rule(test: Any, message: str) -> Any:
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
        if value is HIDDEN:
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
    if options is not None and (kind_of(value), value) not in options:
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


class FormObject(_FormField, fields.Nested):
    pass


class FormList(_FormField, fields.List):
    pass


def pattern_message(comp: dict) -> str:
    """What a user reads when a text does not match the field's ``validate.pattern``: never the
    pattern itself. The form's own words first (form-js ``validate.patternErrorMessage``, or
    ``validate.patternMessage``), else a sentence naming the field with its description (the hint
    the form shows under the field) when it has one. The browser translates the sentence."""
    rules = comp.get("validate") or {}
    for key in ("patternErrorMessage", "patternMessage"):
        if isinstance(rules.get(key), str) and rules[key].strip():
            return rules[key].strip()
    label = comp.get("label") if isinstance(comp.get("label"), str) and comp["label"].strip() else comp.get("key")
    hint = comp.get("description")
    if isinstance(hint, str) and hint.strip():
        return f"Field {str(label).strip()} is not in the expected format: {hint.strip().rstrip('。.')}."
    return f"Field {str(label).strip()} is not in the expected format."


def _text_rules(comp: dict, rules: dict) -> list:
    out = []
    if rules.get("minLength") is not None:
        low = rules["minLength"]
        out.append(rule(lambda s: len(s.strip()) >= low, f"Field must have minimum length of {low}."))
    if rules.get("maxLength") is not None:
        high = rules["maxLength"]
        out.append(rule(lambda s: len(s) <= high, f"Field must have maximum length of {high}."))
    if rules.get("pattern"):
        regex = compile_pattern(rules["pattern"])
        out.append(rule(lambda s: regex.search(s), pattern_message(comp)))
    if rules.get("validationType") == "email":
        out.append(rule(_EMAIL_RE.fullmatch, "Field must be a valid email."))
    if rules.get("validationType") == "phone":
        out.append(rule(_PHONE_RE.fullmatch,
                         "Field must be a valid international phone number. (e.g. +4930664040900)"))
    return out


def _number_rules(comp: dict, rules: dict) -> list:
    out = []
    if rules.get("min") is not None:
        low = _decimal(rules["min"])
        out.append(rule(lambda v: _decimal(v) >= low, f"Field must have minimum value of {rules['min']}."))
    if rules.get("max") is not None:
        high = _decimal(rules["max"])
        out.append(rule(lambda v: _decimal(v) <= high, f"Field must have maximum value of {rules['max']}."))
    digits = comp.get("decimalDigits")
    if digits is not None:
        text = "be an integer" if digits == 0 else f"have at most {digits} decimal digit{'s' if digits > 1 else ''}"
        out.append(rule(lambda v: -min(_decimal(v).normalize().as_tuple().exponent, 0) <= digits,
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
    return {(kind_of(v["value"]), v["value"]): v["value"] for v in comp["values"]}


def make_field(comp: dict, required: bool) -> fields.Field:
    """The marshmallow field of one form-js input component."""
    kind = comp["type"]
    rules = comp.get("validate") or {}
    common = {"form_required": required}
    if kind in ("textfield", "textarea"):
        return _Text(validate=_text_rules(comp, rules), **common)
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
