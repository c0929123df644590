"""Regression tests for the bugs the fuzzers found (ordinary tests: not marked ``fuzz``)."""

from __future__ import annotations

import json

import pytest

from tests.conftest import deploy_fixture_forms, fixture_text


def _raw(api, path, user, text):
    return api.call("POST", path, user, data=text.encode("utf-8"), content_type="application/json")


def _forms(api):
    return {f["id"]: f["version"] for f in api.get("/api/forms", "auditor").get_json()["items"]}


# --------------------------------------------------------------------------- NaN / Infinity in request JSON
# Python's JSON parser accepts NaN, Infinity and turns 1e400 into an infinity. Such a value was
# stored on SQLite and served back as ``NaN`` -- invalid JSON for every client -- while
# PostgreSQL's json column refused it (a different answer per database).


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_form_with_a_non_finite_number_is_refused_and_not_stored(api, number):
    before = _forms(api)
    text = '{"id": "nan_form", "type": "default", "components": [{"type": "number", "key": "n", "label": %s}]}' % number  # noqa: UP031
    r = _raw(api, "/api/forms", "process_owner", text)
    assert r.status_code == 400, r.get_data(as_text=True)
    assert r.get_json()["error"] == "bad_request" and "NaN" in r.get_json()["message"]
    assert _forms(api) == before
    assert api.get("/api/forms/nan_form", "auditor").status_code == 404


def test_instance_data_with_a_non_finite_number_is_refused(four_step):
    api = four_step
    started = api.post("/api/process-definitions/four_step/instances", "counter_staff", json={"data": {"divisor": 1.5}})
    assert started.status_code == 201, started.get_json()  # finite floats are fine
    r = _raw(api, "/api/process-definitions/four_step/instances", "counter_staff", '{"data": {"divisor": NaN}}')
    assert r.status_code == 400
    listed = api.get("/api/process-instances?key=four_step", "auditor").get_json()
    assert listed["total"] == 1
    body = api.get(f"/api/process-instances/{started.get_json()['id']}", "auditor").get_data(as_text=True)
    json.loads(body, parse_constant=lambda name: pytest.fail(f"{name} in a response"))


def test_task_completion_with_infinity_is_refused(four_step):
    api = four_step
    iid = api.post("/api/process-definitions/four_step/instances", "counter_staff", json={"data": {}}).get_json()["id"]
    task = api.get(f"/api/process-instances/{iid}", "auditor").get_json()["open_tasks"][0]
    r = _raw(api, f"/api/tasks/{task['id']}/complete", task["candidate_groups"][0],
             '{"data": {"note": "ok", "amount": 1e999}}')
    assert r.status_code == 400
    assert api.get(f"/api/tasks/{task['id']}", "auditor").get_json()["status"] != "completed"


# --------------------------------------------------------------------------- OpenAPI document


@pytest.fixture
def doc(api):
    return api.get("/api/openapi.json").get_json()


def test_json_body_operations_document_400(doc):
    """A body that is not JSON at all gets 400 (not 422): schemathesis found it undocumented."""
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            if "requestBody" in op:
                assert "400" in op["responses"], f"{method.upper()} {path}"


def test_token_endpoint_documents_401(doc):
    assert {"200", "401", "422", "429"} <= set(doc["paths"]["/api/auth/token"]["post"]["responses"])


@pytest.mark.parametrize("path", ["/api/audit/events", "/api/process-instances/{instance_id}/timeline"])
def test_audit_downloads_are_documented(doc, path):
    """``?format=csv`` answers text/csv and ``?format=json`` a JSON array: both documented."""
    content = doc["paths"][path]["get"]["responses"]["200"]["content"]
    assert set(content) == {"application/json", "text/csv"}
    alternatives = content["application/json"]["schema"]["oneOf"]
    assert any(a.get("type") == "array" and "$ref" in a["items"] for a in alternatives), alternatives


def test_audit_download_formats_match_the_document(api):
    deploy_fixture_forms(api)
    csv = api.get("/api/audit/events?format=csv", "auditor")
    assert csv.status_code == 200 and csv.mimetype == "text/csv"
    as_json = api.get("/api/audit/events?format=json", "auditor")
    assert as_json.status_code == 200 and isinstance(as_json.get_json(), list) and as_json.get_json()


# --------------------------------------------------------------------------- forms: null parent object
# hypothesis found that ``{"a": null}`` satisfied a form whose field ``a.b`` is required: the
# missing parent object was filled in (so the error named the field) but a null one was not,
# and the null skipped validation of everything below it.


@pytest.mark.parametrize("data", [{"a": None}, {"a": {"b": None}}, {"a": {}}, {}])
def test_null_parent_object_does_not_skip_a_required_nested_field(data):
    from marshmallow import ValidationError

    from engine.forms.model import validate_submission

    form = {"id": "p", "type": "default", "components": [
        {"type": "textfield", "key": "a.b.c", "validate": {"required": True}},
        {"type": "group", "path": "opt", "components": [{"type": "textfield", "key": "x"}]}]}
    with pytest.raises(ValidationError) as exc:
        validate_submission(form, data)
    assert exc.value.messages == {"a": {"b": {"c": ["Field is required."]}}}
    # an optional group may still be null
    assert validate_submission(form, {"a": {"b": {"c": "v"}}, "opt": None}) == {"a": {"b": {"c": "v"}}, "opt": None}


