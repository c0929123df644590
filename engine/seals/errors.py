"""A refused seal: 403, and an audit event that must outlive the refused request."""

from __future__ import annotations

from engine.errors import Forbidden


class SealRefused(Forbidden):
    """Sealing was refused (wrong PIN, locked seal, no seal, wrong role ...).

    The unit of work that raised it rolls back, so nothing is sealed and the task stays
    open. The ``seal_failed`` event (and, for a wrong PIN, the failure count) is written
    afterwards in its own unit of work by :func:`engine.seals.record_refusal`, which the
    web layer calls for every ``SealRefused`` (as ``identity.login`` records failed sign-ins).
    """

    def __init__(self, message: str, *, actor, reason: str, instance_id: str | None = None,
                 task_id: str | None = None, element_id: str | None = None, credential_id: int | None = None,
                 count_failure: bool = False, details: dict | None = None) -> None:
        super().__init__(message, {"reason": reason, **(details or {})})
        self.actor = actor
        self.reason = reason
        self.instance_id = instance_id
        self.task_id = task_id
        self.element_id = element_id
        self.credential_id = credential_id
        self.count_failure = count_failure
        self.recorded = False
