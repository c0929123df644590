"""External tasks (Camunda's pattern): fetch and lock, complete exactly once, lock expiry, failures
with retries down to an incident, BPMN errors to boundary events, topics per service account.
Each case drives a small model over the REST API, as a worker would, on both databases."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from engine.clock import clock, utcnow
from engine.identity.auth import actor_by_name
from engine.runtime import external
from tests.conformance.models import flow, process, script, user_task
from tests.conformance.runner import Run, start

TOPICS = {
    "work": {"name": "work", "accounts": ["integration", "worker2"], "handler": None, "settings": {},
             "lock_duration_ms": 60_000},
    "other": {"name": "other", "accounts": ["worker2"], "handler": None, "settings": {}, "lock_duration_ms": 60_000},
}


@pytest.fixture
def api(api, engine):
    engine._external_topics = TOPICS
    return api


def service(sid: str, topic: str = "work", extra: str = "", props: dict | None = None, body: str = "") -> str:
    ext = ""
    if props:
        ext = ("<bpmn:extensionElements><camunda:properties>"
               + "".join(f'<camunda:property name="{k}" value="{v}" />' for k, v in props.items())
               + "</camunda:properties></bpmn:extensionElements>")
    return (f'<bpmn:serviceTask id="{sid}" name="{sid}" camunda:type="external" camunda:topic="{topic}" {extra}>'
            f"{ext}{body}</bpmn:serviceTask>")


def straight(key: str, **kw) -> str:
    """start -> script (amount = 5) -> external task ``call`` -> user task ``after`` -> end"""
    return process(key, "\n".join([
        '<bpmn:startEvent id="start" />', script("setup", "amount = 5"), service("call", **kw), user_task("after"),
        '<bpmn:endEvent id="end" />', flow("f0", "start", "setup"),
        flow("f1", "setup", "call"), flow("f2", "call", "after"), flow("f3", "after", "end")]))


def fetch(api, user="integration", worker="w1", topic="work", n=10, **topic_opts) -> list[dict]:
    r = api.post("/api/external-tasks/fetch-and-lock", user,
                 json={"worker_id": worker, "max_tasks": n, "topics": [{"name": topic, **topic_opts}]})
    assert r.status_code == 200, r.get_json()
    return r.get_json()["items"]


def test_a_worker_fetches_the_task_with_the_instance_data_and_completing_it_runs_the_instance_on(api, engine):
    run = Run(api, engine, straight("ext_basic"), "ext_basic")
    assert run.open == [] and run.status == "running"
    [task] = fetch(api, variables=["amount"])
    assert task["element_id"] == "call" and task["variables"] == {"amount": 5} and task["worker_id"] == "w1"
    assert fetch(api, worker="w2") == []  # locked: nobody else gets it
    r = api.post(f"/api/external-tasks/{task['id']}/complete", "integration",
                 json={"worker_id": "w1", "variables": {"ref": "YC-1"}})
    assert r.status_code == 200, r.get_json()
    assert run.open == ["after"] and run.data["ref"] == "YC-1"
    r = api.post(f"/api/external-tasks/{task['id']}/complete", "integration", json={"worker_id": "w1", "variables": {}})
    assert r.status_code == 409  # a double submit changes nothing
    actions = [e["action"] for e in api.get(f"/api/process-instances/{run.id}/timeline", "auditor").get_json()["events"]]
    assert {"external_task_created", "external_task_locked", "external_task_completed"} <= set(actions)


def test_racing_workers_each_task_is_delivered_to_one_and_completed_once(api, engine):
    first = Run(api, engine, straight("ext_race"), "ext_race")
    ids = [first.id] + [start(api, "ext_race") for _ in range(11)]
    integration, worker2 = actor_by_name_pair(engine)
    got: dict[str, list] = {"a": [], "b": []}

    def worker(name, actor):
        while True:
            items = external.fetch_and_lock(engine, actor, name, 2, [{"name": "work"}])
            if not items:
                return
            got[name].extend(t["id"] for t in items)

    threads = [threading.Thread(target=worker, args=("a", integration)),
               threading.Thread(target=worker, args=("b", worker2))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not set(got["a"]) & set(got["b"])
    assert len(got["a"]) + len(got["b"]) == 12
    # the same task completed twice at once (a retried request): one wins, the other is refused
    tid = got["a"][0] if got["a"] else got["b"][0]
    holder, actor = ("a", integration) if got["a"] else ("b", worker2)
    outcomes = []

    def finish():
        try:
            external.complete(engine, actor, tid, holder, {"n": 1})
            outcomes.append("ok")
        except Exception as exc:  # noqa: BLE001
            outcomes.append(type(exc).__name__)

    pair = [threading.Thread(target=finish) for _ in range(2)]
    for t in pair:
        t.start()
    for t in pair:
        t.join()
    assert sorted(outcomes) == ["Conflict", "ok"]
    opened = [i for i in ids if api.get(f"/api/process-instances/{i}", "admin").get_json()["open_tasks"]]
    assert len(opened) == 1


def actor_by_name_pair(engine):
    with engine.read() as session:
        return actor_by_name(session, "integration"), actor_by_name(session, "worker2")


def test_a_long_poll_gets_the_task_that_arrives_while_it_waits(api, engine):
    Run(api, engine, straight("ext_poll"), "ext_poll")
    integration, _ = actor_by_name_pair(engine)
    [first] = external.fetch_and_lock(engine, integration, "w1", 5, [{"name": "work"}])
    polling = threading.Event()
    got: list = []

    def worker():
        polling.set()
        got.extend(external.fetch_and_lock(engine, integration, "w1", 5, [{"name": "work"}], wait_ms=25_000))

    t = threading.Thread(target=worker)
    t.start()
    polling.wait()
    second = start(api, "ext_poll")  # arrives while the worker waits
    t.join(60)
    assert [task["instance_id"] for task in got] == [second] and first["instance_id"] != second


def test_an_expired_lock_goes_back_to_the_pool_and_the_first_worker_can_no_longer_complete(api, engine):
    run = Run(api, engine, straight("ext_expiry"), "ext_expiry")
    [task] = fetch(api, worker="slow", lock_duration=1000)
    clock.set(utcnow() + timedelta(seconds=2))
    [again] = fetch(api, "worker2", worker="fast")
    assert again["id"] == task["id"]
    r = api.post(f"/api/external-tasks/{task['id']}/complete", "integration", json={"worker_id": "slow"})
    assert r.status_code == 409 and "not locked by worker" in r.get_json()["message"]
    r = api.post(f"/api/external-tasks/{task['id']}/complete", "worker2", json={"worker_id": "fast"})
    assert r.status_code == 200 and run.open == ["after"]


def test_a_lock_extended_does_not_expire_and_an_unlocked_task_is_fetched_again(api, engine):
    Run(api, engine, straight("ext_extend"), "ext_extend")
    [task] = fetch(api, worker="w1", lock_duration=1000)
    r = api.post(f"/api/external-tasks/{task['id']}/extend-lock", "integration",
                 json={"worker_id": "w1", "new_duration": 60_000})
    assert r.status_code == 200
    clock.set(utcnow() + timedelta(seconds=5))
    assert fetch(api, "worker2", worker="w2") == []
    assert api.post(f"/api/external-tasks/{task['id']}/unlock", "integration").status_code == 200
    assert [t["id"] for t in fetch(api, "worker2", worker="w2")] == [task["id"]]


def test_failures_retry_after_the_back_off_then_become_an_incident_that_an_admin_retries(api, engine):
    run = Run(api, engine, straight("ext_fail", props={"retries": "2", "retryBackoff": "PT1M,PT10M"}), "ext_fail")
    [task] = fetch(api)
    assert task["retries"] == 2
    r = api.post(f"/api/external-tasks/{task['id']}/failure", "integration",
                 json={"worker_id": "w1", "error_message": "CRM timed out"})
    assert r.status_code == 200 and r.get_json()["retries"] == 1
    assert fetch(api) == []  # backing off
    clock.set(utcnow() + timedelta(seconds=61))
    [task] = fetch(api)
    r = api.post(f"/api/external-tasks/{task['id']}/failure", "integration",
                 json={"worker_id": "w1", "error_message": "CRM timed out again", "error_details": "trace"})
    assert r.get_json() == {"id": task["id"], "state": "failed", "retries": 0, "instance_status": "incident"}
    assert run.status == "incident"
    assert "CRM timed out again" in run.instance["incident"]["message"]
    incidents = api.get("/api/incidents", "admin").get_json()["items"]
    assert [i["instance_id"] for i in incidents] == [run.id]
    assert "CRM timed out again" in incidents[0]["message"]
    clock.set(utcnow() + timedelta(hours=1))
    assert fetch(api) == []  # a failed task is not handed out
    r = api.post(f"/api/process-instances/{run.id}/retry", "admin", json={})
    assert r.status_code == 200, r.get_json()
    [task] = fetch(api)
    assert task["retries"] == 2
    assert api.post(f"/api/external-tasks/{task['id']}/complete", "integration",
                    json={"worker_id": "w1"}).status_code == 200
    assert run.open == ["after"] and run.status == "running"


def error_model(key: str, caught: str | None = "NOT_FOUND") -> str:
    boundary = ""
    if caught is not None:
        ref = ' errorRef="err"' if caught else ""
        boundary = (f'<bpmn:boundaryEvent id="on_error" attachedToRef="call"><bpmn:errorEventDefinition{ref} />'
                    "</bpmn:boundaryEvent>" + user_task("handle") + flow("f4", "on_error", "handle")
                    + flow("f5", "handle", "end"))
    return process(key, "\n".join([
        '<bpmn:startEvent id="start" />', service("call"), user_task("after"), '<bpmn:endEvent id="end" />',
        boundary, flow("f1", "start", "call"), flow("f2", "call", "after"), flow("f3", "after", "end")])).replace(
        "</bpmn:process>", "</bpmn:process>\n" + ('<bpmn:error id="err" name="not found" errorCode="NOT_FOUND" />'
                                                  if caught else ""))


def test_a_bpmn_error_goes_to_the_error_boundary_event_with_its_variables(api, engine):
    run = Run(api, engine, error_model("ext_err"), "ext_err")
    [task] = fetch(api)
    r = api.post(f"/api/external-tasks/{task['id']}/bpmn-error", "integration",
                 json={"worker_id": "w1", "error_code": "NOT_FOUND", "error_message": "no such retailer",
                       "variables": {"reason": "licence unknown"}})
    assert r.status_code == 200 and r.get_json()["caught_by"] == "on_error"
    assert run.open == ["handle"] and run.data["reason"] == "licence unknown"
    assert api.get(f"/api/external-tasks?instance_id={run.id}", "admin").get_json()["items"] == []
    [row] = api.get(f"/api/external-tasks?instance_id={run.id}&state=completed", "admin").get_json()["items"]
    assert row["id"] == task["id"]


def test_a_bpmn_error_of_another_code_or_without_a_boundary_is_an_incident_not_a_silent_end(api, engine):
    run = Run(api, engine, error_model("ext_err2"), "ext_err2")
    [task] = fetch(api)
    r = api.post(f"/api/external-tasks/{task['id']}/bpmn-error", "integration",
                 json={"worker_id": "w1", "error_code": "OTHER"})
    assert r.status_code == 200 and r.get_json()["caught"] is False
    assert run.status == "incident" and "'OTHER'" in run.instance["incident"]["message"]
    catch_all = Run(api, engine, error_model("ext_err3", caught=""), "ext_err3")
    [task] = fetch(api)
    api.post(f"/api/external-tasks/{task['id']}/bpmn-error", "integration", json={"worker_id": "w1", "error_code": "ANY"})
    assert catch_all.open == ["handle"]


def test_a_timer_boundary_interrupts_the_external_task_and_its_worker_is_refused(api, engine):
    xml = process("ext_timeout", "\n".join([
        '<bpmn:startEvent id="start" />', service("call"), user_task("after"), user_task("late"),
        '<bpmn:endEvent id="end" />',
        '<bpmn:boundaryEvent id="too_long" attachedToRef="call"><bpmn:timerEventDefinition>'
        '<bpmn:timeDuration>"PT1H"</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:boundaryEvent>',
        flow("f1", "start", "call"), flow("f2", "call", "after"), flow("f3", "after", "end"),
        flow("f4", "too_long", "late"), flow("f5", "late", "end")]))
    run = Run(api, engine, xml, "ext_timeout")
    [task] = fetch(api)
    run.wait(hours=2)
    assert run.open == ["late"]
    r = api.post(f"/api/external-tasks/{task['id']}/complete", "integration", json={"worker_id": "w1"})
    assert r.status_code == 409 and "cancelled" in r.get_json()["message"]


def test_higher_priority_first_then_oldest(api, engine):
    low = Run(api, engine, straight("ext_low"), "ext_low")
    high = Run(api, engine, straight("ext_high", extra='camunda:taskPriority="10"'), "ext_high")
    order = [t["instance_id"] for t in fetch(api, n=5)]
    assert order == [high.id, low.id]


def test_a_service_account_fetches_only_its_topics_and_people_none(api, engine):
    Run(api, engine, straight("ext_topic", topic="other"), "ext_topic")
    r = api.post("/api/external-tasks/fetch-and-lock", "integration",
                 json={"worker_id": "w", "topics": [{"name": "other"}]})
    assert r.status_code == 403 and "may not work topic 'other'" in r.get_json()["message"]
    r = api.post("/api/external-tasks/fetch-and-lock", "admin", json={"worker_id": "w", "topics": [{"name": "work"}]})
    assert r.status_code == 403
    assert len(fetch(api, "worker2", topic="other")) == 1
    seen = api.get("/api/external-tasks?topic=other", "integration")
    assert seen.status_code == 200 and seen.get_json()["items"] == []
    assert len(api.get("/api/external-tasks?topic=other", "admin").get_json()["items"]) == 1


@pytest.mark.parametrize(("element", "says"), [
    (service("call", topic="nobody_works_this"), "topic 'nobody_works_this' is not configured"),
    ('<bpmn:serviceTask id="call" camunda:class="com.acme.Delegate" />', "camunda:class is not supported"),
    ('<bpmn:serviceTask id="call" camunda:type="external" />', "needs camunda:topic"),
    ('<bpmn:serviceTask id="call" />', "has no implementation"),
    (service("call", props={"retries": "many"}), "retries 'many' must be a whole number"),
    (service("call", props={"retryBackoff": "5 minutes"}), "not an ISO 8601 duration"),
    (service("call", extra='camunda:taskPriority="${prio}"'), "must be a whole number"),
])
def test_deploy_refuses_an_external_task_that_could_not_run(api, element, says):
    xml = process("ext_bad", "\n".join(['<bpmn:startEvent id="start" />', element, '<bpmn:endEvent id="end" />',
                                        flow("f1", "start", "call"), flow("f2", "call", "end")]))
    r = api.deploy_xml(xml)
    assert r.status_code == 422
    errors = r.get_json()["details"]["errors"]
    assert any(e["element_id"] == "call" and says in e["message"] for e in errors), errors


def test_a_suspended_instance_hands_out_nothing_and_a_cancelled_one_cancels_its_external_tasks(api, engine):
    run = Run(api, engine, straight("ext_admin"), "ext_admin")
    assert api.post(f"/api/process-instances/{run.id}/suspend", "admin", json={"reason": "checking"}).status_code == 200
    assert fetch(api) == []
    assert api.post(f"/api/process-instances/{run.id}/resume", "admin", json={"reason": "ok"}).status_code == 200
    [task] = fetch(api)
    r = api.post(f"/api/process-instances/{run.id}/cancel", "admin", json={"reason": "customer withdrew"})
    assert r.status_code == 200, r.get_json()
    r = api.post(f"/api/external-tasks/{task['id']}/complete", "integration", json={"worker_id": "w1"})
    assert r.status_code == 409 and "cancelled" in r.get_json()["message"]
    [row] = api.get(f"/api/external-tasks?instance_id={run.id}&state=cancelled", "auditor").get_json()["items"]
    assert row["id"] == task["id"]


def test_an_uncaught_bpmn_error_retried_by_an_admin_hands_the_task_out_again(api, engine):
    run = Run(api, engine, error_model("ext_err_retry", caught=None), "ext_err_retry")
    [task] = fetch(api)
    api.post(f"/api/external-tasks/{task['id']}/bpmn-error", "integration", json={"worker_id": "w1", "error_code": "X"})
    assert run.status == "incident"
    assert api.post(f"/api/process-instances/{run.id}/retry", "admin", json={}).status_code == 200
    [again] = fetch(api, worker="w2")
    assert again["id"] == task["id"] and again["retries"] == 3
    assert api.post(f"/api/external-tasks/{again['id']}/complete", "integration",
                    json={"worker_id": "w2"}).status_code == 200
    assert run.open == ["after"] and run.status == "running"
