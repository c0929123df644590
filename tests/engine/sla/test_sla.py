"""SLA policies: due dates, warnings, breaches and escalations at the right moments, with
notifications in the app and by e-mail; the controlled clock; linked process starts."""

from __future__ import annotations

import socket
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from engine.clock import clock
from engine.scheduling.timers import fire_due
from engine.store.models import Timer
from tests.conftest import deploy_fixture_forms, fixture_text

T0 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)  # Monday 09:00 in Shanghai


def sla_process(kind="calendar", amount="PT24H", escalate="1.0:duty_manager;1.5:hall_manager", extra=""):
    props = (f'<camunda:property name="sla.kind" value="{kind}" /><camunda:property name="sla.amount" value="{amount}" />'
             f'<camunda:property name="sla.escalate" value="{escalate}" />'
             '<camunda:property name="candidateScope" value="starter_unit" />' + extra)
    return fixture_text("four_step.bpmn").replace(
        '<bpmn:userTask id="t1" name="填写 Fill in" camunda:formKey="simple_note" camunda:candidateGroups="counter_staff" />',
        '<bpmn:userTask id="t1" name="填写 Fill in" camunda:formKey="simple_note" camunda:candidateGroups="counter_staff">'
        f"<bpmn:extensionElements><camunda:properties>{props}</camunda:properties></bpmn:extensionElements></bpmn:userTask>",
    )


@pytest.fixture
def pinned():
    clock.set(T0)
    yield clock
    clock.reset()


@pytest.fixture
def sla_api(four_step, pinned):
    assert four_step.deploy_xml(sla_process()).status_code == 201
    return four_step


def start(api, user="counter_staff"):
    r = api.post("/api/process-definitions/four_step/instances", user, json={"data": {}})
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def sla_events(api, inst_id):
    events = api.get(f"/api/process-instances/{inst_id}/timeline", "auditor").get_json()["events"]
    return [(e["action"], e["details"].get("level")) for e in events if e["action"].startswith("sla_")]


def inbox(api, user):
    return api.get("/api/notifications", user).get_json()


def test_due_date_warning_breach_and_two_escalations(sla_api):
    api = sla_api
    inst = start(api)
    task = api.get(f"/api/tasks/{inst['open_tasks'][0]['id']}", "counter_staff").get_json()
    assert task["due_at"] == "2026-11-24T01:00:00+00:00"
    assert inst["open_tasks"][0]["due_at"] == task["due_at"]
    assert task["sla_state"] == "on_time" and task["sla"]["provisional"] is False
    assert [t["level"] for t in task["sla"]["thresholds"]] == ["warning", "breach", "escalation", "escalation"]
    # nothing before 80 % (19 h 12 min)
    clock.advance(timedelta(hours=19, minutes=11))
    assert fire_due(api.client.application.extensions["bpm"]) == 0
    assert sla_events(api, inst["id"]) == []
    clock.advance(timedelta(minutes=2))
    engine = api.client.application.extensions["bpm"]
    assert fire_due(engine) == 1
    assert sla_events(api, inst["id"]) == [("sla_warning", "warning")]
    # the owner's people in the starter's hall are warned; hall-2 is not
    assert inbox(api, "counter_staff")["unread"] == 1 and inbox(api, "counter2")["unread"] == 1
    assert inbox(api, "counter_hall2")["total"] == 0
    assert "时限预警" in inbox(api, "counter_staff")["items"][0]["title"]
    # breach at 100 %: escalation to the duty manager of the same hall
    clock.set(T0 + timedelta(hours=24, seconds=1))
    assert fire_due(engine) == 2
    assert sla_events(api, inst["id"])[1:] == [("sla_breached", "breach"), ("sla_escalated", "escalation")]
    detail = api.get(f"/api/tasks/{task['id']}", "duty_manager").get_json()
    assert "duty_manager" in detail["candidate_groups"]
    assert inbox(api, "duty_manager")["total"] == 1 and inbox(api, "duty_hall2")["total"] == 0
    # 150 %: the hall manager
    clock.set(T0 + timedelta(hours=36, seconds=1))
    assert fire_due(engine) == 1
    assert sla_events(api, inst["id"])[-1] == ("sla_escalated", "escalation")
    assert inbox(api, "hall_manager")["total"] == 1 and inbox(api, "manager_hall2")["total"] == 0
    # the escalated duty manager takes it over and finishes it: the SLA is recorded as missed
    r = api.post(f"/api/tasks/{task['id']}/complete", "duty_manager", json={"data": {"note": "现场处理"}})
    assert r.status_code == 200, r.get_json()
    with engine.read() as session:
        states = set(session.execute(select(Timer.state).where(Timer.task_id == task["id"])).scalars())
    assert states == {"fired"}
    assert api.get(f"/api/tasks/{task['id']}", "auditor").get_json()["status"] == "completed"


