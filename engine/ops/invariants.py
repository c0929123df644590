"""Invariants of a database the engine wrote: what must hold after any load or failure.

:func:`check_invariants` reads one consistent snapshot (REPEATABLE READ on PostgreSQL, one
read transaction on SQLite), so it may run while the system is busy; run it after the load
for the figures to be final. Each check reports ``ok``, a ``count`` of violations and up to
``EXAMPLES`` examples:

- ``instances``: every unfinished instance's state loads, its status is what the workflow
  says, its open task rows are exactly the workflow's READY user tasks and its pending BPMN
  timer rows exactly the workflow's waiting timer events;
- ``finished``: a finished instance has no open task and no pending timer;
- ``completed_at_an_end``: a completed instance reached an end event, and no token of its
  stored state is still active (nothing was skipped: every token ended or was cancelled);
- ``started_once``: every instance has exactly one ``instance_started`` event;
- ``completed_once``: no task has two ``task_completed`` events, every completed task row has
  one and every event belongs to a completed row (of an instance still stored);
- ``timers_fired_once``: per BPMN timer (instance, element), per SLA threshold (task, level,
  n) and per scheduled start (process), the number of rows marked fired equals the number
  of audit events for it; fired rows have a fire time not before their due time;
- ``timers_on_time``: no pending timer is overdue by more than the tolerance (a worker must
  be running); failing timers (``last_error``) are listed apart;
- ``audit_chain``: :func:`engine.audit.chain.verify_chain`;
- ``acknowledged`` (with an acknowledgement log of ``bench/harness/load_test.py``): every start and
  completion the clients saw acknowledged is in the database, and what the database has
  beyond that is explained by requests whose response was lost.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.audit.chain import verify_chain
from engine.clock import utcnow
from engine.store.models import AuditEvent, ProcessDefinition, ProcessInstance, Task, Timer

EXAMPLES = 20
BATCH = 500
UNFINISHED = ("running", "incident", "suspended")
EARLY_TOLERANCE = timedelta(seconds=1)  # clock skew between machines when comparing fired_at with fire_at
SLA_ACTIONS = {"sla_warning": "warning", "sla_breached": "breach", "sla_escalated": "escalation"}

I, T, TM, E = ProcessInstance.__table__, Task.__table__, Timer.__table__, AuditEvent.__table__  # noqa: E741
PD = ProcessDefinition.__table__


class _Check:
    def __init__(self) -> None:
        self.count = 0
        self.examples: list = []
        self.figures: dict = {}

    def add(self, example) -> None:
        self.count += 1
        if len(self.examples) < EXAMPLES:
            self.examples.append(example)

    def report(self) -> dict:
        return {"ok": self.count == 0, "violations": self.count, "examples": self.examples, **self.figures}


@contextmanager
def snapshot(engine):
    """A read-only session on one consistent snapshot of the database."""
    if engine.db.is_postgres:
        with engine.db.engine.connect() as conn:
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with Session(bind=conn) as session:
                session.execute(select(1))  # the snapshot starts here
                try:
                    yield session
                finally:
                    session.rollback()
    else:
        with engine.read() as session:
            yield session


# --------------------------------------------------------------------------- checks


def _check_instances(engine, session, states: bool) -> tuple[dict, dict]:
    """Unfinished instances against their workflow state; finished ones have nothing open."""
    from engine.runtime import definitions
    from engine.runtime.spiff import describe
    from engine.runtime.steps import load_workflow
    from engine.store.records import load_instance

    live, finished = _Check(), _Check()
    open_tasks: dict[str, set[str]] = defaultdict(set)
    for iid, tid in session.execute(select(T.c.instance_id, T.c.id).where(T.c.status == "open")):
        open_tasks[iid].add(tid)
    pending: dict[str, set[str]] = defaultdict(set)
    for iid, tid in session.execute(
        # a timer given up after repeated failures (state failed) still stands for its waiting event, and so
        # does one held while its instance is suspended
        select(TM.c.instance_id, TM.c.task_id).where(TM.c.state.in_(("pending", "failed", "suspended")),
                                                     TM.c.kind == "bpmn",
                                                     TM.c.instance_id.is_not(None))
    ):
        pending[iid].add(tid)
    # finished instances: no open tasks, no pending timers of any kind
    for iid, status, what in session.execute(
        select(I.c.id, I.c.status, func.count()).select_from(I.join(T, T.c.instance_id == I.c.id))
        .where(T.c.status == "open", I.c.status.not_in(UNFINISHED)).group_by(I.c.id, I.c.status)
    ):
        finished.add({"instance": iid, "status": status, "open_tasks": what})
    for iid, status, what in session.execute(
        select(I.c.id, I.c.status, func.count()).select_from(I.join(TM, TM.c.instance_id == I.c.id))
        .where(TM.c.state == "pending", I.c.status.not_in(UNFINISHED)).group_by(I.c.id, I.c.status)
    ):
        finished.add({"instance": iid, "status": status, "pending_timers": what})
    ids = list(session.execute(select(I.c.id).where(I.c.status.in_(UNFINISHED)).order_by(I.c.id)).scalars())
    live.figures["unfinished"] = len(ids)
    live.figures["states_loaded"] = 0
    if not states:
        return live.report(), finished.report()
    for start in range(0, len(ids), BATCH):
        for iid in ids[start:start + BATCH]:
            inst = load_instance(session, iid)
            try:
                definition = definitions.by_id(engine, session, inst.definition_id)
                result = describe(load_workflow(engine, inst, definition), inst.incident)
            except Exception as exc:  # noqa: BLE001 - a state that cannot be loaded is the finding
                live.add({"instance": iid, "problem": f"state does not load: {type(exc).__name__}: {exc}"[:300]})
                continue
            live.figures["states_loaded"] += 1
            ready = {str(t.id) for t in result.ready_tasks}
            timers = {t.task_id for t in result.timers}
            problems = {}
            if result.status != ("running" if inst.status == "suspended" else inst.status):
                problems["status"] = {"row": inst.status, "workflow": result.status}
            if ready != open_tasks.get(iid, set()):
                problems["open_tasks"] = {"rows_only": sorted(open_tasks.get(iid, set()) - ready),
                                          "workflow_only": sorted(ready - open_tasks.get(iid, set()))}
            if timers != pending.get(iid, set()):
                problems["pending_timers"] = {"rows_only": sorted(pending.get(iid, set()) - timers),
                                              "workflow_only": sorted(timers - pending.get(iid, set()))}
            if problems:
                live.add({"instance": iid, "process": inst.process_key, **problems})
    return live.report(), finished.report()


def _check_completed_at_an_end(session) -> dict:
    """Completed instances: an end event among the elements that ran, no live task left."""
    from engine.runtime.spiff import LIVE

    check, ends = _Check(), {}
    check.figures["completed"] = 0
    last = ""
    while True:
        rows = session.execute(
            select(I.c.id, I.c.definition_id, I.c.process_key, I.c.state, I.c.visited)
            .where(I.c.status == "completed", I.c.id > last).order_by(I.c.id).limit(BATCH)
        ).all()
        if not rows:
            return check.report()
        for row in rows:
            check.figures["completed"] += 1
            if row.definition_id not in ends:
                meta = session.execute(select(PD.c.meta).where(PD.c.id == row.definition_id)).scalar_one_or_none() or {}
                ends[row.definition_id] = {e for e, info in (meta.get("elements") or {}).items()
                                           if (info or {}).get("type") == "endEvent"}
            problems = {}
            if not ends[row.definition_id] & set(row.visited or ()):
                problems["end_event"] = "no end event among the elements that ran"
            try:
                tasks = (json.loads(row.state or "{}").get("tasks") or {}).values()
                active = sorted({t.get("task_spec") for t in tasks if int(t.get("state", 0)) & int(LIVE)})
            except (ValueError, AttributeError) as exc:
                active, problems["state"] = [], f"state does not read: {exc}"[:200]
            if active:
                problems["still_active"] = active[:10]
            if problems:
                check.add({"instance": row.id, "process": row.process_key, **problems})
        last = rows[-1].id


def _check_started_once(session) -> dict:
    check = _Check()
    started = select(E.c.instance_id, func.count().label("n")).where(E.c.action == "instance_started").group_by(E.c.instance_id).subquery()
    for iid, n in session.execute(
        select(I.c.id, started.c.n).select_from(I.outerjoin(started, started.c.instance_id == I.c.id))
        .where((started.c.n.is_(None)) | (started.c.n != 1))
    ):
        check.add({"instance": iid, "instance_started_events": n or 0})
    return check.report()


def _check_completed_once(session) -> dict:
    check = _Check()
    for tid, n in session.execute(
        select(E.c.task_id, func.count()).where(E.c.action == "task_completed").group_by(E.c.task_id).having(func.count() > 1)
    ):
        check.add({"task": tid, "problem": "completed twice", "task_completed_events": n})
    events = select(E.c.task_id).where(E.c.action == "task_completed").subquery()
    for tid, iid in session.execute(
        select(T.c.id, T.c.instance_id).select_from(T.outerjoin(events, events.c.task_id == T.c.id))
        .where(T.c.status == "completed", events.c.task_id.is_(None))
    ):
        check.add({"task": tid, "instance": iid, "problem": "completed row without a task_completed event"})
    for tid, status in session.execute(
        select(E.c.task_id, T.c.status).select_from(
            E.join(I, I.c.id == E.c.instance_id).outerjoin(T, T.c.id == E.c.task_id))
        .where(E.c.action == "task_completed", (T.c.status.is_(None)) | (T.c.status != "completed"))
    ):
        check.add({"task": tid, "problem": "task_completed event but the row is " + (status or "missing")})
    for tid in session.execute(
        select(T.c.id).where(T.c.status == "completed", (T.c.completed_at.is_(None)) | (T.c.completed_by.is_(None)))
    ).scalars():
        check.add({"task": tid, "problem": "completed row without completed_at / completed_by"})
    check.figures["completed_tasks"] = session.execute(select(func.count()).where(T.c.status == "completed")).scalar_one()
    return check.report()


def _compare(check: _Check, kind: str, rows: Counter, events: Counter) -> None:
    for key in sorted(set(rows) | set(events), key=str):
        if rows[key] != events[key]:
            problem = "fired more often than its rows" if events[key] > rows[key] else "fired row without its audit event"
            check.add({"kind": kind, "key": list(key) if isinstance(key, tuple) else key,
                       "fired_rows": rows[key], "audit_events": events[key], "problem": problem})


def _check_timers(session, now: datetime, tolerance: float | None) -> tuple[dict, dict]:
    once, on_time = _Check(), _Check()
    # BPMN timers: rows fired per (instance, element) == timer_fired events per (instance, element)
    rows = Counter({(i, el): n for i, el, n in session.execute(
        select(TM.c.instance_id, TM.c.element_id, func.count()).where(TM.c.kind == "bpmn", TM.c.state == "fired")
        .group_by(TM.c.instance_id, TM.c.element_id))})
    events = Counter({(i, el): n for i, el, n in session.execute(
        select(E.c.instance_id, E.c.element_id, func.count()).select_from(E.join(I, I.c.id == E.c.instance_id))
        .where(E.c.action == "timer_fired").group_by(E.c.instance_id, E.c.element_id))})
    _compare(once, "bpmn", rows, events)
    # SLA thresholds: rows fired per (task, level, n) == sla_* events per (task, level, n)
    rows = Counter()
    for tid, payload in session.execute(select(TM.c.task_id, TM.c.payload).where(TM.c.kind == "sla", TM.c.state == "fired")):
        payload = payload or {}
        rows[(tid, payload.get("level", "breach"), payload.get("n"))] += 1
    events = Counter()
    for tid, action, details in session.execute(
        select(E.c.task_id, E.c.action, E.c.details).select_from(E.join(I, I.c.id == E.c.instance_id))
        .where(E.c.action.in_(sorted(SLA_ACTIONS)))
    ):
        details = details or {}
        events[(tid, SLA_ACTIONS[action], details.get("n") if action == "sla_escalated" else None)] += 1
    _compare(once, "sla", rows, events)
    # scheduled starts: rows fired per process == timer_fired events of element 'schedule' per process
    rows = Counter(dict(session.execute(
        select(TM.c.process_key, func.count()).where(TM.c.kind == "start", TM.c.state == "fired").group_by(TM.c.process_key)).all()))
    events = Counter((d or {}).get("key") for d in session.execute(
        select(E.c.details).where(E.c.action == "timer_fired", E.c.element_id == "schedule", E.c.instance_id.is_(None))).scalars())
    _compare(once, "start", rows, events)
    for tid, kind, fire_at, fired_at in session.execute(
        select(TM.c.id, TM.c.kind, TM.c.fire_at, TM.c.fired_at).where(
            TM.c.state == "fired", (TM.c.fired_at.is_(None)) | (TM.c.fired_at < TM.c.fire_at))
    ):
        if fired_at is not None and fired_at >= fire_at - EARLY_TOLERANCE:
            continue
        once.add({"timer": tid, "kind": kind, "problem": "fired before it was due (or without fired_at)",
                  "fire_at": fire_at, "fired_at": fired_at})
    once.figures["fired"] = dict(session.execute(
        select(TM.c.kind, func.count()).where(TM.c.state == "fired").group_by(TM.c.kind)).all())
    # on time: nothing pending far past due
    failing = []
    if tolerance is not None:
        limit = now - timedelta(seconds=tolerance)
        for tid, kind, iid, fire_at, attempts, error in session.execute(
            select(TM.c.id, TM.c.kind, TM.c.instance_id, TM.c.fire_at, TM.c.attempts, TM.c.last_error)
            .where(TM.c.state == "pending", TM.c.fire_at < limit).order_by(TM.c.fire_at)
        ):
            entry = {"timer": tid, "kind": kind, "instance": iid, "fire_at": fire_at,
                     "overdue_seconds": round((now - fire_at).total_seconds(), 1)}
            if error:
                failing.append({**entry, "attempts": attempts, "last_error": error[:300]})
            on_time.add(entry)
        on_time.figures["tolerance_seconds"] = tolerance
    on_time.figures["failing"] = failing[:EXAMPLES]
    on_time.figures["pending"] = session.execute(select(func.count()).where(TM.c.state == "pending")).scalar_one()
    return once.report(), on_time.report()


# --------------------------------------------------------------------------- acknowledgements


def read_ack(path: Path) -> dict:
    """The acknowledgement log of ``bench/harness/load_test.py`` (JSON lines):

    ``{"op": "begin", "at": ISO}`` first; ``{"op": "start", "instance_id", "process", "user"}``
    and ``{"op": "complete", "task_id", "instance_id", "element", "user"}`` for acknowledged
    writes; ``{"op": "lost", "what": "start"|"complete", "process"?, "task_id"?, "user", "status"}``
    for writes whose outcome the client does not know (no response, or a 5xx).
    """
    out = {"begin": None, "starts": {}, "completions": {}, "lost_starts": Counter(), "lost_completions": set(),
           "users": set(), "lines": 0}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        rec = json.loads(line)
        out["lines"] += 1
        if rec.get("user"):
            out["users"].add(rec["user"])
        op = rec.get("op")
        if op == "begin":
            out["begin"] = datetime.fromisoformat(rec["at"])
        elif op == "start":
            out["starts"][rec["instance_id"]] = rec.get("process")
        elif op == "complete":
            out["completions"][rec["task_id"]] = rec.get("instance_id")
        elif op == "lost" and rec.get("what") == "start":
            out["lost_starts"][rec.get("process")] += 1
        elif op == "lost" and rec.get("what") == "complete":
            out["lost_completions"].add(rec.get("task_id"))
    return out


def _check_ack(session, ack: dict) -> dict:
    check = _Check()
    users = sorted(ack["users"])
    begin = ack["begin"]
    # every acknowledged start is stored (with its one instance_started event)
    acked_starts = set(ack["starts"])
    found = set()
    ids = sorted(acked_starts)
    for start in range(0, len(ids), BATCH):
        found |= set(session.execute(select(I.c.id).where(I.c.id.in_(ids[start:start + BATCH]))).scalars())
    for iid in sorted(acked_starts - found):
        check.add({"problem": "acknowledged start not in the database", "instance": iid, "process": ack["starts"][iid]})
    # every acknowledged completion is a completed row
    acked_done = set(ack["completions"])
    done_rows = {}
    ids = sorted(acked_done)
    for start in range(0, len(ids), BATCH):
        done_rows.update(dict(session.execute(
            select(T.c.id, T.c.status).where(T.c.id.in_(ids[start:start + BATCH]))).all()))
    for tid in ids:
        if done_rows.get(tid) != "completed":
            check.add({"problem": "acknowledged completion not in the database", "task": tid,
                       "row_status": done_rows.get(tid)})
    # what the database has beyond the acknowledgements: only lost responses may explain it
    starts_q = select(I.c.id, I.c.process_key, I.c.data).where(I.c.started_by.in_(users))
    comp_q = select(T.c.id).where(T.c.status == "completed", T.c.completed_by.in_(users))
    if begin is not None:
        starts_q = starts_q.where(I.c.started_at >= begin)
        comp_q = comp_q.where(T.c.completed_at >= begin)
    extra_starts, linked = Counter(), 0
    db_starts = 0
    for iid, key, data in session.execute(starts_q):
        db_starts += 1
        if iid in acked_starts:
            continue
        if isinstance(data, dict) and data.get("linked_from"):
            linked += 1  # started by the engine (a linked start), not by a client request
            continue
        extra_starts[key] += 1
    unexplained_starts = {k: n - ack["lost_starts"].get(k, 0) for k, n in extra_starts.items()
                          if n > ack["lost_starts"].get(k, 0)}
    for key, n in unexplained_starts.items():
        check.add({"problem": "instances started that no client saw acknowledged and no lost request explains",
                   "process": key, "count": n})
    db_done = set(session.execute(comp_q).scalars())
    extra_done = db_done - acked_done
    for tid in sorted(extra_done - ack["lost_completions"]):
        check.add({"problem": "task completed that no client saw acknowledged and no lost request explains", "task": tid})
    check.figures.update({
        "acknowledged_starts": len(acked_starts), "acknowledged_completions": len(acked_done),
        "db_starts_by_load_users": db_starts, "db_linked_starts": linked,
        "db_completions_by_load_users": len(db_done),
        "lost_start_requests": sum(ack["lost_starts"].values()), "lost_completion_requests": len(ack["lost_completions"]),
        "starts_committed_but_response_lost": sum(extra_starts.values()),
        "completions_committed_but_response_lost": len(extra_done & ack["lost_completions"]),
    })
    return check.report()


# --------------------------------------------------------------------------- all of it


def check_invariants(engine, ack: Path | dict | None = None, overdue_tolerance: float | None = 60.0,
                     states: bool = True) -> dict:
    """Run every check on one snapshot; ``{"ok", "checks": {...}, "counts": {...}}``."""
    now = utcnow()
    checks: dict[str, dict] = {}
    with snapshot(engine) as session:
        checks["instances"], checks["finished"] = _check_instances(engine, session, states)
        if states:
            checks["completed_at_an_end"] = _check_completed_at_an_end(session)
        checks["started_once"] = _check_started_once(session)
        checks["completed_once"] = _check_completed_once(session)
        checks["timers_fired_once"], checks["timers_on_time"] = _check_timers(session, now, overdue_tolerance)
        chain = verify_chain(session)
        checks["audit_chain"] = {"ok": chain["ok"], "violations": 0 if chain["ok"] else 1, **chain}
        if ack is not None:
            checks["acknowledged"] = _check_ack(session, read_ack(ack) if isinstance(ack, Path | str) else ack)
        counts = {
            "instances": dict(session.execute(select(I.c.status, func.count()).group_by(I.c.status)).all()),
            "tasks": dict(session.execute(select(T.c.status, func.count()).group_by(T.c.status)).all()),
            "timers": {f"{k}/{s}": n for k, s, n in session.execute(
                select(TM.c.kind, TM.c.state, func.count()).group_by(TM.c.kind, TM.c.state))},
            "audit_events": session.execute(select(func.count()).select_from(E)).scalar_one(),
        }
    return {"ok": all(c["ok"] for c in checks.values()), "checked_at": now.isoformat(), "counts": counts, "checks": checks}
