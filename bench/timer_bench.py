"""Timer benchmark: prints one JSON object with the figures of the timer issue.

    python bench/timer_bench.py [--pending 100000] [--due 2000] [--window 20] [--workers 2] [--database-url URL]

* ``--pending`` timer rows are pending, most of them far ahead (bulk-inserted against a
  few minimal instance rows); ``--due`` of them are real timers of real instances
  (``bench/models/timer_burst.bpmn``, two timers each) falling due at random instants
  spread over the next ``--window`` seconds;
* ``--workers`` ``bpm worker`` processes fire them; lateness = ``fired_at - fire_at``
  (p50/p99/max, and the share under 1 s);
* the query plan of the worker's due-timer statement (``engine.scheduling.timers.due_timer_query``,
  exactly as the worker sends it) with every row in place, after ``ANALYZE``, and whether
  it uses the index ``ix_timer_due``; the same for the scheduled-start query the worker
  runs when no instance timer is due, and for the idle worker's next-due query.

The default database is a temporary PostgreSQL database (``bpm_timer_bench_*``, dropped
afterwards) when ``BPM_TEST_POSTGRES_URL`` (default: the local cluster) is reachable, else
SQLite in a temporary folder.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from datetime import UTC, timedelta
from pathlib import Path

from sqlalchemy import create_engine, func, insert, select, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
MODELS = ROOT / "bench" / "models"

from bench.harness.databases import temporary_pg_database  # noqa: E402 - after the path is set

PG_URL = os.environ.get("BPM_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
INDEX = "ix_timer_due"
FILLER_INSTANCES = 100  # the far-ahead timers point at these minimal instance rows
LEAD_SECONDS = 3.0  # the due window opens this long after the due instances are started


# --------------------------------------------------------------------------- database


@contextmanager
def database(url: str | None, folder: Path):
    """The database URL to use: the given one, else a temporary PostgreSQL database, else SQLite."""
    if url:
        yield url
        return
    admin_url = PG_URL.replace("postgresql://", "postgresql+psycopg://", 1)
    try:
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception:  # noqa: BLE001 - PostgreSQL not reachable: SQLite
        yield f"sqlite:///{folder / 'bench.sqlite3'}"
        return
    admin.dispose()
    with temporary_pg_database(admin_url, "bpm_timer_bench") as pg_url:
        yield pg_url


def make_engine(url: str, var_dir: Path):
    from engine.app import BpmEngine
    from engine.config import load_settings
    from engine.ops.setup import deploy_path
    from engine.store.migrate import upgrade

    upgrade(url)
    engine = BpmEngine(load_settings(database_url=url, var_dir=var_dir))
    quiet = lambda *_: None  # noqa: E731
    deploy_path(engine, MODELS / "simple_note.form", echo=quiet)
    deploy_path(engine, MODELS / "case_start.form", echo=quiet)
    deploy_path(engine, MODELS / "timer_burst.bpmn", echo=quiet)
    return engine


# --------------------------------------------------------------------------- rows


def insert_far_timers(engine, count: int, now) -> float:
    """Bulk-insert ``count`` pending timers due 1 h .. 30 days ahead; return the seconds taken."""
    from engine.store.models import ProcessDefinition, ProcessInstance, Timer

    t0 = time.perf_counter()
    with engine.db.transaction() as session:
        definition_id = session.execute(select(ProcessDefinition.id).where(ProcessDefinition.key == "timer_burst")).scalar_one()
        ids = [str(uuid.uuid4()) for _ in range(FILLER_INSTANCES)]
        session.execute(insert(ProcessInstance.__table__), [
            {"id": i, "definition_id": definition_id, "process_key": "timer_burst", "status": "running", "data": {},
             "state": "{}", "visited": [], "lock_version": 1, "started_by": "bench", "started_at": now} for i in ids
        ])
        rng = random.Random(1)
        span = timedelta(days=30).total_seconds() - 3600
        rows = [
            {"instance_id": ids[n % FILLER_INSTANCES], "task_id": str(uuid.uuid4()), "element_id": "wait_a", "kind": "bpmn",
             "fire_at": now + timedelta(seconds=3600 + rng.random() * span), "state": "pending", "attempts": 0}
            for n in range(count)
        ]
        for start in range(0, count, 10_000):
            session.execute(insert(Timer.__table__), rows[start:start + 10_000])
    return time.perf_counter() - t0


def start_due_instances(engine, count: int, window: float, lead: float, rng: random.Random) -> tuple[list[str], float]:
    """Start ``count`` timer_burst instances whose two timers fall due at random instants of
    the window opening ``lead`` seconds from now; return their ids and the seconds taken."""
    from engine.clock import utcnow
    from engine.identity.actor import Actor
    from engine.runtime import instances

    starter = Actor("counter_staff", frozenset({"counter_staff"}))
    opens = utcnow() + timedelta(seconds=lead)
    ids, t0 = [], time.perf_counter()
    for _ in range(count):
        wake_a, wake_b = (opens + timedelta(seconds=rng.random() * window) for _ in range(2))
        with engine.uow(starter) as uow:
            ids.append(instances.start(engine, uow, "timer_burst", {"wake_a": wake_a.isoformat(), "wake_b": wake_b.isoformat()}).id)
    return ids, time.perf_counter() - t0


def start_cost(engine, rng: random.Random) -> float:
    """Seconds one instance start takes here (10 warm-up starts, their timers 1 day ahead)."""
    _, took = start_due_instances(engine, 10, 1.0, 86_400, rng)
    return took / 10


# --------------------------------------------------------------------------- query plans


def _driver_params(compiled, dialect_name: str):
    """The compiled statement's parameters as the driver takes them (SQLite keeps naive UTC text)."""
    params = compiled.params
    if dialect_name == "sqlite":
        def plain(v):
            return v.astimezone(UTC).replace(tzinfo=None).isoformat(" ") if hasattr(v, "astimezone") else v
        return tuple(plain(params[name]) for name in compiled.positiontup)
    return params


