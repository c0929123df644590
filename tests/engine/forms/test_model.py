"""Tests for engine.forms.model: form-js definitions as server-side validation."""

from __future__ import annotations

import copy
import time

import pytest
from marshmallow import Schema, ValidationError

from engine.forms.model import (
    FormDefinitionError,
    build_schema,
    check_form,
    document_ids,
    field_summary,
    filepicker_paths,
    validate_submission,
)

BRANDS = [{"label": "Brand A", "value": "brand_a"}, {"label": "Brand B", "value": "brand_b"}]

SUPPLY_FORM = {
    "id": "supply_request",
    "type": "default",
    "schemaVersion": 16,
    "components": [
        {"type": "text", "text": "# Supply request"},
        {"type": "textfield", "key": "licence_no", "label": "Licence number",
         "validate": {"required": True, "pattern": r"^\d{12}$"}},
        {"type": "textfield", "key": "retailer_name", "label": "Retailer name",
         "validate": {"required": True, "maxLength": 50}},
        {"type": "dynamiclist", "path": "lines", "label": "Lines", "isRepeating": True,
         "validate": {"minItems": 1},
         "components": [
             {"type": "select", "key": "brand", "label": "Brand", "values": BRANDS,
              "validate": {"required": True}},
             {"type": "textfield", "key": "spec", "label": "Specification"},
             {"type": "number", "key": "quantity", "label": "Quantity",
              "validate": {"required": True, "min": 1, "max": 10000}},
             {"type": "filepicker", "key": "photos", "label": "Photos", "multiple": True},
         ]},
        {"type": "textarea", "key": "reason", "label": "Reason"},
        {"type": "filepicker", "key": "attachments", "label": "Attachments", "multiple": True},
        {"type": "checkbox", "key": "urgent", "label": "Urgent"},
        {"type": "datetime", "key": "delivery_date", "subtype": "date", "dateLabel": "Delivery date"},
        {"type": "checklist", "key": "channels", "label": "Channels",
         "values": [{"label": "Shop", "value": "shop"}, {"label": "Online", "value": "online"}]},
        {"type": "group", "label": "Review", "components": [
            {"type": "radio", "key": "decision", "label": "Decision",
             "values": [{"label": "Approve", "value": "approve"}, {"label": "Reject", "value": "reject"}]},
            {"type": "textarea", "key": "reject_reason", "label": "Why rejected",
             "validate": {"required": True}, "conditional": {"hide": '=decision != "reject"'}},
        ]},
        {"type": "button", "action": "submit", "label": "Submit"},
    ],
}

GOOD = {
    "licence_no": "110101202600",
    "retailer_name": "Corner Shop",
    "lines": [{"brand": "brand_a", "spec": "20s hard box", "quantity": 50, "photos": ["doc-3"]},
              {"brand": "brand_b", "quantity": 2.5}],
    "reason": "Restock",
    "attachments": ["doc-1", "doc-2"],
    "urgent": False,
    "delivery_date": "2026-11-30",
    "channels": ["shop"],
    "decision": "approve",
}


def good(**changes):
    data = copy.deepcopy(GOOD)
    data.update(changes)
    return data


def errors_for(data, form=SUPPLY_FORM):
    with pytest.raises(ValidationError) as info:
        validate_submission(form, data)
    return info.value.messages


# ------------------------------------------------------------------ submissions


def test_good_submission_returns_cleaned_data():
    assert validate_submission(SUPPLY_FORM, good()) == GOOD


def test_input_is_not_mutated():
    data = good(decision="approve", reject_reason="ignored")
    snapshot = copy.deepcopy(data)
    validate_submission(SUPPLY_FORM, data)
    assert data == snapshot


def test_missing_required_field():
    data = good()
    del data["licence_no"]
    assert errors_for(data) == {"licence_no": ["Field is required."]}


@pytest.mark.parametrize("value", [None, ""])
def test_required_field_rejects_null_and_blank(value):
    assert errors_for(good(retailer_name=value)) == {"retailer_name": ["Field is required."]}