def test_finished_in_time_cancels_the_thresholds(sla_api):
    api = sla_api
    engine = api.client.application.extensions["bpm"]
    inst = start(api)
    tid = inst["open_tasks"][0]["id"]
    clock.advance(timedelta(hours=2))
    assert api.post(f"/api/tasks/{tid}/complete", "counter_staff", json={"data": {"note": "ok"}}).status_code == 200
    clock.advance(timedelta(days=3))
    assert fire_due(engine) == 0
    assert sla_events(api, inst["id"]) == []
    with engine.read() as session:
        states = set(session.execute(select(Timer.state).where(Timer.task_id == tid)).scalars())
        from engine.store.models import Task

        assert session.get(Task, tid).sla_state == "met"
    assert states == {"cancelled"}


def test_working_days_due_date_follows_the_official_calendar(four_step):
    api = four_step
    assert api.deploy_xml(sla_process("working_days", "P3D", "1.0:duty_manager")).status_code == 201
    clock.set(datetime(2026, 9, 30, 8, 0, tzinfo=UTC))  # Wed 16:00 in Shanghai, before National Day
    try:
        inst = start(api)
    finally:
        clock.reset()
    # day 1 = Thu 10-08, day 2 = Fri 10-09, day 3 = Sat 10-10 (an adjusted working day), 18:30 (winter hours)
    assert inst["open_tasks"][0]["due_at"] == "2026-10-10T10:30:00+00:00"


def start_at(api, moment):
    clock.set(moment)
    try:
        return start(api)["open_tasks"][0]["due_at"]
    finally:
        clock.reset()


def test_working_time_due_dates_follow_the_seasonal_hours(four_step):
    """Summer 09:20-12:30 / 15:20-18:30, winter 09:50-13:00 / 15:20-18:30 (the default hours)."""
    api = four_step
    assert api.deploy_xml(sla_process("working_time", "PT3H", "1.0:duty_manager")).status_code == 201
    # Wed 11:00 local, 3 working hours over the lunch break: July 16:50, December 16:20
    assert start_at(api, datetime(2026, 7, 15, 3, 0, tzinfo=UTC)) == "2026-07-15T08:50:00+00:00"
    assert start_at(api, datetime(2026, 12, 16, 3, 0, tzinfo=UTC)) == "2026-12-16T08:20:00+00:00"
    # Thu 2026-04-30 17:00 (winter): 1.5 h, Labour Day, then Wed 05-06 (summer) 09:20 + 1.5 h
    assert start_at(api, datetime(2026, 4, 30, 9, 0, tzinfo=UTC)) == "2026-05-06T02:50:00+00:00"


def test_configured_season_dates_move_the_switch(four_step):
    from dataclasses import replace

    api = four_step
    engine = api.client.application.extensions["bpm"]
    engine.settings = replace(engine.settings, working_hours=(
        "summer 06-01..08-31=09:20-12:30,15:20-18:30; winter 09-01..05-31=09:50-13:00,15:20-18:30"))
    assert api.deploy_xml(sla_process("working_time", "PT4H", "1.0:duty_manager")).status_code == 201
    # Mon 2026-08-31 16:00, the last summer day: 2.5 h, then Tue 09-01, winter from 09:50: 11:20
    assert start_at(api, datetime(2026, 8, 31, 8, 0, tzinfo=UTC)) == "2026-09-01T03:20:00+00:00"


@pytest.mark.parametrize("props, message", [
    ({"kind": "weekly", "amount": "PT1H"}, "sla.kind"),
    ({"kind": "calendar", "amount": "P1M"}, "ambiguous"),
    ({"kind": "working_days", "amount": "PT36H"}, "working_days"),
    ({"kind": "calendar", "amount": "PT1H", "escalate": "1.0:janitor"}, "unknown roles"),
    ({"kind": "calendar", "amount": "PT1H", "warn": "1.2"}, "sla.warn"),
])
def test_invalid_sla_policy_is_refused_at_deploy(four_step, props, message):
    extra = "".join(f'<camunda:property name="sla.{k}" value="{v}" />' for k, v in props.items() if k not in ("kind", "amount", "escalate"))
    xml = sla_process(props["kind"], props["amount"], props.get("escalate", "1.0:duty_manager"), extra)
    r = four_step.deploy_xml(xml)
    assert r.status_code == 422
    errors = r.get_json()["details"]["errors"]
    assert any(e["element_id"] == "t1" and message in e["message"] for e in errors), errors


