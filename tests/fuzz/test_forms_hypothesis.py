"""Property-based tests of form-js definitions and form data (engine/forms/model.py, engine/forms/definitions.py).

Hypothesis generates form definitions from the component types the engine supports
(inputs, display components, groups, dynamic lists; validate rules, options, conditional
``hide`` expressions, good and bad keys and patterns, junk values in any property) and
data for them (valid by construction, valid-then-mutated, and arbitrary JSON).

Properties:

1. ``check_form`` never raises; deploying through ``POST /api/forms`` answers 200/201 or a
   clean 400/422 whose errors name the component, and a deployed form reads back as sent
   (both databases: the JSON column is where SQLite and PostgreSQL differ).
2. For a form that ``check_form`` accepts, ``validate_submission`` of arbitrary data either
   returns cleaned data that satisfies every declared constraint (required fields present,
   types, min/max, lengths, patterns, options, item counts, no undeclared keys) or raises
   marshmallow's ``ValidationError`` -- never another exception.
3. Data generated to satisfy the form is accepted (unchanged) -- directly and by starting a
   process whose start form it is, through the API.
"""

from __future__ import annotations

import copy
import json
import math
import re
from collections import Counter
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import assume, given, note
from hypothesis import strategies as st
from marshmallow import ValidationError

from engine.forms.fields import _DATE_FORMATS, _EMAIL_RE, _PHONE_RE, compile_pattern
from engine.forms.model import DISPLAY_TYPES, check_form, validate_submission
from tests.fuzz.conftest import fuzz_settings

pytestmark = pytest.mark.fuzz

# --------------------------------------------------------------------------- strategies: definitions

segment = st.from_regex(r"[a-z][a-z0-9_]{0,6}", fullmatch=True)
path = st.lists(segment, min_size=1, max_size=2).map(".".join)
bad_key = st.sampled_from(["", "1abc", "a..b", "a b", "x" * 210, "a.", ".a", "中文", "a$b"]) | st.integers() | st.none()
junk = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)
# Patterns the valid-data generator can satisfy: JS pattern -> matching-string strategy.
SAFE_PATTERNS = {
    "^[0-9]{12}$": st.from_regex(r"[0-9]{12}", fullmatch=True),
    "^\\d{3,6}$": st.from_regex(r"[0-9]{3,6}", fullmatch=True),
    "^[A-Z]{2}-[0-9]{4}$": st.from_regex(r"[A-Z]{2}-[0-9]{4}", fullmatch=True),
    "^JT-\\d{4}-\\d{4}$": st.from_regex(r"JT-[0-9]{4}-[0-9]{4}", fullmatch=True),
    "[a-z]": st.from_regex(r"[a-z]{1,5}", fullmatch=True),
}
# Patterns that must be refused at deploy (invalid, or catastrophic backtracking) or are odd.
ODD_PATTERNS = ["^(a+)+$", "(\\w+\\s?)*$", "[", "(?P<x", "\\", "a{99999999999}", "(?<=a+)b", "^$", "(", "*",
                "[z-a]", "(?i)x", "\\p{L}", "((((((((((a))))))))))", "a{2,1}", "\\1(a)"]
FEEL = ["=true", "=false", "=flag", "=a = 1", "=not(flag)", "=x > 3 and y = \"a\"", "=this.n < 2", "=parent.x",
        "=a.b.c != null", "=((((", "no-equals", "=1 <", "=\"unterminated", "=" + "(" * 300 + "x" + ")" * 300,
        "=" + " or ".join(["a"] * 200)]


