"""A handler for the worker-process test (tests/system/test_external_worker_process.py).

``WORKER_MODE=hang``: record the work, then hang (the test kills the worker mid-task);
``fast``: record the work (once per instance, like the shipped handlers) and return.
"""

from __future__ import annotations

import os
import time

from bpm_cli.handlers import _append_once, _folder


def record(task: dict, settings: dict) -> dict:
    record = _append_once(_folder() / "worker_test.jsonl", task["instance_id"],
                          lambda n: {"reference": f"REF-{n:04d}"})
    if os.environ.get("WORKER_MODE") == "hang":
        time.sleep(3600)
    return {"reference": record["reference"], "recorded_by": os.environ.get("WORKER_NAME", "second")}
