"""Password spraying against a real server, and what the other users feel meanwhile.

    python bench/login_burst.py [--burst 300] [--concurrency 16] [--project DIR]

Starts `bpm serve` (gunicorn, 1 worker x 8 threads, SQLite, demo data) from the project folder
(by default this one), then: (1) a signed-in user reads the task list for a few seconds alone;
(2) the same user keeps reading while N sign-in attempts with wrong passwords across usernames
arrive from one client address (``--concurrency`` at a time). Prints one JSON object: the
burst's duration and throughput, its status codes, the other user's p50/p95 alone and during the
burst, and how many ``login_failed`` audit events the burst wrote.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return round(values[min(len(values) - 1, int(q * len(values)))] * 1000, 1) if values else 0.0


def reader(base: str, token: str, stop: threading.Event, out: list[float]) -> None:
    session = requests.Session()
    while not stop.is_set():
        t0 = time.perf_counter()
        r = session.get(f"{base}/api/tasks?scope=all", headers={"Authorization": f"Bearer {token}"}, timeout=60)
        out.append(time.perf_counter() - t0)
        assert r.status_code == 200, r.text
        time.sleep(0.02)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--burst", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--alone-seconds", type=float, default=5.0)
    parser.add_argument("--project", type=Path, default=ROOT)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "BPM_VAR_DIR": tmp, "BPM_HOME": str(args.project)}
        env.pop("BPM_DATABASE_URL", None)
        cli = [sys.executable, "-m", "bpm_cli.main"]
        subprocess.run([*cli, "init", "--demo"], cwd=args.project, env=env, check=True, capture_output=True)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        log = open(Path(tmp) / "serve.log", "wb")
        server = subprocess.Popen([*cli, "serve", "--port", str(port), "--no-timers"], cwd=args.project, env=env,
                                  stdout=log, stderr=subprocess.STDOUT)
        try:
            for _ in range(300):
                try:
                    if requests.get(f"{base}/api/health", timeout=2).status_code == 200:
                        break
                except requests.RequestException:
                    pass
                time.sleep(0.2)
            token = requests.post(f"{base}/api/auth/token", json={"username": "auditor", "password": "demo"},
                                  timeout=30).json()["token"]
            alone: list[float] = []
            stop = threading.Event()
            thread = threading.Thread(target=reader, args=(base, token, stop, alone))
            thread.start()
            time.sleep(args.alone_seconds)
            stop.set()
            thread.join()

            during: list[float] = []
            stop = threading.Event()
            thread = threading.Thread(target=reader, args=(base, token, stop, during))
            thread.start()
            names = ["counter_staff", "info_clerk", "hall_manager", "admin", "duty_manager", "customer_manager",
                     "enforcement_officer", "service_center_head", "process_owner", "vice_president"]
            statuses: Counter = Counter()

            def attempt(i: int) -> int:
                r = requests.post(f"{base}/api/auth/token", timeout=120,
                                  json={"username": f"{names[i % len(names)]}{'' if i < 50 else i}", "password": "Winter2026!"})
                return r.status_code

            t0 = time.perf_counter()
            with ThreadPoolExecutor(args.concurrency) as pool:
                for status in pool.map(attempt, range(args.burst)):
                    statuses[status] += 1
            burst = time.perf_counter() - t0
            time.sleep(0.5)
            stop.set()
            thread.join()
            audited = requests.get(f"{base}/api/audit/events?action=login_failed&per_page=1",
                                   headers={"Authorization": f"Bearer {token}"}, timeout=30).json().get("total")
        finally:
            server.terminate()
            server.wait(timeout=20)
            log.close()
    print(json.dumps({
        "project": str(args.project),
        "burst": {"attempts": args.burst, "concurrency": args.concurrency, "seconds": round(burst, 2),
                  "attempts_per_s": round(args.burst / burst, 1), "statuses": dict(sorted(statuses.items()))},
        "other_user_alone_ms": {"p50": pct(alone, 0.5), "p95": pct(alone, 0.95), "n": len(alone)},
        "other_user_during_burst_ms": {"p50": pct(during, 0.5), "p95": pct(during, 0.95), "n": len(during),
                                       "max": pct(during, 1.0)},
        "login_failed_audit_events": audited,
        "median_alone_ms": round(statistics.median(alone) * 1000, 1) if alone else None,
    }, indent=2))


if __name__ == "__main__":
    main()
