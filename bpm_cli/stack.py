"""``bpm stack up``: the production shape on one machine, and ``bpm check``: invariants.

``bpm stack up`` is a small supervisor. It starts

- the web server: ``bpm serve --workers N --no-timers`` (gunicorn; its master already
  replaces a worker process that dies),
- ``M`` timer workers: ``bpm worker`` (``FOR UPDATE SKIP LOCKED``: any number of them, on
  any number of machines, fire every timer exactly once),
- the scheduled jobs: ``bpm jobs serve`` (Prefect), when this installation has it,

restarts any child that exits (1 s, doubling to 30 s while it keeps dying within 10 s of
its start), logs every exit with its code or signal, and on SIGTERM or SIGINT stops the
children in order (gunicorn gracefully) before it exits. The children's process ids are
kept in a small JSON state file (default ``<var_dir>/run/stack.json``) for operators and
``bench/harness/fault_test.py``.

Every option has an environment variable, so spreading the same shape over several
machines is configuration only: e.g. ``BPM_TIMER_WORKERS=0 BPM_JOBS=0`` on the web
machines, ``BPM_WEB_WORKERS=0`` on a worker machine (see README "Scaling out").

SQLite is one machine by nature; ``stack up`` on SQLite works but warns: writers of
different processes then queue on SQLite's file lock (30 s busy timeout) instead of the
in-process lock, so use PostgreSQL for anything beyond a trial.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import click

from engine.config import load_settings

log = logging.getLogger("bpm.stack")

RESTART_FIRST, RESTART_LONGEST = 1.0, 30.0  # back-off between restarts of a child that keeps dying
HEALTHY_AFTER = 10.0  # a child that ran this long resets its back-off
STOP_GRACE = 20.0  # seconds a child gets to stop before SIGKILL (gunicorn's graceful_timeout is 10)
TICK = 0.2


# --------------------------------------------------------------------------- children


def _bpm(*args: str) -> list[str]:
    """argv running ``bpm ARGS`` with this interpreter. Importing ``bpm_cli.main`` as a module
    (not ``-m``, which runs it as ``__main__``) sees every registered command group."""
    return [sys.executable, "-c", "import sys; from bpm_cli.main import main; sys.exit(main(prog_name='bpm'))", *args]


def jobs_available() -> bool:
    """Whether this installation has ``bpm jobs serve`` (the Prefect jobs)."""
    from bpm_cli.jobs import jobs

    return isinstance(jobs, click.Group) and "serve" in jobs.commands


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: the child gets SIGTERM when the supervisor dies, even by SIGKILL (no orphans)."""
    os.setsid()
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:  # noqa: BLE001 - not Linux: children may outlive a killed supervisor
        pass


