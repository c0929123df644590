"""Modeler pages: the bpmn-js process modeler and form-js form editor for process owners and
administrators; save = deploy through the engine services (CSRF header required)."""

from __future__ import annotations

import copy
import json
import re

import pytest

from tests.support.business import deploy, form_json, process_xml
from tests.support.pages import sign_in as _sign_in


def _config(html: str, element_id: str) -> dict:
    match = re.search(rf'<script type="application/json" id="{element_id}">(.*?)</script>', html, re.S)
    assert match, html
    return json.loads(match.group(1))


@pytest.fixture
def complaint(api):
    deploy(api, "complaint_handling")


def test_modeler_pages_need_a_deployer(app, complaint):
    client = app.test_client()
    assert client.get("/modeler").status_code == 302  # not signed in: to the login page
    for user in ("counter_staff", "nobody"):
        client, csrf = _sign_in(app, user)
        for path in ("/modeler", "/modeler/complaint_handling", "/modeler/new", "/forms-editor/complaint_counter"):
            r = client.get(path)
            assert r.status_code == 403, (user, path)
            assert "您无权执行此操作" in r.get_data(as_text=True)
        r = client.post("/modeler/deploy", json={"xml": process_xml("complaint_handling")},
                        headers={"X-CSRFToken": csrf})
        assert r.status_code == 403
        r = client.post("/forms-editor/complaint_counter/deploy", json={"schema": form_json("complaint_counter")},
                        headers={"X-CSRFToken": csrf})
        assert r.status_code == 403
        assert "流程建模" not in client.get("/").get_data(as_text=True)  # no nav link


def test_modeler_lists_and_opens_the_requested_version(app, api, complaint):
    client, csrf = _sign_in(app, "process_owner")
    home = client.get("/").get_data(as_text=True)
    assert 'href="/modeler"' in home
    html = client.get("/modeler").get_data(as_text=True)
    assert 'data-process-key="complaint_handling"' in html
    assert 'href="/forms-editor/complaint_counter"' in html

    # a second version (renamed task), then open each version
    v2 = process_xml("complaint_handling").replace('name="柜台处理"', 'name="柜台处理 v2"')
    assert api.deploy_xml(v2).status_code == 201
    r = client.get("/modeler/complaint_handling?version=1")
    assert r.status_code == 200
    page = r.get_data(as_text=True)
    config = _config(page, "modeler-config")
    assert config["xml"] == process_xml("complaint_handling")
    assert config["version"] == 1 and config["key"] == "complaint_handling"
    assert config["csrfToken"] and config["deployUrl"] == "/modeler/deploy"
    assert "vendor/modeler.bundle.js" in page and "vendor/modeler/properties-panel.css" in page
    latest = _config(client.get("/modeler/complaint_handling").get_data(as_text=True), "modeler-config")
    assert latest["version"] == 2 and "柜台处理 v2" in latest["xml"]
    assert client.get("/modeler/complaint_handling?version=9").status_code == 404
    assert client.get("/modeler/nope").status_code == 404
    new = _config(client.get("/modeler/new").get_data(as_text=True), "modeler-config")
    assert new["key"] is None and "bpmn:startEvent" in new["xml"]


def test_deploy_needs_csrf_and_creates_versions(app, engine, complaint):
    client, csrf = _sign_in(app, "process_owner")
    xml = process_xml("complaint_handling").replace('name="柜台处理"', 'name="柜台处理 新"')
    assert client.post("/modeler/deploy", json={"xml": xml}).status_code == 400  # no CSRF token
    assert client.post("/modeler/deploy", json={"xml": xml}, headers={"X-CSRFToken": "forged"}).status_code == 400
    r = client.post("/modeler/deploy", json={"xml": xml}, headers={"X-CSRFToken": csrf})
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert body == {"key": "complaint_handling", "version": 2, "created": True, "startable_by_users": True,
                    "note": None, "url": "/modeler/complaint_handling?version=2"}
    from engine.runtime import definitions

    with engine.read() as db:
        row = definitions.get_version(db, "complaint_handling", 2)
        assert row.deployed_by == "process_owner" and "柜台处理 新" in row.xml
    # the same XML again: nothing new
    r = client.post("/modeler/deploy", json={"xml": xml}, headers={"X-CSRFToken": csrf})
    assert r.status_code == 200 and r.get_json()["version"] == 2 and r.get_json()["created"] is False
    assert client.post("/modeler/deploy", json={}, headers={"X-CSRFToken": csrf}).status_code == 400