@st.composite
def validate_rules(draw, ctype: str) -> dict:
    rules: dict = {}
    if draw(st.booleans()):
        rules["required"] = draw(st.booleans())
    if ctype in ("textfield", "textarea"):
        if draw(st.integers(0, 3)) == 0:
            rules["pattern"] = draw(st.sampled_from(sorted(SAFE_PATTERNS)))
        else:
            low = draw(st.none() | st.integers(0, 5))
            high = draw(st.none() | st.integers(0, 12))
            if low is not None and (high is None or low <= high):
                rules["minLength"] = low
            if high is not None and (low is None or low <= high):
                rules["maxLength"] = high
            if draw(st.integers(0, 5)) == 0:
                rules["validationType"] = draw(st.sampled_from(["email", "phone", ""]))
                if rules["validationType"]:  # keep the rules satisfiable together
                    rules.pop("minLength", None)
                    rules.pop("maxLength", None)
    if ctype == "number":
        low = draw(st.none() | st.integers(-1000, 1000))
        high = draw(st.none() | st.integers(-1000, 1000))
        if low is not None and high is not None and low > high:
            low, high = high, low
        if low is not None:
            rules["min"] = low
        if high is not None:
            rules["max"] = high
    return rules


@st.composite
def options(draw) -> list[dict]:
    values = draw(st.lists(st.text(min_size=1, max_size=6) | st.integers(-5, 50) | st.booleans(), min_size=1,
                           max_size=5, unique_by=lambda v: (type(v), v)))
    return [{"label": f"选项 {v}", "value": v} for v in values]


@st.composite
def input_component(draw, key: str) -> dict:
    ctype = draw(st.sampled_from(["textfield", "textarea", "number", "select", "radio", "checkbox", "checklist",
                                  "taglist", "datetime", "filepicker"]))
    comp = {"type": ctype, "key": key, "label": f"字段 {key}", "id": f"Field_{key.replace('.', '_')}"}
    rules = draw(validate_rules(ctype))
    if rules:
        comp["validate"] = rules
    if ctype in ("select", "radio", "checklist") or (ctype == "taglist" and draw(st.booleans())):
        comp["values"] = draw(options())
    if ctype == "datetime":
        comp["subtype"] = draw(st.sampled_from(sorted(_DATE_FORMATS)))
    if ctype == "number":
        if draw(st.integers(0, 3)) == 0:
            comp["decimalDigits"] = draw(st.integers(0, 3))
        if draw(st.integers(0, 4)) == 0 and "min" not in rules and "max" not in rules:
            comp["increment"] = draw(st.sampled_from([1, 5, "10", 25]))
        if draw(st.integers(0, 4)) == 0:
            comp["serializeToString"] = True
    if ctype == "filepicker" and draw(st.booleans()):
        comp["multiple"] = True
    if draw(st.integers(0, 9)) == 0:
        comp[draw(st.sampled_from(["disabled", "readonly"]))] = True
    return comp


@st.composite
def components(draw, depth: int = 0, used: set | None = None, max_size: int = 5) -> list[dict]:
    """A list of components with unique keys (``used`` is shared across one form)."""
    used = set() if used is None else used
    out = []
    for _ in range(draw(st.integers(0 if depth else 1, max_size))):
        kind = draw(st.sampled_from(["input"] * 6 + ["display", "group", "dynamiclist"] if depth < 2 else ["input"]))
        if kind == "display":
            dtype = draw(st.sampled_from(sorted(DISPLAY_TYPES)))
            comp = {"type": dtype, "id": f"Display_{len(used)}_{depth}", "text": "说明"}
            if dtype == "expression":
                comp["key"] = f"computed{len(used)}_{depth}"
                comp["expression"] = "=1 + 1"
            out.append(comp)
            continue
        key = draw(segment if kind != "input" or draw(st.booleans()) else path)
        if key.split(".")[0] in used:
            continue
        used.add(key.split(".")[0])
        if kind == "input":
            out.append(draw(input_component(key)))
        elif kind == "group":
            group_path = draw(st.sampled_from([key, key, ""]))  # a group without a path adds no level
            out.append({"type": "group", "id": f"Group_{key}", "label": "分组", "path": group_path,
                        "components": draw(components(depth + 1, set(), 3))})
        else:
            comp = {"type": "dynamiclist", "id": f"List_{key}", "path": key, "label": "明细", "isRepeating": True,
                    "components": draw(components(depth + 1, set(), 3))}
            low, high = draw(st.none() | st.integers(0, 2)), draw(st.none() | st.integers(2, 4))
            rules = {k: v for k, v in (("minItems", low), ("maxItems", high)) if v is not None}
            if rules:
                comp["validate"] = rules
            out.append(comp)
    return out


