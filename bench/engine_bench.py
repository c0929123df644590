"""Engine benchmark: prints one JSON object with the figures of the engine issue.

    python bench/engine_bench.py [--lifecycles N] [--http-lifecycles N] [--clients 1] [--workers 1]
                                 [--threads 4] [--history N] [--stack]
                                 [--postgres ADMIN_URL | --database-url URL]

* lifecycles/s of a 4-user-task process (start + 4 completions), in-process through the
  engine services (a transaction per step, SQLite by default) and over HTTP against
  ``bpm serve`` (gunicorn) with concurrent clients; over HTTP each step lists the caller's
  tasks first, as a clerk's page does (start, then 4 x list + complete);
* ``--history N``: N completed tasks are in the database before anything is measured;
* p50/p95 task-completion latency for both;
* raw SpiffWorkflow in memory on the same process (no persistence) for the ratio;
* step cost and stored state size at loop iteration 10 vs 1000;
* ``--stack``: serve with ``bpm stack up`` (the production shape) instead of ``bpm serve``;
  ``--postgres ADMIN_URL``: on a PostgreSQL database of its own, dropped afterwards;
  ``--lifecycles 0`` / ``--loop 0`` skip the in-process phases.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "bench" / "models"  # the benchmarks' own models (never the tests' fixtures)
ROLES = ["counter_staff", "duty_manager", "hall_manager", "info_clerk"]


def pct(values, q):
    values = sorted(values)
    return round(values[min(len(values) - 1, int(q * len(values)))] * 1000, 3)


def make_engine(url: str | None, var_dir: Path):
    from engine.app import BpmEngine
    from engine.config import load_settings
    from engine.ops.setup import deploy_path, init_database

    settings = load_settings(var_dir=var_dir, **({"database_url": url} if url else {}))
    engine = BpmEngine(settings)
    quiet = lambda *_: None  # noqa: E731
    init_database(engine, echo=quiet)
    for name in ("simple_note.form", "case_start.form", "four_step.bpmn"):
        deploy_path(engine, MODELS / name, echo=quiet)
    deploy_path(engine, MODELS / "loop.bpmn", echo=quiet)
    return engine


def add_bench_users(engine, extra: tuple[tuple[str, list[str]], ...] = ()) -> None:
    """One user per role of the model (password ``bench``) and ``extra`` ``(username, roles)``;
    those already there are kept."""
    from engine.identity import auth as identity
    from engine.identity import users
    from engine.identity.actor import SYSTEM

    with engine.uow(SYSTEM) as uow:
        known = {u["username"] for u in users.list_users(uow.session, SYSTEM)}
        for username, roles in (*((role, [role]) for role in ROLES), *extra):
            if username not in known:
                identity.add_user(uow.session, username, "bench", roles)


def rate_limits_off() -> dict[str, str]:
    """The server's environment that takes the per-user rate limits out of a benchmark's way (they
    are still counted, as in production, but never reached: 30 starts a minute would be)."""
    from engine.config import RATE_LIMITS

    return {f"BPM_RATE_LIMIT_{kind.upper()}": "1000000/minute" for kind in RATE_LIMITS}


def in_process(engine, n: int) -> dict:
    from engine.identity.actor import Actor
    from engine.runtime import instances, tasks

    actors = {r: Actor(r, frozenset({r})) for r in ROLES}
    latencies = []

    def lifecycle():
        with engine.uow(actors["counter_staff"]) as uow:
            instances.start(engine, uow, "four_step", {"count": 1})
            task_id = uow.created_tasks[0]
        for role in ROLES:
            t0 = time.perf_counter()
            with engine.uow(actors[role]) as uow:
                task, inst = tasks.complete(engine, uow, task_id, {"note": "ok", "amount": 1})
                created = uow.created_tasks
            latencies.append(time.perf_counter() - t0)
            task_id = created[0] if created else None

    for _ in range(20):
        lifecycle()
    latencies.clear()
    t0 = time.perf_counter()
    for _ in range(n):
        lifecycle()
    elapsed = time.perf_counter() - t0
    return {"lifecycles_per_s": round(n / elapsed, 1), "complete_p50_ms": pct(latencies, 0.5), "complete_p95_ms": pct(latencies, 0.95)}


def _open_task(engine, instance_id):
    from sqlalchemy import select

    from engine.store.models import Task

    with engine.read() as session:
        return session.execute(select(Task.id).where(Task.instance_id == instance_id, Task.status == "open")).scalar_one()


def raw_spiff(n: int) -> dict:
    from SpiffWorkflow.bpmn import BpmnWorkflow
    from SpiffWorkflow.bpmn.parser import BpmnParser
    from SpiffWorkflow.util.task import TaskState

    parser = BpmnParser()
    parser.add_bpmn_file(str(MODELS / "four_step.bpmn"))
    spec = parser.get_spec("four_step")
    t0 = time.perf_counter()
    for _ in range(n):
        wf = BpmnWorkflow(spec)
        wf.do_engine_steps()
        for _ in range(4):
            task = wf.get_tasks(state=TaskState.READY, manual=True)[0]
            task.data.update({"note": "ok", "amount": 1})
            task.run()
            wf.do_engine_steps()
        assert wf.is_completed()
    return {"lifecycles_per_s": round(n / (time.perf_counter() - t0), 1)}


def loop_cost(engine, iterations: int = 1000) -> dict:
    from sqlalchemy import select

    from engine.identity.actor import Actor
    from engine.runtime import instances, tasks
    from engine.store.models import ProcessInstance

    who = Actor("counter_staff", frozenset({"counter_staff"}))
    with engine.uow(who) as uow:
        inst = instances.start(engine, uow, "bench_loop", {})
        inst_id = inst.id
    task_id = _open_task(engine, inst_id)
    samples, sizes = {}, {}
    for i in range(1, iterations + 1):
        t0 = time.perf_counter()
        with engine.uow(who) as uow:
            tasks.complete(engine, uow, task_id, {"note": f"i{i}", "amount": i % 1000, "approved": False})
            task_id = uow.created_tasks[0]
        samples[i] = time.perf_counter() - t0
        if i in (10, iterations):
            with engine.read() as session:
                sizes[i] = len(session.execute(select(ProcessInstance.state).where(ProcessInstance.id == inst_id)).scalar_one())
    # median of a window around each point keeps one noisy sample from deciding the ratio
    early = statistics.median(samples[i] for i in range(5, 16))
    late = statistics.median(samples[i] for i in range(iterations - 10, iterations + 1))
    return {
        "iterations": iterations,
        "step_ms_at_10": round(early * 1000, 3),
        f"step_ms_at_{iterations}": round(late * 1000, 3),
        "step_ratio_1000_vs_10": round(late / early, 2),
        "state_bytes_at_10": sizes[10],
        f"state_bytes_at_{iterations}": sizes[iterations],
    }


def add_history(engine, count: int) -> None:
    """``count`` completed tasks of the benchmark's roles (with their instance), inserted in bulk."""
    import uuid
    from datetime import timedelta

    from sqlalchemy import insert

    from engine.clock import utcnow
    from engine.identity.actor import Actor
    from engine.runtime import instances
    from engine.store.models import Task

    with engine.uow(Actor("counter_staff", frozenset({"counter_staff"}))) as uow:
        inst_id = instances.start(engine, uow, "four_step", {"count": 1}).id
    old = utcnow() - timedelta(days=400)
    with engine.db.engine.begin() as conn:
        for start in range(0, count, 20_000):
            conn.execute(insert(Task.__table__), [
                {"id": str(uuid.uuid4()), "instance_id": inst_id, "process_key": "four_step", "element_id": "t1",
                 "name": "填写 Fill in", "form_key": "simple_note", "form_version": 1,
                 "candidate_groups": [ROLES[n % len(ROLES)]], "properties": {}, "status": "completed",
                 "assignee": ROLES[n % len(ROLES)], "created_at": old, "claimed_at": old, "completed_at": old,
                 "completed_by": ROLES[n % len(ROLES)]} for n in range(start, min(count, start + 20_000))])


