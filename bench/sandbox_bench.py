"""Cost of the script sandbox per call, before and after the resource limits.

    python bench/sandbox_bench.py [--calls N]

Prints one JSON object. "before" is how a script or condition ran until the limits came: in
the server process (RestrictedPython / simpleeval, no bound on CPU or memory); "after" is how
it runs now: every script, and every expression that could loop or build large values, in a
worker process under CPU, memory and output limits (engine/bpmn/sandbox); plain comparisons of
data still in process. Medians and p95 in microseconds per call, over N calls after a warm-up.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

DATA = {"decision": "approve", "amount": 1200, "category": "technical",
        "lines": [{"brand": "huanghelou", "quantity": q} for q in range(20)], "note": "同意" * 50}
SCRIPT = "total = sum(line['quantity'] for line in lines)\nlevel = 2 if total > 100 else 1"
CONDITION = 'decision == "approve" and amount > 1000'
COMPUTED = "sum([line['quantity'] for line in lines]) > 100"


def timed(fn, calls: int) -> dict:
    for _ in range(min(50, calls)):
        fn()
    samples = []
    for _ in range(calls):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1e6)
    samples.sort()
    return {"median_us": round(statistics.median(samples), 1), "p95_us": round(samples[int(0.95 * len(samples))], 1)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args()

    from engine.bpmn import sandbox
    from engine.bpmn.expressions import evaluate, execute_script, is_inline
    from engine.bpmn.restricted import evaluate_here, execute_here
    from engine.config import ScriptLimits

    sandbox.configure(ScriptLimits())
    t0 = time.perf_counter()
    execute_script("x = 1", {})  # the first call starts a worker
    first = round((time.perf_counter() - t0) * 1000, 1)
    assert is_inline(CONDITION) and not is_inline(COMPUTED)

    def script_here():
        data = dict(DATA)
        changed, deleted = execute_here(SCRIPT, data)
        data.update(changed)

    def script_sandboxed():
        execute_script(SCRIPT, dict(DATA))

    out = {
        "calls": args.calls,
        "worker_start_ms": first,
        "script": {"before_in_process": timed(script_here, args.calls),
                   "after_worker": timed(script_sandboxed, args.calls)},
        "condition_plain": {"before_in_process": timed(lambda: evaluate_here(CONDITION, DATA), args.calls),
                            "after_in_process": timed(lambda: evaluate(CONDITION, DATA), args.calls)},
        "condition_computed": {"before_in_process": timed(lambda: evaluate_here(COMPUTED, DATA), args.calls),
                               "after_worker": timed(lambda: evaluate(COMPUTED, DATA), args.calls)},
    }
    for key in ("script", "condition_computed"):
        entry = out[key]
        entry["ratio_median"] = round(entry["after_worker"]["median_us"] / entry["before_in_process"]["median_us"], 1)
    sandbox.pool().close()
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