def explain(engine, statement) -> dict:
    """EXPLAIN ``statement`` (as the worker sends it) and find whether it uses ``ix_timer_due``."""
    dialect = engine.db.engine.dialect
    compiled = statement.compile(dialect=dialect)
    params = _driver_params(compiled, dialect.name)
    with engine.db.engine.connect() as conn:
        if dialect.name == "postgresql":
            plan = conn.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {compiled}", params).scalar_one()[0]["Plan"]
            timed = conn.exec_driver_sql(f"EXPLAIN (ANALYZE, FORMAT JSON) {compiled}", params).scalar_one()[0]
            conn.rollback()  # EXPLAIN ANALYZE ran the statement: let go of any row it locked
            nodes = list(_walk(plan))
            hit = [n for n in nodes if n.get("Index Name") == INDEX]
            return {
                "sql": str(compiled),
                "uses_index": bool(hit),
                "indexes": sorted({n["Index Name"] for n in nodes if "Index Name" in n}),
                "node": {k: hit[0].get(k) for k in ("Node Type", "Relation Name", "Index Name", "Index Cond", "Filter",
                                                   "Startup Cost", "Total Cost", "Plan Rows")} if hit else None,
                "shape": " > ".join(n["Node Type"] for n in nodes),
                "execution_ms": timed.get("Execution Time"),
                "plan": plan,
            }
        rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}", params).all()
        details = [r[-1] for r in rows]
        return {"sql": str(compiled), "uses_index": any(INDEX in d for d in details),
                "indexes": sorted({d.split(" INDEX ")[1].split()[0] for d in details if " INDEX " in d}),
                "node": next((d for d in details if INDEX in d), None), "plan": details}


def _walk(node):
    yield node
    for child in node.get("Plans", ()):
        yield from _walk(child)


def analyze(engine) -> None:
    with engine.db.engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
        conn.commit()


# --------------------------------------------------------------------------- workers


def start_workers(url: str, var_dir: Path, n: int) -> list[subprocess.Popen]:
    env = {**os.environ, "BPM_DATABASE_URL": url, "BPM_VAR_DIR": str(var_dir), "PYTHONUNBUFFERED": "1"}
    procs = [subprocess.Popen([sys.executable, "-m", "bpm_cli.main", "worker"], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL) for _ in range(n)]
    for proc in procs:
        assert proc.stdout.readline().strip() == b"timer worker started", "a worker did not start"
    return procs