@pytest.mark.parametrize("value", ["12345", "1234567890123", "11010120260a", "110101202600\n"])
def test_pattern_mismatch(value):
    # the message names the field, never the regex (issue 17, item 6)
    assert errors_for(good(licence_no=value)) == {"licence_no": ["Field Licence number is not in the expected format."]}


def test_max_length():
    assert errors_for(good(retailer_name="x" * 51)) == {
        "retailer_name": ["Field must have maximum length of 50."]}


def test_optional_fields_accept_missing_null_and_blank():
    data = good(reason="", delivery_date=None, urgent=None)
    del data["channels"]
    assert validate_submission(SUPPLY_FORM, data) == data


@pytest.mark.parametrize("quantity, message", [
    (0, "Field must have minimum value of 1."),
    (10001, "Field must have maximum value of 10000."),
    (True, "Not a valid number."),
    ("5", "Not a valid number."),
])
def test_number_constraints(quantity, message):
    data = good(lines=[{"brand": "brand_a", "quantity": quantity}])
    assert errors_for(data) == {"lines": {0: {"quantity": [message]}}}


def test_number_serialize_to_string_accepts_numeric_strings():
    form = {"id": "n", "type": "default", "components": [
        {"type": "number", "key": "amount", "serializeToString": True, "decimalDigits": 2,
         "validate": {"max": 100}}]}
    assert validate_submission(form, {"amount": "99.95"}) == {"amount": "99.95"}
    assert errors_for({"amount": "abc"}, form) == {"amount": ["Not a valid number."]}
    assert errors_for({"amount": "100.5"}, form) == {"amount": ["Field must have maximum value of 100."]}
    assert errors_for({"amount": "1.234"}, form) == {
        "amount": ["Value is expected to have at most 2 decimal digits."]}


def test_select_value_not_in_values():
    data = good(lines=[{"brand": "brand_z", "quantity": 1}])
    assert errors_for(data) == {"lines": {0: {"brand": ["Must be one of: brand_a, brand_b."]}}}


def test_checklist_with_unknown_value():
    messages = errors_for(good(channels=["shop", "telepathy"]))
    assert messages == {"channels": {1: ["Must be one of: shop, online."]}}


def test_dynamic_options_accept_any_scalar():
    form = {"id": "d", "type": "default", "components": [
        {"type": "select", "key": "owner", "valuesKey": "candidates"},
        {"type": "taglist", "key": "tags", "valuesExpression": "=tagOptions"}]}
    assert validate_submission(form, {"owner": "anyone", "tags": ["a", 2]}) == {"owner": "anyone",
                                                                                  "tags": ["a", 2]}
    assert errors_for({"owner": {"x": 1}}, form) == {"owner": ["Not a valid choice."]}


@pytest.mark.parametrize("value", ["2026-13-01", "23/11/2026", "2026-02-30", "2026-1-5", 20261123])
def test_wrong_date_format(value):
    assert errors_for(good(delivery_date=value)) == {
        "delivery_date": ["Not a valid date (expected YYYY-MM-DD)."]}


def test_time_and_datetime_subtypes():
    form = {"id": "t", "type": "default", "components": [
        {"type": "datetime", "key": "at", "subtype": "time"},
        {"type": "datetime", "key": "when", "subtype": "datetime"}]}
    ok = {"at": "23:59", "when": "2026-11-23T14:30:00Z"}
    assert validate_submission(form, ok) == ok
    assert validate_submission(form, {"at": "08:05:09", "when": "2026-11-23T14:30"})
    messages = errors_for({"at": "24:00", "when": "2026-11-23"}, form)
    assert set(messages) == {"at", "when"}


def test_checkbox_must_be_boolean():
    assert errors_for(good(urgent="yes")) == {"urgent": ["Not a valid boolean."]}


def test_unknown_field_rejected():
    assert errors_for(good(unknown_field=1)) == {"unknown_field": ["Unknown field."]}


def test_unknown_field_inside_row_rejected():
    data = good(lines=[{"brand": "brand_a", "quantity": 1, "price": 3}])
    assert errors_for(data) == {"lines": {0: {"price": ["Unknown field."]}}}


