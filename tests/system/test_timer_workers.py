"""Timer workers as operators run them: several ``bpm worker`` processes on PostgreSQL,
one of them killed with SIGKILL while it fires.

Real clock, real processes, a fresh database per test (``bpm_timer_<hex>``). The process
``tests/fixtures/timer_burst.bpmn`` waits on two parallel timers whose instants come from
the start data, then opens the user task ``after``; every timer must end ``fired`` with
exactly one ``timer_fired`` audit event, and every instance must open ``after`` once.

Further: a fire transaction killed before its commit leaves the timer pending; an idle
worker sleeps until the next due time and notices the engine clock moving; a failing
timer does not hold up the others.

PostgreSQL only (``SKIP LOCKED`` is what is under test): skipped when the server is not
reachable, a failure instead with ``BPM_REQUIRE_POSTGRES=1``.
"""

from __future__ import annotations

import os
import select as io_select
import signal
import statistics
import subprocess
import sys
import textwrap
import threading
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from engine.app import BpmEngine
from engine.audit.chain import verify_chain
from engine.clock import utcnow
from engine.config import load_settings
from engine.identity.actor import Actor
from engine.ops.setup import deploy_path
from engine.runtime import instances
from engine.scheduling.timers import fire_due
from engine.store.migrate import upgrade
from engine.store.models import AuditEvent, Task, Timer
from tests.conftest import FIXTURES, ROOT, require_postgres, temporary_pg_database

STARTER = Actor("counter_staff", frozenset({"counter_staff"}))
INSTANCES = 200
WAIT_SECONDS = 60  # bound on waiting for the workers to drain every due timer


# --------------------------------------------------------------------------- fixtures


@pytest.fixture
def pg_url():
    """A fresh, migrated PostgreSQL database, dropped afterwards."""
    require_postgres("timer worker tests need PostgreSQL (FOR UPDATE SKIP LOCKED);")
    with temporary_pg_database("bpm_timer") as url:
        upgrade(url)
        yield url


@pytest.fixture
def engine(pg_url, tmp_path):
    """An in-process engine on the fresh database with the timer_burst process deployed."""
    eng = BpmEngine(load_settings(database_url=pg_url, var_dir=tmp_path / "var"))
    quiet = lambda *_: None  # noqa: E731
    deploy_path(eng, FIXTURES / "simple_note.form", echo=quiet)
    deploy_path(eng, FIXTURES / "case_start.form", echo=quiet)
    deploy_path(eng, FIXTURES / "timer_burst.bpmn", echo=quiet)
    yield eng
    eng.close()


@pytest.fixture
def workers(pg_url, tmp_path):
    """Start ``bpm worker`` processes by name; every one still running is stopped at the end."""
    started: dict[str, Worker] = {}

    def start(name: str) -> Worker:
        started[name] = Worker(name, pg_url, tmp_path)
        return started[name]

    yield start
    for worker in started.values():
        worker.stop()


