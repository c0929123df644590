"""Where a task completion spends its time: the top functions of N completions (cProfile,
in-process, SQLite), by their own time and by cumulative time, as JSON.

    python bench/profile_completion.py [--lifecycles 200] [--top 10]

Same model and steps as ``bench/engine_bench.py``'s in-process phase (start, then 4
completions); only the completions are profiled. ``pyinstrument`` (the ``bench`` extra)
gives a call tree of the same run: ``--tree``.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import engine_bench  # noqa: E402 - after the path is set


def _where(key) -> str:
    filename, line, name = key
    for marker, keep in (("site-packages/", ""), ("/engine/", "engine/"), ("/web/", "web/")):
        if marker in filename:
            return f"{keep}{filename.split(marker, 1)[1]}:{line}({name})"
    if "/lib/python3." in filename:  # the standard library
        filename = filename.split("/lib/python3.", 1)[1].split("/", 1)[1]
    return f"{filename}:{line}({name})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lifecycles", type=int, default=200)
    parser.add_argument("--top", type=int, default=10)
    parser.add_argument("--tree", action="store_true", help="print pyinstrument's call tree instead")
    args = parser.parse_args()
    from engine.identity.actor import Actor
    from engine.runtime import instances, tasks

    actors = {r: Actor(r, frozenset({r})) for r in engine_bench.ROLES}
    with tempfile.TemporaryDirectory() as tmp:
        engine = engine_bench.make_engine(None, Path(tmp))
        engine_bench.in_process(engine, 20)  # warm: caches, compiled statements
        firsts = []
        for _ in range(args.lifecycles):
            with engine.uow(actors["counter_staff"]) as uow:
                instances.start(engine, uow, "four_step", {"count": 1})
                firsts.append(uow.created_tasks[0])

        def completions():
            for task_id in firsts:
                for role in engine_bench.ROLES:
                    with engine.uow(actors[role]) as uow:
                        tasks.complete(engine, uow, task_id, {"note": "ok", "amount": 1})
                        task_id = uow.created_tasks[0] if uow.created_tasks else None

        if args.tree:
            from pyinstrument import Profiler

            profiler = Profiler(interval=0.0002)
            with profiler:
                completions()
            print(profiler.output_text(unicode=False, color=False))
            return
        profile = cProfile.Profile()
        profile.runcall(completions)
        stats = pstats.Stats(profile).stats
        n = args.lifecycles * len(engine_bench.ROLES)
        total = sum(v[2] for v in stats.values())

        def top(index: int) -> list[dict]:
            rows = sorted(stats.items(), key=lambda kv: kv[1][index], reverse=True)[: args.top]
            return [{"function": _where(k), "calls_per_completion": round(v[1] / n, 1),
                     "ms_per_completion": round(v[index] / n * 1000, 3)} for k, v in rows]

        own = top(2)
        print(json.dumps({"completions": n, "profiled_ms_per_completion": round(total / n * 1000, 3),
                          "top_own_time": own,
                          "top_cumulative_engine": [r for r in (
                              {"function": _where(k), "ms_per_completion": round(v[3] / n * 1000, 3)}
                              for k, v in sorted(stats.items(), key=lambda kv: kv[1][3], reverse=True)
                              if "/engine/" in k[0])][: args.top]}, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
