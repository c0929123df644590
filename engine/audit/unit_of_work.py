"""The unit of work: one user action, a session in one transaction plus the audit events it
records. The engine (``engine.app``) opens it, writes the events hash-chained
(``engine.audit.chain``) and commits; services only add to it."""

from __future__ import annotations

from sqlalchemy.orm import Session

from engine.clock import utcnow
from engine.identity.actor import Actor


class UnitOfWork:
    """One user action: a session in one transaction plus the audit events it records."""

    def __init__(self, session: Session, actor: Actor) -> None:
        self.session = session
        self.actor = actor
        self.events: list[dict] = []
        self.after_commit: list = []
        self.created_tasks: list[str] = []
        self.secrets: dict = {}
        self.engine = None

    def audit(
        self,
        action: str,
        *,
        instance_id: str | None = None,
        task_id: str | None = None,
        element_id: str | None = None,
        before: dict | None = None,
        after: dict | None = None,
        reason: str | None = None,
        actor: Actor | None = None,
        **details,
    ) -> None:
        """Record one state change; it is written, hash-chained, when the unit commits."""
        who = actor or self.actor
        self.events.append(
            {
                "at": utcnow(),
                "actor": who.username,
                "actor_roles": ",".join(sorted(who.roles)) or None,
                "actor_unit": who.org_unit,
                "action": action,
                "instance_id": instance_id,
                "task_id": task_id,
                "element_id": element_id,
                "before": before,
                "after": after,
                "reason": reason,
                "details": details,
            }
        )