@dataclass
class Child:
    name: str
    argv: list[str]
    stop_signal: int = signal.SIGTERM
    proc: subprocess.Popen | None = None
    started_at: float = 0.0
    next_start: float = 0.0
    backoff: float = RESTART_FIRST
    starts: int = 0
    exits: list[dict] = field(default_factory=list)

    def start(self, env: dict) -> None:
        child_env = {**env, "PGAPPNAME": f"bpm-{self.name}", "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(self.argv, env=child_env, preexec_fn=_die_with_parent)  # noqa: PLW1509
        self.started_at = time.monotonic()
        self.starts += 1
        log.info("started %s (pid %s)%s", self.name, self.proc.pid, "" if self.starts == 1 else f", restart {self.starts - 1}")

    def reap(self) -> dict | None:
        """If the child has exited: record and log it, schedule the restart, return the record."""
        if self.proc is None or self.proc.poll() is None:
            return None
        code, ran = self.proc.returncode, time.monotonic() - self.started_at
        try:  # its own children (gunicorn's workers after a killed master) go with it: they would
            os.killpg(self.proc.pid, signal.SIGKILL)  # hold the listening port and block the restart
        except (ProcessLookupError, PermissionError):
            pass
        how = f"signal {signal.Signals(-code).name}" if code < 0 else f"exit code {code}"
        if ran >= HEALTHY_AFTER:
            self.backoff = RESTART_FIRST
        wait, self.backoff = self.backoff, min(self.backoff * 2, RESTART_LONGEST)
        self.next_start = time.monotonic() + wait
        record = {"pid": self.proc.pid, "how": how, "ran_seconds": round(ran, 1), "at": time.time()}
        self.exits.append(record)
        del self.exits[:-20]
        log.warning("%s (pid %s) ended with %s after %.1f s; restarting in %.0f s",
                    self.name, self.proc.pid, how, ran, wait)
        self.proc = None
        return record

    def state(self) -> dict:
        return {"pid": self.proc.pid if self.proc else None, "argv": self.argv[3:] if self.argv[1] == "-c" else self.argv,
                "starts": self.starts, "exits": self.exits}


class Supervisor:
    def __init__(self, children: list[Child], state_file: Path | None, env: dict | None = None) -> None:
        self.children = children
        self.state_file = state_file
        self.env = dict(env if env is not None else os.environ)
        self.stopping = False

    def _on_signal(self, signum, _frame) -> None:
        if not self.stopping:
            log.info("received %s: stopping the stack", signal.Signals(signum).name)
        self.stopping = True

    def write_state(self) -> None:
        if self.state_file is None:
            return
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps({"supervisor_pid": os.getpid(), "updated_at": time.time(),
                                   "children": {c.name: c.state() for c in self.children}}, indent=2))
        tmp.replace(self.state_file)

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        try:
            while not self.stopping:
                changed = False
                for child in self.children:
                    if child.reap() is not None:
                        changed = True
                    if child.proc is None and time.monotonic() >= child.next_start and not self.stopping:
                        child.start(self.env)
                        changed = True
                if changed:
                    self.write_state()
                time.sleep(TICK)
        finally:
            self.stop()
        return 0

    def stop(self) -> None:
        """Stop every child with its stop signal; SIGKILL what is left after the grace period."""
        running = [c for c in self.children if c.proc is not None and c.proc.poll() is None]
        for child in running:
            log.info("stopping %s (pid %s) with %s", child.name, child.proc.pid, signal.Signals(child.stop_signal).name)
            try:
                child.proc.send_signal(child.stop_signal)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + STOP_GRACE
        for child in running:
            try:
                child.proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("%s (pid %s) did not stop within %.0f s: SIGKILL", child.name, child.proc.pid, STOP_GRACE)
                child.proc.kill()
                child.proc.wait(10)
        for child in self.children:
            child.proc = None
        self.write_state()
        log.info("stack stopped")


def plan_children(host: str, port: int, web_workers: int, threads: int, timer_workers: int, jobs: bool) -> list[Child]:
    children = []
    if web_workers > 0:
        children.append(Child("web", _bpm("serve", "--host", host, "--port", str(port), "--workers", str(web_workers),
                                          "--threads", str(threads), "--no-timers")))
    for i in range(1, timer_workers + 1):
        # SIGINT: `bpm worker` stops cleanly on KeyboardInterrupt (SIGKILL would be safe too:
        # a timer only turns fired in the transaction that advanced its instance)
        children.append(Child(f"timer-{i}", _bpm("worker"), stop_signal=signal.SIGINT))
    if jobs:
        children.append(Child("jobs", _bpm("jobs", "serve")))
    return children


def default_web_workers() -> int:
    return max(2, min(2 * (os.cpu_count() or 1) + 1, 9))


# --------------------------------------------------------------------------- commands


@click.group()
def stack() -> None:
    """The production shape: web workers, timer workers and jobs under one supervisor."""


@stack.command("up")
@click.option("--host", envvar="BPM_HOST", default="127.0.0.1", show_default=True)
@click.option("--port", envvar="BPM_PORT", default=8000, show_default=True, type=int)
@click.option("--web-workers", envvar="BPM_WEB_WORKERS", default=None, type=click.IntRange(0, 256),
              help="gunicorn worker processes (0: no web server on this machine) [default: 2 x cores + 1, 2..9]")
@click.option("--threads", envvar="BPM_WEB_THREADS", default=8, show_default=True, type=click.IntRange(1, 256),
              help="threads per gunicorn worker")