def test_notifications_api(sla_api):
    api = sla_api
    start(api)
    clock.advance(timedelta(hours=20))
    fire_due(api.client.application.extensions["bpm"])
    box = inbox(api, "counter_staff")
    note = box["items"][0]
    assert box["unread"] == 1 and note["kind"] == "sla_warning" and note["instance_id"]
    assert api.post(f"/api/notifications/{note['id']}/read", "counter2").status_code == 404  # not theirs
    r = api.post(f"/api/notifications/{note['id']}/read", "counter_staff")
    assert r.status_code == 200 and r.get_json()["read_at"]
    assert inbox(api, "counter_staff")["unread"] == 0
    assert api.get("/api/notifications?unread=true", "counter_staff").get_json()["total"] == 0


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_notifications_are_emailed_through_smtp(sla_api, monkeypatch):
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Message

    received = []

    class Sink(Message):
        def handle_message(self, message):
            received.append(message)

    port = _free_port()
    controller = Controller(Sink(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        monkeypatch.setenv("BPM_SMTP_HOST", "127.0.0.1")
        monkeypatch.setenv("BPM_SMTP_PORT", str(port))
        monkeypatch.setenv("BPM_SMTP_FROM", "bpm@hall.example")
        api = sla_api
        engine = api.client.application.extensions["bpm"]
        from dataclasses import replace

        from engine.config import load_settings

        engine.settings = replace(engine.settings, smtp=load_settings().smtp)  # as a server started with them
        with engine.uow(__import__("engine.identity.actor", fromlist=["SYSTEM"]).SYSTEM) as uow:
            from engine.identity import users

            users.update_user(uow, "counter2", {"email": "counter2@hall.example"})
        try:
            start(api)
            clock.advance(timedelta(hours=20))
            fire_due(engine)
            from engine.scheduling.notifications import deliver_email

            assert deliver_email(engine) == 1  # only counter2 has an address
            assert deliver_email(engine) == 0  # sent once
            for _ in range(50):
                if received:
                    break
                time.sleep(0.05)
            assert len(received) == 1
            assert received[0]["To"] == "counter2@hall.example"
            from email.header import decode_header, make_header

            subject = str(make_header(decode_header(received[0]["Subject"])))
            assert "时限预警 SLA warning" in subject and "填写 Fill in" in subject
        finally:
            with engine.uow(__import__("engine.identity.actor", fromlist=["SYSTEM"]).SYSTEM) as uow:
                users.update_user(uow, "counter2", {"email": None})
    finally:
        controller.stop()


def test_controlled_clock_endpoint(db, tmp_path):
    from engine.app import BpmEngine
    from engine.config import load_settings
    from tests.conftest import Api
    from web import create_app

    url, tokens = db
    engine = BpmEngine(load_settings(database_url=url, var_dir=tmp_path / "v", controlled_clock=True))
    app = create_app(engine)
    api = Api(app.test_client(), tokens)

    deploy_fixture_forms(api)
    assert api.deploy_xml(sla_process()).status_code == 201
    try:
        assert api.post("/api/testing/clock", "counter_staff", json={"now": "2026-11-23T09:00:00+08:00"}).status_code == 403
        r = api.post("/api/testing/clock", "admin", json={"now": "2026-11-23T09:00:00+08:00"})
        assert r.status_code == 200 and r.get_json()["now"].startswith("2026-11-23T01:00:00")
        inst = start(api)
        assert inst["open_tasks"][0]["due_at"] == "2026-11-24T01:00:00+00:00"
        # moving the clock fires due timers at once
        r = api.post("/api/testing/clock", "admin", json={"now": "2026-11-24T09:30:00+08:00"})
        assert r.get_json()["timers_fired"] == 3
        actions = [e["action"] for e in api.get(f"/api/process-instances/{inst['id']}/timeline", "auditor").get_json()["events"]]
        assert "sla_breached" in actions and actions.index("sla_warning") < actions.index("sla_breached")
        # audit times follow the pinned clock
        at = api.get(f"/api/process-instances/{inst['id']}/timeline", "auditor").get_json()["events"][0]["at"]
        assert at.startswith("2026-11-23T01:00:00")
        r = api.post("/api/testing/clock/reset", "admin")
        assert r.status_code == 200 and r.get_json()["controlled"] is False
    finally:
        clock.reset()
        engine.close()


def test_testing_clock_is_not_mounted_by_default(api):
    assert api.post("/api/testing/clock", "admin", json={"now": "2026-01-01T00:00:00Z"}).status_code == 404


LINKED = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" xmlns:di="http://www.omg.org/spec/DD/20100524/DI" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d_linked" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="counter_case" name="柜台事项" isExecutable="true" camunda:candidateStarterGroups="counter_staff">
    <bpmn:startEvent id="s" />
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="handle" />
    <bpmn:userTask id="handle" name="办理" camunda:formKey="simple_note" camunda:candidateGroups="counter_staff" />
    <bpmn:sequenceFlow id="f2" sourceRef="handle" targetRef="raise" />
    <bpmn:intermediateThrowEvent id="raise" name="转投诉">
      <bpmn:extensionElements><camunda:properties>
        <camunda:property name="startProcess" value="four_step" />
        <camunda:property name="startData.customer" value="note" />
        <camunda:property name="startData.category" value="'technical'" />
      </camunda:properties></bpmn:extensionElements>
    </bpmn:intermediateThrowEvent>
    <bpmn:sequenceFlow id="f3" sourceRef="raise" targetRef="e" />
    <bpmn:endEvent id="e" />
  </bpmn:process>
  <bpmndi:BPMNDiagram id="dg"><bpmndi:BPMNPlane id="pl" bpmnElement="counter_case">
    <bpmndi:BPMNShape id="s_di" bpmnElement="s"><dc:Bounds x="100" y="100" width="36" height="36" /></bpmndi:BPMNShape>
    <bpmndi:BPMNShape id="handle_di" bpmnElement="handle"><dc:Bounds x="180" y="78" width="100" height="80" /></bpmndi:BPMNShape>
    <bpmndi:BPMNShape id="raise_di" bpmnElement="raise"><dc:Bounds x="330" y="100" width="36" height="36" /></bpmndi:BPMNShape>
    <bpmndi:BPMNShape id="e_di" bpmnElement="e"><dc:Bounds x="420" y="100" width="36" height="36" /></bpmndi:BPMNShape>
    <bpmndi:BPMNEdge id="f1_di" bpmnElement="f1"><di:waypoint x="136" y="118" /><di:waypoint x="180" y="118" /></bpmndi:BPMNEdge>
    <bpmndi:BPMNEdge id="f2_di" bpmnElement="f2"><di:waypoint x="280" y="118" /><di:waypoint x="330" y="118" /></bpmndi:BPMNEdge>
    <bpmndi:BPMNEdge id="f3_di" bpmnElement="f3"><di:waypoint x="366" y="118" /><di:waypoint x="420" y="118" /></bpmndi:BPMNEdge>
  </bpmndi:BPMNPlane></bpmndi:BPMNDiagram>
</bpmn:definitions>
"""


def test_throw_event_starts_a_linked_instance(four_step):
    api = four_step
    assert api.deploy_xml(LINKED).status_code == 201
    inst = api.post("/api/process-definitions/counter_case/instances", "counter_staff", json={"business_key": "C-9", "data": {}}).get_json()
    tid = inst["open_tasks"][0]["id"]
    r = api.post(f"/api/tasks/{tid}/complete", "counter_staff", json={"data": {"note": "王五"}})
    assert r.status_code == 200 and r.get_json()["instance"]["status"] == "completed"
    children = api.get("/api/process-instances?key=four_step", "auditor").get_json()["items"]
    assert len(children) == 1
    child = api.get(f"/api/process-instances/{children[0]['id']}", "auditor").get_json()
    assert child["data"]["customer"] == "王五" and child["data"]["category"] == "technical"
    assert child["data"]["linked_from"]["instance_id"] == inst["id"]
    assert child["business_key"] == "C-9" and child["org_unit"] == "hall-1" and child["started_by"] == "counter_staff"
    parent_events = api.get(f"/api/process-instances/{inst['id']}/timeline", "auditor").get_json()["events"]
    linked = [e for e in parent_events if e["action"] == "linked_instance_started"]
    assert linked and linked[0]["details"]["child_instance_id"] == child["id"]
