"""The candidate tasklist with history behind it: does its cost grow with the completed tasks?

    python bench/tasklist_bench.py [--history 0,100000,1000000] [--open 20] [--calls 300]
                                   [--closed-candidates] [--postgres ADMIN_URL | --database-url URL]

For each history size: a fresh database with ``--open`` open tasks of ``bench/models/four_step.bpmn``
for counter_staff, and that many completed task rows of the same role inserted in bulk behind
them (``--closed-candidates`` also gives them candidate rows, as before migration 0009 kept them);
then ``--calls`` candidate-tasklist reads (page and count, ``engine.runtime.tasks.list_tasks``).
Prints one JSON object: median and p95 per history size, and p95 at the largest over p95 at 0.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness.databases import benchmark_database  # noqa: E402 - after the path is set

BATCH = 20_000


def run(url: str, var: Path, history: int, args) -> dict:
    from datetime import timedelta

    from sqlalchemy import insert

    from engine.app import BpmEngine
    from engine.clock import utcnow
    from engine.config import load_settings
    from engine.identity.actor import Actor
    from engine.ops.setup import deploy_path
    from engine.runtime import instances, tasks
    from engine.store.migrate import upgrade
    from engine.store.models import Task, TaskCandidate

    upgrade(url)
    engine = BpmEngine(load_settings(database_url=url, var_dir=var))
    for name in ("simple_note.form", "case_start.form", "four_step.bpmn"):
        deploy_path(engine, ROOT / "bench" / "models" / name, echo=lambda *_: None)
    staff = Actor("counter_staff", frozenset({"counter_staff"}), org_unit="hall-1")
    ids = []
    for _ in range(args.open):
        with engine.uow(staff) as uow:
            ids.append(instances.start(engine, uow, "four_step", {"count": 1}).id)
    t0 = time.perf_counter()
    old = utcnow() - timedelta(days=400)
    with engine.db.engine.begin() as conn:
        for start in range(0, history, BATCH):
            rows = [{"id": str(uuid.uuid4()), "instance_id": ids[0], "process_key": "four_step", "element_id": "t1",
                     "name": "填写 Fill in", "form_key": "simple_note", "form_version": 1,
                     "candidate_groups": ["counter_staff"], "properties": {}, "status": "completed",
                     "assignee": "counter_staff", "created_at": old, "claimed_at": old, "completed_at": old,
                     "completed_by": "counter_staff", "org_unit": "hall-1"}
                    for _ in range(min(BATCH, history - start))]
            conn.execute(insert(Task.__table__), rows)
            if args.closed_candidates:
                conn.execute(insert(TaskCandidate.__table__), [{"task_id": r["id"], "role": "counter_staff"} for r in rows])
    filled = time.perf_counter() - t0
    if not url.startswith("sqlite"):
        with engine.db.engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
    samples = []
    for _ in range(args.calls):
        t = time.perf_counter()
        with engine.read() as session:
            page = tasks.list_tasks(session, staff, "candidate", None, 1, 50)
        samples.append((time.perf_counter() - t) * 1000)
    assert page["total"] == args.open, page["total"]
    engine.close()
    samples.sort()
    return {"completed_tasks": history, "fill_seconds": round(filled, 1),
            "list_ms": {"median": round(statistics.median(samples), 3),
                        "p95": round(samples[int(len(samples) * 0.95) - 1], 3)}}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--history", default="0,100000,1000000")
    parser.add_argument("--open", type=int, default=20)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--closed-candidates", action="store_true")
    parser.add_argument("--postgres", default=None)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    sizes = [int(x) for x in args.history.split(",")]
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            with benchmark_database(args, "bench_tasklist", Path(tmp) / f"tasklist_{n}.sqlite3") as url:
                results.append(run(url, Path(tmp) / f"var{n}", n, args))
    print(json.dumps({
        "database": "postgresql" if (args.postgres or (args.database_url or "").startswith("postgresql")) else "sqlite",
        "open_tasks": args.open, "closed_candidate_rows": args.closed_candidates, "runs": results,
        "p95_ratio_largest_to_empty": round(results[-1]["list_ms"]["p95"] / results[0]["list_ms"]["p95"], 2),
    }))


if __name__ == "__main__":
    main()
