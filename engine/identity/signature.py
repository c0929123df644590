"""A signature by password: the signed-in user types their own password again to sign a step.

Paper registers (台账) are signed by hand: the one who receives invoices or receipts signs the
hand-over (001 「营业厅应做好发票及收据的收、发登记工作,并与收发环节有交接签收手续」). In the
engine that signature is the receiver's own password, typed again on the step (a secret form
field, never stored or audited), checked by :func:`check_password` inside the completion.

Wrong passwords are throttled like sign-ins (engine/identity/auth.py), on a count of their own
(``bpm_login_throttle`` origin ``signature``): after ``FREE_FAILURES`` each further attempt
waits, at ``LOCK_FAILURES`` signing is locked for ``LOCK_MINUTES``; every refusal is audited
(``signature_refused``) after the refused completion rolled back (:class:`SignatureRefused`).
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, select

from engine.clock import utcnow
from engine.errors import AuditedRefusal
from engine.identity.actor import Actor
from engine.identity.auth import LOCK_FAILURES, LOCK_MINUTES, _locked_row, _refusal, verify_password
from engine.store.models import LoginThrottle, User

ORIGIN = "signature"  # the throttle row's origin: never an address, so sign-ins keep their own count


class SignatureRefused(AuditedRefusal):
    """403: the password did not match (or the signer may not sign); counted and audited after
    the rollback, so the refused step stays open and the trace remains."""

    def __init__(self, message: str, *, actor: Actor, reason: str, where: dict | None = None,
                 count: bool = True) -> None:
        super().__init__(message, {"reason": reason})
        self.actor = actor
        self.reason = reason
        self.where = where or {}
        self.count = count

    def record(self, uow) -> None:
        now = utcnow()
        failures = None
        if self.count:
            row = _locked_row(uow.session, LoginThrottle, {"username": self.actor.username, "origin": ORIGIN},
                              {"failures": 0, "last_failed_at": now})
            row.failures += 1
            row.last_failed_at = now
            if row.failures >= LOCK_FAILURES and row.locked_until is None:
                row.locked_until = now + timedelta(minutes=LOCK_MINUTES)
            failures = row.failures
        uow.audit("signature_refused", actor=self.actor, reason=self.reason, failures=failures, **self.where)


def check_password(uow, actor: Actor, password, where: dict) -> None:
    """Raise unless ``password`` is ``actor``'s own (throttled: 429 while a wait or lock runs)."""
    session = uow.session
    throttle = session.get(LoginThrottle, (actor.username, ORIGIN))
    if throttle is not None:
        refused = _refusal(throttle, utcnow())
        if refused is not None:
            raise refused
    stored = session.execute(select(User.password_hash).where(User.username == actor.username,
                                                              User.is_active.is_(True))).scalar_one_or_none()
    if not (isinstance(password, str) and password and stored and verify_password(stored, password)):
        raise SignatureRefused("the password does not match: the step is not signed", actor=actor,
                               reason="password", where=where)
    if throttle is not None:
        session.execute(delete(LoginThrottle).where(LoginThrottle.username == actor.username,
                                                    LoginThrottle.origin == ORIGIN))