def form_of(comps: list[dict], form_id: str = "fuzz_form") -> dict:
    return {"id": form_id, "type": "default", "schemaVersion": 16, "components": comps}


@st.composite
def with_conditions(draw, form: dict) -> dict:
    """Add ``conditional.hide`` expressions (good and bad FEEL) to some components."""
    form = copy.deepcopy(form)

    def walk(comps):
        for comp in comps:
            if draw(st.integers(0, 3)) == 0:
                comp["conditional"] = {"hide": draw(st.sampled_from(FEEL))}
            walk(comp.get("components", []))

    walk(form["components"])
    return form


def _all_components(comps):
    for comp in comps:
        yield comp
        yield from _all_components(comp.get("components", []) if isinstance(comp.get("components"), list) else [])


@st.composite
def mutated_form(draw, form: dict) -> dict:
    """Break the definition: junk in a property, a bad key, odd patterns, duplicates, deep nesting."""
    form = copy.deepcopy(form)
    comps = list(_all_components(form["components"]))
    how = draw(st.sampled_from(["junk_prop", "bad_key", "pattern", "duplicate", "top", "deep", "rules", "values"]))
    target = draw(st.sampled_from(comps)) if comps else None
    if how == "top" or target is None:
        form[draw(st.sampled_from(["id", "type", "components", "schemaVersion"]))] = draw(junk)
    elif how == "junk_prop":
        target[draw(st.sampled_from(["type", "key", "path", "validate", "values", "components", "conditional",
                                     "subtype", "decimalDigits", "increment", "properties", "label"]))] = draw(junk)
    elif how == "bad_key":
        target["key" if "key" in target else "path"] = draw(bad_key)
    elif how == "pattern":
        target.setdefault("validate", {})["pattern"] = draw(st.sampled_from(ODD_PATTERNS) | st.text(max_size=12))
    elif how == "duplicate":
        form["components"].append(copy.deepcopy(target))
    elif how == "deep":
        nested: dict = {"type": "textfield", "key": "leaf"}
        for i in range(draw(st.integers(10, 40))):
            nested = {"type": "group", "path": f"g{i}", "components": [nested]}
        form["components"].append(nested)
    elif how == "rules":
        rules = target.setdefault("validate", {}) if isinstance(target.get("validate"), dict) else {}
        rules[draw(st.sampled_from(["min", "max", "minLength", "maxLength", "minItems", "maxItems", "required",
                                    "validationType"]))] = draw(junk | st.just(-1) | st.just(10**30))
        target["validate"] = rules
    else:
        target["values"] = draw(st.lists(junk, max_size=3))
    return form


any_form = st.builds(form_of, components()).flatmap(
    lambda f: st.one_of(st.just(f), with_conditions(f), mutated_form(f)))


# --------------------------------------------------------------------------- strategies: data


def _text_value(comp: dict) -> st.SearchStrategy:
    rules = comp.get("validate") or {}
    if rules.get("pattern"):
        return SAFE_PATTERNS[rules["pattern"]]
    if rules.get("validationType") == "email":
        return st.from_regex(r"[a-z0-9.]{1,8}@[a-z]{1,8}\.(com|cn)", fullmatch=True)
    if rules.get("validationType") == "phone":
        return st.from_regex(r"\+86[0-9]{11}", fullmatch=True)
    low = max(rules.get("minLength") or 0, 1 if rules.get("required") else 0)
    high = rules.get("maxLength")
    if high is not None and high < low:
        return st.nothing()
    # no surrounding blanks: minLength counts the trimmed text
    return st.text(st.characters(categories=["L", "N"]), min_size=low, max_size=high if high is not None else 20)


