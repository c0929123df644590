"""The ``bpm`` command line: init, serve, worker, deploy, users."""

from __future__ import annotations

import json
import logging
import sys
import threading
from pathlib import Path

import click

from bpm_cli.support import fail, open_engine
from engine.config import DEFAULT_SECRET, load_settings, project_root
from engine.errors import EngineError
from engine.identity.actor import SYSTEM
from engine.identity.roles import ROLES


def deploy_path(engine, path: Path, echo=click.echo) -> None:
    """Deploy one .bpmn or .form file as the system actor."""
    from engine.forms import definitions as formdefs
    from engine.runtime import definitions

    with engine.uow(SYSTEM) as uow:
        if path.suffix == ".bpmn":
            row, created = definitions.deploy_process(uow, path.read_bytes())
            label = f"process {row.key} v{row.version}"
        else:
            try:
                content = json.loads(path.read_text(encoding="utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise EngineError(f"{path}: not valid JSON: {exc}") from exc
            row, created = formdefs.deploy_form(uow, content)
            label = f"form {row.form_key} v{row.version}"
    echo(f"{'deployed' if created else 'unchanged'}: {label} ({path.name})")


# (key, name, kind, parent): the county branch, its marketing department, two service halls
DEMO_UNITS = [
    ("branch", "县分公司 County branch", "branch", None),
    ("dept-market", "市场部 Marketing department", "department", "branch"),
    ("hall-1", "中心营业厅 Central service hall", "hall", "dept-market"),
    ("hall-2", "城东营业厅 East service hall", "hall", "dept-market"),
]
# demo users work in hall-1, except those whose role sits above the halls
DEMO_USER_UNITS = {"department_manager": "dept-market", "vice_president": "branch"}


def init_database(engine, demo: bool = False, demo_password: str = "demo", echo=click.echo,
                  demo_seal_pin: str = "123456") -> None:
    from engine.identity import auth as identity
    from engine.store.migrate import upgrade

    upgrade(engine.settings.database_url)
    root = project_root()
    for path in sorted((root / "forms").glob("*.form")):
        deploy_path(engine, path, echo)
    for path in sorted((root / "processes").glob("*.bpmn")):
        deploy_path(engine, path, echo)
    if demo:
        from engine.identity import users as svc

        with engine.uow(SYSTEM) as uow:
            known_units = {u["key"] for u in svc.list_units(uow.session)}
            for key, name, kind, parent in DEMO_UNITS:
                if key not in known_units:
                    svc.create_unit(uow, key, name, kind, parent)
            existing = {u["username"] for u in svc.list_users(uow.session, SYSTEM)}
            for role, (zh, en) in ROLES.items():
                if role not in existing:
                    user = identity.add_user(uow.session, role, demo_password, [role], display_name=f"{zh} ({en})",
                                             org_unit=DEMO_USER_UNITS.get(role, "hall-1"))
                    after = {k: v for k, v in svc.user_to_dict(uow.session, user).items() if k != "created_at"}
                    uow.audit("user_created", username=role, after=after)
        echo(f"demo users (username = role, password: {demo_password}): {', '.join(ROLES)}")
        # --- electronic seal (engine/seals): organisation CA, system signer, the demo head's seal ---
        from engine.seals.admin import setup_demo_seal

        for line in setup_demo_seal(engine, demo_seal_pin):
            echo(line)
        echo(f"demo seal PIN of service_center_head: {demo_seal_pin}")


@click.group()
def main() -> None:
    """BPM engine: BPMN processes, forms, tasks, SLAs and audit."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)


@main.command()
@click.option("--demo", is_flag=True, help="Create one demo user per role (username = role key).")
@click.option("--demo-password", default="demo", show_default=True)
@click.option("--demo-seal-pin", default="123456", show_default=True, help="Seal PIN of the demo service_center_head.")
def init(demo: bool, demo_password: str, demo_seal_pin: str) -> None:
    """Create or migrate the database and deploy processes/ and forms/."""
    engine = open_engine()
    try:
        init_database(engine, demo, demo_password, demo_seal_pin=demo_seal_pin)
    except EngineError as exc:
        fail(exc)
    click.echo(f"database ready: {engine.settings.database_url.split('@')[-1]}")


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def deploy(file: Path) -> None:
    """Deploy a .bpmn process or a .form form file."""
    try:
        deploy_path(open_engine(), file)
    except EngineError as exc:
        fail(exc)


def production_problems(settings) -> list[str]:
    """Reasons production mode must not start: development secret, demo passwords."""
    from engine.identity.auth import users_with_password

    problems = []
    if settings.controlled_clock:
        problems.append("BPM_CONTROLLED_CLOCK=1 is for acceptance tests and is refused in production")
    if settings.secret_key == DEFAULT_SECRET or len(settings.secret_key) < 32:
        problems.append("BPM_ENV=production needs BPM_SECRET_KEY set to a random secret of at least 32 characters")
    engine = open_engine()
    try:
        with engine.read() as session:
            weak = users_with_password(session, ["demo", "password", "123456"])
    except Exception:  # noqa: BLE001 - no database yet: nothing to check
        weak = []
    finally:
        engine.close()
    if weak:
        problems.append(f"users still have demo passwords: {', '.join(weak)}; change them with `bpm users set NAME --reset-password`")
    return problems


@main.command()
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


@main.command()
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


@main.group()
def users() -> None:
    """Manage users (every change is audited)."""


def _admin_call(fn):
    """Run a users.* service as the system actor, turning engine errors into exit code 2."""
    try:
        with open_engine().uow(SYSTEM) as uow:
            return fn(uow)
    except EngineError as exc:
        fail(exc)


@users.command("add")
@click.argument("username")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--role", "roles", multiple=True, required=True, type=click.Choice(list(ROLES)))
@click.option("--name", "display_name", default=None)
@click.option("--unit", "org_unit", default=None, help="org unit key (must exist: see `bpm units list`)")
@click.option("--email", default=None)
def users_add(username, password, roles, display_name, org_unit, email) -> None:
    from engine.identity import users as svc

    _admin_call(lambda uow: svc.create_user(uow, username, password, list(roles), display_name, org_unit, email))
    click.echo(f"user {username} added")


@users.command("list")
def users_list() -> None:
    from engine.identity import users as svc

    with open_engine().read() as session:
        for user in svc.list_users(session, SYSTEM):
            flags = ("" if user["is_active"] else " inactive") + (" LOCKED" if user["locked"] else "")
            click.echo(f"{user['username']:24} {','.join(user['roles']):40} {user['org_unit'] or '-':12}{flags}")


@users.command("set")
@click.argument("username")
@click.option("--role", "roles", multiple=True, type=click.Choice(list(ROLES)), help="replace the roles")
@click.option("--unit", "org_unit", default=None)
@click.option("--name", "display_name", default=None)
@click.option("--email", default=None)
@click.option("--active/--inactive", "is_active", default=None)
@click.option("--reset-password", is_flag=True, help="prompt for a new password")
def users_set(username, roles, org_unit, display_name, email, is_active, reset_password) -> None:
    """Change a user's roles, unit, name, e-mail, active flag or password."""
    from engine.identity import users as svc

    changes = {k: v for k, v in {"org_unit": org_unit, "display_name": display_name, "email": email,
                                 "is_active": is_active}.items() if v is not None}
    if roles:
        changes["roles"] = list(roles)
    if reset_password:
        changes["password"] = click.prompt("new password", hide_input=True, confirmation_prompt=True)
    if not changes:
        raise click.UsageError("nothing to change")
    _admin_call(lambda uow: svc.update_user(uow, username, changes))
    click.echo(f"user {username} updated")


@users.command("unlock")
@click.argument("username")
def users_unlock(username) -> None:
    """Lift a login lockout."""
    from engine.identity import users as svc

    _admin_call(lambda uow: svc.unlock(uow, username))
    click.echo(f"user {username} unlocked")


@users.command("revoke-tokens")
@click.argument("username")
def users_revoke(username) -> None:
    """Revoke every bearer token of a user."""
    from engine.identity import users as svc

    count = _admin_call(lambda uow: svc.revoke_tokens(uow, username))
    click.echo(f"revoked {count} token(s) of {username}")


@main.group()
def units() -> None:
    """Manage org units (service halls, departments)."""


@units.command("add")
@click.argument("key")
@click.argument("name")
@click.option("--kind", type=click.Choice(["hall", "department", "branch"]), default="hall", show_default=True)
@click.option("--parent", "parent_key", default=None)
def units_add(key, name, kind, parent_key) -> None:
    from engine.identity import users as svc

    _admin_call(lambda uow: svc.create_unit(uow, key, name, kind, parent_key))
    click.echo(f"org unit {key} added")


@units.command("list")
def units_list() -> None:
    from engine.identity import users as svc

    with open_engine().read() as session:
        for unit in svc.list_units(session):
            click.echo(f"{unit['key']:20} {unit['kind']:11} {unit['name']}  {unit['parent_key'] or ''}")


@main.group()
def calendar() -> None:
    """Local exceptions to the official working-day calendar (closures, extra working days)."""


def _set_override(day, is_working: bool, reason: str | None) -> None:
    from engine.sla import policy as sla
    from engine.store.models import CalendarOverride

    def apply(uow):
        row = uow.session.get(CalendarOverride, day)
        before = {"is_working": row.is_working, "reason": row.reason} if row else None
        if row is None:
            row = CalendarOverride(day=day, is_working=is_working, reason=reason)
            uow.session.add(row)
        else:
            row.is_working, row.reason = is_working, reason
        uow.audit("calendar_override_set", before=before, after={"is_working": is_working, "reason": reason},
                  day=day.isoformat())

    _admin_call(apply)
    sla.forget_calendar()


@calendar.command("close")
@click.argument("day", type=click.DateTime(formats=["%Y-%m-%d"]))
@click.option("--reason", required=True)
def calendar_close(day, reason) -> None:
    """Mark DAY (YYYY-MM-DD) as a local closure: not a working day."""
    _set_override(day.date(), False, reason)
    click.echo(f"{day.date()} closed: {reason}")


@calendar.command("work")
@click.argument("day", type=click.DateTime(formats=["%Y-%m-%d"]))
@click.option("--reason", required=True)
def calendar_work(day, reason) -> None:
    """Mark DAY (YYYY-MM-DD) as an extra working day."""
    _set_override(day.date(), True, reason)
    click.echo(f"{day.date()} is a working day: {reason}")


@calendar.command("list")
def calendar_list() -> None:
    from sqlalchemy import select

    from engine.store.models import CalendarOverride

    with open_engine().read() as session:
        for row in session.execute(select(CalendarOverride).order_by(CalendarOverride.day)).scalars():
            click.echo(f"{row.day}  {'working' if row.is_working else 'closed':8} {row.reason or ''}")


@main.group()
def halls() -> None:
    """Service halls: queue snapshots for the congestion evaluator."""


@halls.command("snapshot")
@click.argument("hall")
@click.option("--waiting", type=click.IntRange(0, 100_000), required=True)
@click.option("--open", "open_counters", type=click.IntRange(0, 1_000), required=True)
def halls_snapshot(hall, waiting, open_counters) -> None:
    """Report waiting customers and open counters; prints the resulting level."""
    from engine.halls import congestion

    state = _admin_call(lambda uow: congestion.record_snapshot(uow, hall, waiting, open_counters))
    click.echo(json.dumps(state, ensure_ascii=False, default=str))


@main.group()
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
    row = _admin_call(lambda uow: issue_seal(uow, load_settings(), username, pin))
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
    row = _admin_call(lambda uow: import_seal(uow, load_settings(), username, p12_file.read_bytes(),
                                              password.encode() or None, pin, roots))
    click.echo(f"imported seal of {username}: {row.subject} (serial {row.serial}, issuer {row.issuer})")


@seal.command("set-pin")
@click.argument("username")
def seal_set_pin(username: str) -> None:
    """Change USER's seal PIN (the current PIN is required)."""
    from engine.seals.credentials import change_pin

    old = click.prompt("current seal PIN", hide_input=True)
    new = _pin_prompt(username)
    _admin_call(lambda uow: change_pin(uow, load_settings(), username, old, new))
    click.echo(f"seal PIN of {username} changed")


@seal.command("unlock")
@click.argument("username")
def seal_unlock(username: str) -> None:
    """Lift the lock of USER's seal after too many wrong PINs."""
    from engine.seals.credentials import unlock_user

    _admin_call(lambda uow: unlock_user(uow, username))
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
    _print_json(report)
    sys.exit(0 if report["valid"] else 1)


@main.group()
def audit() -> None:
    """Audit log: signed checkpoints and verification of the hash chain."""


def _print_json(data) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


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
        _print_json(exc.details)
        sys.exit(1)
    except EngineError as exc:
        fail(exc)
    finally:
        engine.close()
    click.echo(f"checkpoint written: {path}", err=True)
    _print_json({k: checkpoint[k] for k in ("last_seq", "hash", "time", "key_id")})


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
    _print_json(report)
    sys.exit(0 if report["ok"] else 1)


@audit.command("public-key")
def audit_public_key_cmd() -> None:
    """Print the audit public key (PEM), creating the key pair on first use."""
    from engine.audit.checkpoint import key_path, load_or_create_key, public_pem

    key = load_or_create_key(key_path(load_settings()))
    click.echo(public_pem(key.public_key()), nl=False)

# Command groups that live in their own modules (click registers them on ``main``).
from bpm_cli.data import register as _register_data  # noqa: E402
from bpm_cli.facts import facts as _facts  # noqa: E402
from bpm_cli.instances import instances as _instances  # noqa: E402
from bpm_cli.jobs import jobs as _jobs  # noqa: E402
from bpm_cli.stack import register as _register_stack  # noqa: E402

main.add_command(_jobs)
main.add_command(_facts)
main.add_command(_instances)
_register_data(main)
_register_stack(main)

if __name__ == "__main__":
    main()