def test_invalid_diagram_answers_422_with_element_ids(app, complaint):
    client, csrf = _sign_in(app, "admin")
    xml = process_xml("complaint_handling").replace(' camunda:candidateGroups="counter_staff,customer_manager"', "", 1)
    r = client.post("/modeler/deploy", json={"xml": xml}, headers={"X-CSRFToken": csrf})
    assert r.status_code == 422
    errors = r.get_json()["errors"]
    assert any(e["element_id"] == "resolve_counter" for e in errors), errors
    r = client.post("/modeler/deploy", json={"xml": "<not-xml"}, headers={"X-CSRFToken": csrf})
    assert r.status_code == 422 and r.get_json()["errors"]


def test_refusals_are_in_the_page_language_and_a_process_without_starters_is_said_so(app, complaint):
    client, csrf = _sign_in(app, "admin")
    xml = process_xml("complaint_handling")
    refused = xml.replace("<bpmn:userTask id=\"resolve_counter\"", "<bpmn:complexGateway id=\"cx\" /><bpmn:userTask "
                                                                    "id=\"resolve_counter\"", 1)
    assert refused != xml
    r = client.post("/modeler/deploy", json={"xml": refused}, headers={"X-CSRFToken": csrf})
    assert r.status_code == 422
    errors = {e["element_id"]: e["message"] for e in r.get_json()["errors"]}
    assert "不支持复杂网关" in errors["cx"]  # the sign-in page's default language is zh-CN
    unstartable = xml.replace(' camunda:candidateStarterGroups="counter_staff,customer_manager"', "", 1)
    assert unstartable != xml
    r = client.post("/modeler/deploy", json={"xml": unstartable}, headers={"X-CSRFToken": csrf})
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["startable_by_users"] is False and "不能手动发起" in r.get_json()["note"]


def test_form_editor_renders_and_deploys(app, engine, complaint):
    client, csrf = _sign_in(app, "process_owner")
    r = client.get("/forms-editor/complaint_counter")
    assert r.status_code == 200
    page = r.get_data(as_text=True)
    config = _config(page, "editor-config")
    assert config["schema"] == form_json("complaint_counter") and config["version"] == 1
    assert "vendor/form-js/form-editor.umd.js" in page
    assert client.get("/forms-editor/nope").status_code == 404

    schema = copy.deepcopy(form_json("complaint_counter"))  # form_json is cached: never change it
    schema["components"][0]["label"] = "已修改 changed"
    url = "/forms-editor/complaint_counter/deploy"
    assert client.post(url, json={"schema": schema}).status_code == 400  # no CSRF token
    r = client.post(url, json={"schema": schema}, headers={"X-CSRFToken": csrf})
    assert r.status_code == 201, r.get_json()
    assert r.get_json() == {"form_id": "complaint_counter", "version": 2, "created": True}
    from engine.forms import definitions as formdefs

    with engine.read() as db:
        assert formdefs.get_form(db, "complaint_counter", 2).content["components"][0]["label"] == "已修改 changed"

    bad = dict(schema, components=[{"type": "textfield", "label": "x"}, {"type": "textfield", "key": "a", "label": "a"},
                                   {"type": "textfield", "key": "a", "label": "b"}])
    r = client.post(url, json={"schema": bad}, headers={"X-CSRFToken": csrf})
    assert r.status_code == 422 and r.get_json()["errors"], r.get_json()
    other = dict(schema, id="other_form")
    r = client.post(url, json={"schema": other}, headers={"X-CSRFToken": csrf})
    assert r.status_code == 422 and r.get_json()["errors"][0]["component"] == "id"
