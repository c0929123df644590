"""Scripts and conditions run within CPU, memory and output limits; a breach is an incident
naming the element and the limit, the transaction commits (no lock is held beyond the
limit) and nothing fires the breaching element again by itself. Instance data is bounded."""

from __future__ import annotations

from datetime import timedelta

import pytest

from engine.app import BpmEngine
from engine.clock import clock
from engine.config import load_settings
from engine.scheduling.timers import fire_due
from tests.conftest import UNLIMITED, Api, deploy_fixture_forms, fixture_text

LIMITS = {"script_cpu_seconds": 0.5, "script_wall_seconds": 3.0, "script_memory_mb": 64,
          "max_data_bytes": 64 * 1024}

SCRIPTED = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d_limits" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="limits" isExecutable="true" camunda:candidateStarterGroups="counter_staff">
    <bpmn:startEvent id="s" camunda:formKey="case_start" />
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="first" />
    <bpmn:userTask id="first" name="登记" camunda:formKey="simple_note" camunda:candidateGroups="counter_staff" />
    <bpmn:sequenceFlow id="f2" sourceRef="first" targetRef="%(mid_id)s" />
    %(mid)s
    <bpmn:sequenceFlow id="f3" sourceRef="%(mid_id)s" targetRef="gw" />
    <bpmn:exclusiveGateway id="gw" default="f5" />
    <bpmn:sequenceFlow id="f4" sourceRef="gw" targetRef="done"><bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">%(condition)s</bpmn:conditionExpression></bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f5" sourceRef="gw" targetRef="done" />
    <bpmn:userTask id="done" name="办结" camunda:formKey="simple_note" camunda:candidateGroups="counter_staff" />
    <bpmn:sequenceFlow id="f6" sourceRef="done" targetRef="e" />
    <bpmn:endEvent id="e" />
  </bpmn:process>
