"""Definition versions: running instances keep the model they were started with."""

from __future__ import annotations

import json

import pytest

from tests.conftest import deploy_fixture_forms, fixture_text

NOTE = {"note": "ok"}


# --------------------------------------------------------------------------- helpers


def deploy(api, name, expect=201):
    r = api.deploy_xml(fixture_text(name))
    assert r.status_code == expect, r.get_json()
    return r.get_json()


def start(api):
    r = api.post("/api/process-definitions/versioned/instances", "counter_staff", json={"data": {}})
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def complete_only_task(api, inst, user):
    [task] = inst["open_tasks"]
    r = api.post(f"/api/tasks/{task['id']}/complete", user, json={"data": NOTE})
    assert r.status_code == 200, r.get_json()
    return r.get_json()["instance"]


def open_elements(inst):
    return [t["element_id"] for t in inst["open_tasks"]]


@pytest.fixture
def versioned(api):
    deploy_fixture_forms(api)
    return api


# --------------------------------------------------------------------------- tests


def test_instances_follow_the_version_they_were_started_with(versioned):
    api = versioned
    v1 = deploy(api, "versioned_v1.bpmn")
    assert v1["version"] == 1 and [t["element_id"] for t in v1["user_tasks"]] == ["fill"]
    old = start(api)
    assert old["definition_version"] == 1 and open_elements(old) == ["fill"]

    v2 = deploy(api, "versioned_v2.bpmn")
    assert v2["version"] == 2 and [t["element_id"] for t in v2["user_tasks"]] == ["fill", "approve"]
    new = start(api)
    assert new["definition_version"] == 2 and open_elements(new) == ["fill"]

    # same first step; after it v1 ends and v2 asks for an approval
    old = complete_only_task(api, old, "counter_staff")
    assert old["status"] == "completed" and old["definition_version"] == 1
    assert "approve" not in old["completed_elements"]
    new = complete_only_task(api, new, "counter_staff")
    assert new["status"] == "running" and new["definition_version"] == 2
    assert open_elements(new) == ["approve"]
    assert api.get("/api/tasks?scope=candidate", "duty_manager").get_json()["total"] == 1
    new = complete_only_task(api, new, "duty_manager")
    assert new["status"] == "completed" and {"fill", "approve"} <= set(new["completed_elements"])

    listed = {i["id"]: i["definition_version"] for i in api.get("/api/process-instances", "admin").get_json()["items"]}
    assert listed == {old["id"]: 1, new["id"]: 2}


def test_instance_started_on_v1_keeps_v1_when_v2_is_deployed_mid_flight(versioned):
    api = versioned
    deploy(api, "versioned_v1.bpmn")
    first = start(api)
    second = start(api)
    deploy(api, "versioned_v2.bpmn")
    # both v1 instances finish on v1's path although v2 is now the latest
    for inst in (first, second):
        done = complete_only_task(api, inst, "counter_staff")
        assert done["status"] == "completed" and done["definition_version"] == 1
    assert api.get("/api/tasks?scope=all", "admin").get_json()["total"] == 0
    assert start(api)["definition_version"] == 2


def test_version_history_and_xml_per_version(versioned):
    api = versioned
    v1_xml, v2_xml = fixture_text("versioned_v1.bpmn"), fixture_text("versioned_v2.bpmn")
    deploy(api, "versioned_v1.bpmn")
    again = deploy(api, "versioned_v1.bpmn", expect=200)  # identical XML: no new version
    assert again["version"] == 1 and again["created"] is False
    deploy(api, "versioned_v2.bpmn")

    versions = api.get("/api/process-definitions/versioned", "counter_staff").get_json()["versions"]
    assert [v["version"] for v in versions] == [2, 1]
    assert [v["name"] for v in versions] == ["版本 v2", "版本 v1"]

    r = api.get("/api/process-definitions/versioned/xml?version=1", "counter_staff")
    assert r.status_code == 200 and r.mimetype == "application/xml"
    assert r.get_data(as_text=True) == v1_xml and 'id="approve"' not in r.get_data(as_text=True)
    assert api.get("/api/process-definitions/versioned/xml?version=2", "counter_staff").get_data(as_text=True) == v2_xml
    assert api.get("/api/process-definitions/versioned/xml", "counter_staff").get_data(as_text=True) == v2_xml
    assert api.get("/api/process-definitions/versioned/xml?version=3", "counter_staff").status_code == 404
    assert api.get("/api/process-definitions/versioned/xml?version=0", "counter_staff").status_code == 422
    assert api.get("/api/process-definitions/missing/xml", "counter_staff").status_code == 404

    latest = {d["key"]: d["version"] for d in api.get("/api/process-definitions", "counter_staff").get_json()["items"]}
    assert latest == {"versioned": 2}


def test_open_task_keeps_the_form_version_it_was_created_with(versioned):
    api = versioned
    deploy(api, "versioned_v1.bpmn")
    old = start(api)
    form = json.loads(fixture_text("simple_note.form"))
    form["components"].append({"type": "textfield", "key": "reason", "label": "理由 Reason", "validate": {"required": True}})
    r = api.deploy_form(form)
    assert r.status_code == 201 and r.get_json()["version"] == 2
    new = start(api)

    old_task = api.get(f"/api/tasks/{old['open_tasks'][0]['id']}", "counter_staff").get_json()
    new_task = api.get(f"/api/tasks/{new['open_tasks'][0]['id']}", "counter_staff").get_json()
    assert old_task["form_version"] == 1 and "reason" not in [c["key"] for c in old_task["form"]["components"]]
    assert new_task["form_version"] == 2 and "reason" in [c["key"] for c in new_task["form"]["components"]]

    r = api.post(f"/api/tasks/{new_task['id']}/complete", "counter_staff", json={"data": NOTE})
    assert r.status_code == 422 and "reason" in r.get_json()["details"]["errors"]
    r = api.post(f"/api/tasks/{old_task['id']}/complete", "counter_staff", json={"data": {**NOTE, "reason": "x"}})
    assert r.status_code == 422 and "reason" in r.get_json()["details"]["errors"]  # not a field of v1
    assert complete_only_task(api, old, "counter_staff")["status"] == "completed"
    r = api.post(f"/api/tasks/{new_task['id']}/complete", "counter_staff", json={"data": {**NOTE, "reason": "因为"}})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["instance"]["data"]["reason"] == "因为"
