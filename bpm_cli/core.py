"""``bpm init``, ``bpm deploy``, ``bpm serve`` and ``bpm worker``."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import click

from bpm_cli.support import fail, open_engine, production_problems
from engine.config import load_settings
from engine.errors import EngineError
from engine.ops.setup import deploy_path, init_database


@click.command()
@click.option("--demo", is_flag=True, help="Create one demo user per role (username = role key).")
@click.option("--demo-password", default="demo", show_default=True)
@click.option("--demo-seal-pin", default="123456", show_default=True, help="Seal PIN of the demo service_center_head.")
def init(demo: bool, demo_password: str, demo_seal_pin: str) -> None:
    """Create or migrate the database and deploy processes/ and forms/."""
    engine = open_engine()
    try:
        init_database(engine, demo, demo_password, echo=click.echo, demo_seal_pin=demo_seal_pin)
    except EngineError as exc:
        fail(exc)
    click.echo(f"database ready: {engine.settings.database_url.split('@')[-1]}")


@click.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def deploy(file: Path) -> None:
    """Deploy a .bpmn process, a .dmn decision file or a .form form file."""
    try:
        deploy_path(open_engine(), file, click.echo)
    except EngineError as exc:
        fail(exc)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=int, help="gunicorn worker processes")
@click.option("--threads", default=8, show_default=True, type=int)
@click.option("--no-timers", is_flag=True, help="Do not run the timer worker inside the web process.")
@click.option("--demo-workers", is_flag=True, help="Also run an external-task worker for each configured topic "
              "with a handler, as the demo service account (password BPM_WORKER_PASSWORD, default demo).")
def serve(host: str, port: int, workers: int, threads: int, no_timers: bool, demo_workers: bool) -> None:
    """Serve the web app and API (and, by default, the timer worker) with gunicorn."""
    settings = load_settings()
    if settings.production:
        problems = production_problems(settings)
        if problems:
            for problem in problems:
                click.echo(f"error: {problem}", err=True)
            sys.exit(2)
    if settings.controlled_clock and workers > 1:
        click.echo("error: the controlled clock lives in one process: use --workers 1 with BPM_CONTROLLED_CLOCK=1", err=True)
        sys.exit(2)
    from bpm_cli.serving import run_gunicorn

    children = _demo_workers(f"http://{host}:{port}") if demo_workers else []
    try:
        run_gunicorn(host, port, workers, threads, timers=not no_timers)
    finally:
        for child in children:
            child.terminate()


def _demo_workers(url: str) -> list:
    """``bpm external-worker`` for each topic with a handler; they wait (back off) until the server answers."""
    import os
    import subprocess

    from engine.runtime.connectors import load_topics

    env = {**os.environ, "BPM_WORKER_PASSWORD": os.environ.get("BPM_WORKER_PASSWORD", "demo"), "BPM_URL": url}
    out = []
    for topic, spec in load_topics(load_settings().connectors).items():
        if spec.get("handler"):
            out.append(subprocess.Popen([sys.executable, "-m", "bpm_cli.main", "external-worker", "--topic", topic],
                                        env=env))
            click.echo(f"external-task worker for topic {topic} started")
    return out


@click.command()
def worker() -> None:
    """Fire due timers until interrupted (run several for scale-out)."""
    from engine.scheduling.timers import run_worker

    engine = open_engine()
    stop = threading.Event()
    click.echo("timer worker started")
    try:
        run_worker(engine, stop)
    except KeyboardInterrupt:
        stop.set()


@click.command()
def coverage() -> None:
    """Print what of BPMN 2.0 runs and what is refused at deploy (the README's coverage tables)."""
    from engine.bpmn.coverage import markdown

    click.echo(markdown(), nl=False)


@click.command("external-worker")
@click.option("--topic", required=True, help="the topic to work (processes/connectors.toml)")
@click.option("--handler", help="module:function; default: the topic's configured handler")
@click.option("--url", default="http://127.0.0.1:8000", show_default=True, envvar="BPM_URL")
@click.option("--user", default="integration", show_default=True, envvar="BPM_WORKER_USER")
@click.option("--password", envvar="BPM_WORKER_PASSWORD", required=True, help="or BPM_WORKER_PASSWORD")
@click.option("--max-tasks", default=1, show_default=True, type=int)
@click.option("--worker-id", help="default: <topic>-<random>")
@click.option("--poll-ms", default=10_000, show_default=True, type=int,
              help="long polling: how long one fetch waits for a task (a stop is noticed after it)")
def external_worker(topic, handler, url, user, password, max_tasks, worker_id, poll_ms) -> None:
    """Work one topic's external tasks through the REST API until SIGTERM/SIGINT."""
    import signal

    from bpm_cli.worker import ExternalTaskClient, Worker, load_handler
    from engine.runtime.connectors import load_topics

    spec = load_topics(load_settings().connectors).get(topic, {})
    ref = handler or spec.get("handler")
    if not ref:
        raise click.UsageError(f"topic {topic!r} has no configured handler: pass --handler module:function")
    worker = Worker(ExternalTaskClient(url, user, password), topic, load_handler(ref), spec.get("settings"),
                    lock_ms=spec.get("lock_duration_ms", 60_000), max_tasks=max_tasks, worker_id=worker_id,
                    wait_ms=poll_ms)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: worker.stop())
    worker.run()
    click.echo(f"worker {worker.worker_id} stopped after {worker.done} tasks")


def register(main: click.Group) -> None:
    for command in (init, deploy, serve, worker, coverage, external_worker):
        main.add_command(command)
