"""Who may see what: read rules shared by instances, tasks and documents."""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from engine.identity import Actor
from engine.store.models import ProcessInstance, Task

READ_ALL_ROLES = frozenset({"admin", "auditor"})


def reads_everything(actor: Actor) -> bool:
    return actor.has_any(READ_ALL_ROLES)


def can_read_instance(session: Session, actor: Actor, inst: ProcessInstance) -> bool:
    """Participants (starter, assignees, completers, candidates) plus admins and auditors."""
    if reads_everything(actor) or inst.started_by == actor.username:
        return True
    hit = session.execute(
        select(Task.id, Task.candidate_groups)
        .where(Task.instance_id == inst.id)
        .where(or_(Task.assignee == actor.username, Task.completed_by == actor.username))
        .limit(1)
    ).first()
    if hit is not None:
        return True
    groups = session.execute(select(Task.candidate_groups).where(Task.instance_id == inst.id)).scalars()
    return any(actor.roles.intersection(g or []) for g in groups)


def is_candidate(actor: Actor, task: Task) -> bool:
    return bool(actor.roles.intersection(task.candidate_groups or []))