def _number_value(comp: dict) -> st.SearchStrategy:
    rules = comp.get("validate") or {}
    step = comp.get("increment")
    if step not in (None, ""):
        values = st.integers(-50, 50).map(lambda n: n * int(step))
    else:
        low, high = rules.get("min", -10**6), rules.get("max", 10**6)
        values = st.integers(low, high)
        if comp.get("decimalDigits") in (None, 2, 3):
            values = values | st.decimals(low, high, places=2).map(float).filter(
                lambda v: Decimal(str(v)).as_tuple().exponent >= -2 and low <= v <= high)
    if comp.get("serializeToString"):
        values = values | values.map(lambda v: str(v) if isinstance(v, int) else f"{v:.2f}".rstrip("0").rstrip("."))
    return values


def _date_value(subtype: str) -> st.SearchStrategy:
    day = st.dates(date(1000, 1, 1), date(9999, 12, 31)).map(date.isoformat)
    clock = st.tuples(st.integers(0, 23), st.integers(0, 59)).map(lambda t: f"{t[0]:02d}:{t[1]:02d}")
    if subtype == "date":
        return day
    if subtype == "time":
        return clock
    return st.tuples(day, clock).map(lambda t: f"{t[0]}T{t[1]}")


def leaf_value(comp: dict) -> st.SearchStrategy:
    ctype, required = comp["type"], bool((comp.get("validate") or {}).get("required"))
    values = [v["value"] for v in comp.get("values") or []]
    if ctype in ("textfield", "textarea"):
        return _text_value(comp)
    if ctype == "number":
        return _number_value(comp)
    if ctype == "checkbox":
        return st.just(True) if required else st.booleans()
    if ctype in ("select", "radio"):
        return st.sampled_from(values)
    if ctype in ("checklist", "taglist"):
        items = st.sampled_from(values) if values else st.text(min_size=1, max_size=6)
        return st.lists(items, min_size=1 if required else 0, max_size=4, unique_by=lambda v: (type(v), v))
    if ctype == "datetime":
        return _date_value(comp.get("subtype", "date"))
    if ctype == "filepicker":
        ids = st.uuids().map(str)
        return st.lists(ids, min_size=1 if required else 0, max_size=3 if comp.get("multiple") else 1)
    raise AssertionError(ctype)


def _put(data: dict, segments: list[str], value) -> None:
    for seg in segments[:-1]:
        data = data.setdefault(seg, {})
    data[segments[-1]] = value


@st.composite
def valid_data(draw, comps: list[dict]) -> dict:
    """Data satisfying a form without conditions: required fields always, others sometimes."""
    data: dict = {}
    for comp in comps:
        ctype = comp["type"]
        if ctype == "group":
            sub = draw(valid_data(comp["components"]))
            for key, value in sub.items():
                _put(data, (comp["path"].split(".") if comp.get("path") else []) + [key], value)
        elif ctype == "dynamiclist":
            rules = comp.get("validate") or {}
            rows = draw(st.lists(valid_data(comp["components"]), min_size=rules.get("minItems", 0),
                                 max_size=rules.get("maxItems", 3)))
            if rows or draw(st.booleans()):
                _put(data, comp["path"].split("."), rows)
        elif ctype in DISPLAY_TYPES:
            continue
        else:
            required = bool((comp.get("validate") or {}).get("required"))
            if required or draw(st.booleans()):
                _put(data, comp["key"].split("."), draw(leaf_value(comp)))
    return data


