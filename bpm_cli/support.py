"""Helpers shared by the ``bpm`` command modules (bpm_cli/main.py and bpm_cli/*.py)."""

from __future__ import annotations

import json
import sys

import click

from engine.errors import EngineError


def open_engine():
    """The engine of the configured database (``BPM_DATABASE_URL``, ``BPM_VAR_DIR`` ...)."""
    from engine.app import BpmEngine
    from engine.config import load_settings

    return BpmEngine(load_settings())


def fail(exc: EngineError) -> None:
    """Report an engine error (message, then its details as JSON) on stderr and exit with 2."""
    click.echo(f"error: {exc.message}", err=True)
    if exc.details:
        click.echo(json.dumps(exc.details, ensure_ascii=False, indent=2, default=str), err=True)
    sys.exit(2)
