"""Seal credentials in the database: the CA, the system signer and each head's seal.

Why the database (``bpm_seal_credential``) and not ``var/keys``: every server process
behind a load balancer reaches the same PostgreSQL, backups include the seals, and issuing
or revoking a seal is audited in the same transaction. A private key is only ever stored
as an encrypted PKCS#12 (see :mod:`engine.seals.keys`); the secrets that open them (the
head's PIN, the server's key-encryption secret) are never in the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from cryptography import x509
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from engine.clock import utcnow
from engine.errors import Conflict, NotFound, ValidationFailed
from engine.identity.actor import SYSTEM, Actor
from engine.identity.auth import actor_by_name
from engine.identity.policy import require_reader_of_everything
from engine.seals import keys
from engine.seals.errors import SealRefused
from engine.store.models import OrgUnit, SealCredential, User

SEAL_ROLES = frozenset({"service_center_head"})
MAX_FAILURES = 5  # consecutive wrong PINs before the seal locks
LOCK_MINUTES = 15


@dataclass(frozen=True)
class Unlocked:
    """An opened credential: its row, private key, certificate and issuing chain."""

    row: SealCredential
    key: object
    certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...]


def credential_to_dict(row: SealCredential) -> dict:
    now = utcnow()
    return {
        "id": row.id, "kind": row.kind, "username": row.username, "org_unit": row.org_unit,
        "serial": row.serial, "subject": row.subject, "issuer": row.issuer, "fingerprint": row.fingerprint,
        "not_before": row.not_before, "not_after": row.not_after, "source": row.source, "active": row.active,
        "created_at": row.created_at, "created_by": row.created_by,
        "locked": bool(row.locked_until and row.locked_until > now), "failed_attempts": row.failed_attempts,
    }


def list_credentials(session: Session, actor: Actor = SYSTEM) -> list[dict]:
    """Every seal certificate (administrators and auditors; the command line acts as the engine)."""
    require_reader_of_everything(actor, "list seal certificates")
    rows = session.execute(select(SealCredential).order_by(SealCredential.kind, SealCredential.username,
                                                           SealCredential.id)).scalars()
    return [credential_to_dict(r) for r in rows]


def trust_roots(session: Session) -> list[x509.Certificate]:
    """Every seal CA ever trusted here (retired ones too: old documents stay verifiable)."""
    rows = session.execute(select(SealCredential.certificate).where(SealCredential.kind == "ca")).scalars()
    return [x509.load_der_x509_certificate(der) for der in rows]


def _active(session: Session, kind: str, username: str | None = None) -> SealCredential | None:
    query = select(SealCredential).where(SealCredential.kind == kind, SealCredential.active.is_(True))
    if username is not None:
        query = query.where(SealCredential.username == username)
    return session.execute(query.order_by(SealCredential.id.desc()).limit(1)).scalar_one_or_none()


def active_seal(session: Session, username: str) -> SealCredential | None:
    return _active(session, "seal", username)


def _row(kind: str, cert: x509.Certificate, chain: list[x509.Certificate], p12: bytes | None, source: str,
         actor: Actor, username: str | None = None, org_unit: str | None = None) -> SealCredential:
    return SealCredential(
        kind=kind, username=username, org_unit=org_unit, certificate=keys.der(cert), chain=keys.pem_bundle(chain),
        p12=p12, serial=keys.serial_hex(cert), subject=cert.subject.rfc4514_string()[:512],
        issuer=cert.issuer.rfc4514_string()[:512], fingerprint=keys.fingerprint(cert),
        not_before=cert.not_valid_before_utc, not_after=cert.not_valid_after_utc, source=source, active=True,
        created_at=utcnow(), created_by=actor.username, failed_attempts=0, locked_until=None,
    )


# --------------------------------------------------------------------------- set-up


def ensure_ca(uow, settings) -> tuple[SealCredential, bool]:
    """The organisation's seal CA, created (key file + certificate row) when there is none."""
    row = _active(uow.session, "ca")
    if row is not None and row.source == "issued":
        return row, False
    keys.load_kek(settings, create=True)
    key, cert = keys.create_ca(organisation=settings.seals.organisation)
    path = keys.save_ca_key(settings, key)
    row = _row("ca", cert, [], None, "issued", uow.actor)
    uow.session.add(row)
    uow.session.flush()
    uow.audit("seal_ca_created", serial=row.serial, fingerprint=row.fingerprint, subject=row.subject, key_file=str(path))
    return row, True


