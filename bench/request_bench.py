"""Where an API request spends its time, per route: the bearer-token check, the rate limiter,
loading the body, the engine's work, the response schema and the JSON encoding.

    python bench/request_bench.py [--lifecycles 200] [--database-url URL | --postgres ADMIN_URL]

Drives the Flask app in-process (its test client: no sockets, no client library, so what is
left is the server's own work) through the 4-user-task model of ``bench/engine_bench.py``:
start, then 4 x (list candidate tasks, open the task, complete), plus reading the instance
and listing instances. Prints JSON: per route the median and p95 of a request (unprofiled
runs) and, from a cProfile run of the same requests, the milliseconds per request spent in
each part. Rate limits are set very high (still counted, as in production).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import engine_bench  # noqa: E402 - after the path is set

# the parts of a request, by the function that does each (file suffix, function name)
PARTS = {
    "token_check": ("web/auth.py", "require_actor"),
    "rate_limiter": ("flask_limiter/_extension.py", "_check_request_limit"),
    "body_and_query": ("web/routing.py", "_load"),
    "response_schema": ("marshmallow/schema.py", "dump"),
    "json_encoding": ("web/routing.py", "_encode"),
    "whole_request": ("flask/app.py", "wsgi_app"),
}
VIEWS = {  # the engine's work: the view functions of web/api/runtime.py
    "start": "start_instance", "list": "list_tasks", "get_task": "get_task", "complete": "complete_task",
    "get_instance": "get_instance", "list_instances": "list_instances",
}


def _setup(url: str | None, var_dir: Path):
    os.environ.update(engine_bench.rate_limits_off(), BPM_VAR_DIR=str(var_dir))
    if url:
        os.environ["BPM_DATABASE_URL"] = url
    engine = engine_bench.make_engine(url, var_dir)
    engine_bench.add_bench_users(engine, extra=(("bench_admin", ["admin"]),))
    from web import create_app

    client = create_app(engine).test_client()
    tokens = {}
    for user in (*engine_bench.ROLES, "bench_admin"):
        r = client.post("/api/auth/token", json={"username": user, "password": "bench"})
        tokens[user] = {"Authorization": f"Bearer {r.get_json()['token']}"}
    return client, tokens


def _lifecycle(client, tokens, timings):
    def timed(route, call):
        t0 = time.perf_counter()
        response = call()
        timings[route].append(time.perf_counter() - t0)
        assert response.status_code < 300, (route, response.status_code, response.get_json())
        return response.get_json()

    inst = timed("start", lambda: client.post("/api/process-definitions/four_step/instances", json={"data": {}},
                                              headers=tokens["counter_staff"]))
    task_id = inst["open_tasks"][0]["id"]
    for role in engine_bench.ROLES:
        timed("list", lambda role=role: client.get("/api/tasks?scope=candidate&per_page=20", headers=tokens[role]))
        timed("get_task", lambda role=role, task_id=task_id: client.get(f"/api/tasks/{task_id}", headers=tokens[role]))
        done = timed("complete", lambda role=role, task_id=task_id: client.post(f"/api/tasks/{task_id}/complete",
                                                               json={"data": {"note": "ok"}}, headers=tokens[role]))
        task_id = done["instance"]["open_tasks"][0]["id"] if done["instance"]["open_tasks"] else None
    timed("get_instance", lambda: client.get(f"/api/process-instances/{inst['id']}", headers=tokens["bench_admin"]))
    timed("list_instances", lambda: client.get("/api/process-instances?per_page=20", headers=tokens["bench_admin"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lifecycles", type=int, default=200)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--postgres", default=None, metavar="ADMIN_URL")
    args = parser.parse_args()
    import logging

    logging.disable(logging.WARNING)
    from bench.harness.databases import benchmark_database

    with benchmark_database(args, "bench_request") as url:
        args.database_url = url
        run(args)


def _parts(stats: dict, n_requests: int) -> dict:
    out = {}
    for part, (suffix, name) in PARTS.items():
        total = sum(cum for (filename, _line, fn), (_cc, _nc, _tt, cum, _callers) in stats.items()
                    if fn == name and filename.endswith(suffix))
        out[part] = round(total / n_requests * 1000, 3)
    return out


def run(args) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        client, tokens = _setup(args.database_url, Path(tmp))
        warm = defaultdict(list)
        for _ in range(20):
            _lifecycle(client, tokens, warm)
        timings = defaultdict(list)
        for _ in range(args.lifecycles):
            _lifecycle(client, tokens, timings)
        routes = {route: {"requests": len(v), "median_ms": round(statistics.median(v) * 1000, 3),
                          "p95_ms": round(sorted(v)[int(0.95 * len(v))] * 1000, 3)} for route, v in timings.items()}
        # one profiled run per route: every request of that route alone, so the parts add up per route
        for route in VIEWS:
            profile = cProfile.Profile()
            sample = defaultdict(list)
            for _ in range(max(20, args.lifecycles // 4)):
                _profiled_route(client, tokens, route, profile, sample)
            n = len(sample[route])
            parts = _parts(pstats.Stats(profile).stats, n)
            view = VIEWS[route]
            parts["engine_work"] = round(sum(
                cum for (filename, _line, fn), (_cc, _nc, _tt, cum, _callers) in pstats.Stats(profile).stats.items()
                if fn == view and filename.endswith("web/api/runtime.py")) / n * 1000, 3)
            routes[route]["profiled_ms_per_request"] = parts
        print(json.dumps({
            "database": "postgresql" if (args.database_url or "").startswith("postgresql") else "sqlite",
            "lifecycles": args.lifecycles,
            "client": "Flask test client, in-process (no sockets)",
            "routes": routes,
            "note": "profiled figures are cProfile's (about 2x slower than unprofiled); compare parts within a route",
        }, indent=2))


def _profiled_route(client, tokens, route: str, profile, sample) -> None:
    """One lifecycle with the profiler on only around the requests of ``route``."""

    class Switch:
        def __init__(self, client):
            self.client = client

        def _wrap(self, method, url, **kw):
            on = _route_of(method, url) == route
            if on:
                profile.enable()
            t0 = time.perf_counter()
            response = getattr(self.client, method)(url, **kw)
            if on:
                profile.disable()
                sample[route].append(time.perf_counter() - t0)
            return response

        def get(self, url, **kw):
            return self._wrap("get", url, **kw)

        def post(self, url, **kw):
            return self._wrap("post", url, **kw)

    _lifecycle(Switch(client), tokens, defaultdict(list))


def _route_of(method: str, url: str) -> str:
    if method == "post" and url.endswith("/instances"):
        return "start"
    if method == "post" and url.endswith("/complete"):
        return "complete"
    if url.startswith("/api/tasks?"):
        return "list"
    if url.startswith("/api/tasks/"):
        return "get_task"
    if url.startswith("/api/process-instances?"):
        return "list_instances"
    return "get_instance"


if __name__ == "__main__":
    main()