</bpmn:definitions>
"""


def model(script="x = 1", condition="False", timer=False):
    mid = f'<bpmn:scriptTask id="work" scriptFormat="python"><bpmn:script>{script}</bpmn:script></bpmn:scriptTask>'
    if timer:
        xml = SCRIPTED.replace('targetRef="first" />', 'targetRef="wait" />', 1).replace(
            '<bpmn:sequenceFlow id="f2" sourceRef="first"', '<bpmn:intermediateCatchEvent id="wait"><bpmn:timerEventDefinition>'
            '<bpmn:timeDuration>"PT1M"</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>'
            '<bpmn:sequenceFlow id="fw" sourceRef="wait" targetRef="first" />\n    <bpmn:sequenceFlow id="f2" sourceRef="first"', 1)
        xml = xml.replace('sourceRef="wait" targetRef="first"', 'sourceRef="wait" targetRef="work"').replace(
            '<bpmn:sequenceFlow id="f2" sourceRef="first" targetRef="work" />', '<bpmn:sequenceFlow id="f2" sourceRef="first" targetRef="e2" /><bpmn:endEvent id="e2" />')
        return xml % {"mid_id": "work", "mid": mid, "condition": condition}
    return SCRIPTED % {"mid_id": "work", "mid": mid, "condition": condition}


@pytest.fixture
def limited(db, tmp_path):
    url, tokens = db
    engine = BpmEngine(load_settings(database_url=url, var_dir=tmp_path / "var", rate_limits=UNLIMITED, **LIMITS))
    from web import create_app

    app = create_app(engine)
    api = Api(app.test_client(), tokens)
    deploy_fixture_forms(api)
    yield api, engine
    clock.reset()
    engine.close()


def run_to_script(api, xml):
    r = api.deploy_xml(xml)
    assert r.status_code in (200, 201), r.get_json()
    inst = api.post("/api/process-definitions/limits/instances", "counter_staff", json={"data": {}}).get_json()
    task = inst["open_tasks"][0]["id"]
    r = api.post(f"/api/tasks/{task}/complete", "counter_staff", json={"data": {"note": "登记"}})
    assert r.status_code == 200, r.get_json()  # the user's step is done; the breach is the model's
    return r.get_json()["instance"]


@pytest.mark.parametrize(("script", "limit", "words"), [
    ("while True:\n    pass", "cpu", "CPU time limit of 0.5 s"),
    ("x = 'a' * 10 ** 9", "memory", "memory limit of 64 MiB"),
    ("x = ''.join(['a' * 99999] * 99999)", "memory", "memory limit of 64 MiB"),
    ("x = 'a' * 99999\ny = [x] * 10", "output", "more than the limit of 65536 bytes"),
])
def test_a_script_breaching_a_limit_is_an_incident_naming_element_and_limit(limited, script, limit, words):
    api, engine = limited
    inst = run_to_script(api, model(script=script))
    assert inst["status"] == "incident", inst
    assert inst["incident"]["element_id"] == "work"
    assert words in inst["incident"]["message"] and f"[limit: {limit}]" in inst["incident"]["message"]
    # the transaction committed: nothing is locked, every write works, the incident is on record
    assert api.post("/api/auth/token", json={"username": "auditor", "password": "demo"}).status_code == 200
    events = api.get(f"/api/process-instances/{inst['id']}/timeline", "auditor").get_json()["events"]
    assert [e["element_id"] for e in events if e["action"] == "incident_raised"] == ["work"]
    # an administrator fixes the data or the model; retrying the same script breaches again, cleanly
    r = api.post(f"/api/process-instances/{inst['id']}/retry", "admin", json={})
    assert r.status_code == 200 and r.get_json()["status"] == "incident"


def test_a_condition_building_ten_gigabytes_is_stopped(limited):
    api, engine = limited
    inst = run_to_script(api, model(condition="len(''.join(['a'*99999]*99999)) &gt; 1"))
    assert inst["status"] == "incident" and inst["incident"]["element_id"] == "gw"
    assert "[limit: memory]" in inst["incident"]["message"]


def test_an_endless_script_after_a_timer_fires_once_then_stays_an_incident(limited, tmp_path, db):
    api, engine = limited
    assert api.deploy_xml(model(script="while True:\n    pass", timer=True)).status_code == 201
    clock.set(clock.now())
    inst = api.post("/api/process-definitions/limits/instances", "counter_staff", json={"data": {}}).get_json()
    assert inst["pending_timers"]
    clock.advance(timedelta(minutes=2))
    assert fire_due(engine) == 1
    after = api.get(f"/api/process-instances/{inst['id']}", "admin").get_json()
    assert after["status"] == "incident" and after["incident"]["element_id"] == "work"
    assert after["pending_timers"] == []
    # a restarted server finds nothing to fire again
    restarted = BpmEngine(load_settings(database_url=db[0], var_dir=tmp_path / "var2", **LIMITS))
    try:
        assert fire_due(restarted) == 0
    finally:
        restarted.close()
    assert api.post("/api/auth/token", json={"username": "admin", "password": "demo"}).status_code == 200


def test_legitimate_scripts_and_conditions_still_run(limited):
    api, engine = limited
    inst = run_to_script(api, model(script="total = sum([i * i for i in range(1000)])\nlabel = 'ok'",
                                    condition="total &gt; 1000 and label == 'ok'"))
    assert inst["status"] == "running" and inst["data"]["total"] == 332833500
    assert [t["element_id"] for t in inst["open_tasks"]] == ["done"]


def test_instance_data_beyond_the_limit_is_413_and_nothing_is_stored(limited):
    api, engine = limited
    assert api.deploy_xml(fixture_text("four_step.bpmn")).status_code == 201
    big = {"priority": "x" * 70_000}
    r = api.post("/api/process-definitions/four_step/instances", "counter_staff", json={"data": big})
    assert r.status_code == 413, r.get_json()
    assert "limit of 65536 bytes" in r.get_json()["message"]
    assert api.get("/api/process-instances?key=four_step", "admin").get_json()["total"] == 0
    # a body far beyond what the route takes is refused before it is read
    r = api.post("/api/process-definitions/four_step/instances", "counter_staff",
                 json={"data": {"priority": "x" * 300_000}})
    assert r.status_code == 413 and r.get_json()["error"] == "payload_too_large"