def _ca(uow, settings):
    row = uow.session.execute(
        select(SealCredential).where(SealCredential.kind == "ca", SealCredential.active.is_(True),
                                     SealCredential.source == "issued").order_by(SealCredential.id.desc()).limit(1)
    ).scalar_one_or_none()
    if row is None:
        raise Conflict("there is no seal CA yet: run `bpm seal init`")
    cert = x509.load_der_x509_certificate(row.certificate)
    return keys.load_ca_key(settings, cert), cert


def ensure_system_signer(uow, settings) -> tuple[SealCredential, bool]:
    """The organisation's system signer (later confirmations), issued when there is none."""
    row = _active(uow.session, "system")
    if row is not None:
        return row, False
    ca_key, ca_cert = _ca(uow, settings)
    kek = keys.load_kek(settings, create=True)
    key, cert = keys.issue(ca_key, ca_cert, "系统签名 System signer", "内务信息系统",
                           organisation=settings.seals.organisation)
    p12 = keys.wrap(key, cert, [ca_cert], keys.system_password(kek), "system")
    row = _row("system", cert, [ca_cert], p12, "issued", uow.actor)
    uow.session.add(row)
    uow.session.flush()
    uow.audit("seal_system_issued", serial=row.serial, fingerprint=row.fingerprint, subject=row.subject)
    return row, True


def _seal_holder(session: Session, username: str) -> tuple[User, Actor]:
    user = session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    actor = actor_by_name(session, username) if user is not None else None
    if user is None or actor is None:
        raise NotFound(f"user {username!r} not found or inactive")
    if not actor.has_any(SEAL_ROLES):
        raise ValidationFailed("user may not hold a seal",
                               {"username": [f"only {', '.join(sorted(SEAL_ROLES))} may hold a seal"]})
    return user, actor


def _retire(uow, username: str) -> None:
    for old in uow.session.execute(select(SealCredential).where(
            SealCredential.kind == "seal", SealCredential.username == username, SealCredential.active.is_(True))).scalars():
        old.active = False
        uow.audit("seal_retired", username=username, serial=old.serial, fingerprint=old.fingerprint)


def issue_seal(uow, settings, username: str, pin: str) -> SealCredential:
    """Issue a seal certificate to a head under the organisation CA, encrypted under their PIN."""
    keys.check_pin(pin)
    user, _ = _seal_holder(uow.session, username)
    ca_key, ca_cert = _ca(uow, settings)
    kek = keys.load_kek(settings, create=True)
    unit = uow.session.get(OrgUnit, user.org_unit) if user.org_unit else None
    name = user.display_name or username
    common = f"{name} ({username})" if name != username else username
    if len(common.encode()) > 64:
        common = name
    key, cert = keys.issue(ca_key, ca_cert, common, unit.name if unit else None, organisation=settings.seals.organisation)
    p12 = keys.wrap(key, cert, [ca_cert], keys.pin_password(kek, username, pin), username)
    _retire(uow, username)
    row = _row("seal", cert, [ca_cert], p12, "issued", uow.actor, username, user.org_unit)
    uow.session.add(row)
    uow.session.flush()
    uow.audit("seal_issued", username=username, serial=row.serial, fingerprint=row.fingerprint, subject=row.subject,
              not_after=row.not_after.isoformat())
    return row


def _chains_to(cert: x509.Certificate, pool: list[x509.Certificate], roots: list[x509.Certificate]) -> bool:
    current, seen = cert, 0
    while seen < 8:
        for root in roots:
            try:
                current.verify_directly_issued_by(root)
                return True
            except Exception:  # noqa: BLE001
                continue
        parents = []
        for c in pool:
            try:
                current.verify_directly_issued_by(c)
                parents.append(c)
            except Exception:  # noqa: BLE001
                continue
        if not parents:
            return False
        current, seen = parents[0], seen + 1
    return False