def _server_command(port: int, workers: int, server_threads: int, stack: bool) -> list[str]:
    if stack:  # the production shape: supervisor, gunicorn, a timer worker (no Prefect jobs)
        return [sys.executable, "-c", "import sys; from bpm_cli.main import main; sys.exit(main(prog_name='bpm'))",
                "stack", "up", "--port", str(port), "--web-workers", str(workers), "--threads", str(server_threads),
                "--timer-workers", "1", "--no-jobs"]
    return [sys.executable, "-m", "bpm_cli.main", "serve", "--port", str(port), "--workers", str(workers),
            "--threads", str(server_threads), "--no-timers"]


def over_http(var_dir: Path, url: str | None, n: int, clients: int, workers: int, server_threads: int,
              stack: bool = False) -> dict:
    import requests

    from bench.harness.servers import free_port, wait_ready

    port = free_port()
    env = {**os.environ, "BPM_VAR_DIR": str(var_dir), **rate_limits_off()}
    if url:
        env["BPM_DATABASE_URL"] = url
    server = subprocess.Popen(_server_command(port, workers, server_threads, stack), env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(server, base + "/api/health", 120, "bpm serve")
        tokens = {}
        for role in ROLES:
            r = requests.post(base + "/api/auth/token", json={"username": role, "password": "bench"}, timeout=10)
            tokens[role] = {"Authorization": f"Bearer {r.json()['token']}"}
        latencies, list_latencies, errors = [], [], []
        lock = threading.Lock()

        def worker(count):
            s = requests.Session()
            for _ in range(count):
                r = s.post(base + "/api/process-definitions/four_step/instances", json={"data": {}}, headers=tokens["counter_staff"])
                if r.status_code != 201:
                    errors.append(r.status_code)
                    continue
                task_id = r.json()["open_tasks"][0]["id"]
                for role in ROLES:
                    t_list = time.perf_counter()
                    listed = s.get(f"{base}/api/tasks?scope=candidate&per_page=20", headers=tokens[role])
                    if listed.status_code != 200:
                        errors.append(listed.status_code)
                        break
                    with lock:
                        list_latencies.append(time.perf_counter() - t_list)
                    t0 = time.perf_counter()
                    r = s.post(f"{base}/api/tasks/{task_id}/complete", json={"data": {"note": "ok"}}, headers=tokens[role])
                    dt = time.perf_counter() - t0
                    if r.status_code != 200:
                        errors.append(r.status_code)
                        break
                    with lock:
                        latencies.append(dt)
                    open_tasks = r.json()["instance"]["open_tasks"]
                    task_id = open_tasks[0]["id"] if open_tasks else None

        per = max(1, n // clients)
        warm = threading.Thread(target=worker, args=(5,))
        warm.start()
        warm.join()
        latencies.clear()
        list_latencies.clear()
        threads = [threading.Thread(target=worker, args=(per,)) for _ in range(clients)]
        from bench.harness.cpu import CpuWatch

        t0 = time.perf_counter()
        with CpuWatch(server.pid) as cpu:
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        elapsed = time.perf_counter() - t0
        return {
            "lifecycles_per_s": round(per * clients / elapsed, 1),
            "complete_p50_ms": pct(latencies, 0.5),
            "complete_p95_ms": pct(latencies, 0.95),
            "list_p50_ms": pct(list_latencies, 0.5),
            "list_p95_ms": pct(list_latencies, 0.95),
            "clients": clients,
            "server": "bpm stack up (1 timer worker, no jobs)" if stack else "bpm serve --no-timers",
            "gunicorn_workers": workers,
            "gunicorn_threads": server_threads,
            "errors": len(errors),
            "error_statuses": sorted(set(errors)),
            "rate_limits": "off",
            # shares of all cores while measuring: this client, the server's processes, the rest (the database)
            "cpu": cpu.report(),
        }
    finally:
        server.terminate()  # the stack's supervisor stops its children before it exits
        server.wait(60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lifecycles", type=int, default=500)
    parser.add_argument("--http-lifecycles", type=int, default=400)
    parser.add_argument("--clients", type=int, default=1)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--history", type=int, default=0, help="completed tasks in the database before measuring")
    parser.add_argument("--loop", type=int, default=1000)
    parser.add_argument("--database-url", default=None, help="default: SQLite in a temporary folder")
    parser.add_argument("--postgres", default=None, metavar="ADMIN_URL",
                        help="run on a fresh PostgreSQL database created (and dropped) through this admin URL")
    parser.add_argument("--stack", action="store_true",
                        help="serve with `bpm stack up` (supervisor, --workers gunicorn workers, a timer worker)")
    args = parser.parse_args()
    import logging

    logging.disable(logging.WARNING)
    sys.path.insert(0, str(ROOT))
    from bench.harness.databases import benchmark_database

    with benchmark_database(args, "bench_engine") as url:
        args.database_url = url
        run(args)


def run(args) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        var_dir = Path(tmp)
        engine = make_engine(args.database_url, var_dir)
        add_bench_users(engine)
        if args.history:
            add_history(engine, args.history)
        result = {
            "database": engine.db.engine.dialect.name,
            "history_completed_tasks": args.history,
            "machine_cpus": os.cpu_count(),
        }
        if args.lifecycles:
            result["in_process"] = in_process(engine, args.lifecycles)
            result["raw_spiffworkflow_in_memory"] = raw_spiff(args.lifecycles)
            result["in_process_vs_raw"] = round(
                result["in_process"]["lifecycles_per_s"] / result["raw_spiffworkflow_in_memory"]["lifecycles_per_s"], 3)
        if args.loop:
            result["loop"] = loop_cost(engine, args.loop)
        engine.close()
        if args.http_lifecycles:
            result["http"] = over_http(var_dir, args.database_url, args.http_lifecycles, args.clients, args.workers,
                                       args.threads, args.stack)
            if "raw_spiffworkflow_in_memory" in result:
                result["http_vs_raw"] = round(
                    result["http"]["lifecycles_per_s"] / result["raw_spiffworkflow_in_memory"]["lifecycles_per_s"], 4)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
