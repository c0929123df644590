"""Forms through the REST API: deploy (versioned like processes), read, validation, roles."""

from __future__ import annotations

import copy
import json

import pytest

from tests.conftest import fixture_text

# --------------------------------------------------------------------------- helpers


def note_form() -> dict:
    return json.loads(fixture_text("simple_note.form"))


def changed(form: dict, change) -> dict:
    out = copy.deepcopy(form)
    change(out)
    return out


def form_versions(api, form_id="simple_note"):
    """Version numbers 1..latest that can be read back (the API lists the latest only)."""
    r = api.get(f"/api/forms/{form_id}", "auditor")
    if r.status_code == 404:
        return []
    latest = r.get_json()["version"]
    return [v for v in range(1, latest + 1) if api.get(f"/api/forms/{form_id}?version={v}", "auditor").status_code == 200]


def listed(api):
    r = api.get("/api/forms", "nobody")
    assert r.status_code == 200
    return {f["id"]: f for f in r.get_json()["items"]}


def assert_form_rejected(r, component, fragment):
    assert r.status_code == 422, (r.status_code, r.get_json())
    body = r.get_json()
    assert body["error"] == "validation_failed"
    errors = body["details"]["errors"]
    if isinstance(errors, dict):  # request-body schema errors: {field: [messages]}
        assert component in errors and any(fragment.lower() in m.lower() for m in errors[component]), errors
    else:  # form checks: [{component, message}]
        assert any(e["component"] == component and fragment.lower() in e["message"].lower() for e in errors), errors


@pytest.fixture
def note_deployed(api):
    r = api.deploy_form(note_form())
    assert r.status_code == 201, r.get_json()
    return api


# --------------------------------------------------------------------------- versions


def test_form_versions_identical_is_a_no_op_and_change_is_new_version(note_deployed):
    api = note_deployed
    same = api.deploy_form(note_form())
    assert same.status_code == 200
    assert same.get_json()["created"] is False and same.get_json()["version"] == 1
    # key order is not a change
    reordered = {k: note_form()[k] for k in reversed(list(note_form()))}
    assert api.deploy_form(reordered).status_code == 200
    v2 = changed(note_form(), lambda f: f["components"][0].update(label="备注（新）"))
    r = api.deploy_form(v2)
    assert r.status_code == 201
    assert r.get_json()["created"] is True and r.get_json()["version"] == 2
    assert r.get_json()["deployed_by"] == "process_owner"
    assert form_versions(api) == [1, 2]
    latest = api.get("/api/forms/simple_note", "counter_staff").get_json()
    assert latest["version"] == 2 and latest["content"] == v2
    first = api.get("/api/forms/simple_note?version=1", "counter_staff").get_json()
    assert first["version"] == 1 and first["content"] == note_form()
    items = listed(api)
    assert items["simple_note"]["version"] == 2 and "content" not in items["simple_note"]


def test_form_list_holds_every_form_once(note_deployed):
    api = note_deployed
    assert api.deploy_form(json.loads(fixture_text("evidence.form")), user="admin").status_code == 201
    assert api.deploy_form(changed(note_form(), lambda f: f.update(schemaVersion=17))).status_code == 201
    assert {k: v["version"] for k, v in listed(api).items()} == {"evidence": 1, "simple_note": 2}


def test_unknown_form_and_version_are_404(note_deployed):
    api = note_deployed
    for path in ["/api/forms/nope", "/api/forms/simple_note?version=2"]:
        r = api.get(path, "counter_staff")
        assert r.status_code == 404 and r.get_json()["error"] == "not_found", path
    assert api.get("/api/forms/simple_note?version=x", "counter_staff").status_code == 422


@pytest.mark.parametrize("user", ["counter_staff", "auditor", "duty_manager", "nobody"])
def test_only_process_owner_or_admin_may_deploy_forms(note_deployed, user):
    api = note_deployed
    r = api.deploy_form(changed(note_form(), lambda f: f.update(id="sneaky")), user=user)
    assert r.status_code == 403 and r.get_json()["error"] == "forbidden"
    assert "sneaky" not in listed(api)
    assert api.deploy_form(changed(note_form(), lambda f: f.update(id="by_admin")), user="admin").status_code == 201


# --------------------------------------------------------------------------- validation

INVALID_FORMS = {
    # name: (change to simple_note, component named by the error, message fragment)
    "bad_regex": (lambda f: f["components"][0]["validate"].update(pattern="[a-"), "note", "pattern"),
    "duplicate_key": (lambda f: f["components"].append({"type": "textfield", "key": "note", "label": "again"}),
                      "note", "duplicate key"),
    "unknown_type": (lambda f: f["components"].append({"type": "rocket", "key": "launch"}), "launch", "unknown component type"),
    "missing_id": (lambda f: f.pop("id"), "id", "missing"),
    "bad_id": (lambda f: f.update(id="1 bad"), "form", "id"),
    "min_above_max": (lambda f: f["components"][1]["validate"].update(min=10, max=1), "amount", "greater than"),
    "input_without_key": (lambda f: f["components"].append({"type": "textfield", "label": "no key"}), "components[3]", "key"),
    "components_not_list": (lambda f: f.update(components="x"), "components", "list"),
    # patterns run on RE2, a linear-time engine: what it cannot run (lookaround, backreferences) never deploys
    "lookahead_pattern": (lambda f: f["components"][0]["validate"].update(pattern=r"^(?=\d)\w+$"), "note", "linear-time"),
    "backreference_pattern": (lambda f: f["components"][0]["validate"].update(pattern=r"^(a)\1$"), "note", "linear-time"),
}


