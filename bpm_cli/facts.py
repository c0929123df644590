"""``bpm facts``: import the external facts the scoring jobs read (engine/jobs/facts.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from bpm_cli.support import fail, open_engine
from engine.errors import EngineError
from engine.identity.actor import SYSTEM


@click.group()
def facts() -> None:
    """External facts (revenue, members, churn, 6S ...) for the scoring jobs."""


@facts.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Validate only; import nothing.")
@click.option("--as", "as_user", default=None, metavar="USERNAME",
              help="Record the import as this (active) user instead of the system.")
def import_cmd(file: Path, dry_run: bool, as_user: str | None) -> None:
    """Import FILE.csv (period,subject,metric,value). Every bad row is reported as
    ``line N: field: message`` and nothing is imported (exit code 2)."""
    from engine.identity.auth import actor_by_name
    from engine.jobs.facts import FactsImportError, import_facts
    from engine.jobs.scoring import RulesError

    engine = open_engine()
    try:
        actor = SYSTEM
        if as_user:
            with engine.read() as session:
                actor = actor_by_name(session, as_user)
            if actor is None:
                click.echo(f"error: no active user {as_user!r}", err=True)
                sys.exit(2)
        with engine.uow(actor) as uow:
            summary = import_facts(uow, file.name, file.read_bytes(), dry_run=dry_run)
    except FactsImportError as exc:
        click.echo(f"error: {file.name}: {exc.message}", err=True)
        for line in exc.errors:
            click.echo(line, err=True)
        sys.exit(2)
    except RulesError as exc:
        click.echo(f"error: scoring rules: {exc}", err=True)
        sys.exit(2)
    except EngineError as exc:
        fail(exc)
    finally:
        engine.close()
    verb = "valid (dry run, nothing imported)" if dry_run else "imported"
    click.echo(f"{summary['rows']} facts {verb} from {summary['file']} "
               f"(replacing {summary['replaced']}; periods {', '.join(summary['periods'])}; sha256 {summary['sha256']})")