def stop_workers(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        proc.terminate()
    for proc in procs:
        proc.wait(10)


def wait_fired(engine, ids: list[str], until: float) -> int:
    """Wait until every timer of ``ids`` left ``pending`` or ``until`` (monotonic); return those left."""
    from engine.store.models import Timer

    while True:
        with engine.read() as session:
            left = session.execute(
                select(func.count()).where(Timer.instance_id.in_(ids), Timer.state == "pending")
            ).scalar_one()
        if not left or time.monotonic() > until:
            return left
        time.sleep(0.25)


def lateness(engine, ids: list[str]) -> dict:
    from engine.store.models import Timer

    with engine.read() as session:
        rows = session.execute(
            select(Timer.fire_at, Timer.fired_at).where(Timer.instance_id.in_(ids), Timer.state == "fired")
        ).all()
    late = sorted((r.fired_at - r.fire_at).total_seconds() for r in rows)
    if not late:
        return {"fired": 0}

    def pct(q):
        return round(late[min(len(late) - 1, int(q * len(late)))] * 1000, 1)

    return {"fired": len(late), "p50_ms": pct(0.5), "p99_ms": pct(0.99), "max_ms": round(late[-1] * 1000, 1),
            "mean_ms": round(statistics.fmean(late) * 1000, 1), "under_1s": round(sum(x < 1 for x in late) / len(late), 4)}


# --------------------------------------------------------------------------- main


def run(url: str, var_dir: Path, args) -> dict:
    from engine.clock import utcnow
    from engine.scheduling.timers import due_start_query, due_timer_query, next_due_query

    rng = random.Random(7)
    engine = make_engine(url, var_dir)
    due_instances = args.due // 2  # two timers each
    per_start = start_cost(engine, rng)  # 20 timers, 1 day ahead
    filler = args.pending - 2 * due_instances - 20
    insert_s = insert_far_timers(engine, filler, utcnow())
    analyze(engine)
    workers = start_workers(url, var_dir, args.workers)
    try:
        lead = LEAD_SECONDS + 1.5 * per_start * due_instances  # the window opens once every instance is started
        ids, start_s = start_due_instances(engine, due_instances, args.window, lead, rng)
        analyze(engine)
        is_pg = engine.db.is_postgres
        plans = {
            "due_timer_query": explain(engine, due_timer_query(utcnow(), for_update=is_pg)),
            "due_start_query": explain(engine, due_start_query(utcnow(), for_update=is_pg)),
            "next_due_query": explain(engine, next_due_query(utcnow())),
        }
        with engine.read() as session:
            from engine.store.models import Timer

            pending = session.execute(select(func.count()).where(Timer.state == "pending")).scalar_one()
        left = wait_fired(engine, ids, time.monotonic() + lead + args.window + 60)
    finally:
        stop_workers(workers)
    result = {
        "database": engine.db.engine.dialect.name,
        "machine_cpus": os.cpu_count(),
        "workers": args.workers,
        "pending_timers": pending,
        "due_timers": 2 * due_instances,
        "due_window_s": args.window,
        "setup": {"bulk_insert_s": round(insert_s, 2), "start_due_instances_s": round(start_s, 2)},
        "lateness": lateness(engine, ids),
        "left_pending": left,
        "uses_index": plans["due_timer_query"]["uses_index"],
        "plan_node": plans["due_timer_query"]["node"],
        "plans": plans,
    }
    engine.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pending", type=int, default=100_000, help="pending timer rows in all")
    parser.add_argument("--due", type=int, default=2000, help="timers falling due during the window")
    parser.add_argument("--window", type=float, default=20.0, help="seconds over which they fall due")
    parser.add_argument("--workers", type=int, default=2, help="bpm worker processes")
    parser.add_argument("--database-url", default=None, help="default: a temporary PostgreSQL database, else SQLite")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp, database(args.database_url, Path(tmp)) as url:
        result = run(url, Path(tmp) / "var", args)
    print(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main()
