"""``bpm seal``: the electronic seal's CA, seals, PINs and verification."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from bpm_cli.support import admin_call, fail, open_engine, print_json
from engine.config import load_settings
from engine.errors import EngineError
from engine.identity.actor import SYSTEM


@click.group()
def seal() -> None:
    """Electronic seal: organisation CA, seal certificates, verification of sealed PDFs."""


def _pin_prompt(username: str) -> str:
    from engine.seals.keys import check_pin

    while True:
        pin = click.prompt(f"seal PIN for {username} (6 digits)", hide_input=True, confirmation_prompt=True)
        try:
            check_pin(pin)
            return pin
        except EngineError as exc:
            click.echo(f"error: {exc.message}", err=True)


@seal.command("init")
@click.option("--generate-pins", is_flag=True, help="Generate each head's PIN and print it once (hand it over securely).")
def seal_init(generate_pins: bool) -> None:
    """Create the organisation CA and the system signer, and issue a seal to every service_center_head.

    Each head's private key is stored only as PKCS#12 encrypted under their seal PIN.
    """
    import secrets as _secrets

    from engine.seals.admin import init_seals

    def pin_for(username: str) -> str:
        if generate_pins:
            pin = f"{_secrets.randbelow(10**6):06d}"
            click.echo(f"seal PIN for {username}: {pin}")
            return pin
        return _pin_prompt(username)

    engine = open_engine()
    try:
        for line in init_seals(engine, pin_for):
            click.echo(line)
    except EngineError as exc:
        fail(exc)
    finally:
        engine.close()


@seal.command("issue")
@click.argument("username")
def seal_issue(username: str) -> None:
    """Issue a (new) seal certificate to USER under the organisation CA; the old one is retired."""
    from engine.seals.credentials import issue_seal

    pin = _pin_prompt(username)
    row = admin_call(lambda uow: issue_seal(uow, load_settings(), username, pin))
    click.echo(f"issued seal to {username} (serial {row.serial})")


@seal.command("import")
@click.argument("username")
@click.argument("p12_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--trust-root", "trust_roots", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="PEM certificate of the issuing root CA to trust (if the PKCS#12 does not carry it).")
def seal_import(username: str, p12_file: Path, trust_roots) -> None:
    """Take USER's seal from a PKCS#12 issued by a real CA (re-encrypted under their seal PIN)."""
    from cryptography import x509

    from engine.seals.credentials import import_seal

    roots = [c for path in trust_roots for c in x509.load_pem_x509_certificates(path.read_bytes())]
    password = click.prompt("PKCS#12 password", hide_input=True, default="", show_default=False)
    pin = _pin_prompt(username)
    row = admin_call(lambda uow: import_seal(uow, load_settings(), username, p12_file.read_bytes(),
                                              password.encode() or None, pin, roots))
    click.echo(f"imported seal of {username}: {row.subject} (serial {row.serial}, issuer {row.issuer})")


@seal.command("set-pin")
@click.argument("username")
def seal_set_pin(username: str) -> None:
    """Change USER's seal PIN (the current PIN is required)."""
    from engine.seals.credentials import change_pin

    old = click.prompt("current seal PIN", hide_input=True)
    new = _pin_prompt(username)
    admin_call(lambda uow: change_pin(uow, load_settings(), username, old, new))
    click.echo(f"seal PIN of {username} changed")


@seal.command("unlock")
@click.argument("username")
def seal_unlock(username: str) -> None:
    """Lift the lock of USER's seal after too many wrong PINs."""
    from engine.seals.credentials import unlock_user

    admin_call(lambda uow: unlock_user(uow, username))
    click.echo(f"seal of {username} unlocked")


@seal.command("list")
def seal_list() -> None:
    """Seal certificates: CA, system signer and the heads' seals."""
    from engine.seals.credentials import list_credentials

    with open_engine().read() as session:
        for row in list_credentials(session):
            flags = ("" if row["active"] else " retired") + (" LOCKED" if row["locked"] else "")
            click.echo(f"{row['kind']:7} {row['username'] or '-':22} serial {row['serial']:42} "
                       f"until {row['not_after']:%Y-%m-%d}  {row['subject']}{flags}")


@seal.command("ca-cert")
def seal_ca_cert() -> None:
    """Print the trusted seal CA certificates (PEM) for external verifiers."""
    from engine.seals.credentials import trust_roots
    from engine.seals.keys import pem

    with open_engine().read() as session:
        click.echo("".join(pem(c) for c in trust_roots(session)), nl=False)


@seal.command("verify")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--trust-root", "trust_roots", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Also trust this CA certificate (PEM).")
def seal_verify(file: Path, trust_roots) -> None:
    """Verify every signature of a PDF and whether these exact bytes were sealed here (exit 0 valid, 1 not)."""
    from cryptography import x509

    from engine.seals.service import verify_bytes

    roots = [c for path in trust_roots for c in x509.load_pem_x509_certificates(path.read_bytes())]
    content = file.read_bytes()
    engine = open_engine()
    try:
        with engine.uow(SYSTEM) as uow:
            report = verify_bytes(uow.session, content, roots)
            uow.audit("seal_verified", sha256=report["sha256"], valid=report["valid"], file=file.name,
                      signatures=[s["field"] for s in report["signatures"]])
    except EngineError as exc:
        fail(exc)
    finally:
        engine.close()
    print_json(report)
    sys.exit(0 if report["valid"] else 1)


def register(main: click.Group) -> None:
    main.add_command(seal)