def mutate_data(data: dict) -> st.SearchStrategy:
    """Valid data with one value replaced, one key dropped or one unknown key added."""
    flat = []

    def walk(obj, trail):
        if isinstance(obj, dict):
            for k, v in obj.items():
                flat.append(trail + [k])
                walk(v, trail + [k])
        elif isinstance(obj, list):
            for i, v in enumerate(obj):
                flat.append(trail + [i])
                walk(v, trail + [i])

    walk(data, [])

    @st.composite
    def change(draw):
        out = copy.deepcopy(data)
        if not flat:
            return draw(junk)
        where = draw(st.sampled_from(flat))
        parent = out
        for step in where[:-1]:
            parent = parent[step]
        how = draw(st.sampled_from(["replace", "drop", "extra"]))
        if how == "replace":
            parent[where[-1]] = draw(junk | st.sampled_from(["", " ", "\x00", "9" * 40, "2026-02-30", "24:00",
                                                             -1, 10**20, 1e308, -0.0, 0.1]))
        elif how == "drop":
            del parent[where[-1]]
        elif isinstance(parent, dict):
            parent[draw(st.text(min_size=1, max_size=5))] = draw(junk)
        return out

    return change()


# --------------------------------------------------------------------------- the constraint oracle


def _get(data, segments):
    for seg in segments:
        if not isinstance(data, dict) or seg not in data:
            return _ABSENT
        data = data[seg]
    return data


_ABSENT = object()


def _number(value) -> bool:
    return (isinstance(value, int) and not isinstance(value, bool)) or (isinstance(value, float) and math.isfinite(value))


def assert_satisfies(comps: list[dict], data: dict, conditional: bool = False, whole: bool = True) -> None:
    """``data`` (cleaned) obeys every rule the components declare; undeclared keys are absent.

    ``whole=False``: ``comps`` are only part of this level (a group without a path).
    """
    assert isinstance(data, dict), data
    declared: set[str] = set()
    for comp in comps:
        ctype = comp["type"]
        cond = conditional or bool(comp.get("conditional"))
        if ctype == "group":
            segs = comp["path"].split(".") if comp.get("path") else []
            if segs:
                declared.add(segs[0])
            sub = _get(data, segs) if segs else data
            if sub is not _ABSENT and sub is not None:
                assert_satisfies(comp["components"], sub, cond, whole=bool(segs))
                if not segs:
                    declared |= _top_keys(comp["components"])
            continue
        if ctype in DISPLAY_TYPES and not (ctype == "expression" and comp.get("key")):
            continue
        segs = (comp.get("key") or comp.get("path")).split(".")
        declared.add(segs[0])
        value = _get(data, segs)
        if ctype == "expression":
            assert value is _ABSENT, f"computed field {comp['key']} kept the client's value {value!r}"
            continue
        rules = comp.get("validate") or {}
        if ctype == "dynamiclist":
            if value is _ABSENT or value is None:
                assert not (rules.get("minItems") and not cond), f"{comp['path']}: rows missing"
                continue
            assert isinstance(value, list), value
            assert len(value) >= (rules.get("minItems") or 0) and len(value) <= rules.get("maxItems", 10**9)
            for row in value:
                assert_satisfies(comp["components"], row, cond)
            continue
        required = rules.get("required") is True and not cond and not comp.get("disabled") and not comp.get("readonly")
        empty = value is _ABSENT or value is None or value == "" or value == [] or (ctype == "checkbox" and value is False)
        if empty:
            assert not required, f"required field {comp['key']} is empty: {value!r}"
            if value == "":
                assert ctype in ("textfield", "textarea", "select", "radio", "datetime") or comp.get("serializeToString")
            continue
        _assert_leaf(comp, ctype, rules, value)
    extra = set(data) - declared if whole else set()
    assert not extra, f"undeclared keys kept: {extra}"


def _top_keys(comps):
    keys = set()
    for comp in comps:
        if comp["type"] == "group" and not comp.get("path"):
            keys |= _top_keys(comp["components"])
        elif comp.get("key") or comp.get("path"):
            keys.add((comp.get("key") or comp.get("path")).split(".")[0])
    return keys


