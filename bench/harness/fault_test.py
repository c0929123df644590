"""Fault test: the production stack under load while its processes are killed and its
database restarts; afterwards ``bpm check`` proves nothing was lost or done twice.

1. Creates a throwaway PostgreSQL cluster of its own (``initdb`` + ``pg_ctl`` in a temporary
   folder, port ``--pg-port``; run as root it uses the ``postgres`` account), a database,
   ``bpm init --demo``.
2. Starts ``bpm stack up`` (``--web-workers`` gunicorn workers, ``--timer-workers`` timer
   workers; ``--jobs`` adds the Prefect jobs) and runs ``bench/harness/load_test.py`` against it
   (``--users``, ``--duration``) with an acknowledgement log.
3. During the load, at random moments (``--seed``): SIGKILLs ``--kills`` processes, drawn
   from gunicorn workers, timer workers and (once) the gunicorn master; gunicorn replaces
   its workers, the supervisor everything else. Once, at ``--pg-restart-at`` of the run,
   PostgreSQL is stopped in immediate mode (a crash: recovery from WAL) for ``--pg-down``
   seconds while a probe measures how the API and a page answer (503, how fast, the
   message), then started again; the time until both answer 200 again is measured.
4. Stops the load, waits for due timers to drain, stops the stack, runs
   ``bpm check --ack`` and prints one JSON report; exit code 1 when an invariant fails.
   The cluster and its folder are removed at the end (``--keep`` keeps them).

    python bench/harness/fault_test.py --users 16 --duration 180 --kills 6
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import load_test  # noqa: E402

BPM = [sys.executable, "-c", "import sys; from bpm_cli.main import main; sys.exit(main(prog_name='bpm'))"]


def log(message: str) -> None:
    print(f"[fault {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def free_port(preferred: int = 0) -> int:
    for port in ([preferred] if preferred else []) + [0]:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return s.getsockname()[1]
            except OSError:
                continue
    raise RuntimeError("no free port")


# --------------------------------------------------------------------------- PostgreSQL of our own


class Cluster:
    """A throwaway PostgreSQL cluster in a temporary folder (never the shared one)."""

    def __init__(self, port: int, folder: Path) -> None:
        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
        found = bins[-1] if bins else shutil.which("pg_ctl")
        if not found:
            raise SystemExit("pg_ctl not found: install PostgreSQL server binaries")
        self.bin = Path(found).parent
        self.port, self.folder = port, folder
        self.data = folder / "pgdata"
        self.logfile = folder / "postgres.log"
        self.as_postgres = os.geteuid() == 0

    def _run(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess:
        cmd = [str(self.bin / argv[0]), *argv[1:]]
        if self.as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, check=check, capture_output=True, text=True, timeout=120)

    def create(self) -> None:
        if self.as_postgres:
            shutil.chown(self.folder, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8")
        self.start()

    def start(self) -> None:
        opts = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c max_connections=200"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.logfile), "-o", opts, "-w", "-t", "60", "start")

    def stop(self, mode: str = "fast", check: bool = True) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop", check=check)

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"


# --------------------------------------------------------------------------- the stack


class Stack:
    def __init__(self, env: dict, port: int, web_workers: int, timer_workers: int, jobs: bool, folder: Path) -> None:
        self.env, self.port, self.folder = env, port, folder
        self.state_file = folder / "stack.json"
        self.logfile = folder / "stack.log"
        argv = [*BPM, "stack", "up", "--port", str(port), "--web-workers", str(web_workers),
                "--timer-workers", str(timer_workers), "--jobs" if jobs else "--no-jobs", "--state-file", str(self.state_file)]
        self.out = self.logfile.open("wb")
        self.proc = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=self.out, stderr=subprocess.STDOUT)
        self.base = f"http://127.0.0.1:{port}"

    def wait_healthy(self, timeout: float = 90) -> float:
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            try:
                if requests.get(self.base + "/api/health", timeout=2).status_code == 200:
                    return time.monotonic() - t0
            except requests.RequestException:
                pass
            if self.proc.poll() is not None:
                raise SystemExit(f"the stack exited:\n{self.logfile.read_text(errors='replace')[-3000:]}")
            time.sleep(0.2)
        raise SystemExit(f"the stack did not become healthy in {timeout} s")

    def state(self) -> dict:
        return json.loads(self.state_file.read_text())

    def pid(self, name: str) -> int | None:
        return self.state()["children"].get(name, {}).get("pid")

    def web_workers(self) -> list[int]:
        master = self.pid("web")
        if master is None:
            return []
        try:
            return [int(p) for p in Path(f"/proc/{master}/task/{master}/children").read_text().split()]
        except OSError:
            return []

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.out.close()
        return self.proc.returncode


# --------------------------------------------------------------------------- probing a database outage


class Probe:
    """Hit one API route (bearer token) and one page (signed-in session) while PostgreSQL is away."""

    def __init__(self, base: str, user: str = "auditor", password: str = "demo") -> None:
        self.base = base
        r = requests.post(base + "/api/auth/token", json={"username": user, "password": password}, timeout=30)
        r.raise_for_status()
        self.api = requests.Session()
        self.api.headers["Authorization"] = f"Bearer {r.json()['token']}"
        self.page = requests.Session()
        form = self.page.get(base + "/login", timeout=30).text
        csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form) or re.search(r'value="([^"]+)"[^>]*name="csrf_token"', form)
        r = self.page.post(base + "/login", data={"username": user, "password": password, "csrf_token": csrf.group(1) if csrf else ""},
                           timeout=30, allow_redirects=False)
        if r.status_code not in (302, 303):
            raise SystemExit(f"page sign-in failed: {r.status_code}")
        self.samples: list[dict] = []

    def once(self, phase: str) -> tuple[int | None, int | None]:
        out = []
        for kind, session, path in (("api", self.api, "/api/tasks?scope=mine"), ("page", self.page, "/tasks")):
            t0 = time.perf_counter()
            try:
                r = session.get(self.base + path, timeout=30, allow_redirects=False)
                status, body = r.status_code, r.text
            except requests.RequestException as exc:
                status, body = None, f"{type(exc).__name__}"
            self.samples.append({"phase": phase, "kind": kind, "status": status, "ms": (time.perf_counter() - t0) * 1000,
                                 "body": body[:4000], "retry_after": r.headers.get("Retry-After") if status else None,
                                 "t": time.monotonic()})
            out.append(status)
        return out[0], out[1]

    def summary(self, down_at: float, up_at: float, healthy_at: float | None) -> dict:
        def stats(kind: str, phase: str) -> dict:
            rows = [s for s in self.samples if s["kind"] == kind and s["phase"] == phase]
            ms = [s["ms"] for s in rows]
            statuses: dict = {}
            for s in rows:
                statuses[str(s["status"])] = statuses.get(str(s["status"]), 0) + 1
            out = {"requests": len(rows), "statuses": statuses,
                   "p50_ms": round(statistics.median(ms), 1) if ms else None, "max_ms": round(max(ms), 1) if ms else None}
            example = next((s for s in rows if s["status"] == 503), None)
            if example is not None:
                if kind == "api":
                    try:
                        body = json.loads(example["body"])
                        out["example"] = {"error": body.get("error"), "message": body.get("message")}
                    except ValueError:
                        out["example"] = example["body"][:200]
                else:
                    text = re.search(r'role="alert">([^<]+)<', example["body"])
                    out["example"] = text.group(1) if text else example["body"][:200]
                out["retry_after"] = example["retry_after"]
            return out

        return {"down_seconds": round(up_at - down_at, 1),
                "api_while_down": stats("api", "down"), "page_while_down": stats("page", "down"),
                "api_while_starting": stats("api", "starting"), "page_while_starting": stats("page", "starting"),
                "recovered_seconds_after_start": round(healthy_at - up_at, 2) if healthy_at else None}


# --------------------------------------------------------------------------- the run


def run(opts) -> dict:
    import random

    rng = random.Random(opts.seed)
    folder = Path(tempfile.mkdtemp(prefix="bpmfault-"))
    folder.chmod(0o755)
    cluster = Cluster(free_port(opts.pg_port), folder)
    stack = None
    report: dict = {"config": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(opts).items()}}
    try:
        log(f"creating PostgreSQL cluster on port {cluster.port} in {folder}")
        cluster.create()
        env = {**os.environ, "BPM_DATABASE_URL": cluster.url("bpm"), "BPM_VAR_DIR": str(folder / "var"),
               "BPM_SECRET_KEY": os.urandom(24).hex(), "PYTHONUNBUFFERED": "1",
               "PREFECT_HOME": str(folder / "prefect")}
        for argv in (["stack", "ensure-db"], ["init", "--demo"]):
            subprocess.run([*BPM, *argv], env=env, cwd=ROOT, check=True, capture_output=True, timeout=300)
        port = free_port()
        stack = Stack(env, port, opts.web_workers, opts.timer_workers, opts.jobs, folder)
        report["stack_ready_seconds"] = round(stack.wait_healthy(), 1)
        log(f"stack up at {stack.base}; load: {opts.users} users for {opts.duration} s")

        # the load, in threads of this process (the engine calls of its setup see env)
        os.environ.update({k: env[k] for k in ("BPM_DATABASE_URL", "BPM_VAR_DIR", "BPM_SECRET_KEY")})
        ack = folder / "ack.jsonl"
        load_opts = load_test.parse_args([
            "--base-url", stack.base, "--users", str(opts.users), "--duration", str(opts.duration), "--seed", str(opts.seed),
            "--ack", str(ack), "--think-min", str(opts.think_min), "--think-max", str(opts.think_max),
            "--abandon", str(opts.abandon)])
        load_result: dict = {}
        load_thread = threading.Thread(target=lambda: load_result.update(load_test.run(load_opts)), daemon=True)
        probe = Probe(stack.base)
        t0 = time.monotonic()
        load_thread.start()

        # the fault schedule: kills at random moments, one database restart
        span = (0.15 * opts.duration, 0.9 * opts.duration)
        pg_at = opts.pg_restart_at * opts.duration
        kinds = ["web-worker", "timer", "web-master"] + [rng.choice(["web-worker", "timer"]) for _ in range(max(0, opts.kills - 3))]
        kinds = kinds[: opts.kills]
        events = sorted([(rng.uniform(*span), kind) for kind in kinds] + [(pg_at, "postgres")])
        kills, pg = [], {}
        for at, kind in events:
            delay = t0 + at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            if not load_thread.is_alive():
                break
            if kind == "postgres":
                pg = restart_postgres(cluster, probe, opts.pg_down)
                pg["at_s"] = round(at, 1)
                log(f"postgres restarted: {json.dumps(pg)[:400]}")
                continue
            kills.append(kill(stack, kind, rng, at))
            log(f"killed {kills[-1]}")
        load_thread.join(opts.duration + 180)
        report["load"] = load_result
        report["faults"] = {"kills": kills, "postgres_restart": pg}
        report["errors_outside_fault_windows"] = unattributed(load_result.get("errors_by_second", {}), kills, pg)

        # the tail: no more users, the timers of the cases they left keep falling due; one
        # more timer worker is killed halfway
        if opts.tail > 0:
            log(f"tail: {opts.tail} s of timers without load")
            time.sleep(opts.tail / 2)
            kills.append(kill(stack, "timer", rng, time.monotonic() - t0))
            log(f"killed {kills[-1]}")
            time.sleep(opts.tail / 2)

        # after the load: due timers drain, then the stack stops and the invariants are checked
        report["timers_drained_seconds"] = wait_timers_drained(env, 120)
        report["supervisor"] = {name: {"starts": c["starts"], "exits": [e["how"] for e in c["exits"]]}
                                for name, c in stack.state()["children"].items()}
        report["stack_exit_code"] = stack.stop()
        text = stack.logfile.read_text(errors="replace")
        report["stack_log"] = {"tracebacks": text.count("Traceback"), "lines": text.count("\n"),
                               "file": str(stack.logfile) if opts.keep else None}
        check = subprocess.run([*BPM, "check", "--ack", str(ack)], env=env, cwd=ROOT, capture_output=True, text=True,
                               timeout=600)
        try:
            report["invariants"] = json.loads(check.stdout)
        except ValueError:
            report["invariants"] = {"ok": False, "output": check.stdout[-2000:], "stderr": check.stderr[-2000:]}
        down = pg.get("api_while_down", {}).get("statuses", {})
        report["ok"] = (bool(report["invariants"].get("ok")) and set(down) == {"503"}
                        and report["errors_outside_fault_windows"]["outside_windows"] == 0)
        return report
    finally:
        if stack is not None and stack.proc.poll() is None:
            stack.stop()
        if opts.keep:
            log(f"kept {folder} (cluster on port {cluster.port} is stopped)")
        cluster.stop("fast", check=False)
        if not opts.keep:
            shutil.rmtree(folder, ignore_errors=True)


def unattributed(errors_by_second: dict, kills: list[dict], pg: dict) -> dict:
    """Load errors not within a fault's window (from the fault until the service answered
    again, plus 5 s for requests in flight): these would be real defects."""
    windows = []
    for k in kills:
        if "epoch" in k and not k.get("skipped"):
            windows.append((k["epoch"] - 1, k["epoch"] + k.get("serving_again_after_s", 0) + 5))
    if pg.get("epoch"):
        windows.append((pg["epoch"] - 1, pg["epoch"] + pg["down_seconds"] + (pg["recovered_seconds_after_start"] or 60) + 5))
    inside = outside = 0
    seconds = []
    for second, n in errors_by_second.items():
        if any(a <= int(second) <= b for a, b in windows):
            inside += n
        else:
            outside += n
            seconds.append(int(second))
    return {"inside_windows": inside, "outside_windows": outside, "outside_at_epoch_seconds": seconds[:20]}


def kill(stack: Stack, kind: str, rng, at: float) -> dict:
    if kind == "web-worker":
        pids = stack.web_workers()
        pid = rng.choice(pids) if pids else None
    elif kind == "web-master":
        pid = stack.pid("web")
    else:
        timers = [n for n in stack.state()["children"] if n.startswith("timer-")]
        name = rng.choice(timers) if timers else None
        kind = name or kind
        pid = stack.pid(name) if name else None
    record = {"at_s": round(at, 1), "target": kind, "pid": pid}
    if pid is None:
        record["skipped"] = "no such process right now"
        return record
    try:
        record["epoch"] = time.time()
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        record["skipped"] = "already gone"
        return record
    if kind.startswith("web"):
        t0 = time.monotonic()
        while kind == "web-master" and stack.pid("web") in (pid, None) and time.monotonic() - t0 < 60:
            time.sleep(0.05)  # until the supervisor has started a new master
        while time.monotonic() - t0 < 60:
            try:
                if requests.get(stack.base + "/api/health", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            time.sleep(0.1)
        record["serving_again_after_s"] = round(time.monotonic() - t0, 2)
    return record


def restart_postgres(cluster: Cluster, probe: Probe, down_seconds: float) -> dict:
    """Crash PostgreSQL (immediate stop), probe while it is down, start it, probe until healthy."""
    down_at, epoch = time.monotonic(), time.time()
    cluster.stop("immediate")
    while time.monotonic() - down_at < down_seconds:
        probe.once("down")
        time.sleep(0.2)
    up_at = time.monotonic()
    ready: list[float] = []
    starter = threading.Thread(target=lambda: (cluster.start(), ready.append(time.monotonic())))
    starter.start()
    healthy_at = None
    while time.monotonic() - up_at < 120:
        api, page = probe.once("starting" if healthy_at is None else "up")
        if api == 200 and page == 200:
            healthy_at = time.monotonic()
            break
        time.sleep(0.1)
    starter.join(120)
    out = probe.summary(down_at, up_at, healthy_at)
    out["postgres_ready_seconds_after_start"] = round(ready[0] - up_at, 2) if ready else None
    out["epoch"] = epoch
    return out


def wait_timers_drained(env: dict, timeout: float) -> float | None:
    """Seconds until no timer is pending past its due time (the workers caught up)."""
    from sqlalchemy import create_engine, func, select

    from engine.clock import utcnow
    from engine.store.models import Timer

    url = env["BPM_DATABASE_URL"].replace("postgresql://", "postgresql+psycopg://", 1)
    eng = create_engine(url)
    t0 = time.monotonic()
    try:
        while time.monotonic() - t0 < timeout:
            with eng.connect() as conn:
                due = conn.execute(select(func.count()).where(Timer.state == "pending", Timer.fire_at < utcnow())).scalar_one()
            if due == 0:
                return round(time.monotonic() - t0, 1)
            time.sleep(0.5)
        return None
    finally:
        eng.dispose()


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--users", type=int, default=16)
    p.add_argument("--duration", type=float, default=180)
    p.add_argument("--think-min", type=float, default=1.0)
    p.add_argument("--think-max", type=float, default=5.0)
    p.add_argument("--web-workers", type=int, default=3)
    p.add_argument("--timer-workers", type=int, default=2)
    p.add_argument("--jobs", action="store_true", help="also run `bpm jobs serve` (Prefect) in the stack")
    p.add_argument("--kills", type=int, default=6, help="SIGKILLs (web workers, timer workers, the gunicorn master once)")
    p.add_argument("--pg-restart-at", type=float, default=0.5, help="fraction of the run at which PostgreSQL is restarted")
    p.add_argument("--pg-down", type=float, default=6.0, help="seconds PostgreSQL stays down")
    p.add_argument("--pg-port", type=int, default=5499)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--abandon", type=float, default=0.3,
                   help="share of counter cases the load leaves for their SLA timers (warning, breach, escalation)")
    p.add_argument("--tail", type=float, default=60, help="seconds the stack runs on after the load, firing timers")
    p.add_argument("--keep", action="store_true", help="keep the temporary folder (logs, ack log, stopped cluster)")
    p.add_argument("--out", type=Path, default=None)
    return p.parse_args(argv)


def main(argv=None) -> None:
    opts = parse_args(argv)
    report = run(opts)
    text = json.dumps(report, ensure_ascii=False, indent=2, default=str)
    if opts.out:
        opts.out.write_text(text, encoding="utf-8")
    print(text)
    sys.exit(0 if report.get("ok") else 1)


if __name__ == "__main__":
    main()
