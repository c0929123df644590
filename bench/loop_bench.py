"""An automatic loop of 100,000 turns (a script task and an exclusive gateway back edge).

    python bench/loop_bench.py [--turns 100000] [--chunk 10000] [--database-url URL]

Starts ``bench/models/script_loop.bpmn`` and lets it run: the first chunk of automatic steps
in the start's own transaction, the rest as continuations fired by the timer worker (one
transaction each). Prints one JSON object: whether the loop ended at exactly ``--turns`` with
the task after it open, the total time, and the cost per turn in the first and the last chunk
(flat means no step gets dearer as the instance runs longer).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "bench" / "models"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--turns", type=int, default=100_000)
    parser.add_argument("--chunk", type=int, default=2_000)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()

    from engine.app import BpmEngine
    from engine.config import load_settings
    from engine.identity.actor import Actor
    from engine.ops.setup import deploy_path
    from engine.runtime import instances
    from engine.scheduling.timers import fire_one
    from engine.store.migrate import upgrade
    from engine.store.records import load_instance

    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'loop.sqlite3'}"
        engine = BpmEngine(load_settings(database_url=url, var_dir=Path(tmp) / "var", step_chunk=args.chunk))
        upgrade(url)
        for name in ("simple_note.form", "case_start.form", "script_loop.bpmn"):
            deploy_path(engine, MODELS / name, echo=lambda *_: None)
        staff = Actor("counter_staff", frozenset({"counter_staff"}))
        chunks = []  # (counter after the chunk, seconds)

        def counter(iid: str) -> int:
            with engine.read() as session:
                return load_instance(session, iid).data.get("counter", 0)

        t0 = time.perf_counter()
        with engine.uow(staff) as uow:
            iid = instances.start(engine, uow, "script_loop", {"count": args.turns}).id
        chunks.append((counter(iid), time.perf_counter() - t0))
        while True:
            t = time.perf_counter()
            if not fire_one(engine):
                break
            chunks.append((counter(iid), time.perf_counter() - t))
        total = time.perf_counter() - t0
        with engine.read() as session:
            inst = instances.instance_to_dict(session, load_instance(session, iid))
        engine.close()

    def turns(i: int) -> int:
        return chunks[i][0] - (chunks[i - 1][0] if i else 0)

    def per_turn(i: int) -> float:
        return round(chunks[i][1] / max(1, turns(i)) * 1e6, 1)

    # the last whole chunk: the final one may hold only the loop's last few turns
    last = max(i for i in range(len(chunks)) if turns(i) >= turns(0) // 2)

    print(json.dumps({
        "database": url.split(":", 1)[0].split("+")[0],
        "turns": args.turns,
        "ended_at_counter": inst["data"].get("counter"),
        "open_tasks": [t["element_id"] for t in inst["open_tasks"]],
        "status": inst["status"],
        "transactions": len(chunks),
        "total_s": round(total, 1),
        "us_per_turn_first_chunk": per_turn(0),
        "us_per_turn_last_chunk": per_turn(last),
        "last_vs_first": round(per_turn(last) / per_turn(0), 2),
    }, indent=1))


if __name__ == "__main__":
    main()
