"""Which modules a task completion and a timer firing pass through, and how often a call goes
back up the layers (into a module that imports the caller).

    python bench/call_paths.py [--project DIR]

Runs two of the project's own tests (a four-step process run to completion, a boundary timer
that fires and escalates) on SQLite with a tracing plugin, and prints one JSON object per path:
the modules entered (in order), the moves between modules, and the calls into a module that
imports the caller, directly or through others (function-body imports counted). ``--project``
points at another checkout (e.g. an earlier commit) for a before/after comparison.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TESTS = ("test_four_step_instance_runs_to_completion", "test_boundary_timer_cancels_the_task_and_escalates")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--project", type=Path, default=ROOT)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "paths.json"
        env = {**os.environ, "CALL_PATHS_OUT": str(out),
               "PYTHONPATH": os.pathsep.join([str(ROOT / "bench" / "harness"), str(args.project)])}
        subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:cacheprovider",
                        "-p", "call_paths_plugin", "tests", "-k", f"({' or '.join(TESTS)}) and not postgresql"],
                       cwd=args.project, env=env, check=True, stdout=subprocess.DEVNULL)
        report = json.loads(out.read_text())
    print(json.dumps({name: {"modules": r["modules"], "moves_between_modules": r["moves"],
                             "calls_back_up": len(r["climbs"]), "path": r["module_list"], "back_up": r["climbs"]}
                      for name, r in report.items()}, indent=1))


if __name__ == "__main__":
    main()
