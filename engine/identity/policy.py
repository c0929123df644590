"""Who may see and work on what: the one home of the engine's permission rules.

Services ask this module (``may_*`` answers a question, ``require_*`` raises ``Forbidden``);
web views and commands only translate the refusal. It holds the unit boundary of user tasks,
the read rules shared by instances, tasks and documents, and who may deploy, start, migrate,
reassign, send messages, report a hall's queue and administer.

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
A process whose cases one unit must decide refuses starters outside a unit with the process
property ``starterUnit`` (engine/identity/starter_unit.py).
"""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from engine.errors import Forbidden
from engine.identity.actor import Actor
from engine.identity.roles import DEPLOYER_ROLES
from engine.store.models import Document, DocumentLink, OrgUnit, ProcessInstance, Task

READ_ALL_ROLES = frozenset({"admin", "auditor"})
# Managers read the instances of their own org unit.
# the key-account room manager (重要室经理) manages the room: its customer managers' cases and KPI sheets (001)
MANAGER_ROLES = frozenset({"hall_manager", "duty_manager", "service_center_head", "key_account_manager"})
# The hall's staff who report its queue (waiting customers, open counters).
QUEUE_REPORTER_ROLES = frozenset({"duty_manager", "hall_manager", "counter_staff"})

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


def unit_managed_by(actor: Actor) -> str | None:
    """The org unit a hall manager, duty manager or service-center head manages (reads its
    cases and results), else None."""
    return actor.org_unit if actor.org_unit and actor.has_any(MANAGER_ROLES) else None


def reads_units_below(actor: Actor) -> bool:
    """A department manager reads the results of their unit and of the units below it."""
    return bool(actor.org_unit) and "department_manager" in actor.roles


def reads_all_results(actor: Actor, about_processes: bool) -> bool:
    """Every row of a scheduled report: auditors, admins and the vice-president (who approves
    the scores); process owners the reports about their processes."""
    return reads_everything(actor) or "vice_president" in actor.roles or (about_processes and "process_owner" in actor.roles)


def reads_everything(actor: Actor) -> bool:
    return actor.has_any(READ_ALL_ROLES)


# --------------------------------------------------------------------------- who may do what (one home)


def is_engine(actor: Actor) -> bool:
    """The engine itself (timers, schedules, linked starts) acting, not a user."""
    return actor.username == "system"


def require_admin(actor: Actor, doing: str) -> None:
    """Administrators (and the engine itself) only."""
    if not (actor.is_admin or is_engine(actor)):
        raise Forbidden(f"only an administrator may {doing}")


def require_reader_of_everything(actor: Actor, doing: str) -> None:
    """Administrators and auditors (e.g. the list of seal certificates)."""
    if not (reads_everything(actor) or is_engine(actor)):
        raise Forbidden(f"only administrators and auditors may {doing}")


def require_audit_reader(actor: Actor) -> None:
    """The audit log, its exports and its verification: auditors and administrators."""
    require_reader_of_everything(actor, "read the audit log")


def may_deploy(actor: Actor) -> bool:
    """Process and form definitions (and migrating instances to new versions)."""
    return actor.has_any(DEPLOYER_ROLES) or is_engine(actor)


def require_deployer(actor: Actor, what: str = "processes") -> None:
    if not may_deploy(actor):
        raise Forbidden(f"only a process owner or an administrator may deploy {what}")


def may_start(actor: Actor, starters) -> bool:
    """A process's ``camunda:candidateStarterGroups``. A process without them is not startable by
    users: only an administrator starts it by hand (the engine starts it from a call activity,
    a message, a signal or a timer)."""
    if not starters:
        return actor.is_admin
    return actor.has_any(starters)


def may_migrate(actor: Actor) -> bool:
    """Moving running instances to another version: whoever may deploy."""
    return may_deploy(actor)


def require_migrator(actor: Actor) -> None:
    if not may_migrate(actor):
        raise Forbidden("only a process owner or an administrator may migrate instances")


def may_retry(actor: Actor) -> bool:
    """Resolving an incident (retry, with corrected variables)."""
    return actor.is_admin


def may_cancel_instance(actor: Actor) -> bool:
    """Ending an instance by hand (terminate it, whatever it waits for): administrators."""
    return actor.is_admin


def may_reassign(actor: Actor, instance_unit: str | None) -> bool:
    """Handing a task to someone else: an administrator, or a manager of the instance's unit."""
    return actor.is_admin or (unit_managed_by(actor) is not None and actor.org_unit == instance_unit)


def may_release(actor: Actor, task) -> bool:
    """Giving a claimed task back to the pool: whoever holds it, or an administrator."""
    return task.assignee == actor.username or actor.is_admin


def may_send_message(actor: Actor, senders, instance_unit: str | None) -> bool:
    """A message declared ``sendableBy`` roles: those roles within the instance's unit."""
    if actor.is_admin:
        return True
    return actor.has_any(senders or ()) and (instance_unit is None or actor.org_unit == instance_unit)


def may_report_queue(actor: Actor, hall: str) -> bool:
    """A hall's queue reading (congestion): the hall's own staff, administrators and the engine."""
    return actor.is_admin or is_engine(actor) or (actor.org_unit == hall and actor.has_any(QUEUE_REPORTER_ROLES))


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
    if unit_managed_by(actor) and inst.org_unit == actor.org_unit:
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


def may_see_task(session: Session, actor: Actor, task: Task) -> bool:
    """A task's page: its candidates and holder, administrators and auditors, and whoever may
    read its instance."""
    if is_candidate(actor, task) or task.assignee == actor.username or reads_everything(actor):
        return True
    return can_read_instance(session, actor, session.get(ProcessInstance, task.instance_id))


def may_read_document(session: Session, actor: Actor, doc: Document) -> bool:
    """The uploader, admins and auditors, and whoever may read an instance using the document."""
    if doc.created_by == actor.username or reads_everything(actor) or is_engine(actor):
        return True
    linked = session.execute(select(DocumentLink.instance_id).where(DocumentLink.document_id == doc.id)).scalars()
    return any(can_read_instance(session, actor, session.get(ProcessInstance, iid)) for iid in linked)
