"""Hall congestion: levels, the source's silent cases, hysteresis, debounce, alerts started and closed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engine.clock import clock
from engine.halls.congestion import raw_level, target_level
from tests.conftest import fixture_text


@pytest.mark.parametrize("waiting, open_counters, level", [
    (0, 0, 0), (4, 2, 0), (5, 2, 1), (6, 2, 1), (7, 2, 2), (9, 2, 2), (20, 2, 2),  # > 4.5x: level 2
    (1, 0, 2),  # nobody serving while someone waits: level 2
])
def test_levels(waiting, open_counters, level):
    assert raw_level(waiting, open_counters) == level


def test_hysteresis_on_the_way_down():
    assert target_level(2, 6, 2) == 2      # 3.0x holds level 2
    assert target_level(2, 5, 2) == 1      # 2.5x: down to 1
    assert target_level(1, 4, 2) == 1      # 2.0x holds level 1
    assert target_level(1, 3, 2) == 0      # 1.5x clears
    assert target_level(0, 4, 2) == 0      # and 2.0x does not raise from 0


@pytest.fixture
def hall(four_step):
    api = four_step
    assert api.deploy_xml(fixture_text("congestion_min.bpmn")).status_code == 201
    clock.set(datetime(2026, 11, 23, 2, 0, tzinfo=UTC))
    yield api
    clock.reset()


def snap(api, waiting, open_counters, user="duty_manager", hall="hall-1"):
    r = api.post(f"/api/halls/{hall}/queue-snapshots", user, json={"waiting": waiting, "open_counters": open_counters})
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def test_debounced_raise_starts_the_alert_and_clearing_closes_it(hall):
    api = hall
    state = snap(api, 6, 2)  # 3.0x: level 1 observed, not yet in force
    assert state["level"] == 0 and state["pending_level"] == 1 and state["raw_level"] == 1
    clock.advance(timedelta(seconds=30))
    assert snap(api, 6, 2)["level"] == 0  # still inside the debounce window
    clock.advance(timedelta(seconds=31))
    state = snap(api, 6, 2)
    assert state["level"] == 1 and state["changed"] is True and len(state["alerts"]) == 1
    alert = state["alerts"][0]
    inst = api.get(f"/api/process-instances/{alert['instance_id']}", "duty_manager").get_json()
    assert inst["status"] == "running" and inst["data"]["level"] == 1 and inst["org_unit"] == "hall-1"
    # the alert goes to the duty manager of this hall only
    task_id = inst["open_tasks"][0]["id"]
    assert api.get(f"/api/tasks/{task_id}", "duty_hall2").status_code == 403
    # a brief dip does not clear it (debounce), nor does 2.0x (hysteresis)
    clock.advance(timedelta(seconds=10))
    assert snap(api, 2, 2)["level"] == 1
    clock.advance(timedelta(seconds=10))
    assert snap(api, 4, 2)["level"] == 1
    clock.advance(timedelta(seconds=70))
    assert snap(api, 4, 2)["level"] == 1
    # really cleared for a minute: the alert closes by itself
    snap(api, 2, 3)
    clock.advance(timedelta(seconds=61))
    state = snap(api, 2, 3)
    assert state["level"] == 0 and state["alerts"] == []
    closed = api.get(f"/api/process-instances/{alert['instance_id']}", "duty_manager").get_json()
    assert closed["status"] == "completed" and closed["open_tasks"] == []
    actions = [e["action"] for e in api.get(f"/api/process-instances/{alert['instance_id']}/timeline", "auditor").get_json()["events"]]
    assert "message_received" in actions and "task_cancelled" in actions
    assert api.get("/api/halls/hall-1/congestion", "counter_staff").get_json()["level"] == 0


def test_level_two_with_no_open_counter(hall):
    """002 「二级应急:当等候客户数量=3.5——4.5×台席开放数时」: one customer waiting with no counter
    open is level 2 (the source is silent there) and raises ONE alert, the level-2 one."""
    api = hall
    snap(api, 3, 0)
    clock.advance(timedelta(seconds=61))
    state = snap(api, 3, 0)
    assert state["level"] == 2 and [a["level"] for a in state["alerts"]] == [2]


def test_escalation_on_a_model_without_the_escalation_event_still_leaves_one_alert(hall):
    """002 「一级应急…2.5——3.5×」「二级应急…3.5——4.5×」: a level-1 alert of a model that cannot be
    escalated is closed (cleared) when the level-2 alert starts; the hall never has two open alerts."""
    api = hall
    snap(api, 6, 2)
    clock.advance(timedelta(seconds=61))
    l1 = snap(api, 6, 2)["alerts"][0]["instance_id"]
    snap(api, 8, 2)
    clock.advance(timedelta(seconds=61))
    state = snap(api, 8, 2)
    assert [a["level"] for a in state["alerts"]] == [2]
    assert api.get(f"/api/process-instances/{l1}", "auditor").get_json()["status"] == "completed"


def test_who_may_report(hall):
    api = hall
    assert api.post("/api/halls/hall-1/queue-snapshots", "duty_hall2", json={"waiting": 1, "open_counters": 1}).status_code == 403
    assert api.post("/api/halls/hall-1/queue-snapshots", "auditor", json={"waiting": 1, "open_counters": 1}).status_code == 403
    assert api.post("/api/halls/nowhere/queue-snapshots", "admin", json={"waiting": 1, "open_counters": 1}).status_code == 404
    assert api.post("/api/halls/hall-1/queue-snapshots", "duty_manager", json={"waiting": -1, "open_counters": 1}).status_code == 422
    assert snap(api, 1, 1, user="counter_staff")["level"] == 0


def test_message_api(hall):
    api = hall
    snap(api, 8, 2)
    clock.advance(timedelta(seconds=61))
    alert = snap(api, 8, 2)["alerts"][0]["instance_id"]
    assert api.post(f"/api/process-instances/{alert}/messages", "auditor", json={"name": "congestion_cleared"}).status_code == 403
    # congestion_cleared is the evaluator's own message: nobody sends it through the API, not even the hall's duty manager
    for name in ("congestion_cleared", "nope"):
        r = api.post(f"/api/process-instances/{alert}/messages", "duty_manager", json={"name": name, "data": {"by": "hand"}})
        assert r.status_code == 403 and "not sendable from outside" in r.get_json()["message"], r.get_json()
    assert api.get(f"/api/process-instances/{alert}", "duty_manager").get_json()["status"] == "running"
    snap(api, 1, 2)
    clock.advance(timedelta(seconds=61))
    snap(api, 1, 2)  # the level cleared: the evaluator closes the alert
    assert api.get(f"/api/process-instances/{alert}", "duty_manager").get_json()["status"] == "completed"


def _alerts_of(api) -> list[dict]:
    r = api.get("/api/process-instances?key=hall_congestion&per_page=100", "auditor")
    assert r.status_code == 200, r.get_json()
    return r.get_json()["items"]


@pytest.fixture
def real(api):
    from tests.support.business import deploy

    deploy(api, "hall_congestion")
    clock.set(datetime(2026, 11, 23, 2, 0, tzinfo=UTC))
    yield api
    clock.reset()


def hold(api, waiting, open_counters):
    """A reading held past the debounce window."""
    snap(api, waiting, open_counters)
    clock.advance(timedelta(seconds=61))
    return snap(api, waiting, open_counters)


def test_the_real_model_from_zero_straight_to_level_two_raises_one_alert(real):
    """002 「二级应急:当等候客户数量=3.5——4.5×台席开放数时」: a queue that jumps from calm to 4.5x
    raises one alert, at level 2, for the hall manager; no level-1 alert is started beside it."""
    api = real
    state = hold(api, 9, 2)
    assert state["level"] == 2 and [a["level"] for a in state["alerts"]] == [2]
    alerts = _alerts_of(api)
    assert len(alerts) == 1
    l2 = state["alerts"][0]["instance_id"]
    assert api.get(f"/api/process-instances/{l2}", "hall_manager").get_json()["open_tasks"][0]["element_id"] == \
        "respond_l2"


def test_the_real_model_escalates_level_one_into_level_two(real):
    """002 「一级应急:当等候客户数量=2.5——3.5×台席开放数时」 then 「二级应急…3.5——4.5×」: the duty
    manager's level-1 alert is interrupted (ends "escalated", its task cancelled) and one level-2
    alert for the hall manager takes over, naming the alert it replaces."""
    api = real
    l1 = hold(api, 6, 2)["alerts"][0]["instance_id"]
    task = api.get(f"/api/process-instances/{l1}", "duty_manager").get_json()["open_tasks"][0]
    state = hold(api, 8, 2)
    assert state["level"] == 2 and [a["level"] for a in state["alerts"]] == [2]
    l2 = state["alerts"][0]["instance_id"]
    old = api.get(f"/api/process-instances/{l1}", "auditor").get_json()
    assert old["status"] == "completed" and "end_escalated_l1" in old["completed_elements"]
    assert old["open_tasks"] == [] and api.get(f"/api/tasks/{task['id']}", "auditor").get_json()["status"] == "cancelled"
    new = api.get(f"/api/process-instances/{l2}", "auditor").get_json()
    assert new["data"]["escalated_from"] == l1 and new["data"]["level"] == 2
    running = [i for i in _alerts_of(api) if i["status"] == "running"]
    assert [i["id"] for i in running] == [l2]
    # the hall's level change is audited with the alert it closed and how
    events = api.get("/api/audit/events?action=congestion_level_changed", "auditor").get_json()["items"]
    assert any([c.get("closed_as") for c in e["details"].get("closed_alerts", [])] == ["escalated"] for e in events)


def test_the_real_model_is_raised_and_cleared_by_the_evaluator(real):
    """002 「二级应急」 down to 「一级应急」: the level-2 alert closes by itself and the duty manager
    gets a level-1 alert while the hall is still congested; calm closes that one too."""
    api = real
    state = hold(api, 9, 2)
    l2 = state["alerts"][0]["instance_id"]
    # down to level 1 (below 3.0x for a minute): the level-2 alert closes, a level-1 alert takes over
    state = hold(api, 5, 2)
    assert state["level"] == 1 and [a["level"] for a in state["alerts"]] == [1]
    l1 = state["alerts"][0]["instance_id"]
    closed = api.get(f"/api/process-instances/{l2}", "auditor").get_json()
    assert closed["status"] == "completed" and "end_cleared_l2" in closed["completed_elements"]
    now = api.get(f"/api/process-instances/{l1}", "duty_manager").get_json()
    assert now["status"] == "running" and now["data"]["de_escalated_from"] == l2
    assert now["open_tasks"][0]["element_id"] == "respond_l1"
    state = hold(api, 1, 2)
    assert state["level"] == 0 and state["alerts"] == []
    assert all(i["status"] == "completed" for i in _alerts_of(api))