class Worker:
    """One ``bpm worker`` subprocess; its database sessions carry ``application_name``."""

    def __init__(self, name: str, url: str, tmp_path: Path) -> None:
        self.name = f"bpm-test-{name}"
        self.log = tmp_path / f"{name}.log"
        env = {**os.environ, "BPM_DATABASE_URL": url, "BPM_VAR_DIR": str(tmp_path / "var"),
               "PYTHONUNBUFFERED": "1", "PGAPPNAME": self.name}
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "bpm_cli.main", "worker"], cwd=ROOT, env=env,
                                         stdout=out, stderr=subprocess.STDOUT)

    def wait_started(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while "timer worker started" not in self.output():
            assert self.proc.poll() is None, f"{self.name} exited:\n{self.output()}"
            assert time.monotonic() < deadline, f"{self.name} did not start:\n{self.output()}"
            time.sleep(0.05)

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


# --------------------------------------------------------------------------- helpers


def start_instances(engine, count: int, wake_a, wake_b_of) -> list[str]:
    """Start ``count`` timer_burst instances; ``wake_b_of(i)`` gives instance i's second instant."""
    ids = []
    for i in range(count):
        with engine.uow(STARTER) as uow:
            data = {"wake_a": wake_a.isoformat(), "wake_b": wake_b_of(i).isoformat()}
            ids.append(instances.start(engine, uow, "timer_burst", data).id)
    return ids


def timer_counts(engine) -> Counter:
    with engine.read() as session:
        return Counter(dict(session.execute(select(Timer.state, func.count()).group_by(Timer.state)).all()))


def in_transaction(engine, application_name: str) -> bool:
    """Whether the named client has a transaction open right now (pg_stat_activity)."""
    query = text("SELECT count(*) FROM pg_stat_activity WHERE application_name = :name AND xact_start IS NOT NULL")
    with engine.read() as session:
        return session.execute(query, {"name": application_name}).scalar_one() > 0


def connected(engine, application_name: str) -> bool:
    query = text("SELECT count(*) FROM pg_stat_activity WHERE application_name = :name")
    with engine.read() as session:
        return session.execute(query, {"name": application_name}).scalar_one() > 0


def wait_until(condition, timeout: float, message: str, interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, message
        time.sleep(interval)


def fired_events(engine) -> Counter:
    """``timer_fired`` audit events per (instance, element)."""
    with engine.read() as session:
        rows = session.execute(
            select(AuditEvent.instance_id, AuditEvent.element_id).where(AuditEvent.action == "timer_fired")
        ).all()
    return Counter((r.instance_id, r.element_id) for r in rows)


def assert_each_timer_fired_once(engine, ids: list[str], elements=("wait_a", "wait_b")) -> list:
    """Every expected timer row fired, with exactly one ``timer_fired`` event; returns the rows."""
    with engine.read() as session:
        rows = session.execute(
            select(Timer.instance_id, Timer.element_id, Timer.state, Timer.fire_at, Timer.fired_at)
            .where(Timer.instance_id.in_(ids))
        ).all()
    assert sorted((r.instance_id, r.element_id) for r in rows) == sorted((i, e) for i in ids for e in elements)
    assert [r for r in rows if r.state != "fired" or r.fired_at is None] == []
    assert all(r.fired_at > r.fire_at for r in rows), "a timer fired before it was due"
    events = fired_events(engine)
    assert {(r.instance_id, r.element_id): events[(r.instance_id, r.element_id)] for r in rows} == {
        (r.instance_id, r.element_id): 1 for r in rows
    }
    assert sum(n for (instance_id, _), n in events.items() if instance_id in set(ids)) == len(rows)
    return rows


def assert_each_instance_advanced_once(engine, ids: list[str]) -> None:
    with engine.read() as session:
        after = Counter(session.execute(
            select(Task.instance_id).where(Task.instance_id.in_(ids), Task.element_id == "after")
        ).scalars())
        states = Counter(session.execute(
            select(Task.status).where(Task.instance_id.in_(ids), Task.element_id == "after")
        ).scalars())
    assert {i: after[i] for i in ids} == {i: 1 for i in ids}
    assert states == {"open": len(ids)}


def assert_chain_verifies(engine) -> None:
    with engine.read() as session:
        report = verify_chain(session)
    assert report["ok"], report


def lateness_ms(rows) -> dict:
    late = sorted((r.fired_at - r.fire_at).total_seconds() * 1000 for r in rows)
    return {"n": len(late), "p50_ms": round(statistics.median(late), 1),
            "p99_ms": round(late[min(len(late) - 1, int(0.99 * len(late)))], 1), "max_ms": round(late[-1], 1)}


# --------------------------------------------------------------------------- tests


def test_two_workers_one_killed_mid_burst_fire_every_timer_once(engine, workers):
    w1, w2 = workers("w1"), workers("w2")
    w1.wait_started()
    w2.wait_started()
    # every instance's wait_a falls due at one instant (a burst the workers need a while
    # for); wait_b with it for even instances (one step fires both), half a second later
    # for odd ones (a step of its own)
    # The instant must still lie ahead when the last instance is started (a due time already
    # past fires inside the start, with no timer row): the lead time follows how fast this
    # machine starts instances right now, measured on a few whose timers are already due.
    began = time.monotonic()
    past = utcnow() - timedelta(seconds=1)
    start_instances(engine, 10, past, lambda i: past)
    per_instance = (time.monotonic() - began) / 10
    wake = utcnow() + timedelta(seconds=2 + 2 * per_instance * INSTANCES)
    ids = start_instances(engine, INSTANCES, wake, lambda i: wake if i % 2 == 0 else wake + timedelta(milliseconds=500))
    assert timer_counts(engine)["pending"] == 2 * INSTANCES, "the burst instant passed while starting the instances"
    total = 2 * INSTANCES

    # kill w1 partway through the burst, at a moment it has a fire transaction open
    wait_until(lambda: timer_counts(engine)["fired"] >= total // 5, 30, "the workers fired nothing")
    deadline = time.monotonic() + 5
    mid_transaction = False
    while not mid_transaction and time.monotonic() < deadline:
        mid_transaction = in_transaction(engine, w1.name)
    w1.kill()
    fired_at_kill = timer_counts(engine)["fired"]
    assert fired_at_kill < total, "the burst was over before w1 was killed; start more instances"
    w3 = workers("w3")
    w3.wait_started()

    wait_until(lambda: timer_counts(engine)["pending"] == 0, WAIT_SECONDS,
               f"timers still pending after {WAIT_SECONDS} s: {timer_counts(engine)}\n{w2.output()}\n{w3.output()}")
    rows = assert_each_timer_fired_once(engine, ids)
    assert_each_instance_advanced_once(engine, ids)
    assert_chain_verifies(engine)
    for worker in (w2, w3):
        assert "Traceback" not in worker.output(), worker.output()
    print(f"\nkilled w1 with {fired_at_kill}/{total} timers fired (in a transaction: {mid_transaction}); "
          f"lateness fired_at - fire_at over the burst: {lateness_ms(rows)}")


HOLDER = textwrap.dedent(
    """
    # Take a due timer the way a worker does, write 'fired' and never commit.
    import sys, time
    import psycopg
    url, timer_id = sys.argv[1], int(sys.argv[2])
    conn = psycopg.connect(url, application_name="bpm-test-holder")
    conn.execute("SELECT t.id FROM bpm_timer t JOIN bpm_process_instance i ON i.id = t.instance_id "
                 "WHERE t.id = %s FOR UPDATE OF t, i", (timer_id,))
    conn.execute("UPDATE bpm_timer SET state = 'fired', fired_at = now(), attempts = attempts + 1 WHERE id = %s",
                 (timer_id,))
    print("locked", flush=True)
    time.sleep(600)
    """
)


def read_line(proc, timeout: float) -> str:
    ready, _, _ = io_select.select([proc.stdout], [], [], timeout)
    assert ready, "the lock holder did not report"
    return proc.stdout.readline().decode().strip()


def test_fire_transaction_killed_before_commit_leaves_the_timer_pending(engine, pg_url):
    now = utcnow()
    due_soon, much_later = now + timedelta(milliseconds=300), now + timedelta(hours=1)
    [held] = start_instances(engine, 1, due_soon, lambda i: much_later)  # only wait_a falls due
    [other] = start_instances(engine, 1, due_soon, lambda i: due_soon)
    time.sleep(max(0.0, (due_soon - utcnow()).total_seconds()) + 0.05)
    with engine.read() as session:
        timer_id = session.execute(
            select(Timer.id).where(Timer.instance_id == held, Timer.element_id == "wait_a")
        ).scalar_one()

    dsn = pg_url.replace("postgresql+psycopg://", "postgresql://", 1)
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, dsn, str(timer_id)], stdout=subprocess.PIPE)
    try:
        assert read_line(holder, 30) == "locked"
        # a worker neither waits for the held row nor fires it; the other instance goes on
        result = {}
        firing = threading.Thread(target=lambda: result.update(n=fire_due(engine)))
        firing.start()
        firing.join(30)
        assert not firing.is_alive(), "the worker waited for the held timer"
        assert result["n"] == 1
        assert_each_timer_fired_once(engine, [other])
        with engine.read() as session:
            row = session.get(Timer, timer_id)
            assert (row.state, row.fired_at, row.attempts) == ("pending", None, 0)
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(10)
    wait_until(lambda: not connected(engine, "bpm-test-holder"), 10, "the killed holder's session did not end")

    with engine.read() as session:
        row = session.get(Timer, timer_id)
        assert (row.state, row.fired_at, row.attempts) == ("pending", None, 0)  # its write died with it
    assert fire_due(engine) == 1
    assert fire_due(engine) == 0
    with engine.read() as session:
        row = session.get(Timer, timer_id)
        assert (row.state, row.attempts) == ("fired", 1)
        wait_b = session.execute(select(Timer.state).where(Timer.instance_id == held, Timer.element_id == "wait_b")).scalar_one()
        assert wait_b == "pending"  # not due for an hour: the instance still waits for it
        assert session.execute(select(func.count()).where(Task.instance_id == held)).scalar_one() == 0
    assert fired_events(engine)[(held, "wait_a")] == 1
    assert_chain_verifies(engine)


# --------------------------------------------------------------------------- the idle worker


@pytest.fixture
def worker_thread(engine):
    """Run :func:`engine.scheduling.timers.run_worker` in a thread with a long poll interval, so that
    anything it fires sooner was found by waiting for the due time, not by polling."""
    from engine.clock import clock
    from engine.scheduling.timers import run_worker

    stop = threading.Event()
    thread = threading.Thread(target=run_worker, args=(engine, stop, 30.0), daemon=True)
    yield thread
    stop.set()
    thread.join(10)
    clock.reset()


def timer_state(engine, instance_id: str, element: str = "wait_a"):
    with engine.read() as session:
        return session.execute(
            select(Timer.state, Timer.fire_at, Timer.fired_at).where(Timer.instance_id == instance_id, Timer.element_id == element)
        ).one()


def test_idle_worker_sleeps_until_the_next_due_time(engine, worker_thread):
    due = utcnow() + timedelta(seconds=1.5)
    [iid] = start_instances(engine, 1, due, lambda i: due)
    worker_thread.start()  # reads the next due time, then sleeps until it (the poll interval is 30 s)
    wait_until(lambda: timer_state(engine, iid).state == "fired", 10, "the worker did not wake for the due time")
    state = timer_state(engine, iid)
    print(f"\nfired {(state.fired_at - state.fire_at).total_seconds() * 1000:.1f} ms after it was due")


def test_idle_worker_notices_the_engine_clock_moving(engine, worker_thread):
    from engine.clock import clock

    worker_thread.start()
    time.sleep(0.3)  # idle, nothing pending: it would next look after the 30 s poll interval
    in_an_hour = utcnow() + timedelta(hours=1)
    [iid] = start_instances(engine, 1, in_an_hour, lambda i: in_an_hour)
    time.sleep(0.3)
    assert timer_state(engine, iid).state == "pending"
    clock.advance(timedelta(hours=1, seconds=1))
    wait_until(lambda: timer_state(engine, iid).state == "fired", 5, "the worker did not notice the clock moving")


def test_a_failing_timer_does_not_hold_up_the_others(engine, monkeypatch):
    import engine.scheduling.timers as timer_service

    due = utcnow() + timedelta(milliseconds=200)
    broken, fine = start_instances(engine, 2, due, lambda i: due)
    time.sleep(0.3)
    original = timer_service.load_workflow

    def load(eng, inst, definition):
        if inst.id == broken:
            raise RuntimeError("state cannot be read")
        return original(eng, inst, definition)

    monkeypatch.setattr(timer_service, "load_workflow", load)
    assert fire_due(engine) == 1  # the broken one is tried once, recorded and skipped; the other fires
    assert_each_timer_fired_once(engine, [fine])
    with engine.read() as session:
        rows = session.execute(select(Timer.state, Timer.attempts, Timer.last_error).where(Timer.instance_id == broken)).all()
    assert {r.state for r in rows} == {"pending"} and max(r.attempts for r in rows) == 1
    assert "RuntimeError: state cannot be read" in {r.last_error for r in rows if r.attempts}
    monkeypatch.setattr(timer_service, "load_workflow", original)
    assert fire_due(engine) == 1
    assert_each_timer_fired_once(engine, [broken, fine])
