"""What happens when an SLA threshold passes: audit, notify, escalate."""

from __future__ import annotations

from sqlalchemy import bindparam, insert, update

from engine.scheduling.notifications import notify, users_with_roles
from engine.store.models import Task, TaskCandidate, Timer
from engine.store.records import load_instance

TASKS = Task.__table__
TIMERS = Timer.__table__
LABELS = {
    "warning": ("时限预警", "SLA warning"),
    "breach": ("已超时", "SLA breached"),
    "escalation": ("超时升级", "SLA escalated"),
}
STATE_AFTER = {"warning": "warning", "breach": "breached", "escalation": "escalated"}


def _people(session, task, inst) -> list[str]:
    """The assignee, or else every candidate (within the task's unit when it is scoped)."""
    if task.assignee:
        return [task.assignee]
    return users_with_roles(session, task.candidate_groups or [], task.org_unit)


def fire(uow, timer) -> bool:
    """Apply one SLA threshold; False when the task is no longer open (nothing to do)."""
    session, payload = uow.session, timer.payload or {}
    level = payload.get("level", "breach")
    new_state = STATE_AFTER[level]
    changed = session.connection().execute(
        update(TASKS).where(TASKS.c.id == timer.task_id, TASKS.c.status == "open").values(sla_state=new_state)
    ).rowcount
    if not changed:
        return False
    task = session.get(Task, timer.task_id)
    session.refresh(task)
    inst = load_instance(session, task.instance_id)
    zh, en = LABELS[level]
    title = f"{zh} {en}: {task.name or task.element_id}"
    due = task.due_at.isoformat() if task.due_at else None
    recipients = _people(session, task, inst)
    details = {"level": level, "fraction": payload.get("fraction"), "due_at": due, "notified": recipients}
    if level == "escalation":
        roles = [r for r in payload.get("roles", []) if r not in (task.candidate_groups or [])]
        if roles:
            task.candidate_groups = [*(task.candidate_groups or []), *roles]
            # a starter's own step becomes workable by the escalation roles too (engine/identity/policy.py)
            task.sla = {**(task.sla or {}), "escalated_to": [*((task.sla or {}).get("escalated_to") or []), *roles]}
            session.connection().execute(insert(TaskCandidate.__table__), [{"task_id": task.id, "role": r} for r in roles])
        escalated_to = users_with_roles(session, payload.get("roles", []), inst.org_unit if inst else None)
        recipients = [*recipients, *escalated_to]
        details.update(n=payload.get("n"), roles=payload.get("roles", []), notified=recipients)
    action = {"warning": "sla_warning", "breach": "sla_breached", "escalation": "sla_escalated"}[level]
    uow.audit(action, instance_id=task.instance_id, task_id=task.id, element_id=task.element_id, **details)
    body = f"{title}\n流程 Process: {task.process_key}  实例 Instance: {task.instance_id}\n到期 Due: {due}"
    notify(session, recipients, action, title, body, task.instance_id, task.id)
    return True


CANCEL_TIMERS = (update(TIMERS).where(TIMERS.c.task_id == bindparam("b_task"), TIMERS.c.kind == "sla",
                                       TIMERS.c.state == "pending").values(state="cancelled"))
SET_OUTCOME = update(TASKS).where(TASKS.c.id == bindparam("b_task")).values(sla_state=bindparam("outcome"))


def close(session, task_id: str, completed: bool, completed_at, due_at) -> None:
    """Cancel the task's pending SLA timers and record whether the SLA was met.

    A task without a due date has no SLA timers (they are made with the due date, in
    ``task_creating``), so closing it writes nothing."""
    if due_at is None:
        return
    conn = session.connection()
    conn.execute(CANCEL_TIMERS, {"b_task": task_id})
    outcome = ("met" if completed_at <= due_at else "missed") if completed else "cancelled"
    conn.execute(SET_OUTCOME, {"b_task": task_id, "outcome": outcome})
