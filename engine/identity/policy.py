"""Who may see and work on what: the unit boundary of user tasks and the read rules shared
by instances, tasks and documents.

**The unit boundary.** A user task is for the holders of its candidate roles *within the
instance's org unit*, unless the model says otherwise with the property ``candidateScope``:

============== ==============================================================================
instance_unit  the default: the candidate roles within the instance's unit (``starter_unit``
               is the older name of the same rule)
parent_unit    the candidate roles within the unit above the instance's (a hall's department)
any_unit       every holder of the candidate roles, whatever their unit (said explicitly)
starter        only the user who started the instance (the process owner's own steps:
               revise, withdraw, sign ...); a manager of the unit may hand it over explicitly
============== ==============================================================================

An instance without an org unit (started by the engine's schedule or by a user who belongs
to no unit) is organisation-wide: its unit-bounded tasks are open to every holder of the role.
"""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from engine.identity.actor import Actor
from engine.store.models import OrgUnit, ProcessInstance, Task

READ_ALL_ROLES = frozenset({"admin", "auditor"})
# Managers read the instances of their own org unit.
MANAGER_ROLES = frozenset({"hall_manager", "duty_manager", "service_center_head"})

DEFAULT_SCOPE = "instance_unit"
SCOPE_ALIASES = {"starter_unit": "instance_unit"}
CANDIDATE_SCOPES = ("instance_unit", "parent_unit", "any_unit", "starter")


def task_scope(properties: dict | None) -> str:
    """The effective ``candidateScope`` of a user task from its properties (aliases resolved)."""
    raw = (properties or {}).get("candidateScope") or DEFAULT_SCOPE
    return SCOPE_ALIASES.get(raw, raw)


def check_scope(raw: str | None) -> str | None:
    """None when ``raw`` is an accepted ``candidateScope`` value, else the deploy error."""
    if raw is None or raw in CANDIDATE_SCOPES or raw in SCOPE_ALIASES:
        return None
    return f"candidateScope {raw!r} is not one of {', '.join(CANDIDATE_SCOPES)}"


def scoped_unit(session: Session, instance_unit: str | None, scope: str) -> str | None:
    """The org unit a task of ``scope`` is bounded to (None: any unit)."""
    if scope == "any_unit":
        return None
    if scope == "parent_unit":
        if not instance_unit:
            return None
        unit = session.get(OrgUnit, instance_unit)
        return unit.parent_key if unit is not None else None
    return instance_unit


def reads_everything(actor: Actor) -> bool:
    return actor.has_any(READ_ALL_ROLES)


def holds_role_in_unit(actor: Actor, groups, unit: str | None) -> bool:
    """A candidate role, and the task's unit when it has one."""
    return bool(actor.roles.intersection(groups or [])) and (unit is None or unit == actor.org_unit)


def is_candidate(actor: Actor, task) -> bool:
    """May ``actor`` claim and complete ``task``: a candidate role within the task's unit; for a
    ``starter`` task only its owner (the starter, or whom a manager handed it to) and, once its
    SLA escalated, the holders of the escalation roles within the unit."""
    if not holds_role_in_unit(actor, task.candidate_groups, task.org_unit):
        return False
    if task_scope(task.properties) != "starter" or task.assignee == actor.username:
        return True
    escalated = (getattr(task, "sla", None) or {}).get("escalated_to") or []
    return holds_role_in_unit(actor, escalated, task.org_unit)


def can_read_instance(session: Session, actor: Actor, inst: ProcessInstance) -> bool:
    """Participants (starter, assignees, completers, candidates) plus admins and auditors."""
    if reads_everything(actor) or inst.started_by == actor.username:
        return True
    if actor.org_unit and inst.org_unit == actor.org_unit and actor.has_any(MANAGER_ROLES):
        return True
    hit = session.execute(
        select(Task.id)
        .where(Task.instance_id == inst.id)
        .where(or_(Task.assignee == actor.username, Task.completed_by == actor.username))
        .limit(1)
    ).first()
    if hit is not None:
        return True
    rows = session.execute(
        select(Task.candidate_groups, Task.org_unit, Task.properties, Task.assignee, Task.sla)
        .where(Task.instance_id == inst.id)
    )
    return any(is_candidate(actor, row) for row in rows)