def test_nested_error_points_at_row_and_field():
    data = good(lines=[{"brand": "brand_a", "quantity": 1}, {"brand": "brand_b"}])
    assert errors_for(data) == {"lines": {1: {"quantity": ["Field is required."]}}}


def test_dynamiclist_needs_at_least_one_line():
    assert errors_for(good(lines=[])) == {"lines": ["At least 1 item(s) required."]}
    data = good()
    del data["lines"]
    assert errors_for(data) == {"lines": ["Field is required."]}


def test_non_dict_payload():
    for payload in (None, [], "x", 3):
        assert errors_for(payload) == {"_schema": ["Invalid input type."]}


def test_filepicker_single_file_and_ids():
    form = {"id": "f", "type": "default", "components": [{"type": "filepicker", "key": "scan"}]}
    assert validate_submission(form, {"scan": ["d1"]}) == {"scan": ["d1"]}
    assert errors_for({"scan": ["d1", "d2"]}, form) == {"scan": ["Only one file is allowed."]}
    assert errors_for({"scan": ["", 5]}, form) == {
        "scan": {0: ["Not a valid document id."], 1: ["Not a valid document id."]}}


# ------------------------------------------------------------------ conditions


def test_conditional_field_required_only_when_visible():
    with_reason = good(decision="reject", reject_reason="Expired licence")
    assert validate_submission(SUPPLY_FORM, with_reason)["reject_reason"] == "Expired licence"
    assert errors_for(good(decision="reject")) == {"reject_reason": ["Field is required."]}
    assert "reject_reason" not in validate_submission(SUPPLY_FORM, good(decision="approve"))


def test_hidden_field_value_is_dropped():
    cleaned = validate_submission(SUPPLY_FORM, good(decision="approve", reject_reason=123))
    assert "reject_reason" not in cleaned


def _conditional_form(hide):
    return {"id": "c", "type": "default", "components": [
        {"type": "checkbox", "key": "flag"},
        {"type": "number", "key": "n"},
        {"type": "textfield", "key": "kind"},
        {"type": "textfield", "key": "extra", "validate": {"required": True},
         "conditional": {"hide": hide}}]}


@pytest.mark.parametrize("hide, data, hidden", [
    ("=flag", {"flag": True}, True),
    ("=flag", {"flag": False}, False),
    ("=flag = true", {"flag": True}, True),
    ("=not(flag)", {"flag": False}, True),
    ("=not(flag)", {"flag": True}, False),
    ('=kind = "a" and n > 5', {"kind": "a", "n": 6}, True),
    ('=kind = "a" and n > 5', {"kind": "a", "n": 5}, False),
    ('=kind = "a" or n >= 5', {"kind": "b", "n": 5}, True),
    ("=n = null", {}, True),
    ("=n < 3", {"kind": "x"}, False),  # null < 3 is null in FEEL: not hidden
])
def test_feel_subset(hide, data, hidden):
    form = _conditional_form(hide)
    if hidden:
        assert validate_submission(form, {**data, "extra": "dropped"}) == data
    else:
        assert errors_for(data, form) == {"extra": ["Field is required."]}


def test_unknown_expression_is_lenient():
    form = _conditional_form("=count(items) > sum([1, 2])")
    assert validate_submission(form, {}) == {}
    assert validate_submission(form, {"extra": "kept"}) == {"extra": "kept"}


def test_conditions_inside_dynamiclist_rows_see_row_and_root():
    form = {"id": "r", "type": "default", "components": [
        {"type": "checkbox", "key": "detailed"},
        {"type": "dynamiclist", "path": "items", "components": [
            {"type": "select", "key": "kind", "values": [{"label": "A", "value": "a"},
                                                          {"label": "B", "value": "b"}]},
            {"type": "textfield", "key": "note", "validate": {"required": True},
             "conditional": {"hide": '=kind != "b" or not(detailed)'}}]}]}
    data = {"detailed": True, "items": [{"kind": "a", "note": "x"}, {"kind": "b"}]}
    assert errors_for(data, form) == {"items": {1: {"note": ["Field is required."]}}}
    data["items"][1]["note"] = "why"
    assert validate_submission(form, data) == {"detailed": True,
                                               "items": [{"kind": "a"}, {"kind": "b", "note": "why"}]}


