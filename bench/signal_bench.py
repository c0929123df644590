"""A signal broadcast to many waiting instances, and a message correlated among them.

    python bench/signal_bench.py [--waiting 500] [--database-url URL]

Starts ``--waiting`` instances of ``bench/models/signal_waiter.bpmn`` (each waits at a signal
catch event, with a business key), then correlates one message-like delivery and broadcasts
the signal once. Prints one JSON object: the time to find the receivers through
``bpm_event_subscription`` and deliver to all of them (one transaction), per instance, and
whether every instance moved on to its next task.
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
    parser.add_argument("--waiting", type=int, default=500)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()

    from sqlalchemy import func, select

    from engine.app import BpmEngine
    from engine.config import load_settings
    from engine.identity.actor import Actor
    from engine.ops.setup import deploy_path
    from engine.runtime import events, instances
    from engine.store.migrate import upgrade
    from engine.store.models import Task

    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'signal.sqlite3'}"
        engine = BpmEngine(load_settings(database_url=url, var_dir=Path(tmp) / "var"))
        upgrade(url)
        for name in ("simple_note.form", "signal_waiter.bpmn"):
            deploy_path(engine, MODELS / name, echo=lambda *_: None)
        staff = Actor("counter_staff", frozenset({"counter_staff"}))
        t0 = time.perf_counter()
        for i in range(args.waiting):
            with engine.uow(staff) as uow:
                instances.start(engine, uow, "signal_waiter", {}, business_key=f"B-{i}")
        started = time.perf_counter() - t0
        t1 = time.perf_counter()
        with engine.uow(staff) as uow:
            out = events.broadcast(uow, "stock_arrived", {}, external=True)
        broadcast = time.perf_counter() - t1
        with engine.read() as session:
            open_tasks = session.execute(select(func.count()).select_from(Task).where(Task.status == "open")).scalar()
        print(json.dumps({
            "waiting_instances": args.waiting,
            "delivered": len(out["delivered"]),
            "every_instance_moved_on": open_tasks == args.waiting,
            "start_ms_per_instance": round(started / args.waiting * 1000, 2),
            "broadcast_seconds": round(broadcast, 3),
            "broadcast_ms_per_instance": round(broadcast / args.waiting * 1000, 2),
            "database": "postgresql" if url.startswith("postgresql") else "sqlite",
        }))


if __name__ == "__main__":
    main()
