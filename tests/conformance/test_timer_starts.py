"""Timer start events start instances by themselves: timeDuration and timeDate once, timeCycle
as often as it says; each occurrence exactly once (the scheduled-start timers of
engine/scheduling/schedules.py); a new version replaces the schedule; the instance list says
the schedule started it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from engine.clock import clock, utcnow
from engine.scheduling.timers import fire_due
from engine.store.models import Timer
from tests.conformance.models import chain, document, user_task

T0 = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)  # a Monday, 09:00 in Beijing


def _timer_start(key: str, kind: str, value: str, none_start: bool = False) -> str:
    start = (f'<bpmn:startEvent id="tick" name="定时"><bpmn:timerEventDefinition id="t1"><bpmn:{kind} '
             f'xsi:type="bpmn:tFormalExpression">"{value}"</bpmn:{kind}></bpmn:timerEventDefinition></bpmn:startEvent>')
    parts = [start, user_task("count"), '<bpmn:endEvent id="end" />', chain("tick", "count", "end")]
    if none_start:
        parts += ['<bpmn:startEvent id="by_hand" />', user_task("manual"), '<bpmn:endEvent id="end2" />',
                  chain("by_hand", "manual", "end2", prefix="h")]
    return document(key, "\n".join(parts))


def _started(api, key):
    return api.get(f"/api/process-instances?key={key}&per_page=100", "admin").get_json()["items"]


def _pending(engine, key):
    with engine.read() as s:
        return [t.fire_at for t in s.execute(select(Timer).where(Timer.kind == "start", Timer.process_key == key,
                                                                  Timer.state == "pending")).scalars()]


def test_a_time_duration_start_starts_once_that_long_after_the_deploy(api, engine):
    clock.set(T0)
    assert api.deploy_xml(_timer_start("after_hour", "timeDuration", "PT1H")).status_code == 201
    assert _pending(engine, "after_hour") == [T0 + timedelta(hours=1)]
    assert api.post("/api/process-definitions/after_hour/instances", "counter_staff",
                     json={"data": {}}).status_code == 409  # it has no plain start event: the schedule starts it
    clock.set(T0 + timedelta(minutes=59))
    assert fire_due(engine) == 0
    clock.set(T0 + timedelta(hours=1, seconds=1))
    assert fire_due(engine) == 1
    assert fire_due(engine) == 0  # exactly once
    started = _started(api, "after_hour")
    assert len(started) == 1 and started[0]["started_by"] == "system"
    inst = api.get(f"/api/process-instances/{started[0]['id']}", "admin").get_json()
    assert [t["element_id"] for t in inst["open_tasks"]] == ["count"] and "tick" in inst["completed_elements"]
    assert _pending(engine, "after_hour") == []


def test_a_time_cycle_starts_as_often_as_it_says(api, engine):
    clock.set(T0)
    assert api.deploy_xml(_timer_start("thrice", "timeCycle", "R3/PT1H")).status_code == 201
    for hour in range(1, 6):
        clock.set(T0 + timedelta(hours=hour, seconds=1))
        fire_due(engine)
    assert len(_started(api, "thrice")) == 3 and _pending(engine, "thrice") == []


def test_a_time_date_start_with_a_plain_start_too(api, engine):
    clock.set(T0)
    xml = _timer_start("on_date", "timeDate", "2026-12-24T09:00:00+08:00", none_start=True)
    assert api.deploy_xml(xml).status_code == 201
    # by hand: the plain start event's path
    r = api.post("/api/process-definitions/on_date/instances", "counter_staff", json={"data": {}})
    assert r.status_code == 201 and [t["element_id"] for t in r.get_json()["open_tasks"]] == ["manual"]
    clock.set(datetime(2026, 12, 24, 1, 0, 1, tzinfo=UTC))
    assert fire_due(engine) == 1
    by_timer = [i for i in _started(api, "on_date") if i["started_by"] == "system"]
    assert len(by_timer) == 1
    inst = api.get(f"/api/process-instances/{by_timer[0]['id']}", "admin").get_json()
    assert [t["element_id"] for t in inst["open_tasks"]] == ["count"]


def test_a_new_version_replaces_the_schedule(api, engine):
    clock.set(T0)
    assert api.deploy_xml(_timer_start("moved", "timeDuration", "PT1H")).status_code == 201
    assert api.deploy_xml(_timer_start("moved", "timeDuration", "PT5H")).status_code == 201
    assert _pending(engine, "moved") == [T0 + timedelta(hours=5)]
    clock.set(T0 + timedelta(hours=2))
    assert fire_due(engine) == 0


def test_a_timer_start_must_be_a_valid_constant(api):
    for value in ("2026-12-24T09:00:00", "R/2026-12-01/PX"):
        kind = "timeDate" if value.count("/") == 0 else "timeCycle"
        r = api.deploy_xml(_timer_start("bad_timer", kind, value))
        assert r.status_code == 422, r.get_json()
        assert {e["element_id"] for e in r.get_json()["details"]["errors"]} == {"tick"}


def teardown_function():
    clock.reset()
    assert utcnow()


def test_a_timer_start_on_the_working_day_calendar(api, engine):
    """``schedule.calendar=working``: a daily start skips the weekend (Saturday's and Sunday's
    occurrences move to Monday 09:00 and start once there)."""
    clock.set(datetime(2026, 12, 4, 0, 0, tzinfo=UTC))  # Friday, 08:00 in Beijing
    xml = _timer_start("workdays", "timeCycle", "R/2026-12-04T09:00:00+08:00/P1D").replace(
        'camunda:candidateStarterGroups="counter_staff">',
        'camunda:candidateStarterGroups="counter_staff"><bpmn:extensionElements><camunda:properties>'
        '<camunda:property name="schedule.calendar" value="working" /></camunda:properties></bpmn:extensionElements>')
    r = api.deploy_xml(xml)
    assert r.status_code == 201, r.get_json()
    fired_at = []
    for day in range(4, 10):  # Friday 4 December to Wednesday 9 December, noon in Beijing
        clock.set(datetime(2026, 12, day, 4, 0, tzinfo=UTC))
        while fire_due(engine):
            pass
        fired_at.append(len(_started(api, "workdays")))
    # Fri: 1; Sat, Sun: nothing more; Mon: one (not three); Tue, Wed: one each
    assert fired_at == [1, 1, 1, 2, 3, 4]
    assert _pending(engine, "workdays") == [datetime(2026, 12, 10, 1, 0, tzinfo=UTC)]
    bad = xml.replace('value="working"', 'value="lunar"').replace('id="workdays"', 'id="workdays_bad"')
    assert api.deploy_xml(bad).status_code == 422
