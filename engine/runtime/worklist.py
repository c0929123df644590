"""A user's work at a glance (the home page and the pages' live updates).

Everything here is read with the tasklist's, the instance list's and the start page's own
queries (:func:`engine.runtime.tasks.list_tasks`, :func:`engine.runtime.instances.list_instances`,
the latest definitions filtered by :func:`engine.identity.policy.may_start`); this module only
counts and orders what they return. "Overdue" and "due today" are those of the tasklist's due
filter: overdue once the due time has passed (or the SLA says breached / escalated), due today
when the due time falls on today's date in the halls' time (Asia/Shanghai).
"""

from __future__ import annotations

from datetime import UTC, datetime

from engine.clock import LOCAL_TZ, utcnow
from engine.identity.actor import Actor
from engine.identity.policy import may_start
from engine.runtime import definitions, instances, tasks

LIST_SIZE = 200  # open tasks read per section, as on the tasklist
OVERDUE_STATES = ("breached", "escalated")


def aware(value) -> datetime | None:
    """A stored time as an aware datetime (naive values are UTC; ISO strings are parsed)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value is not None and value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value


def due_state(task: dict, now: datetime) -> str | None:
    """The due state of an open task: its SLA state, or ``breached`` once the due time has
    passed (the timer may not have fired yet); None for a task without a due date."""
    due = aware(task.get("due_at"))
    if due is None:
        return None
    state = task.get("sla_state") or "on_time"
    if state in ("on_time", "warning") and due <= now:
        state = "breached"
    return state


def is_overdue(task: dict, now: datetime) -> bool:
    return due_state(task, now) in OVERDUE_STATES


def is_due_today(task: dict, now: datetime) -> bool:
    """Due on today's date in the halls' time (Asia/Shanghai), whether or not the time has passed."""
    due = aware(task.get("due_at"))
    return due is not None and due.astimezone(LOCAL_TZ).date() == now.astimezone(LOCAL_TZ).date()


def startable(session, actor: Actor) -> list[dict]:
    """The latest version of each process ``actor`` may start (the start page's list)."""
    out = []
    for row in definitions.list_latest(session):
        info = definitions.definition_to_dict(row)
        if may_start(actor, info["candidate_starter_groups"]):
            out.append(info)
    return out


def open_tasks(session, actor: Actor, size: int = LIST_SIZE) -> dict[str, dict]:
    """The tasklist's two sections: ``mine`` (assigned to me) and ``candidate`` (claimable)."""
    return {scope: tasks.list_tasks(session, actor, scope, None, 1, size) for scope in ("mine", "candidate")}


def open_task_ids(session, actor: Actor) -> list[str]:
    """The ids of the open tasks on the user's tasklist (what the pages poll to notice new ones)."""
    return sorted(task["id"] for section in open_tasks(session, actor).values() for task in section["items"])


def summary(session, actor: Actor, now: datetime | None = None, tasks_shown: int = 8, recent: int = 6) -> dict:
    """The home page: counts of my open tasks (assigned, claimable, overdue, due today), the most
    urgent ones, my recent cases and the processes I may start."""
    now = now or utcnow()
    sections = open_tasks(session, actor)
    items = [{**task, "scope": scope} for scope, section in sections.items() for task in section["items"]]
    for task in items:
        task["due_state"] = due_state(task, now)
    # the most urgent first: overdue, then by due time (none last), then the oldest
    items.sort(key=lambda task: (not is_overdue(task, now), aware(task["due_at"]) is None,
                                 aware(task["due_at"]) or now, aware(task["created_at"]) or now, task["id"]))
    counts = {
        "mine": sections["mine"]["total"],
        "candidate": sections["candidate"]["total"],
        "overdue": sum(1 for task in items if is_overdue(task, now)),
        "due_today": sum(1 for task in items if is_due_today(task, now)),
    }
    cases = instances.list_instances(session, actor, None, None, 1, recent)["items"]
    return {"counts": counts, "tasks": items[:tasks_shown], "recent_cases": cases,
            "startable": startable(session, actor), "now": now}
