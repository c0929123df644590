"""External tasks: fetch-and-lock latency with many open tasks, and throughput with racing workers.

    python bench/external_bench.py [--open 10000] [--workers 4] [--complete 2000] [--postgres ADMIN_URL | --database-url URL]

Starts ``--open`` instances of ``bench/models/external_one.bpmn`` (each waits at one external
task of topic ``bench``), then:

* ``fetch_lock_ms``: 300 fetch-and-lock calls (at most half the pool) (one task each) by one worker against that pool,
  median and p95;
* ``completed_per_second``: ``--workers`` worker processes race over the pool, each fetching 10
  at a time and completing each task (which runs its instance to the end), until ``--complete``
  tasks are done; also whether any task was completed twice (it must not).

With ``--postgres ADMIN_URL`` (e.g. postgresql://postgres@127.0.0.1:5432/test) a fresh database is
created for the run and dropped after; the default is a SQLite file. Workers call the engine's
services directly (what the REST endpoints call), so the figures are the engine's, not HTTP's.
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness.databases import benchmark_database  # noqa: E402 - after the path is set

TOPICS = {"bench": {"name": "bench", "accounts": ["bench-worker"], "handler": None, "settings": {},
                    "lock_duration_ms": 60_000}}


def _engine(url: str, var: Path):
    from engine.app import BpmEngine
    from engine.config import load_settings

    engine = BpmEngine(load_settings(database_url=url, var_dir=var))
    engine._external_topics = TOPICS
    return engine


def _worker(url: str, var: str, name: str, until: int, out) -> None:
    from sqlalchemy import func, select

    from engine.errors import Conflict
    from engine.identity.actor import Actor
    from engine.runtime import external
    from engine.store.models import ExternalTask

    engine = _engine(url, Path(var))
    actor = Actor("bench-worker", frozenset({"integration"}))
    done = conflicts = 0
    while True:
        with engine.read() as session:
            total = session.execute(select(func.count()).select_from(ExternalTask)
                                    .where(ExternalTask.state == "completed")).scalar()
        if total >= until:
            break
        tasks = external.fetch_and_lock(engine, actor, name, 10, [{"name": "bench"}])
        if not tasks:
            break
        for task in tasks:
            try:
                external.complete(engine, actor, task["id"], name, {"done_by": name})
                done += 1
            except Conflict:
                conflicts += 1
    out.put((name, done, conflicts))
    engine.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--open", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--complete", type=int, default=2_000)
    parser.add_argument("--postgres", default=None, help="admin URL: a database is created for the run")
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()

    from sqlalchemy import func, select

    from engine.identity.actor import Actor
    from engine.ops.setup import deploy_path
    from engine.runtime import external, instances
    from engine.store.migrate import upgrade
    from engine.store.models import AuditEvent, ExternalTask

    with tempfile.TemporaryDirectory() as tmp, \
            benchmark_database(args, "bench_external", Path(tmp) / "external.sqlite3") as url:
        var = Path(tmp) / "var"
        upgrade(url)
        engine = _engine(url, var)
        deploy_path(engine, ROOT / "bench" / "models" / "external_one.bpmn", echo=lambda *_: None)
        staff = Actor("counter_staff", frozenset({"counter_staff"}))
        t0 = time.perf_counter()
        for i in range(args.open):
            with engine.uow(staff) as uow:
                instances.start(engine, uow, "external_one", {}, business_key=f"E-{i}")
        started = time.perf_counter() - t0

        worker = Actor("bench-worker", frozenset({"integration"}))
        samples = []
        for _ in range(min(300, args.open // 2)):
            t = time.perf_counter()
            got = external.fetch_and_lock(engine, worker, "probe", 1, [{"name": "bench", "lock_duration": 600_000}])
            samples.append((time.perf_counter() - t) * 1000)
            assert len(got) == 1
        samples.sort()
        with engine.uow(worker) as uow:  # give the probe's tasks back to the pool
            uow.session.execute(ExternalTask.__table__.update().where(ExternalTask.worker_id == "probe")
                                .values(worker_id=None, locked_by=None, lock_expires_at=None))

        ctx = multiprocessing.get_context("fork")
        queue = ctx.Queue()
        engine.close()
        t1 = time.perf_counter()
        procs = [ctx.Process(target=_worker, args=(url, str(var), f"w{n}", args.complete, queue))
                 for n in range(args.workers)]
        for p in procs:
            p.start()
        results = [queue.get() for _ in procs]
        for p in procs:
            p.join()
        elapsed = time.perf_counter() - t1
        engine = _engine(url, var)
        with engine.read() as session:
            completed = session.execute(select(func.count()).select_from(ExternalTask)
                                        .where(ExternalTask.state == "completed")).scalar()
            completions = session.execute(select(func.count()).select_from(AuditEvent)
                                          .where(AuditEvent.action == "external_task_completed")).scalar()
        engine.close()
        print(json.dumps({
            "database": "postgresql" if url.startswith("postgresql") else "sqlite",
            "open_external_tasks": args.open,
            "start_ms_per_instance": round(started / args.open * 1000, 2),
            "fetch_lock_ms": {"median": round(statistics.median(samples), 2),
                              "p95": round(samples[int(len(samples) * 0.95) - 1], 2)},
            "workers": args.workers,
            "completed": completed,
            "completed_per_second": round(sum(r[1] for r in results) / elapsed, 1),
            "per_worker": {r[0]: r[1] for r in sorted(results)},
            "lost_races": sum(r[2] for r in results),
            "completed_twice": completions != completed,
        }))


if __name__ == "__main__":
    main()