def test_hidden_group_drops_its_fields():
    form = {"id": "g", "type": "default", "components": [
        {"type": "checkbox", "key": "company"},
        {"type": "group", "path": "firm", "conditional": {"hide": "=not(company)"}, "components": [
            {"type": "textfield", "key": "name", "validate": {"required": True}}]}]}
    assert validate_submission(form, {"company": False, "firm": {"name": "x"}}) == {"company": False}
    assert errors_for({"company": True}, form) == {"firm": {"name": ["Field is required."]}}


# ------------------------------------------------------------------ nesting and documents


def test_dotted_keys_and_group_paths_nest():
    form = {"id": "n", "type": "default", "components": [
        {"type": "textfield", "key": "address.street"},
        {"type": "group", "path": "address", "components": [{"type": "textfield", "key": "city"}]},
        {"type": "group", "components": [{"type": "textfield", "key": "flat"}]}]}
    data = {"address": {"street": "Main 1", "city": "Town"}, "flat": "yes"}
    assert validate_submission(form, data) == data
    assert errors_for({"address": {"street": 1}}, form) == {"address": {"street": ["Not a valid string."]}}


def test_missing_parent_object_reports_the_nested_required_field():
    form = {"id": "p", "type": "default", "components": [
        {"type": "textfield", "key": "a.b.c", "validate": {"required": True}},
        {"type": "textfield", "key": "a.d"},
        {"type": "group", "path": "opt", "components": [{"type": "textfield", "key": "x"}]}]}
    assert errors_for({}, form) == {"a": {"b": {"c": ["Field is required."]}}}
    assert validate_submission(form, {"a": {"b": {"c": "v"}}}) == {"a": {"b": {"c": "v"}}}


def test_document_ids_collects_nested_filepickers():
    form = {"id": "docs", "type": "default", "components": [
        {"type": "filepicker", "key": "cover", "multiple": False},
        {"type": "group", "path": "extra", "components": [
            {"type": "filepicker", "key": "scans", "multiple": True}]},
        {"type": "dynamiclist", "path": "rows", "components": [
            {"type": "filepicker", "key": "photos", "multiple": True}]}]}
    cleaned = validate_submission(form, {"cover": ["a"], "extra": {"scans": ["b", "c"]},
                                         "rows": [{"photos": ["d"]}, {}, {"photos": ["a", "e"]}]})
    assert document_ids(form, cleaned) == ["a", "b", "c", "d", "e"]
    assert filepicker_paths(form) == ["cover", "extra.scans", "rows[].photos"]
    assert document_ids(SUPPLY_FORM, validate_submission(SUPPLY_FORM, good())) == ["doc-3", "doc-1", "doc-2"]


def test_field_summary():
    summary = {f["key"]: f for f in field_summary(SUPPLY_FORM)}
    assert summary["licence_no"] == {"key": "licence_no", "type": "textfield",
                                     "label": "Licence number", "required": True}
    assert summary["lines[].quantity"]["required"] is True
    assert summary["reason"]["required"] is False
    assert "lines" in summary and "reject_reason" in summary


def test_build_schema_is_cached_and_usable():
    schema = build_schema(SUPPLY_FORM)
    assert isinstance(schema, Schema)
    assert build_schema(copy.deepcopy(SUPPLY_FORM)) is schema
    assert schema.load(good()) == GOOD


def test_build_schema_rejects_invalid_form():
    with pytest.raises(FormDefinitionError) as info:
        build_schema({"id": "x", "type": "default", "components": [{"type": "magic"}]})
    assert info.value.errors[0]["message"].startswith("Unknown component type")


# ------------------------------------------------------------------ check_form


def _messages(form):
    return " | ".join(e["message"] for e in check_form(form))