def import_seal(uow, settings, username: str, p12: bytes, password: bytes | None, pin: str,
                trust: list[x509.Certificate] = ()) -> SealCredential:
    """Take a head's seal from a PKCS#12 issued by a real CA; store it re-encrypted under their PIN.

    The issuing root must be trusted: it is in ``trust`` (e.g. ``--trust-root``), in the
    PKCS#12's chain (a self-signed CA certificate), or already a trusted seal CA here.
    """
    keys.check_pin(pin)
    user, _ = _seal_holder(uow.session, username)
    try:
        key, cert, chain = keys.unwrap(p12, password)
    except ValueError as exc:
        raise ValidationFailed("cannot open the PKCS#12", {"file": [f"wrong password or not a PKCS#12: {exc}"]}) from exc
    if key.public_key().public_numbers() != cert.public_key().public_numbers():
        raise ValidationFailed("key and certificate differ", {"file": ["the private key does not match the certificate"]})
    now = utcnow()
    if not (cert.not_valid_before_utc <= now < cert.not_valid_after_utc):
        raise ValidationFailed("certificate not valid now", {"file": ["the certificate is expired or not yet valid"]})
    if not keys.can_sign(cert):
        raise ValidationFailed("certificate cannot sign", {"file": ["key usage allows neither signatures nor non-repudiation"]})
    new_roots = [c for c in list(trust) + chain if keys.is_self_signed(c)]
    roots = trust_roots(uow.session) + new_roots
    if not _chains_to(cert, chain, roots):
        raise ValidationFailed("untrusted issuer", {"file": [
            "the certificate does not chain to a trusted CA: pass the issuing root with --trust-root"]})
    known = set(uow.session.execute(select(SealCredential.fingerprint)).scalars())
    for root in new_roots:
        if keys.fingerprint(root) not in known:
            row = _row("ca", root, [], None, "imported", uow.actor)
            uow.session.add(row)
            known.add(row.fingerprint)
            uow.audit("seal_ca_trusted", serial=row.serial, fingerprint=row.fingerprint, subject=row.subject)
    if keys.fingerprint(cert) in known:
        raise Conflict("this certificate is already stored")
    intermediates = [c for c in chain if not keys.is_self_signed(c)]
    kek = keys.load_kek(settings, create=True)
    wrapped = keys.wrap(key, cert, intermediates, keys.pin_password(kek, username, pin), username)
    _retire(uow, username)
    row = _row("seal", cert, intermediates, wrapped, "imported", uow.actor, username, user.org_unit)
    uow.session.add(row)
    uow.session.flush()
    uow.audit("seal_imported", username=username, serial=row.serial, fingerprint=row.fingerprint,
              subject=row.subject, issuer=row.issuer, not_after=row.not_after.isoformat())
    return row


def change_pin(uow, settings, username: str, old_pin: str, new_pin: str) -> None:
    keys.check_pin(new_pin)
    row = active_seal(uow.session, username)
    if row is None:
        raise NotFound(f"{username} has no seal")
    kek = keys.load_kek(settings)
    try:
        key, cert, chain = keys.unwrap(row.p12, keys.pin_password(kek, username, old_pin))
    except ValueError as exc:
        raise Conflict("the current seal PIN is wrong") from exc
    row.p12 = keys.wrap(key, cert, chain, keys.pin_password(kek, username, new_pin), username)
    row.failed_attempts, row.locked_until = 0, None
    uow.audit("seal_pin_changed", username=username, serial=row.serial)


def unlock_user(uow, username: str) -> None:
    row = active_seal(uow.session, username)
    if row is None:
        raise NotFound(f"{username} has no seal")
    before = {"failed_attempts": row.failed_attempts, "locked_until": row.locked_until}
    row.failed_attempts, row.locked_until = 0, None
    uow.audit("seal_unlocked", username=username, serial=row.serial, before=before)


# --------------------------------------------------------------------------- use

ATTEMPT = SealCredential.__table__


def _checked_seal(session: Session, actor: Actor, unit: str | None, pin: str | None, refuse) -> SealCredential:
    """The checks before a PIN is tried: role, unit, an active seal of that unit, not locked or expired."""
    if not actor.has_any(SEAL_ROLES):
        raise refuse(f"only {', '.join(sorted(SEAL_ROLES))} may apply the seal", "role")
    if unit is not None and actor.org_unit != unit:
        raise refuse(f"only a head of org unit {unit} may seal its cases", "unit", unit=unit)
    row = active_seal(session, actor.username)
    if row is None:
        raise refuse("you have no electronic seal: an administrator issues one with `bpm seal init` or `bpm seal issue`",
                     "no_seal")
    if unit is not None and row.org_unit != unit:
        raise refuse(f"your seal was issued for org unit {row.org_unit}, not {unit}: ask for a seal of {unit}",
                     "seal_unit", row, unit=unit, seal_unit=row.org_unit)
    now = utcnow()
    if row.locked_until is not None and row.locked_until > now:
        raise refuse(f"the seal is locked after {MAX_FAILURES} wrong PINs until {row.locked_until.isoformat()}",
                     "locked", row, locked_until=row.locked_until.isoformat())
    if not (row.not_before <= now < row.not_after):
        raise refuse("the seal certificate is not valid now (expired): ask for a new seal", "expired", row)
    if not pin:
        raise refuse("the seal PIN is required", "no_pin", row)
    return row


