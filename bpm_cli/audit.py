"""``bpm audit``: checkpoints of the audit chain and their verification."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from bpm_cli.support import fail, open_engine, print_json
from engine.config import load_settings
from engine.errors import EngineError


@click.group()
def audit() -> None:
    """Audit log: signed checkpoints and verification of the hash chain."""


@audit.command("checkpoint")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="A new file to write it to (default: <var_dir>/checkpoints/checkpoint-<seq>[-<n>].json; "
                   "never overwritten).")
def audit_checkpoint_cmd(out: Path | None) -> None:
    """Verify the chain, sign its head {last_seq, hash, time} and write the checkpoint file.

    Exit code 1 (and no checkpoint) when the chain does not verify.
    """
    from engine.audit.checkpoint import ChainBroken, create_checkpoint

    engine = open_engine()
    try:
        path, checkpoint = create_checkpoint(engine, out)
    except ChainBroken as exc:
        click.echo(f"error: {exc.message}", err=True)
        print_json(exc.details)
        sys.exit(1)
    except EngineError as exc:
        fail(exc)
    finally:
        engine.close()
    click.echo(f"checkpoint written: {path}", err=True)
    print_json({k: checkpoint[k] for k in ("last_seq", "hash", "time", "key_id")})


@audit.command("verify")
@click.option("--checkpoint", "checkpoint_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="Checkpoint to compare with (default: the newest in <var_dir>/checkpoints).")
@click.option("--public-key", "public_key_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="Trusted public key (PEM); default: the local audit key.")
def audit_verify_cmd(checkpoint_file: Path | None, public_key_file: Path | None) -> None:
    """Recompute the hash chain and check a signed checkpoint; exit 0 when ok, 1 when not."""
    from engine.audit.checkpoint import verify

    engine = open_engine()
    try:
        report = verify(engine, checkpoint_file, public_key_file)
    except EngineError as exc:
        fail(exc)
    finally:
        engine.close()
    print_json(report)
    sys.exit(0 if report["ok"] else 1)


@audit.command("public-key")
def audit_public_key_cmd() -> None:
    """Print the audit public key (PEM), creating the key pair on first use."""
    from engine.audit.checkpoint import key_path, load_or_create_key, public_pem

    key = load_or_create_key(key_path(load_settings()))
    click.echo(public_pem(key.public_key()), nl=False)


def register(main: click.Group) -> None:
    main.add_command(audit)
