"""The lower-severity items of the security review, each with its regression test: messages
the engine keeps to itself, CSP and headers, the session cookie, deeply nested JSON, linked
starts, append-only checkpoints, explicit secret fields, the seal's unit and PIN lock, and
complete identity audit."""

from __future__ import annotations

import json
import re
import threading

import pytest
from itsdangerous import base64_decode

from tests.conftest import fixture_text
from tests.security.conftest import PIN
from tests.support.business import deploy, start, work
from tests.support.pages import sign_in

# --------------------------------------------------------------------------- messages

MESSAGES = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d_msg" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:message id="m_reply" name="customer_reply">
    <bpmn:extensionElements><camunda:properties>
      <camunda:property name="sendableBy" value="counter_staff" />
      <camunda:property name="payloadForm" value="simple_note" />
    </camunda:properties></bpmn:extensionElements>
  </bpmn:message>
  <bpmn:message id="m_internal" name="engine_only" />
  <bpmn:process id="awaiting" isExecutable="true" camunda:candidateStarterGroups="counter_staff">
    <bpmn:startEvent id="s" />
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="split" />
    <bpmn:parallelGateway id="split" />
    <bpmn:sequenceFlow id="f2" sourceRef="split" targetRef="reply" />
    <bpmn:sequenceFlow id="f3" sourceRef="split" targetRef="internal" />
    <bpmn:intermediateCatchEvent id="reply"><bpmn:messageEventDefinition messageRef="m_reply" /></bpmn:intermediateCatchEvent>
    <bpmn:intermediateCatchEvent id="internal"><bpmn:messageEventDefinition messageRef="m_internal" /></bpmn:intermediateCatchEvent>
    <bpmn:sequenceFlow id="f4" sourceRef="reply" targetRef="e1" />
    <bpmn:sequenceFlow id="f5" sourceRef="internal" targetRef="e2" />
    <bpmn:endEvent id="e1" /><bpmn:endEvent id="e2" />
  </bpmn:process>
</bpmn:definitions>
"""


def test_only_messages_a_model_declares_sendable_are_accepted_from_users(four_step):
    api = four_step
    assert api.deploy_xml(MESSAGES).status_code == 201
    iid = api.post("/api/process-definitions/awaiting/instances", "counter_staff", json={"data": {}}).get_json()["id"]
    url = f"/api/process-instances/{iid}/messages"
    # the engine's own message: nobody sends it, not even an administrator of the data
    r = api.post(url, "counter_staff", json={"name": "engine_only", "data": {"summary": "FORGED"}})
    assert r.status_code == 403 and "not sendable" in r.get_json()["message"]
    # a declared message: its roles only (within the instance's unit), its payload checked like a form
    assert api.post(url, "hall_manager", json={"name": "customer_reply", "data": {"note": "x"}}).status_code == 403
    assert api.post(url, "counter_hall2", json={"name": "customer_reply", "data": {"note": "x"}}).status_code == 403
    r = api.post(url, "counter_staff", json={"name": "customer_reply", "data": {"note": "x", "summary": "FORGED"}})
    assert r.status_code == 422 and "summary" in r.get_json()["details"]["errors"]
    r = api.post(url, "counter_staff", json={"name": "customer_reply", "data": {"note": "客户已答复"}})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["data"]["note"] == "客户已答复" and "summary" not in r.get_json()["data"]


def test_the_kpi_review_refuses_a_forged_recomputed_summary(world):
    """The reported attack: a hall manager sent the engine's score_sheet_recomputed message."""
    from tests.security.test_cross_unit_matrix import start_kpi_review

    api = world.api
    iid = start_kpi_review(world)
    r = api.post(f"/api/process-instances/{iid}/messages", "hall_manager",
                 json={"name": "score_sheet_recomputed", "data": {"summary": "FORGED SUMMARY 100 points"}})
    assert r.status_code == 403
    assert "FORGED" not in json.dumps(api.get(f"/api/process-instances/{iid}", "admin").get_json())


def test_a_message_naming_an_unknown_role_or_form_is_refused_at_deploy(four_step):
    bad = MESSAGES.replace('value="counter_staff" />', 'value="janitor" />').replace(
        'value="simple_note" />', 'value="no_such_form" />').replace('id="awaiting"', 'id="awaiting2"')
    r = four_step.deploy_xml(bad)
    assert r.status_code == 422
    messages = [(e["element_id"], e["message"]) for e in r.get_json()["details"]["errors"]]
    # the element named by kind, id and name, then what is wrong
    assert ("m_reply", "message 'm_reply' (customer_reply): unknown role 'janitor' in sendableBy") in messages
    assert any(el == "m_reply" and "no_such_form" in m for el, m in messages)


