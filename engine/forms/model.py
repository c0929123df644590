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

import copy
import functools
import json
import re
from dataclasses import dataclass, field
from typing import Any

from marshmallow import Schema, ValidationError, fields, missing, pre_load, validates_schema

from engine.forms import lists as option_lists
from engine.forms import order
from engine.forms.feel import HIDDEN, evaluate, parse_hide
from engine.forms.fields import (
    _DATE_FORMATS,
    FormList,
    FormObject,
    _decimal,
    _is_count,
    _is_number,
    _is_scalar,
    compile_pattern,
    make_field,
    rule,
)

__all__ = [
    "FormDefinitionError",
    "check_form",
    "build_schema",
    "validate_submission",
    "filepicker_paths",
    "document_ids",
    "field_summary",
    "form_fields",
    "FormField",
    "without_component",
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


class FormDefinitionError(ValueError):
    """The form definition is invalid; ``errors`` lists ``{component, message}`` dicts."""

    def __init__(self, errors: list[dict]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{e['component']}: {e['message']}" for e in errors))


# --------------------------------------------------------------------------- definition tree


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
            hides = hides + [parse_hide(cond["hide"]) if isinstance(cond["hide"], str) else None]
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
        list_problem = option_lists.check(comp)  # a managed list (engine/forms/lists.py) gives the values
        if list_problem:
            self.error(name, list_problem)
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
    _check_order(an, an.root)
    return an


def _check_order(an: _Analyzer, level: dict) -> None:
    """``properties.after`` / ``notBefore`` name a date/time field of the same level (order.py)."""
    for name, node in level.items():
        if isinstance(node, (_Obj, _Rows)):
            _check_order(an, node.children)
            continue
        for rule_name, other in order.rules_of(node.comp):
            target = level.get(other)
            if node.comp.get("type") != "datetime":
                an.error(name, f"properties.{rule_name} is for date/time fields.")
            elif not (isinstance(target, _Leaf) and target.comp.get("type") == "datetime") or other == name:
                an.error(name, f"properties.{rule_name}: {other!r} is not another date/time field of the same "
                               "group or row.")


def check_form(form: Any) -> list[dict]:
    """Statically validate a form definition; returns ``{component, message}`` errors."""
    try:
        return _analyze(form).errors
    except RecursionError:
        return [{"component": "form", "message": "Form is nested too deeply."}]


# --------------------------------------------------------------------------- fields


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
            made = make_field(node.comp, node.required)
        elif isinstance(node, _Obj):
            made = FormObject(_schema_class(node.children, f"{name}_{key}"))
            node.required = any(child.required for child in node.children.values())
            node.dynamic = node.required or _level_dynamic(node.children)
        else:
            row_cls = _schema_class(node.children, f"{name}_{key}")
            min_items, max_items = _item_bound(node.comp, "minItems"), _item_bound(node.comp, "maxItems")
            node.required = (_leaf_required(node.comp, node.hides) or bool(min_items)) and None not in node.hides
            node.dynamic = _level_dynamic(node.children)
            rules = [rule(lambda v, n=min_items: len(v) >= n, f"At least {min_items} item(s) required.")
                     ] if min_items else []
            if max_items is not None:
                rules.append(rule(lambda v, n=max_items: len(v) <= n, f"At most {max_items} item(s) allowed."))
            made = FormList(fields.Nested(row_cls), validate=rules,
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
                marks = [v is HIDDEN for v in child.values()]
                if not sub_needed and all(marks) and (any(marks) or value is missing):
                    data[name] = HIDDEN
        elif any(h is not None and evaluate(h, scopes) is True for h in node.hides):
            data[name] = HIDDEN
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

    @validates_schema(skip_on_field_errors=False)
    def _check_order(self, data: Any, **kwargs: Any) -> None:
        errors = _order_errors(self.form_tree, data)
        if errors:
            raise ValidationError(errors)


def _order_errors(level: dict, data: Any) -> dict:
    """The fields out of order with the field their ``after``/``notBefore`` names (order.py)."""
    errors: dict = {}
    if not isinstance(data, dict):
        return errors
    for name, node in level.items():
        if isinstance(node, _Obj):
            sub = _order_errors(node.children, data.get(name))
            if sub:
                errors[name] = sub
        elif isinstance(node, _Rows):
            for i, row in enumerate(data.get(name) if isinstance(data.get(name), list) else []):
                sub = _order_errors(node.children, row)
                if sub:
                    errors.setdefault(name, {})[i] = sub
        else:
            for rule_name, other in order.rules_of(node.comp):
                if other in data and order.out_of_order(rule_name, data.get(name), data[other]):
                    target = level.get(other)
                    label = (target.comp.get("label") if isinstance(target, _Leaf) else None) or other
                    errors.setdefault(name, []).append(order.message(rule_name, label))
    return errors


@dataclass
class _Compiled:
    tree: dict
    schema: Schema
    fields: list[FormField]


@functools.lru_cache(maxsize=256)
def _compile(canonical: str) -> _Compiled:
    analysis = _analyze(json.loads(canonical))
    if analysis.errors:
        raise FormDefinitionError(analysis.errors)
    schema_cls = _schema_class(analysis.root, "FormSchema", _FormSchema)
    schema_cls.form_tree = analysis.root
    schema_cls.form_dynamic = _level_dynamic(analysis.root)
    # the fields after the schema class: building it set the tree's required flags
    return _Compiled(analysis.root, schema_cls(), _fields(analysis.root, ""))


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
    return [f.path for f in form_fields(form) if is_secret(f.comp)]


def filepicker_paths(form: dict) -> list[str]:
    """Data paths of all filepicker fields, e.g. ``["attachments", "lines[].photos"]``."""
    return [f.path for f in form_fields(form) if f.type == "filepicker"]


def document_ids(form: dict, cleaned: dict) -> list[str]:
    """Every document id referenced by filepicker fields in ``cleaned`` (deduplicated, in order)."""
    ids = [doc for _, node, value in _walk_tree(_compiled(form).tree, "", cleaned)
           if isinstance(node, _Leaf) and node.comp["type"] == "filepicker" and isinstance(value, list)
           for doc in value if isinstance(doc, str)]
    return list(dict.fromkeys(ids))


def field_summary(form: dict) -> list[dict]:
    """Flattened ``[{key, type, label, required}]``; ``required`` means "required when shown"."""
    return [{"key": f.path, "type": f.type, "label": f.label or f.path, "required": f.required}
            for f in form_fields(form) if f.type != "expression"]


# --------------------------------------------------------------------------- the compiled fields


@dataclass(frozen=True)
class FormField:
    """One data field of a compiled form, as the option lists, the secret fields, the seal's
    PDF and the reports read it (one walk of the form-js tree: this module's)."""

    path: str  # data path: "amount", "customer.name", a dynamic list "lines", its column "lines[].qty"
    type: str  # the form-js component type
    label: str | None
    required: bool  # required when shown
    options: dict[str, str]  # static choices: str(value) -> label (empty for dynamic options)
    values_key: str | None  # dynamic choices bound to a data key (``valuesKey``)
    comp: dict = field(repr=False, compare=False)
    columns: tuple[FormField, ...] = ()  # a dynamic list's fields of one row

    @property
    def top_level(self) -> bool:
        """A key of the data itself, not inside a group path or a dynamic list."""
        return "." not in self.path and "[]" not in self.path

    @property
    def key(self) -> str:
        """The path within its row (a dynamic list's column) or the whole path."""
        return self.path.rsplit("[].", 1)[-1]


def _field(path: str, node: _Leaf | _Rows, columns: tuple[FormField, ...] = ()) -> FormField:
    comp = node.comp
    values = comp.get("values") if isinstance(comp.get("values"), list) else []
    options = {str(v["value"]): str(v.get("label") or v["value"]) for v in values if isinstance(v, dict) and "value" in v}
    values_key = comp.get("valuesKey") if isinstance(comp.get("valuesKey"), str) else None
    return FormField(path, comp["type"], comp.get("label") or None, node.required, options, values_key, comp, columns)


def _fields(level: dict, prefix: str) -> list[FormField]:
    out: list[FormField] = []
    for name, node in level.items():
        path = f"{prefix}{name}"
        if isinstance(node, _Obj):
            out += _fields(node.children, path + ".")
        elif isinstance(node, _Rows):
            inner = _fields(node.children, path + "[].")
            direct = tuple(f for f in inner if not any(mark in f.path[len(path) + 3:] for mark in (".", "[]")))
            out.append(_field(path, node, direct))
            out += inner
        else:
            out.append(_field(path, node))
    return out


def form_fields(form: dict) -> list[FormField]:
    """Every data field of ``form`` in document order (dynamic lists, then their columns);
    raises FormDefinitionError for a form that does not compile."""
    return _compiled(form).fields


def without_component(form: dict | None, key: str) -> dict | None:
    """A copy of ``form`` without the components keyed ``key`` (e.g. the seal PIN, which the
    task page asks for with its own password input)."""
    if not form:
        return form
    form = copy.deepcopy(form)

    def prune(components):
        return [dict(c, components=prune(c["components"])) if isinstance(c, dict) and c.get("components") else c
                for c in components or [] if not (isinstance(c, dict) and c.get("key") == key)]

    return {**form, "components": prune(form.get("components"))}