def _assert_leaf(comp, ctype, rules, value):
    key = comp["key"]
    options = [(type(v["value"]) is bool, v["value"]) for v in comp.get("values") or []]
    if ctype in ("textfield", "textarea"):
        assert isinstance(value, str), (key, value)
        if rules.get("maxLength") is not None:
            assert len(value) <= rules["maxLength"], (key, value)
        if rules.get("minLength") is not None:
            assert len(value.strip()) >= rules["minLength"], (key, value)
        if rules.get("pattern"):
            assert compile_pattern(rules["pattern"]).search(value), (key, value)
        if rules.get("validationType") == "email":
            assert _EMAIL_RE.fullmatch(value), (key, value)
        if rules.get("validationType") == "phone":
            assert _PHONE_RE.fullmatch(value), (key, value)
    elif ctype == "number":
        if isinstance(value, str):
            assert comp.get("serializeToString") and re.fullmatch(r"-?[0-9]+(\.[0-9]+)?", value), (key, value)
            number = Decimal(value)
        else:
            assert _number(value), (key, value)
            number = Decimal(str(value))
        if rules.get("min") is not None:
            assert number >= Decimal(str(rules["min"])), (key, value)
        if rules.get("max") is not None:
            assert number <= Decimal(str(rules["max"])), (key, value)
        if comp.get("decimalDigits") is not None:
            assert -min(number.normalize().as_tuple().exponent, 0) <= comp["decimalDigits"], (key, value)
    elif ctype == "checkbox":
        assert isinstance(value, bool), (key, value)
    elif ctype in ("select", "radio"):
        assert (type(value) is bool, value) in options if options else isinstance(value, (str, int, float)), (key, value)
    elif ctype in ("checklist", "taglist"):
        assert isinstance(value, list), (key, value)
        for item in value:
            if options:
                assert (type(item) is bool, item) in options, (key, item)
    elif ctype == "datetime":
        regex = _DATE_FORMATS[comp.get("subtype", "date")][0]
        assert isinstance(value, str) and regex.fullmatch(value), (key, value)
        if regex.groups:
            date.fromisoformat(regex.fullmatch(value)[1])
    elif ctype == "filepicker":
        assert isinstance(value, list) and all(isinstance(v, str) and v for v in value), (key, value)
        assert comp.get("multiple") or len(value) <= 1, (key, value)


# --------------------------------------------------------------------------- pure properties


def _usable(form) -> bool:
    return not check_form(form)


@fuzz_settings(300)
@given(form=any_form)
def test_check_form_never_raises_and_names_components(form):
    errors = check_form(form)
    assert isinstance(errors, list)
    for error in errors:
        assert set(error) == {"component", "message"} and isinstance(error["message"], str), error


@fuzz_settings(300)
@given(data=st.data())
def test_arbitrary_data_is_cleaned_or_refused(data):
    base = data.draw(st.builds(form_of, components()))
    kind = data.draw(st.sampled_from(["plain", "conditions", "mutated"]))
    form = {"plain": st.just(base), "conditions": with_conditions(base), "mutated": mutated_form(base)}[kind]
    form = data.draw(form)
    assume(_usable(form))
    good = data.draw(valid_data(base["components"]))
    submitted = data.draw(st.one_of(mutate_data(good), junk, st.dictionaries(segment, junk, max_size=4),
                                    st.just(good)))
    note(json.dumps(submitted, ensure_ascii=False, default=str))
    try:
        cleaned = validate_submission(form, copy.deepcopy(submitted))
    except ValidationError as exc:
        assert exc.messages  # field errors, never empty
        return
    assert isinstance(cleaned, dict)
    if kind != "mutated":  # a mutant that still passes check_form may carry rules the oracle does not model
        assert_satisfies(form["components"], cleaned, kind == "conditions")


@fuzz_settings(300)
@given(data=st.data())
def test_valid_data_is_accepted_unchanged(data):
    form = data.draw(st.builds(form_of, components()))
    assume(_usable(form))
    good = data.draw(valid_data(form["components"]))
    try:
        cleaned = validate_submission(form, copy.deepcopy(good))
    except ValidationError as exc:
        raise AssertionError(f"valid data refused: {exc.messages}") from None
    assert cleaned == good
    assert_satisfies(form["components"], cleaned)


