"""`bpm external-worker` against a served engine (`bpm serve`), on SQLite and PostgreSQL: a worker
killed with SIGKILL in the middle of a task loses nothing and duplicates nothing. Its lock expires,
a second worker takes the task over and completes it once; the handler's side effect (idempotent
by task id, tests/support/worker_handlers.py) is recorded once; a SIGTERM'd worker finishes the
task in hand and exits cleanly."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest
import requests

from tests.conformance.models import flow, process, user_task
from tests.conftest import ROOT, temporary_pg_database

BPM = Path(sys.executable).with_name("bpm")
CONNECTORS = """
[topics.slow]
name = "slow work"
accounts = ["integration"]
lock_duration_ms = 1500
handler = "tests.support.worker_handlers:record"
"""


def _port() -> int:
    with closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(params=["sqlite", "postgresql"])
def served(request, tmp_path):
    env = {**os.environ, "BPM_VAR_DIR": str(tmp_path / "var"), "BPM_CONNECTORS": str(tmp_path / "connectors.toml"),
           "BPM_RATE_LIMIT_LOGINS": "10000/minute", "PYTHONPATH": str(ROOT)}
    shipped = (ROOT / "processes" / "connectors.toml").read_text(encoding="utf-8")  # the shipped processes' topics
    (tmp_path / "connectors.toml").write_text(shipped + CONNECTORS, encoding="utf-8")
    env.pop("BPM_DATABASE_URL", None)
    if request.param == "postgresql":
        from tests.conftest import require_postgres

        require_postgres()
        with temporary_pg_database("bpm_worker") as url:
            env["BPM_DATABASE_URL"] = url
            yield from _serve(env, tmp_path)
    else:
        yield from _serve(env, tmp_path)


def _serve(env: dict, tmp_path: Path):
    subprocess.run([str(BPM), "init", "--demo"], env=env, check=True, capture_output=True, timeout=300, cwd=ROOT)
    port = _port()
    log = open(tmp_path / "serve.log", "wb")
    proc = subprocess.Popen([str(BPM), "serve", "--host", "127.0.0.1", "--port", str(port), "--no-timers"],
                            env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if requests.get(base + "/api/health", timeout=2).ok:
                break
        except requests.ConnectionError:
            pass
        assert proc.poll() is None and time.monotonic() < deadline, (tmp_path / "serve.log").read_text()[-2000:]
        time.sleep(0.2)
    yield base, env, tmp_path
    proc.terminate()
    proc.wait(timeout=20)
    log.close()


def _token(base: str, user: str) -> dict:
    r = requests.post(base + "/api/auth/token", json={"username": user, "password": "demo"}, timeout=10)
    return {"Authorization": f"Bearer {r.json()['token']}"}


def _worker(env: dict, tmp_path: Path, name: str, mode: str, base: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "bpm_cli.main", "external-worker", "--topic", "slow", "--url", base,
                             "--worker-id", name, "--poll-ms", "1000"],
                            env={**env, "BPM_WORKER_PASSWORD": "demo", "WORKER_MODE": mode, "WORKER_NAME": name},
                            stdout=open(tmp_path / f"{name}.log", "wb"), stderr=subprocess.STDOUT, cwd=ROOT)


def _wait(predicate, what: str, seconds: float = 60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_worker_killed_mid_task_loses_nothing_and_duplicates_nothing(served):
    base, env, tmp_path = served
    owner, admin = _token(base, "process_owner"), _token(base, "admin")
    form = json.loads((ROOT / "tests" / "fixtures" / "simple_note.form").read_text(encoding="utf-8"))
    assert requests.post(base + "/api/forms", json=form, headers=owner, timeout=30).status_code in (200, 201)
    xml = process("slow_work", "\n".join([
        '<bpmn:startEvent id="start" />',
        '<bpmn:serviceTask id="call" name="call" camunda:type="external" camunda:topic="slow" />',
        user_task("after"), '<bpmn:endEvent id="end" />',
        flow("f1", "start", "call"), flow("f2", "call", "after"), flow("f3", "after", "end")]))
    r = requests.post(base + "/api/process-definitions", data=xml.encode(), timeout=30,
                      headers={**owner, "Content-Type": "application/xml"})
    assert r.status_code == 201, r.text
    r = requests.post(base + "/api/process-definitions/slow_work/instances", json={"data": {}}, timeout=30,
                      headers=_token(base, "counter_staff"))
    iid = r.json()["id"]
    ledger = tmp_path / "var" / "integration" / "worker_test.jsonl"

    first = _worker(env, tmp_path, "first", "hang", base)
    _wait(lambda: ledger.exists() and ledger.read_text().strip(), "the first worker to start the work")
    first.send_signal(signal.SIGKILL)  # mid-task: the work is done, the report never sent
    first.wait(timeout=10)
    second = _worker(env, tmp_path, "second", "fast", base)

    def advanced():
        inst = requests.get(f"{base}/api/process-instances/{iid}", headers=admin, timeout=10).json()
        return [t["element_id"] for t in inst["open_tasks"]] == ["after"] and inst

    inst = _wait(advanced, "the second worker to complete the task after the lock expired")
    assert inst["data"]["recorded_by"] == "second"
    records = [json.loads(line) for line in ledger.read_text().splitlines()]
    assert len(records) == 1  # the side effect happened once, though two workers did the work
    assert inst["data"]["reference"] == records[0]["reference"]
    events = requests.get(f"{base}/api/process-instances/{iid}/timeline", headers=admin, timeout=10).json()["events"]
    locks = [e["details"]["worker_id"] for e in events if e["action"] == "external_task_locked"]
    done = [e["details"]["worker_id"] for e in events if e["action"] == "external_task_completed"]
    assert locks == ["first", "second"] and done == ["second"]

    # SIGTERM: the worker stops cleanly (no task in hand), saying how many it did
    second.send_signal(signal.SIGTERM)
    assert second.wait(timeout=60) == 0
    assert "stopped after 1 tasks" in (tmp_path / "second.log").read_text()
