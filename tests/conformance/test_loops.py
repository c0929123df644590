"""Automatic runs of any length finish as drawn: a script loop is not cut short, a long one
continues in chunks (each its own transaction, like an asynchronous continuation) and an
endless one becomes an incident an administrator can see and retry."""

from __future__ import annotations

from engine.scheduling.timers import fire_due
from tests.conformance.models import counting_loop


def _deploy(api, xml):
    r = api.deploy_xml(xml)
    assert r.status_code == 201, r.get_json()


def _start(api, key):
    r = api.post(f"/api/process-definitions/{key}/instances", "counter_staff", json={"data": {}})
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def _instance(api, iid):
    return api.get(f"/api/process-instances/{iid}", "admin").get_json()


def _drain(engine, rounds: int = 100) -> int:
    fired = 0
    for _ in range(rounds):
        n = fire_due(engine)
        if not n:
            return fired
        fired += n
    return fired


def test_a_loop_of_1000_turns_ends_at_1000_and_goes_on(api, engine):
    """Past the tree depth (1,000) at which SpiffWorkflow's iterators stop: it used to end
    'completed' near turn 500, skipping the rest."""
    _deploy(api, counting_loop("loop_1000", 1000))
    inst = _start(api, "loop_1000")
    assert inst["status"] == "running"
    _drain(engine)  # ~2,000 automatic steps: the default chunk, then a continuation
    inst = _instance(api, inst["id"])
    assert inst["status"] == "running"
    assert inst["data"]["counter"] == 1000
    assert [t["element_id"] for t in inst["open_tasks"]] == ["after"]
    task = inst["open_tasks"][0]
    r = api.post(f"/api/tasks/{task['id']}/complete", "counter_staff", json={"data": {"note": "done"}})
    assert r.status_code == 200, r.get_json()
    done = _instance(api, inst["id"])
    assert done["status"] == "completed"
    assert {"init", "step", "more", "after", "end"} <= set(done["completed_elements"])


def test_a_long_run_continues_in_chunks_until_it_waits(api, small_chunks):
    engine = small_chunks
    _deploy(api, counting_loop("loop_chunks", 1000))  # ~2,000 steps
    inst = _start(api, "loop_chunks")
    first = _instance(api, inst["id"])
    assert first["status"] == "running" and first["open_tasks"] == []
    assert 0 < first["data"]["counter"] < 1000  # paused after one chunk, state committed
    fired = _drain(engine)
    assert fired >= 5  # 2,000 steps in chunks of 300
    after = _instance(api, inst["id"])
    assert after["status"] == "running"
    assert after["data"]["counter"] == 1000
    assert [t["element_id"] for t in after["open_tasks"]] == ["after"]
    timeline = api.get(f"/api/process-instances/{inst['id']}/timeline", "auditor").get_json()["events"]
    actions = [e["action"] for e in timeline]
    assert "instance_completed" not in actions
    assert actions.count("instance_continued") == actions.count("instance_continued_later") >= 5
    assert "timer_fired" not in actions  # a continuation is no timer of the model
    assert actions.count("task_created") == 1


def test_an_endless_loop_becomes_an_incident_and_retry_continues_it(api, small_chunks):
    engine = small_chunks
    _deploy(api, counting_loop("loop_forever", None))
    inst = _start(api, "loop_forever")
    _drain(engine)
    stuck = _instance(api, inst["id"])
    assert stuck["status"] == "incident"
    assert stuck["incident"]["element_id"] in ("step", "more")
    assert "[limit: steps]" in stuck["incident"]["message"]
    counter = stuck["data"]["counter"]
    assert 1000 <= counter <= 1600  # 3,000 automatic steps, two per turn
    incidents = api.get("/api/process-instances?status=incident", "admin").get_json()["items"]
    assert inst["id"] in [i["id"] for i in incidents]
    r = api.post(f"/api/process-instances/{inst['id']}/retry", "admin", json={})
    assert r.status_code == 200, r.get_json()
    _drain(engine)
    again = _instance(api, inst["id"])
    assert again["status"] == "incident" and again["data"]["counter"] > counter