def test_null_parent_object_is_refused_when_starting_a_process(api):
    form = {"id": "simple_note", "type": "default", "components": [
        {"type": "textfield", "key": "customer.name", "validate": {"required": True}}]}
    assert api.deploy_form(form).status_code == 201
    assert api.deploy_xml(fixture_text("start_form.bpmn")).status_code == 201
    r = api.post("/api/process-definitions/start_form/instances", "counter_staff", json={"data": {"customer": None}})
    assert r.status_code == 422, r.get_json()
    assert r.get_json()["details"]["errors"] == {"customer": {"name": ["Field is required."]}}
    assert api.get("/api/process-instances?key=start_form", "auditor").get_json()["total"] == 0


# --------------------------------------------------------------------------- 405 without Allow
# The JSON error handler rebuilt every HTTP error from scratch and dropped werkzeug's headers,
# so a 405 came without the ``Allow`` header RFC 9110 requires.


@pytest.mark.parametrize("method,path,allowed", [
    ("DELETE", "/api/me", {"GET"}),
    ("PUT", "/api/forms", {"GET", "POST"}),
    ("POST", "/api/health", {"GET"}),
])
def test_method_not_allowed_names_the_allowed_methods(api, method, path, allowed):
    r = api.call(method, path, "admin")
    assert r.status_code == 405
    assert r.get_json()["error"] == "method_not_allowed"
    assert allowed <= {m.strip() for m in r.headers["Allow"].split(",")}
    assert r.mimetype == "application/json"


# --------------------------------------------------------------------------- linked starts checked at deploy
# A mutated ``startProcess``/``startData.*`` property deployed fine; the instance then refused
# every completion of the step before the throw event (409 or 404) and could never move on.

LINKED = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d_linked" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="counter_case" name="柜台事项" isExecutable="true" camunda:candidateStarterGroups="counter_staff">
    <bpmn:startEvent id="s" />
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="handle" />
    <bpmn:userTask id="handle" name="办理" camunda:formKey="simple_note" camunda:candidateGroups="counter_staff" />
    <bpmn:sequenceFlow id="f2" sourceRef="handle" targetRef="raise" />
    <bpmn:intermediateThrowEvent id="raise" name="转投诉">
      <bpmn:extensionElements><camunda:properties>
        <camunda:property name="startProcess" value="%(target)s" />
        <camunda:property name="startData.customer" value="%(customer)s" />
      </camunda:properties></bpmn:extensionElements>
    </bpmn:intermediateThrowEvent>
    <bpmn:sequenceFlow id="f3" sourceRef="raise" targetRef="e" />
    <bpmn:endEvent id="e" />
  </bpmn:process>
</bpmn:definitions>
"""


@pytest.mark.parametrize("target,customer,fragment", [
    ("four_step", "1.0:nobody", "startData.customer"),
    ("four_step", "__import__(&apos;os&apos;).getcwd()", "startData.customer"),
    ("no_such_process", "note", "not deployed"),
    ("bad id!", "note", "not a process id"),
])
def test_broken_linked_start_is_refused_at_deploy(four_step, target, customer, fragment):
    api = four_step
    r = api.deploy_xml(LINKED % {"target": target, "customer": customer})
    assert r.status_code == 422, r.get_json()
    errors = r.get_json()["details"]["errors"]
    assert any(e["element_id"] == "raise" and fragment in e["message"] for e in errors), errors
    assert api.get("/api/process-definitions/counter_case", "auditor").status_code == 404


def test_valid_linked_start_still_deploys_and_runs(four_step):
    api = four_step
    assert api.deploy_xml(LINKED % {"target": "four_step", "customer": "note"}).status_code == 201
    inst = api.post("/api/process-definitions/counter_case/instances", "counter_staff", json={"data": {}}).get_json()
    r = api.post(f"/api/tasks/{inst['open_tasks'][0]['id']}/complete", "counter_staff", json={"data": {"note": "王五"}})
    assert r.status_code == 200 and r.get_json()["instance"]["status"] == "completed"
    children = api.get("/api/process-instances?key=four_step", "auditor").get_json()["items"]
    assert len(children) == 1
    child = api.get(f"/api/process-instances/{children[0]['id']}", "auditor").get_json()
    assert child["data"]["customer"] == "王五"


# --------------------------------------------------------------------------- extreme durations and values
# Found by the mutation fuzzing with a larger budget (BPM_FUZZ_EXAMPLES=1000): each was a 500.

TIMED = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d_timed" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="timed" isExecutable="true" camunda:candidateStarterGroups="counter_staff">
    <bpmn:startEvent id="s" camunda:formKey="case_start" />
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="mid" />
    %(mid)s
    <bpmn:sequenceFlow id="f2" sourceRef="mid" targetRef="t" />
    <bpmn:userTask id="t" name="办理" camunda:formKey="simple_note" camunda:candidateGroups="counter_staff">%(props)s</bpmn:userTask>
    <bpmn:sequenceFlow id="f3" sourceRef="t" targetRef="e" />
    <bpmn:endEvent id="e" />
  </bpmn:process>
</bpmn:definitions>
"""
SCRIPT = '<bpmn:scriptTask id="mid" scriptFormat="python"><bpmn:script>%s</bpmn:script></bpmn:scriptTask>'
TIMER = ('<bpmn:intermediateCatchEvent id="mid"><bpmn:timerEventDefinition id="td">'
         '<bpmn:%(kind)s>%(value)s</bpmn:%(kind)s></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>')
