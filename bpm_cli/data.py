"""``bpm retention`` / ``bpm archive`` / ``bpm backup``: the data lifecycle commands."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from bpm_cli.support import fail, open_engine
from engine.errors import EngineError


def _print(data) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def _call(fn, *, with_engine: bool = True):
    engine = open_engine() if with_engine else None
    try:
        return fn(engine)
    except EngineError as exc:
        fail(exc)
    finally:
        if engine is not None:
            engine.close()


# --------------------------------------------------------------------------- retention


@click.group()
def retention() -> None:
    """History retention: archive, then delete, finished instances older than BPM_HISTORY_TTL_DAYS."""


@retention.command("run")
@click.option("--dry-run", is_flag=True, help="Only count (and list) the instances that would be archived.")
@click.option("--batch-size", default=200, show_default=True, type=click.IntRange(1, 10_000),
              help="Instances per archive file (one transaction each).")
def retention_run(dry_run: bool, batch_size: int) -> None:
    """Archive finished instances that ended more than BPM_HISTORY_TTL_DAYS ago into
    <var_dir>/archive (BPM_ARCHIVE_DIR), then delete their rows; audit events are kept."""
    from engine.ops import retention as svc

    _print(_call(lambda engine: svc.run(engine, dry_run=dry_run, batch_size=batch_size)))


# --------------------------------------------------------------------------- archive


@click.group()
def archive() -> None:
    """Read history archive files written by `bpm retention run`."""


@archive.command("list")
def archive_list() -> None:
    """The archives recorded in the audit log, and whether their file is still here and intact."""
    from engine.ops import retention as svc

    def listing(engine):
        folder = svc.archive_dir(engine.settings)
        with engine.read() as session:
            recorded = svc.recorded_archives(session.connection())
        out = []
        for event in recorded:
            path = folder / str(event.get("file"))
            state = "missing" if not path.is_file() else ("ok" if svc.file_sha256(path) == event.get("sha256") else "altered")
            out.append({"file": event.get("file"), "sha256": event.get("sha256"), "instances": event.get("instances"),
                        "audit_seq": event["seq"], "at": event["at"], "state": state})
        return {"folder": str(folder), "archives": out}

    _print(_call(listing))


@archive.command("show")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--instance", "instance_id", default=None, help="Print this instance's full record (document bytes left out).")
@click.option("--offline", is_flag=True, help="Do not ask the database whether the audit log records the file.")
def archive_show(file: Path, instance_id: str | None, offline: bool) -> None:
    """Header, sha256 and instances of an archive file (or one instance's full record)."""
    from engine.ops import retention as svc

    _print(_call(lambda engine: svc.show(file, instance_id, engine), with_engine=not offline))


@archive.command("restore")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("instance_id")
def archive_restore(file: Path, instance_id: str) -> None:
    """Put one archived instance back into the database (audited as history_restored)."""
    from engine.ops import retention as svc

    _print(_call(lambda engine: svc.restore(engine, file, instance_id)))


# --------------------------------------------------------------------------- backup


@click.group()
def backup() -> None:
    """Backup bundles of the database (SQLite online backup / pg_dump) and their restore."""


@backup.command("create")
@click.argument("path", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--include-keys", is_flag=True,
              help="Also put the secret keys (audit signing key, seal CA key, seal key-encryption secret) in the bundle.")
def backup_create(path: Path | None, include_keys: bool) -> None:
    """Write one .tar.gz bundle (default <var_dir>/backups/bpm-backup-<time>.tar.gz, mode 0600)."""
    from engine.ops import backup as svc

    result = _call(lambda engine: svc.create(engine, path, include_keys=include_keys))
    click.echo(f"backup written: {result['file']}", err=True)
    if not result["audit"]["chain_ok"]:
        click.echo(f"warning: the audit chain in the backup does not verify: {result['audit']['reason']}", err=True)
    _print(result)


@backup.command("inspect")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def backup_inspect(path: Path) -> None:
    """Check every member of a bundle against its manifest and print the manifest."""
    from engine.ops import backup as svc

    _print(_call(lambda _engine: svc.inspect_bundle(path), with_engine=False))


@backup.command("restore")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace the contents of a database that is not empty.")
@click.option("--restore-keys", is_flag=True, help="Write the bundle's keys where they are missing (never overwrites).")
@click.option("--allow-connections", is_flag=True,
              help="Restore although other connections use the database (refused by default: stop the app first).")
def backup_restore(path: Path, force: bool, restore_keys: bool, allow_connections: bool) -> None:
    """Replace the database with the bundle's; stop the web app, workers and jobs server first."""
    from engine.ops import backup as svc

    result = _call(lambda engine: svc.restore(engine, path, force=force, restore_keys=restore_keys,
                                              allow_connections=allow_connections))
    if result.get("warning"):
        click.echo(f"warning: {result['warning']}", err=True)
    _print(result)
    sys.exit(0 if result["chain_ok"] else 1)


def register(main) -> None:
    for group in (retention, archive, backup):
        main.add_command(group)
