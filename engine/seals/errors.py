"""A refused seal: 403, and an audit event that must outlive the refused request."""

from __future__ import annotations

from engine.errors import AuditedRefusal


class SealRefused(AuditedRefusal):
    """Sealing was refused (wrong PIN, locked seal, no seal, wrong role or unit ...).

    Nothing is sealed and the task stays open. A wrong PIN is counted and audited where it
    is tried (:func:`engine.seals.credentials.open_seal`); any other refusal's ``seal_failed``
    event is written by the unit of work, after its rollback (:meth:`record`).
    """

    def __init__(self, message: str, *, actor, reason: str, instance_id: str | None = None,
                 task_id: str | None = None, element_id: str | None = None, credential_id: int | None = None,
                 details: dict | None = None) -> None:
        super().__init__(message, {"reason": reason, **(details or {})})
        self.actor = actor
        self.reason = reason
        self.instance_id = instance_id
        self.task_id = task_id
        self.element_id = element_id
        self.credential_id = credential_id

    def record(self, uow) -> None:
        details = {k: v for k, v in (self.details or {}).items() if k != "reason"}
        uow.audit("seal_failed", actor=self.actor, instance_id=self.instance_id, task_id=self.task_id,
                  element_id=self.element_id, reason=self.reason, **details)
