"""Races on one task: two users completing or claiming it at the same moment.

Each thread has its own Flask test client; a barrier releases both requests together.
Exactly one wins, the other gets 409, and the instance advances exactly once.

On PostgreSQL a second barrier inside the engine (right after the permission/state
check) makes the overlap certain: both requests have seen the task open before either
writes. SQLite serializes writers (``BEGIN IMMEDIATE``), so there the second request
always sees the first one's commit; the race still has to end in one 200 and one 409.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager

import pytest

import engine.runtime.tasks as task_service

RACES = 5
NOTE = {"note": "race", "amount": 1}


# --------------------------------------------------------------------------- helpers


def start(api):
    r = api.post("/api/process-definitions/four_step/instances", "counter_staff", json={"data": {}})
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def race(app, tokens, calls):
    """Run ``calls`` = [(user, method, path, json)] at the same moment; return responses in order."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def worker(i, user, method, path, body):
        client = app.test_client()
        headers = {"Authorization": f"Bearer {tokens[user]}"}
        try:
            barrier.wait(timeout=10)
            r = client.open(path, method=method, json=body, headers=headers)
            results[i] = (r.status_code, r.get_json())
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            results[i] = ("exception", repr(exc))

    threads = [threading.Thread(target=worker, args=(i, *call)) for i, call in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a request hung"
    return results


class Overlap:
    """Holds both racing requests right after their permission/state check (PostgreSQL only)."""

    def __init__(self, active: bool) -> None:
        self.active = active
        self.barrier: threading.Barrier | None = None
        self.met = 0
        self._lock = threading.Lock()

    def wait(self) -> None:
        barrier = self.barrier
        if barrier is None:
            return
        try:
            barrier.wait(timeout=5)
        except threading.BrokenBarrierError:
            return
        with self._lock:
            self.met += 1

    @contextmanager
    def racing(self):
        self.barrier = threading.Barrier(2) if self.active else None
        self.met = 0
        try:
            yield
        finally:
            self.barrier = None

    @property
    def overlapped(self) -> bool:
        """Both requests had passed their checks before either wrote."""
        return self.met == 2


@pytest.fixture
def overlap(engine, monkeypatch):
    hold = Overlap(engine.db.is_postgres)
    if hold.active:
        original = task_service._check_worker

        def checked_then_wait(actor, task, verb):
            original(actor, task, verb)
            hold.wait()

        monkeypatch.setattr(task_service, "_check_worker", checked_then_wait)
    return hold


def timeline(api, instance_id):
    return api.get(f"/api/process-instances/{instance_id}/timeline", "auditor").get_json()["events"]


# --------------------------------------------------------------------------- tests


def test_two_users_completing_the_same_task_at_once(four_step, app, tokens, overlap):
    api = four_step
    for _ in range(RACES):
        inst = start(api)
        tid = inst["open_tasks"][0]["id"]
        path = f"/api/tasks/{tid}/complete"
        with overlap.racing():
            results = race(app, tokens, [("counter_staff", "POST", path, {"data": NOTE}),
                                         ("counter2", "POST", path, {"data": NOTE})])
        statuses = sorted(r[0] for r in results)
        assert statuses == [200, 409], results
        assert overlap.overlapped == overlap.active
        winner = ["counter_staff", "counter2"][[r[0] for r in results].index(200)]
        loser_body = next(r[1] for r in results if r[0] == 409)
        assert loser_body["error"] == "conflict"

        detail = api.get(f"/api/process-instances/{inst['id']}", "admin").get_json()
        assert detail["status"] == "running"
        assert [t["element_id"] for t in detail["open_tasks"]] == ["t2"], detail["open_tasks"]
        events = timeline(api, inst["id"])
        done = [e for e in events if e["action"] == "task_completed"]
        assert len(done) == 1 and done[0]["task_id"] == tid and done[0]["actor"] == winner
        assert [e["action"] for e in events].count("task_created") == 2
        task = api.get(f"/api/tasks/{tid}", "admin").get_json()
        assert task["status"] == "completed" and task["completed_by"] == winner

        # the instance state is consistent: the next step completes normally
        t2 = detail["open_tasks"][0]["id"]
        r = api.post(f"/api/tasks/{t2}/complete", "duty_manager", json={"data": NOTE})
        assert r.status_code == 200, r.get_json()
        assert [t["element_id"] for t in r.get_json()["instance"]["open_tasks"]] == ["t3"]


def test_two_users_claiming_the_same_task_at_once(four_step, app, tokens, overlap):
    api = four_step
    for _ in range(RACES):
        inst = start(api)
        tid = inst["open_tasks"][0]["id"]
        path = f"/api/tasks/{tid}/claim"
        with overlap.racing():
            results = race(app, tokens, [("counter_staff", "POST", path, None), ("counter2", "POST", path, None)])
        assert sorted(r[0] for r in results) == [200, 409], results
        assert overlap.overlapped == overlap.active
        winner = next(r[1]["assignee"] for r in results if r[0] == 200)
        assert api.get(f"/api/tasks/{tid}", "admin").get_json()["assignee"] == winner
        claims = [e for e in timeline(api, inst["id"]) if e["action"] == "task_claimed"]
        assert len(claims) == 1 and claims[0]["actor"] == winner


def test_completing_different_instances_in_parallel_all_succeed(four_step, app, tokens):
    """No false conflicts: independent instances do not block each other into 409s."""
    api = four_step
    insts = [start(api) for _ in range(4)]
    calls = [("counter_staff" if i % 2 else "counter2", "POST", f"/api/tasks/{inst['open_tasks'][0]['id']}/complete",
              {"data": NOTE}) for i, inst in enumerate(insts)]
    results = race(app, tokens, calls)
    assert [r[0] for r in results] == [200] * 4, results
    for inst in insts:
        detail = api.get(f"/api/process-instances/{inst['id']}", "admin").get_json()
        assert [t["element_id"] for t in detail["open_tasks"]] == ["t2"]