SLA = ('<bpmn:extensionElements><camunda:properties><camunda:property name="sla.kind" value="calendar" />'
       '<camunda:property name="sla.amount" value="%s" /></camunda:properties></bpmn:extensionElements>')


def _timed(mid, props=""):
    return TIMED % {"mid": mid, "props": props}


@pytest.mark.parametrize("amount", ["PT999999999999H", "P99999999D", "P3661D"])
def test_sla_amount_beyond_ten_years_is_refused_at_deploy(four_step, amount):
    """``timedelta`` overflowed (500) or the due date left the calendar at run time."""
    r = four_step.deploy_xml(_timed(SCRIPT % "x = 1", SLA % amount))
    assert r.status_code == 422, r.get_json()
    assert any(e["element_id"] == "t" and "sla" in e["message"].lower() for e in r.get_json()["details"]["errors"])


def test_sla_amount_of_ten_years_still_deploys(four_step):
    assert four_step.deploy_xml(_timed(SCRIPT % "x = 1", SLA % "P3660D")).status_code == 201


@pytest.mark.parametrize("kind,value", [("timeDuration", '"P999999999D"'), ("timeCycle", '"R/9999-12-31T00:00:00Z/P30D"')])
def test_timer_beyond_year_9999_is_refused_at_deploy(four_step, kind, value):
    """It deployed, and starting an instance crashed computing the due date (500)."""
    r = four_step.deploy_xml(_timed(TIMER % {"kind": kind, "value": value}))
    assert r.status_code == 422, r.get_json()
    assert any(e["element_id"] == "mid" for e in r.get_json()["details"]["errors"])


@pytest.mark.parametrize("kind,bad", [("timeDuration", "P999999999D"), ("timeDuration", "garbage"),
                                      ("timeDate", "99999-01-01")])
def test_timer_value_from_data_that_cannot_be_a_date_is_refused_cleanly(four_step, kind, bad):
    """A timer reading its value from the data: a bad value is a 409 and nothing is saved (was 500)."""
    api = four_step
    assert api.deploy_xml(_timed(TIMER % {"kind": kind, "value": "when"})).status_code == 201
    r = api.post("/api/process-definitions/timed/instances", "counter_staff", json={"data": {"when": bad}})
    assert r.status_code == 409, r.get_data(as_text=True)
    assert "cannot continue" in r.get_json()["message"]
    assert api.get("/api/process-instances?key=timed", "auditor").get_json()["total"] == 0
    ok = "PT1H" if kind == "timeDuration" else "2030-01-01T00:00:00Z"
    started = api.post("/api/process-definitions/timed/instances", "counter_staff", json={"data": {"when": ok}})
    assert started.status_code == 201 and started.get_json()["pending_timers"], started.get_json()


def test_script_result_that_is_not_json_is_not_kept(four_step):
    """``x = 1e308 * 10`` stored an infinity and every read of the instance answered invalid JSON."""
    api = four_step
    assert api.deploy_xml(_timed(SCRIPT % "x = 1e308 * 10\ny = 2.5")).status_code == 201
    iid = api.post("/api/process-definitions/timed/instances", "counter_staff", json={"data": {}}).get_json()["id"]
    r = api.get(f"/api/process-instances/{iid}", "auditor")
    body = json.loads(r.get_data(as_text=True), parse_constant=lambda name: pytest.fail(f"{name} in a response"))
    assert body["data"] == {"y": 2.5}


def test_linked_start_data_that_is_not_a_value_is_refused(four_step):
    """``startData.customer = all`` (a function) crashed serializing the child's data (500)."""
    api = four_step
    assert api.deploy_xml(LINKED % {"target": "four_step", "customer": "all"}).status_code == 201
    inst = api.post("/api/process-definitions/counter_case/instances", "counter_staff", json={"data": {}}).get_json()
    r = api.post(f"/api/tasks/{inst['open_tasks'][0]['id']}/complete", "counter_staff", json={"data": {"note": "x"}})
    assert r.status_code == 409 and "startData" in r.get_json()["message"], r.get_json()
    assert api.get("/api/process-instances?key=four_step", "auditor").get_json()["total"] == 0
