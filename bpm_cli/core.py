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
    """Deploy a .bpmn process or a .form form file."""
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
def serve(host: str, port: int, workers: int, threads: int, no_timers: bool) -> None:
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

    run_gunicorn(host, port, workers, threads, timers=not no_timers)


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


def register(main: click.Group) -> None:
    for command in (init, deploy, serve, worker, coverage):
        main.add_command(command)