# --------------------------------------------------------------------------- headers, cookie, JSON


def test_pages_carry_a_csp_with_a_nonce_and_no_framing(app):
    client, _ = sign_in(app, "admin")
    for path in ("/login", "/tasks", "/start", "/modeler", "/dashboards", "/audit"):
        r = client.get(path)
        csp = r.headers["Content-Security-Policy"]
        nonce = re.search(r"'nonce-([^']+)'", csp).group(1)
        assert "script-src 'self' 'nonce-" in csp and "unsafe-eval" not in csp and "frame-ancestors 'none'" in csp
        assert "'unsafe-inline'" not in csp.split("style-src-attr")[0]  # no inline scripts or style elements
        assert r.headers["X-Frame-Options"] == "DENY" and r.headers["Referrer-Policy"] == "same-origin"
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        html = r.get_data(as_text=True)
        for tag in re.findall(r"<style[^>]*>", html):
            assert f'nonce="{nonce}"' in tag, (path, tag)
        assert not re.search(r"<script(?![^>]*(src=|application/json))", html), path  # no inline executable script
        assert not re.search(r"\son[a-z]+=\"", html), path  # no inline event handlers
    assert client.get("/login").headers["Content-Security-Policy"] != client.get("/login").headers["Content-Security-Policy"]


def test_the_session_cookie_holds_no_api_token(app, api):
    client = app.test_client()
    from tests.support.pages import csrf

    token = csrf(client.get("/login").get_data(as_text=True))
    r = client.post("/login", data={"username": "auditor", "password": "demo", "csrf_token": token})
    cookie = re.search(r"bpm_session=([^;]+)", r.headers["Set-Cookie"]).group(1)
    payload = cookie.split(".")[0].lstrip(".")
    content = json.loads(base64_decode(payload) if not cookie.startswith(".") else
                         __import__("zlib").decompress(base64_decode(payload)))
    assert set(content) <= {"sid", "lang", "csrf_token", "_fresh", "_flashes"}
    # the session id is no bearer token for the API
    r = api.client.get("/api/me", headers={"Authorization": f"Bearer {content['sid']}"})
    assert r.status_code == 401


def test_deeply_nested_json_is_refused_everywhere_and_never_stored(app, four_step):
    api = four_step
    deep = '{"data": {"priority": ' + "[" * 900 + "]" * 900 + "}}"
    r = api.client.post("/api/process-definitions/four_step/instances", data=deep, content_type="application/json",
                        headers=api.headers("counter_staff"))
    assert r.status_code == 400 and "nested" in r.get_json()["message"]
    client, csrf = sign_in(app, "counter_staff")
    inst = api.post("/api/process-definitions/four_step/instances", "counter_staff", json={"data": {}}).get_json()
    task = inst["open_tasks"][0]["id"]
    body = '{"data": {"note": "x", "amount": ' + "[" * 900 + "]" * 900 + "}}"
    r = client.post(f"/tasks/{task}/complete", data=body, content_type="application/json",
                    headers={"X-CSRFToken": csrf})
    assert r.status_code == 400
    r = client.post("/start/four_step", data=deep, content_type="application/json", headers={"X-CSRFToken": csrf})
    assert r.status_code == 400
    # nothing poisoned: the auditor reads the instance page
    auditor, _ = sign_in(app, "auditor")
    assert auditor.get(f"/instances/{inst['id']}").status_code == 200


def test_a_script_cannot_store_deeply_nested_data(four_step):
    api = four_step
    xml = fixture_text("divide_script.bpmn").replace("total = amount / divisor",
                                                      "total = []\nfor i in range(200):\n    total = [total]")
    assert api.deploy_xml(xml).status_code == 201
    inst = api.post("/api/process-definitions/divide/instances", "counter_staff", json={"data": {"divisor": 1}})
    task = inst.get_json()["open_tasks"][0]["id"]
    r = api.post(f"/api/tasks/{task}/complete", "counter_staff", json={"data": {"note": "x", "amount": 1}})
    assert r.status_code == 200 and "total" not in r.get_json()["instance"]["data"]


# --------------------------------------------------------------------------- linked starts