def open_seal(engine, actor: Actor, pin: str | None, unit: str | None = None, where: dict | None = None) -> Unlocked:
    """Re-authenticate ``actor`` with their seal PIN and open their seal (of org unit ``unit``
    when given), or raise :class:`SealRefused`.

    Runs before, and outside, the transaction that applies the seal. The attempt is counted in
    the database *before* the PIN is tried (an atomic increment that a lock refuses), so a burst
    of parallel requests can never try more than ``MAX_FAILURES`` PINs; a right PIN resets the
    count, the ``MAX_FAILURES``-th wrong one locks the seal for ``LOCK_MINUTES``. A wrong PIN is
    audited here (``seal_failed``, ``seal_locked``); other refusals by the caller's handler.
    """
    where = where or {}

    def refuse(message, reason, row=None, **details):
        return SealRefused(message, actor=actor, reason=reason, credential_id=row.id if row is not None else None,
                           details=details, **where)

    with engine.uow(actor) as uow:  # a refusal here is audited by the unit of work (SealRefused.record)
        row = _checked_seal(uow.session, actor, unit, pin, refuse)
        uow.session.expunge(row)  # read after this session: keep its loaded columns
        try:
            kek = keys.load_kek(engine.settings)
        except Conflict as exc:
            raise refuse(exc.message, "server_key_missing", row) from exc
    now = utcnow()
    with engine.uow(actor) as uow:
        count = uow.session.execute(
            update(ATTEMPT)
            .where(ATTEMPT.c.id == row.id, (ATTEMPT.c.locked_until.is_(None)) | (ATTEMPT.c.locked_until <= now))
            .values(failed_attempts=ATTEMPT.c.failed_attempts + 1)
            .returning(ATTEMPT.c.failed_attempts)
        ).scalar_one_or_none()
    if count is None or count > MAX_FAILURES:  # locked meanwhile, or every allowed attempt is in flight
        raise refuse(f"the seal is locked after {MAX_FAILURES} wrong PINs", "locked", row)
    try:
        key, cert, chain = keys.unwrap(row.p12, keys.pin_password(kek, actor.username, pin))
    except ValueError:
        refusal = refuse("wrong seal PIN", "wrong_pin", row, attempts_left=max(MAX_FAILURES - count, 0))
        _record_wrong_pin(engine, refusal, row.id, count)
        raise refusal from None
    with engine.uow(actor) as uow:
        uow.session.execute(update(ATTEMPT).where(ATTEMPT.c.id == row.id).values(failed_attempts=0, locked_until=None))
    return Unlocked(row, key, cert, tuple(chain))


def _record_wrong_pin(engine, refusal: SealRefused, credential_id: int, count: int) -> None:
    """Audit a wrong PIN (already counted); the ``MAX_FAILURES``-th locks the seal."""
    refusal.recorded = True
    with engine.uow(refusal.actor) as uow:
        where = {"instance_id": refusal.instance_id, "task_id": refusal.task_id, "element_id": refusal.element_id}
        if count >= MAX_FAILURES:
            until = utcnow() + timedelta(minutes=LOCK_MINUTES)
            uow.session.execute(update(ATTEMPT).where(ATTEMPT.c.id == credential_id).values(locked_until=until))
            serial = uow.session.execute(select(ATTEMPT.c.serial).where(ATTEMPT.c.id == credential_id)).scalar_one()
            uow.audit("seal_locked", **where, serial=serial, failures=count, until=until.isoformat())
        details = {k: v for k, v in (refusal.details or {}).items() if k != "reason"}
        uow.audit("seal_failed", **where, reason=refusal.reason, failures=count, **details)


def unlock_system(session: Session, settings) -> Unlocked:
    row = _active(session, "system")
    if row is None:
        raise Conflict("there is no system signer for later confirmations: run `bpm seal init`")
    try:
        key, cert, chain = keys.unwrap(row.p12, keys.system_password(keys.load_kek(settings)))
    except ValueError as exc:
        raise Conflict("the system signer cannot be opened with this server's seal key-encryption secret") from exc
    return Unlocked(row, key, cert, tuple(chain))