@click.option("--timer-workers", envvar="BPM_TIMER_WORKERS", default=2, show_default=True, type=click.IntRange(0, 64),
              help="`bpm worker` processes (0: timers are fired on other machines)")
@click.option("--jobs/--no-jobs", envvar="BPM_JOBS", default=True, show_default=True,
              help="run `bpm jobs serve` (the Prefect jobs) when this installation has it")
@click.option("--state-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="where the children's pids are kept [default: <var_dir>/run/stack.json]")
def up(host, port, web_workers, threads, timer_workers, jobs, state_file) -> None:
    """Start and supervise the stack until SIGTERM / Ctrl-C (children that die are restarted)."""
    from bpm_cli.support import production_problems

    settings = load_settings()
    web_workers = default_web_workers() if web_workers is None else web_workers
    if settings.production:
        problems = production_problems(settings)
        for problem in problems:
            click.echo(f"error: {problem}", err=True)
        if problems:
            sys.exit(2)
    if settings.controlled_clock:
        click.echo("error: BPM_CONTROLLED_CLOCK=1 lives in one process: use `bpm serve --workers 1`", err=True)
        sys.exit(2)
    if settings.is_sqlite:
        click.echo("warning: SQLite runs on one machine only, and writers of different processes queue on its file "
                   "lock; set BPM_DATABASE_URL to PostgreSQL for production (README \"Scaling out\")", err=True)
    with_jobs = jobs and jobs_available()
    if jobs and not with_jobs:
        # --- place for the scheduled jobs: `bpm jobs serve` (bpm_cli/jobs.py) is not installed here ---
        click.echo("note: `bpm jobs serve` is not available in this installation: no scheduled jobs", err=True)
    children = plan_children(host, port, web_workers, threads, timer_workers, with_jobs)
    if not children:
        raise click.UsageError("nothing to run: --web-workers 0, --timer-workers 0 and no jobs")
    state_file = state_file or settings.var_dir / "run" / "stack.json"
    where = settings.database_url.split("@")[-1]
    web = f"http://{host}:{port} ({web_workers} workers x {threads} threads)" if web_workers else "off"
    click.echo(f"stack: web {web}, "
               f"{timer_workers} timer worker(s), jobs {'on' if with_jobs else 'off'}; database {where}; "
               f"state {state_file}", err=True)
    sys.exit(Supervisor(children, state_file).run())


@stack.command("ensure-db")
def ensure_db() -> None:
    """Create the PostgreSQL database named by BPM_DATABASE_URL if it does not exist."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    url = make_url(load_settings().database_url)
    if not url.drivername.startswith("postgresql"):
        click.echo("SQLite: nothing to create")
        return
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT",
                          connect_args={"connect_timeout": 5})
    try:
        with admin.connect() as conn:
            exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": url.database}).first()
            if not exists:
                conn.execute(text(f'CREATE DATABASE "{url.database}"'))
    finally:
        admin.dispose()
    click.echo(f"database {url.database} {'exists' if exists else 'created'}")


@click.command("check")
@click.option("--ack", "ack_file", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="acknowledgement log of bench/harness/load_test.py: compare what clients saw acknowledged")
@click.option("--overdue-tolerance", default=60.0, show_default=True, type=float,
              help="seconds a pending timer may be past due before it counts as a violation (negative: skip)")
@click.option("--no-states", is_flag=True, help="skip loading every unfinished instance's workflow state")
def check(ack_file: Path | None, overdue_tolerance: float, no_states: bool) -> None:
    """Check the database's invariants; print JSON, exit 1 on any violation.

    Instances vs their task and timer rows, tasks completed once, timers fired once, the
    audit chain, and (with --ack) what the load generator saw acknowledged.
    """
    from bpm_cli.support import open_engine
    from engine.ops.invariants import check_invariants

    engine = open_engine()
    try:
        report = check_invariants(engine, ack=ack_file, overdue_tolerance=None if overdue_tolerance < 0 else overdue_tolerance,
                                  states=not no_states)
    finally:
        engine.close()
    click.echo(json.dumps(report, ensure_ascii=False, indent=2, default=str))
    sys.exit(0 if report["ok"] else 1)


def register(main: click.Group) -> None:
    main.add_command(stack)
    main.add_command(check)
