"""Hall congestion: queue snapshots feed an evaluator that raises and clears alert levels.

Levels follow the source (``002_*.txt``): level 1 when waiting customers reach 2.5x the
open counters, level 2 at 3.5x. The source is silent above 4.5x and for zero open
counters; both count as level 2 here (people waiting and nobody serving is the worst case).

So that the alert does not flap:
* hysteresis: a level is left only when the ratio falls 0.5 below its threshold
  (level 2 holds down to 3.0x, level 1 down to 2.0x);
* debounce: a new level takes effect only after it has been observed continuously for
  ``debounce_seconds`` (default 60 s; every snapshot in between must agree).

One alert, the right level: a hall has at most one open alert, at the level the hall is at.

* Raising from 0 starts ``hall_congestion`` for that hall and level only (a jump from 0
  straight to level 2 starts one level-2 alert, never a level-1 alert as well). The duty
  manager acts at level 1, the hall manager at level 2.
* Escalating from 1 to 2 interrupts the open level-1 alert with the message
  ``congestion_escalated`` (an interrupting boundary event, as a Camunda escalation would:
  its task is cancelled and it ends "escalated") and starts the level-2 alert, which names
  the alert it replaces (``escalated_from``). A model without that boundary event gets
  ``congestion_cleared`` instead, so the old alert closes either way.
* Falling to 0 sends ``congestion_cleared`` to the open alert, which closes by itself.
  Falling from 2 to 1 (the hall is still congested) closes the level-2 alert the same way
  and starts a level-1 alert for the duty manager (``de_escalated_from``): the product's
  choice, the source is silent on the way down.
"""

from __future__ import annotations

from engine.clock import utcnow
from engine.errors import Forbidden, NotFound
from engine.identity.names import split_name
from engine.identity.policy import may_report_queue
from engine.store.models import HallState, OrgUnit, QueueSnapshot

UP = {1: 2.5, 2: 3.5}
HYSTERESIS = 0.5
PROCESS_KEY = "hall_congestion"
CLEARED_MESSAGE = "congestion_cleared"
ESCALATED_MESSAGE = "congestion_escalated"


def _ratio(waiting: int, open_counters: int) -> float:
    if waiting <= 0:
        return 0.0
    return float("inf") if open_counters <= 0 else waiting / open_counters


def raw_level(waiting: int, open_counters: int) -> int:
    ratio = _ratio(waiting, open_counters)
    return 2 if ratio >= UP[2] else 1 if ratio >= UP[1] else 0


def target_level(current: int, waiting: int, open_counters: int) -> int:
    """The level the hall should be at, with hysteresis on the way down."""
    raw = raw_level(waiting, open_counters)
    if raw >= current:
        return raw
    ratio = _ratio(waiting, open_counters)
    for level in range(current, 0, -1):
        if ratio >= UP[level] - HYSTERESIS:
            return level
    return 0


def record_snapshot(uow, hall: str, waiting: int, open_counters: int) -> dict:
    """Store a reading, run the evaluator, start or close alerts; return the hall's state."""
    session, actor, now = uow.session, uow.actor, utcnow()
    unit = session.get(OrgUnit, hall)
    if unit is None:
        raise NotFound(f"hall {hall!r} is not an org unit")
    if not may_report_queue(actor, hall):
        raise Forbidden("only the hall's staff (or an administrator) may report its queue")
    state = session.get(HallState, hall, with_for_update=True)
    if state is None:
        state = HallState(hall=hall, level=0, candidate_level=None, candidate_since=None, updated_at=now, instance_ids=[])
        session.add(state)
    target = target_level(state.level, waiting, open_counters)
    changed = False
    if target == state.level:
        state.candidate_level, state.candidate_since = None, None
    elif state.candidate_level != target:
        state.candidate_level, state.candidate_since = target, now
    if state.candidate_level is not None and (now - state.candidate_since).total_seconds() >= \
            uow.engine.settings.congestion_debounce_seconds:
        _apply(uow, state, state.candidate_level, waiting, open_counters)
        state.candidate_level, state.candidate_since = None, None
        changed = True
    state.updated_at = now
    session.add(QueueSnapshot(hall=hall, at=now, waiting=waiting, open_counters=open_counters,
                              raw_level=raw_level(waiting, open_counters), level=state.level, reported_by=actor.username))
    session.flush()
    return {**state_to_dict(state), "raw_level": raw_level(waiting, open_counters), "changed": changed}


def _apply(uow, state: HallState, level: int, waiting: int, open_counters: int) -> None:
    from engine.runtime.instances import start_unchecked

    before = state.level
    reading = {"waiting": waiting, "open_counters": open_counters}
    keep, closed = [], []
    for alert in state.instance_ids or []:
        if level > 0 and alert["level"] == level:
            keep.append(alert)  # already at the right level (the one alert of the hall)
            continue
        how = _close(uow, alert, level, reading)
        closed.append({**alert, "closed_as": how})
    if level > 0 and not keep:
        unit = uow.session.get(OrgUnit, state.hall)
        data = {"hall": state.hall, "hall_name": split_name(unit.name if unit else state.hall)[0], "level": level, **reading}
        previous = closed[-1]["instance_id"] if closed else None
        if previous is not None:
            data["escalated_from" if level > before else "de_escalated_from"] = previous
        inst = start_unchecked(uow, PROCESS_KEY, data, org_unit=state.hall, business_key=f"{state.hall}-L{level}")
        keep.append({"instance_id": inst.id, "level": level})
    state.level, state.instance_ids = level, keep
    uow.audit("congestion_level_changed", before={"level": before}, after={"level": level}, hall=state.hall,
              waiting=waiting, open_counters=open_counters, alerts=keep, closed_alerts=closed)


def _close(uow, alert: dict, level: int, reading: dict) -> str:
    """Interrupt an open alert that is no longer at the hall's level: ``escalated`` (the level
    rose above it), ``cleared`` (it fell below it), or ``gone`` (it had already ended, e.g.
    resolved by hand)."""
    from engine.errors import Conflict
    from engine.runtime.messages import deliver

    tries = [(ESCALATED_MESSAGE, "escalated"), (CLEARED_MESSAGE, "cleared")] if level > alert["level"] else \
        [(CLEARED_MESSAGE, "cleared")]
    for message, how in tries:
        try:
            deliver(uow, alert["instance_id"], message,
                    {"cleared_level" if how == "cleared" else "escalated_to": level, **reading}, internal=True)
            return how
        except Conflict:
            continue  # not waiting for this message (an older model, or already closed)
    return "gone"


def state_to_dict(state: HallState) -> dict:
    return {"hall": state.hall, "level": state.level, "pending_level": state.candidate_level,
            "pending_since": state.candidate_since, "alerts": state.instance_ids or [], "updated_at": state.updated_at}


def hall_state(session, hall: str) -> dict:
    if session.get(OrgUnit, hall) is None:
        raise NotFound(f"hall {hall!r} is not an org unit")
    state = session.get(HallState, hall)
    if state is None:
        return {"hall": hall, "level": 0, "pending_level": None, "pending_since": None, "alerts": [], "updated_at": None}
    return state_to_dict(state)