LINKED = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d_linker" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="linker" isExecutable="true" camunda:candidateStarterGroups="%(role)s">
    <bpmn:startEvent id="s" />
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="t" />
    <bpmn:userTask id="t" name="办理" camunda:formKey="simple_note" camunda:candidateGroups="%(role)s" />
    <bpmn:sequenceFlow id="f2" sourceRef="t" targetRef="raise" />
    <bpmn:intermediateThrowEvent id="raise">
      <bpmn:extensionElements><camunda:properties>
        <camunda:property name="startProcess" value="%(target)s" />
        %(data)s
      </camunda:properties></bpmn:extensionElements>
    </bpmn:intermediateThrowEvent>
    <bpmn:sequenceFlow id="f3" sourceRef="raise" targetRef="e" />
    <bpmn:endEvent id="e" />
  </bpmn:process>
</bpmn:definitions>
"""


@pytest.mark.parametrize(("role", "target", "data", "status", "words"), [
    # four_step may only be started by counter staff and customer managers: not by the duty manager
    ("duty_manager", "four_step", '<camunda:property name="startData.customer" value="note" />', 403,
     "only counter_staff"),
    # complaint_handling's start form needs category, customer, phone and description
    ("counter_staff", "complaint_handling", '<camunda:property name="startData.customer_name" value="note" />', 422,
     "does not fit the start form"),
])
def test_a_linked_start_obeys_the_targets_starter_groups_and_start_form(four_step, role, target, data, status, words):
    api = four_step
    deploy(api, "complaint_handling")
    assert api.deploy_xml(LINKED % {"target": target, "data": data, "role": role}).status_code == 201
    inst = api.post("/api/process-definitions/linker/instances", role, json={"data": {}}).get_json()
    r = api.post(f"/api/tasks/{inst['open_tasks'][0]['id']}/complete", role, json={"data": {"note": "王五"}})
    assert r.status_code == status and words in r.get_json()["message"], r.get_json()
    assert api.get(f"/api/process-instances?key={target}", "admin").get_json()["total"] == 0
    assert api.get(f"/api/process-instances/{inst['id']}", "admin").get_json()["open_tasks"]  # nothing half-done


# --------------------------------------------------------------------------- checkpoints, secrets, audit


def test_re_signing_a_checkpoint_keeps_the_earlier_file(engine, four_step):
    from engine.audit import checkpoint as cp
    from engine.errors import Conflict

    first, _ = cp.create_checkpoint(engine)
    before = first.read_bytes()
    second, _ = cp.create_checkpoint(engine)
    assert second != first and first.read_bytes() == before
    assert sorted(p.name for p in first.parent.glob("*.json")) == sorted([first.name, second.name])
    with pytest.raises(Conflict):
        cp.create_checkpoint(engine, first)
    assert first.read_bytes() == before


def test_only_fields_marked_secret_are_kept_out_of_the_data(four_step):
    api = four_step
    form = {"id": "opinion_form", "type": "default", "components": [
        {"type": "textfield", "key": "opinion", "label": "意见 Opinion"},
        {"type": "textfield", "key": "pin_code", "label": "非秘密 Not secret"},
        {"type": "textfield", "key": "passcode", "label": "口令", "properties": {"secret": "true"}}]}
    assert api.deploy_form(form).status_code == 201
    xml = fixture_text("four_step.bpmn").replace('camunda:formKey="simple_note" camunda:candidateGroups="counter_staff"',
                                                 'camunda:formKey="opinion_form" camunda:candidateGroups="counter_staff"')
    assert api.deploy_xml(xml).status_code == 201
    inst = api.post("/api/process-definitions/four_step/instances", "counter_staff", json={"data": {}}).get_json()
    r = api.post(f"/api/tasks/{inst['open_tasks'][0]['id']}/complete", "counter_staff",
                 json={"data": {"opinion": "同意", "pin_code": "A1", "passcode": "s3cret"}})
    data = r.get_json()["instance"]["data"]
    assert data["opinion"] == "同意" and data["pin_code"] == "A1" and "passcode" not in data
    timeline = api.get(f"/api/process-instances/{inst['id']}/timeline", "auditor").get_data(as_text=True)
    assert "s3cret" not in timeline and "同意" in timeline


def test_a_secret_field_must_be_a_top_level_text_field(api):
    form = {"id": "bad_secret", "type": "default", "components": [
        {"type": "group", "path": "g", "components": [
            {"type": "textfield", "key": "pw", "label": "x", "properties": {"secret": "true"}}]}]}
    r = api.deploy_form(form)
    assert r.status_code == 422 and "secret" in json.dumps(r.get_json())


def test_identity_changes_record_complete_before_and_after(api, engine):
    from click.testing import CliRunner

    from bpm_cli.main import main

    r = api.post("/api/users", "admin", json={"username": "audited_user", "password": "correct-horse",
                                              "roles": ["counter_staff", "duty_manager"], "org_unit": "hall-1"})
    assert r.status_code == 201
    timeline = api.get("/api/audit/events?action=user_created", "auditor").get_json()["items"]
    created = [e for e in timeline if e["details"].get("username") == "audited_user"][-1]
    assert created["after"]["roles"] == ["counter_staff", "duty_manager"] and created["after"]["org_unit"] == "hall-1"
    import os

    env = {"BPM_DATABASE_URL": engine.settings.database_url, "BPM_VAR_DIR": str(engine.settings.var_dir)}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        result = CliRunner().invoke(main, ["users", "add", "cli_user", "--password", "correct-horse",
                                           "--role", "info_clerk", "--unit", "hall-1"])
    finally:
        for k, v in old.items():
            os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
    assert result.exit_code == 0, result.output
    timeline = api.get("/api/audit/events?action=user_created", "auditor").get_json()["items"]
    created = [e for e in timeline if e["details"].get("username") == "cli_user"][-1]
    assert created["after"]["roles"] == ["info_clerk"]


# --------------------------------------------------------------------------- the seal


def supply_at_seal(world, officer="enforcement_officer"):
    api = world.api
    from tests.security.explorer import PDF

    doc = api.client.post("/api/documents", headers=api.headers(officer),
                          data={"file": (__import__("io").BytesIO(PDF), "表.pdf", "application/pdf")}).get_json()["id"]
    data = {"licence_no": "420100123456", "retailer_name": "城关便民烟酒店", "reason": "备货", "attachments": [doc],
            "lines": [{"brand": "huanghelou", "specification": "硬1916", "quantity": 5}]}
    iid = start(api, officer, "supply_approval", data)["id"]
    work(api, "service_center_head", iid, "review", {"decision": "approve", "review_comment": "同意"})
    return iid


def test_a_head_of_another_hall_cannot_seal_even_with_their_own_seal(world):
    api = world.api
    iid = supply_at_seal(world)
    task = api.get(f"/api/process-instances/{iid}", "admin").get_json()["open_tasks"][0]["id"]
    r = api.post(f"/api/tasks/{task}/complete", "service_center_head_h2", json={"data": {"seal_confirm": True,
                                                                                          "seal_pin": PIN}})
    assert r.status_code == 403
    assert api.get(f"/api/process-instances/{iid}/documents", "admin").get_json()["items"][-1]["kind"] == "attachment"


def test_a_seal_of_another_unit_does_not_seal_this_units_case(world):
    """A head who moved units keeps a seal issued for the old unit: refused, naming the unit."""
    api = world.api
    assert api.call("PATCH", "/api/users/service_center_head_h2", "admin", json={"org_unit": "hall-1"}).status_code == 200
    iid = supply_at_seal(world)
    task = api.get(f"/api/process-instances/{iid}", "admin").get_json()["open_tasks"][0]["id"]
    token = api.post("/api/auth/token", json={"username": "service_center_head_h2", "password": "demo"}).get_json()
    headers = {"Authorization": f"Bearer {token['token']}"}
    r = api.client.post(f"/api/tasks/{task}/claim", headers=headers)
    assert r.status_code == 200
    r = api.client.post(f"/api/tasks/{task}/complete", headers=headers,
                        json={"data": {"seal_confirm": True, "seal_pin": PIN}})
    assert r.status_code == 403 and "issued for org unit hall-2" in r.get_json()["message"], r.get_json()
    assert r.get_json()["details"]["reason"] == "seal_unit"


def test_a_burst_of_wrong_pins_cannot_try_more_than_the_lock_allows(world):
    from engine.seals.credentials import MAX_FAILURES

    api = world.api
    iid = supply_at_seal(world)
    task = api.get(f"/api/process-instances/{iid}", "admin").get_json()["open_tasks"][0]["id"]
    results = []

    def wrong(i):
        r = api.post(f"/api/tasks/{task}/complete", "service_center_head",
                     json={"data": {"seal_confirm": True, "seal_pin": f"{900000 + i}"}})
        results.append((r.status_code, (r.get_json().get("details") or {}).get("reason")))

    threads = [threading.Thread(target=wrong, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    tried = [r for r in results if r[1] == "wrong_pin"]
    assert len(tried) <= MAX_FAILURES and all(r[0] == 403 for r in results), results
    assert {r[1] for r in results} <= {"wrong_pin", "locked"}
    # locked now: even the right PIN is refused without being tried
    r = api.post(f"/api/tasks/{task}/complete", "service_center_head", json={"data": {"seal_confirm": True,
                                                                                      "seal_pin": PIN}})
    assert r.status_code == 403 and r.get_json()["details"]["reason"] == "locked"
