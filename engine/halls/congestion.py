"""Hall congestion: queue snapshots feed an evaluator that raises and clears alert levels.

Levels follow the source (``002_*.txt``): level 1 when waiting customers reach 2.5x the
open counters, level 2 at 3.5x. The source is silent above 4.5x and for zero open
counters; both count as level 2 here (people waiting and nobody serving is the worst case).

So that the alert does not flap:
* hysteresis: a level is left only when the ratio falls 0.5 below its threshold
  (level 2 holds down to 3.0x, level 1 down to 2.0x);
* debounce: a new level takes effect only after it has been observed continuously for
  ``debounce_seconds`` (default 60 s; every snapshot in between must agree).

Raising to a level starts ``hall_congestion`` for that hall and level (the duty manager
acts at level 1, the hall manager at level 2). When the level falls below an open
alert's level, that instance receives the message ``congestion_cleared`` and closes.
"""

from __future__ import annotations

from engine.clock import utcnow
from engine.errors import Forbidden, NotFound
from engine.identity.policy import may_report_queue
from engine.store.models import HallState, OrgUnit, QueueSnapshot

UP = {1: 2.5, 2: 3.5}
HYSTERESIS = 0.5
PROCESS_KEY = "hall_congestion"
CLEARED_MESSAGE = "congestion_cleared"


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
    from engine.errors import Conflict
    from engine.runtime.instances import start_unchecked
    from engine.runtime.messages import deliver

    before = state.level
    alerts = list(state.instance_ids or [])
    if level > before:
        for new_level in range(before + 1, level + 1):
            data = {"hall": state.hall, "level": new_level, "waiting": waiting, "open_counters": open_counters}
            inst = start_unchecked(uow, PROCESS_KEY, data, org_unit=state.hall, business_key=f"{state.hall}-L{new_level}")
            alerts.append({"instance_id": inst.id, "level": new_level})
    else:
        keep = []
        for alert in alerts:
            if alert["level"] > level:
                try:
                    deliver(uow, alert["instance_id"], CLEARED_MESSAGE,
                            {"cleared_level": level, "waiting": waiting, "open_counters": open_counters},
                            internal=True)
                except Conflict:
                    pass  # the alert was already closed by hand
            else:
                keep.append(alert)
        alerts = keep
    state.level, state.instance_ids = level, alerts
    uow.audit("congestion_level_changed", before={"level": before}, after={"level": level}, hall=state.hall,
              waiting=waiting, open_counters=open_counters, alerts=alerts)


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
