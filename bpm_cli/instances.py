"""``bpm instances``: operator commands on process instances (migration to a newer version).

The commands run as the system actor (whoever has a shell on the server and the database
settings is the operator); every real migration is audited as ``instance_migrated``.
Exit codes: 0 done (or a dry run that found the move possible), 2 refused or failed.
"""

from __future__ import annotations

import json
import sys

import click

from bpm_cli.support import fail, open_engine
from engine.errors import EngineError
from engine.identity.actor import SYSTEM


def _echo_report(report: dict) -> None:
    click.echo(json.dumps(report, ensure_ascii=False, indent=2, default=str))


@click.group()
def instances() -> None:
    """Process instances: migrate to a newer process version."""


@instances.command("migrate")
@click.argument("instance_id")
@click.option("--to", "to_version", type=int, default=None, help="target version (default: the latest)")
@click.option("--dry-run", is_flag=True, help="report what would change; change nothing")
def migrate(instance_id: str, to_version: int | None, dry_run: bool) -> None:
    """Move one running instance to a newer version of its process."""
    from engine.runtime import migration as instance_migration

    engine = open_engine()
    try:
        with engine.uow(SYSTEM) as uow:
            report = instance_migration.migrate(uow, instance_id, to_version, dry_run)
    except EngineError as exc:
        fail(exc)
    finally:
        engine.close()
    _echo_report(report)
    if not report["possible"]:
        sys.exit(2)


@instances.command("migrate-all")
@click.argument("key")
@click.option("--from", "from_version", type=int, required=True, help="version the instances run on")
@click.option("--to", "to_version", type=int, default=None, help="target version (default: the latest)")
@click.option("--dry-run", is_flag=True, help="report what would change; change nothing")
def migrate_all(key: str, from_version: int, to_version: int | None, dry_run: bool) -> None:
    """Move every running instance of KEY@--from to --to, one transaction each, with a per-instance report."""
    from engine.runtime import migration as instance_migration

    engine = open_engine()
    try:
        report = instance_migration.migrate_all(engine, SYSTEM, key, from_version, to_version, dry_run)
    except EngineError as exc:
        fail(exc)
    finally:
        engine.close()
    _echo_report(report)
    verb = "would migrate" if dry_run else "migrated"
    count = report["possible"] if dry_run else report["migrated"]
    click.echo(f"{verb} {count} of {report['total']} instance(s); refused {report['refused']}", err=True)
    if report["refused"]:
        sys.exit(2)