# --------------------------------------------------------------------------- through the API (both databases)

START_BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="defs_fuzz" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="fuzz_start" name="表单模糊测试 Form fuzzing" isExecutable="true" camunda:candidateStarterGroups="counter_staff">
    <bpmn:startEvent id="start" camunda:formKey="fuzz_form"><bpmn:outgoing>f0</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="review" name="审核 Review" camunda:formKey="fuzz_form" camunda:candidateGroups="duty_manager">
      <bpmn:incoming>f0</bpmn:incoming><bpmn:outgoing>f1</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f1</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="review" />
    <bpmn:sequenceFlow id="f1" sourceRef="review" targetRef="end" />
  </bpmn:process>
</bpmn:definitions>
"""


def _has(comps, ctype) -> bool:
    return any(c.get("type") == ctype for c in _all_components(comps))


def assert_clean_refusal(r) -> dict:
    assert r.status_code in (400, 422), (r.status_code, r.get_data(as_text=True)[:500])
    body = r.get_json()
    assert isinstance(body, dict) and isinstance(body["error"], str) and isinstance(body["message"], str), body
    return body


@pytest.fixture
def form_api(api):
    """The API with the fuzz_start process deployed on a first version of fuzz_form."""
    first = form_of([{"type": "textfield", "key": "note", "label": "备注"}])
    assert api.deploy_form(first).status_code == 201
    r = api.deploy_xml(START_BPMN)
    assert r.status_code == 201, r.get_json()
    return api


def test_deploy_then_start_through_the_api(form_api):
    api = form_api
    seen: Counter = Counter()

    @fuzz_settings(40)
    @given(data=st.data())
    def run(data):
        form = data.draw(any_form)
        if data.draw(st.booleans()) and isinstance(form, dict):
            form["id"] = data.draw(st.sampled_from(["x", "fuzz_other", "1bad", "", "a" * 101]) | junk)
        before = {f["id"]: f["version"] for f in api.get("/api/forms", "auditor").get_json()["items"]}
        r = api.deploy_form(form)
        seen[f"deploy {r.status_code}"] += 1
        note(f"deploy -> {r.status_code} {r.get_data(as_text=True)[:300]}")
        if r.status_code not in (200, 201):
            body = assert_clean_refusal(r)
            if r.status_code == 422 and isinstance(body["details"]["errors"], list):
                assert all({"component", "message"} <= set(e) for e in body["details"]["errors"]), body
            after = {f["id"]: f["version"] for f in api.get("/api/forms", "auditor").get_json()["items"]}
            assert after == before  # nothing stored
            return
        stored = r.get_json()
        back = api.get(f"/api/forms/{stored['id']}?version={stored['version']}", "auditor")
        assert back.status_code == 200 and back.get_json()["content"] == form
        if stored["id"] != "fuzz_form" or not _usable(form):
            return
        plain = not any(c.get("conditional") for c in _all_components(form["components"]))
        good = data.draw(valid_data(form["components"])) if plain else {}
        submitted = data.draw(st.one_of(st.just(good), mutate_data(good), junk))
        r = api.post("/api/process-definitions/fuzz_start/instances", "counter_staff", json={"data": submitted})
        seen[f"start {r.status_code}"] += 1
        note(f"start -> {r.status_code} {r.get_data(as_text=True)[:300]}")
        if r.status_code == 201:
            assert_satisfies(form["components"], r.get_json()["data"], not plain)
        else:
            body = assert_clean_refusal(r)
            # valid data is refused only for made-up document ids (filepicker)
            if plain and submitted is good:
                assert _has(form["components"], "filepicker"), body

    run()
    print("\nforms through the API:", dict(sorted(seen.items())))
    # both outcomes of both steps happened, or the strategies have drifted
    assert seen["deploy 201"] and seen["deploy 422"] and seen["start 201"] and seen["start 422"], seen
