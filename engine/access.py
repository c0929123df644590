"""Who may see what: read rules shared by instances, tasks and documents."""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from engine.identity import Actor
from engine.store.models import ProcessInstance, Task

READ_ALL_ROLES = frozenset({"admin", "auditor"})
# Managers read the instances of their own org unit.
MANAGER_ROLES = frozenset({"hall_manager", "duty_manager", "service_center_head"})


def reads_everything(actor: Actor) -> bool:
    return actor.has_any(READ_ALL_ROLES)


def can_read_instance(session: Session, actor: Actor, inst: ProcessInstance) -> bool:
    """Participants (starter, assignees, completers, candidates) plus admins and auditors."""
    if reads_everything(actor) or inst.started_by == actor.username:
        return True
    if actor.org_unit and inst.org_unit == actor.org_unit and actor.has_any(MANAGER_ROLES):
        return True
    hit = session.execute(
        select(Task.id, Task.candidate_groups)
        .where(Task.instance_id == inst.id)
        .where(or_(Task.assignee == actor.username, Task.completed_by == actor.username))
        .limit(1)
    ).first()
    if hit is not None:
        return True
    rows = session.execute(select(Task.candidate_groups, Task.org_unit).where(Task.instance_id == inst.id))
    return any(_eligible(actor, groups, unit) for groups, unit in rows)


def _eligible(actor: Actor, groups, unit: str | None) -> bool:
    return bool(actor.roles.intersection(groups or [])) and (unit is None or unit == actor.org_unit)


def is_candidate(actor: Actor, task) -> bool:
    """Member of a candidate group and, for unit-scoped tasks, of the task's org unit."""
    return _eligible(actor, task.candidate_groups, task.org_unit)
