"""Durable timers: fire due ``bpm_timer`` rows, one transaction per timer.

Workers take due rows with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so several
workers never fire the same timer; on SQLite writers are serialized anyway. A timer
row only turns ``fired`` in the transaction that advanced the instance, so a worker
killed mid-fire leaves it pending for the next poll.
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy import select

from engine import notifications, sla_events
from engine.clock import utcnow
from engine.identity import SYSTEM
from engine.progress import load_workflow, save
from engine.runtime import advance
from engine.store.models import ProcessDefinition, Timer
from engine.store.records import load_instance

log = logging.getLogger(__name__)


def _take_due(uow):
    query = (
        select(Timer)
        # strictly past due, as SpiffWorkflow decides (``due < now``): at the very due
        # instant the workflow would not fire yet and the row must stay pending
        .where(Timer.state == "pending", Timer.fire_at < utcnow())
        .order_by(Timer.fire_at)
        .limit(1)
    )
    if uow.session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return uow.session.execute(query).scalar_one_or_none()


def fire_one(engine) -> bool:
    """Fire the most overdue timer; return False when none is due."""
    with engine.uow(SYSTEM) as uow:
        timer = _take_due(uow)
        if timer is None:
            return False
        timer.attempts += 1
        if timer.kind == "sla":
            fired = sla_events.fire(uow, timer)
            timer.state, timer.fired_at = ("fired", utcnow()) if fired else ("cancelled", None)
            return True
        inst = load_instance(uow.session, timer.instance_id)
        if inst is None or inst.status != "running":
            timer.state = "cancelled"
            return True
        definition = uow.session.get(ProcessDefinition, inst.definition_id)
        workflow = load_workflow(engine, inst, definition)
        workflow.refresh_timers()
        result = advance(workflow)
        _mark_fired(uow, timer, inst.id, {t.task_id for t in result.timers})
        save(uow, inst, definition, workflow, result)
    return True


def _mark_fired(uow, timer: Timer, instance_id: str, still_waiting: set[str]) -> None:
    """Mark the instance's due timers that the step consumed as fired.

    ``refresh_timers`` fires every due timer of the instance, not only the one taken.
    Rows must be flushed before ``save()``: it looks up the pending rows in the database
    and would cancel these as no longer wanted. A timer the workflow still waits on (not
    yet due in SpiffWorkflow's terms) stays pending.
    """
    now = utcnow()
    siblings = (
        select(Timer)
        .where(Timer.instance_id == instance_id, Timer.state == "pending", Timer.kind == "bpmn",
               Timer.fire_at < now, Timer.id != timer.id)
        .order_by(Timer.id)
    )
    if uow.session.get_bind().dialect.name == "postgresql":
        siblings = siblings.with_for_update(skip_locked=True)  # a row another worker holds is its business
    for row in [timer, *uow.session.execute(siblings).scalars()]:
        if row.task_id in still_waiting:
            continue
        row.state = "fired"
        row.fired_at = now
        uow.audit("timer_fired", instance_id=instance_id, element_id=row.element_id, due=row.fire_at.isoformat())
    uow.session.flush()


def fire_due(engine, limit: int = 1000) -> int:
    fired = 0
    while fired < limit:
        try:
            if not fire_one(engine):
                break
        except Exception:  # noqa: BLE001 - one broken timer must not stop the worker
            log.exception("firing a timer failed; it stays pending and is retried")
            break
        fired += 1
    return fired


def run_worker(engine, stop: threading.Event, poll_seconds: float | None = None) -> None:
    """Poll for due timers until ``stop`` is set."""
    interval = poll_seconds or engine.settings.timer_poll_seconds
    while not stop.is_set():
        try:
            fired = fire_due(engine)
        except Exception:  # noqa: BLE001
            log.exception("timer worker loop failed")
            fired = 0
        try:
            notifications.deliver_email(engine)
        except Exception:  # noqa: BLE001
            log.exception("e-mail delivery failed")
        if not fired:
            stop.wait(interval)