@pytest.mark.parametrize("case", list(INVALID_FORMS))
def test_invalid_form_is_422_with_errors_and_stores_nothing(note_deployed, case):
    api = note_deployed
    change, component, fragment = INVALID_FORMS[case]
    r = api.deploy_form(changed(note_form(), change))
    assert_form_rejected(r, component, fragment)
    assert form_versions(api) == [1]
    assert list(listed(api)) == ["simple_note"]


@pytest.mark.parametrize(("pattern", "good"), [(r"(a|aa)+$", "aaa"), (r"(.*a){12}$", "a" * 12),
                                             (r"^(\w+\s?)+$", "ab cd"), (r"^(a+)+$", "aaaa")])
def test_backtracking_patterns_validate_in_linear_time(note_deployed, pattern, good):
    """Patterns that take exponential time in a backtracking engine (Python's re: 13.6 s for
    ``(a|aa)+$`` against 37 characters, doubling with each one more) are validated by RE2, which
    never backtracks: an adversarial value of 5,000 characters is answered (a backtracking engine
    would not finish within the age of the universe), and correctly."""
    api = note_deployed
    form = changed(note_form(), lambda f: f["components"][0].update(validate={"required": True, "pattern": pattern}))
    assert api.deploy_form(form).status_code == 201
    assert api.deploy_form(json.loads(fixture_text("case_start.form"))).status_code == 201
    r = api.deploy_xml(fixture_text("four_step.bpmn").replace('id="four_step"', 'id="redos_step"')
                       .replace('name="四步', 'name="四步x'))
    assert r.status_code == 201, r.get_json()
    inst = api.post("/api/process-definitions/redos_step/instances", "counter_staff", json={"data": {}}).get_json()
    task = inst["open_tasks"][0]["id"]
    evil = "a" * 5000 + "!"
    r = api.post(f"/api/tasks/{task}/complete", "counter_staff", json={"data": {"note": evil}})
    assert r.status_code == 422 and "note" in r.get_json()["details"]["errors"]
    r = api.post(f"/api/tasks/{task}/complete", "counter_staff", json={"data": {"note": good}})
    assert r.status_code == 200, r.get_json()


def test_safe_patterns_are_accepted(note_deployed):
    api = note_deployed
    form = changed(note_form(), lambda f: f["components"].extend([
        {"type": "textfield", "key": "licence", "label": "L", "validate": {"pattern": r"^\d{12}$"}},
        {"type": "textfield", "key": "domain", "label": "D", "validate": {"pattern": r"^([\w-]+\.)+[a-z]{2,}$"}},
        {"type": "textfield", "key": "code", "label": "C", "validate": {"pattern": r"^(\d{3}-?)+$"}},
    ]))
    assert api.deploy_form(form).status_code == 201


def test_form_body_must_be_a_json_object(note_deployed):
    api = note_deployed
    r = api.post("/api/forms", "process_owner", data="{not json", content_type="application/json")
    assert r.status_code == 400 and r.get_json()["error"] == "bad_request"
    r = api.post("/api/forms", "process_owner", data="id=x", content_type="application/x-www-form-urlencoded")
    assert r.status_code == 400
    r = api.post("/api/forms", "process_owner", json=[note_form()])
    assert r.status_code == 422 and r.get_json()["details"]["errors"]
    # deeply nested JSON is refused cleanly (it used to blow the parser's recursion limit: 500)
    r = api.post("/api/forms", "process_owner", data="[" * 100_000 + "]" * 100_000, content_type="application/json")
    assert r.status_code == 400 and r.get_json()["error"] == "bad_request"
    assert form_versions(api) == [1]


@pytest.mark.parametrize(("levels", "status"), [(20, 422), (200, 400)])
def test_deeply_nested_components_are_refused_not_500(note_deployed, levels, status):
    """Deeper than a form may nest (16 groups): 422 naming it; deeper than any JSON body may nest
    (64 levels, 2 per group): 400 before the body is parsed."""
    api = note_deployed
    inner: dict = {"type": "textfield", "key": "deep", "label": "deep"}
    for _ in range(levels):
        inner = {"type": "group", "label": "g", "components": [inner]}
    r = api.deploy_form({"id": "nested", "type": "default", "components": [inner]})
    assert r.status_code == status, r.get_json()
    assert "nested" not in listed(api)