def test_check_form_accepts_good_form():
    assert check_form(SUPPLY_FORM) == []


def test_check_form_reports_duplicate_keys():
    form = {"id": "d", "type": "default", "components": [
        {"type": "textfield", "key": "a"},
        {"type": "group", "components": [{"type": "number", "key": "a"}]},
        {"type": "textfield", "key": "b"},
        {"type": "textfield", "key": "b.c"},
        {"type": "dynamiclist", "path": "rows", "components": [{"type": "textfield", "key": "a"}]}]}
    errors = check_form(form)
    assert [e["component"] for e in errors] == ["a", "b.c"]
    assert all("Duplicate key" in e["message"] for e in errors)


def test_check_form_reports_bad_regex_and_min_max():
    form = {"id": "r", "type": "default", "components": [
        {"type": "textfield", "key": "a", "validate": {"pattern": "([a-z"}},
        {"type": "number", "key": "b", "validate": {"min": 5, "max": 1}}]}
    errors = check_form(form)
    assert errors[0]["component"] == "a" and "Invalid validate.pattern" in errors[0]["message"]
    assert errors[1] == {"component": "b", "message": "validate.min is greater than validate.max."}


def test_check_form_reports_unknown_type_missing_key_and_values():
    form = {"id": "u", "type": "default", "components": [
        {"type": "hologram", "key": "h"},
        {"type": "textfield", "label": "no key"},
        {"type": "select", "key": "s"},
        {"type": "radio", "key": "r", "values": ["a", "b"]}]}
    text = _messages(form)
    assert "Unknown component type 'hologram'" in text
    assert "Input component needs a valid 'key'" in text
    assert "Options need 'values'" in text
    assert "'values' must be a list of {label, value} objects" in text


@pytest.mark.parametrize("form_id", [None, "", "1abc", "has space", "x" * 101, "ok\n"])
def test_check_form_reports_bad_id(form_id):
    form = {"type": "default", "components": []}
    if form_id is not None:
        form["id"] = form_id
    assert "Form needs an 'id'" in _messages(form)


@pytest.mark.parametrize("garbage", [
    None, [], "x", 42, {"components": "x"}, {"id": "g", "type": "default", "components": [None, 1, []]},
    {"id": "g", "type": "default", "components": [{"type": "group", "components": {"a": 1}}]},
    {"id": "g", "type": "default", "components": [{"type": ["x"], "key": {"a": 1}}]},
    {"id": "g", "type": "default", "components": [
        {"type": "textfield", "key": "k", "validate": {"pattern": 5, "min": "x", "required": "yes"},
         "conditional": {"hide": ["x"]}},
        {"type": "datetime", "key": "d", "subtype": ["x"]},
        {"type": "number", "key": "n", "increment": [], "decimalDigits": -1},
        {"type": "select", "key": "s", "values": [{"label": "a", "value": {"x": 1}}]},
        {"type": "dynamiclist", "path": None, "components": 7}]},
])
def test_check_form_never_raises_on_garbage(garbage):
    errors = check_form(garbage)
    assert errors and all(set(e) == {"component", "message"} for e in errors)


def test_check_form_handles_deep_nesting():
    group = {"type": "group", "components": []}
    form = {"id": "deep", "type": "default", "components": [group]}
    for _ in range(200):
        inner = {"type": "group", "components": []}
        group["components"].append(inner)
        group = inner
    assert "nested too deeply" in _messages(form)


# ------------------------------------------------------------------ timing


def test_validation_timing_report():
    validate_submission(SUPPLY_FORM, good())  # warm the schema cache
    runs = 2000
    start = time.perf_counter()
    for _ in range(runs):
        validate_submission(SUPPLY_FORM, GOOD)
    per_call = (time.perf_counter() - start) / runs * 1e6
    schema = build_schema(SUPPLY_FORM)
    start = time.perf_counter()
    for _ in range(runs):
        schema.load(GOOD)
    per_load = (time.perf_counter() - start) / runs * 1e6
    print(f"\nvalidate_submission: {per_call:.0f} us/call (schema.load alone: {per_load:.0f} us)")
