"""Durable timers: fire due ``bpm_timer`` rows, one transaction per timer.

**Exactly once.** A timer row only turns ``fired`` in the transaction that advanced the
instance, so a worker killed mid-fire (even with SIGKILL) leaves it pending for the next
worker. On PostgreSQL a worker takes the most overdue row *together with its instance
row* (``FOR UPDATE OF bpm_timer, bpm_process_instance SKIP LOCKED``): several workers never
fire the same timer, nor two timers of one instance at the same time. Every further lock
the step needs (the instance's other pending timers, its open task rows) is taken with
``SKIP LOCKED`` too; when one is held elsewhere (a user completing a task right now) the
timer is *busy*: the worker lets go of everything and tries again a moment later. So a
worker never waits on a lock while holding one, and never deadlocks with a user request.
Scheduled process starts (kind ``start``) have no instance yet; only their own row is
locked. On SQLite writers are serialized anyway.

**On time.** :func:`run_worker` fires in batches and loops again at once while there is
work; when idle it sleeps until the next ``fire_at`` (read with a cheap indexed query) or
the poll interval, whichever is sooner, and wakes early when the engine clock is pinned
or moved (tests and the controlled clock). A timer that fails is retried with a growing
delay (its ``attempts`` and ``last_error`` are recorded) and never holds up the others;
after ``MAX_ATTEMPTS`` failures it is given up and its instance becomes an incident.
"""

from __future__ import annotations

import enum
import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, func, select, update

from engine.clock import utcnow
from engine.errors import ServiceUnavailable
from engine.extensions import REGISTRY
from engine.identity.actor import SYSTEM
from engine.identity.auth import flush_failed_logins
from engine.runtime import definitions
from engine.runtime.spiff import advance
from engine.runtime.steps import load_workflow, save
from engine.scheduling import notifications
from engine.store.models import ProcessInstance, Task, Timer
from engine.store.records import load_instance

log = logging.getLogger(__name__)

TIMERS = Timer.__table__
INSTANCES = ProcessInstance.__table__
TASKS = Task.__table__

BATCH = 100  # timers per worker pass; between passes the worker checks ``stop`` and sends e-mail
IDLE_SLICE_SECONDS = 0.05  # an idle worker looks at the engine clock this often
BUSY_RETRY_SECONDS = 0.05  # how soon a worker retries a timer whose rows were held elsewhere
CLOCK_JUMP_SECONDS = 0.1  # the engine clock moving this much more (or less) than real time was pinned/moved
DUE_MARGIN_SECONDS = 0.001  # timers are due strictly after ``fire_at``: wake just past it
FAILURE_RETRY_SECONDS = (1.0, 60.0)  # first and longest delay before a failed timer is tried again
SWEEP_SECONDS = 10.0  # how often an idle worker audits the failed sign-ins left over from a burst
MAX_ATTEMPTS = 10  # failed firings (about five minutes of retries) before the instance becomes an incident


class Outcome(enum.Enum):
    NONE = "none"  # nothing due (that this worker may take)
    FIRED = "fired"
    CANCELLED = "cancelled"  # due, but there was nothing left to do (instance or task gone)
    BUSY = "busy"  # due, but rows it needs are held by another transaction: try again soon
    FAILED = "failed"  # firing raised; the timer stays pending and is retried later


HANDLED = (Outcome.FIRED, Outcome.CANCELLED)


# --------------------------------------------------------------------------- queries


def due_timer_query(now: datetime, exclude=(), for_update: bool = False):
    """The worker's due-timer statement: the most overdue pending timer.

    Strictly past due, as SpiffWorkflow decides (``due < now``): at the very due instant
    the workflow would not fire yet and the row must stay pending. With ``for_update``
    (PostgreSQL) the timer row and its instance row are locked, skipping rows another
    transaction holds. Served by the index ``ix_timer_due (state, fire_at)``.
    """
    query = (
        select(Timer)
        .join(INSTANCES, INSTANCES.c.id == Timer.instance_id)
        .where(Timer.state == "pending", Timer.fire_at < now)
        .order_by(Timer.fire_at)
        .limit(1)
    )
    if exclude:
        query = query.where(Timer.id.not_in(sorted(exclude)))
    if for_update:
        query = query.with_for_update(skip_locked=True, of=(TIMERS, INSTANCES))
    return query


def due_start_query(now: datetime, exclude=(), for_update: bool = False):
    """Due scheduled process starts (``kind = 'start'``, see ``engine.scheduling.schedules``): timer
    rows without an instance, which :func:`due_timer_query` (an inner join) never sees."""
    query = (
        select(Timer)
        .where(Timer.state == "pending", Timer.fire_at < now, Timer.instance_id.is_(None), Timer.kind == "start")
        .order_by(Timer.fire_at)
        .limit(1)
    )
    if exclude:
        query = query.where(Timer.id.not_in(sorted(exclude)))
    return query.with_for_update(skip_locked=True) if for_update else query


def next_due_query(now: datetime):
    """The earliest ``fire_at`` still ahead (an index-only scan of ``ix_timer_due``)."""
    return select(func.min(Timer.fire_at)).where(Timer.state == "pending", Timer.fire_at >= now)


def _is_postgres(uow) -> bool:
    return uow.session.get_bind().dialect.name == "postgresql"


def _lockable_and_total(table, *where):
    """Two counts of the rows matching ``where``: those this transaction could lock (and
    now holds: ``SKIP LOCKED`` in a sub-select), and all of them."""
    lockable = select(table.c.id).where(*where).with_for_update(skip_locked=True).subquery()
    return (select(func.count()).select_from(lockable).scalar_subquery(),
            select(func.count()).select_from(table).where(*where).scalar_subquery())


_INSTANCE = bindparam("b_instance")
# one round trip: lock the instance's pending BPMN timers and its open task rows
LOCK_INSTANCE_ROWS = select(
    *_lockable_and_total(TIMERS, TIMERS.c.instance_id == _INSTANCE, TIMERS.c.state == "pending", TIMERS.c.kind == "bpmn"),
    *_lockable_and_total(TASKS, TASKS.c.instance_id == _INSTANCE, TASKS.c.status == "open"),
)
LOCK_TASK_ROW = select(*_lockable_and_total(TASKS, TASKS.c.id == bindparam("b_task")))


def _locked_all(uow, statement, params: dict) -> bool:
    """Run a lock statement of count pairs; False when another transaction holds a row.

    PostgreSQL only; on SQLite writers are serialized and there is nothing to lock.
    """
    if not _is_postgres(uow):
        return True
    counts = uow.session.connection().execute(statement, params).one()
    return all(counts[i] == counts[i + 1] for i in range(0, len(counts), 2))


# --------------------------------------------------------------------------- firing one timer


def _take_due(uow, exclude=()) -> Timer | None:
    """The most overdue instance timer, else the most overdue scheduled start (both rare
    and cheap to find: the same index)."""
    now, lock = utcnow(), _is_postgres(uow)
    timer = uow.session.execute(due_timer_query(now, exclude, for_update=lock)).scalar_one_or_none()
    if timer is None:
        timer = uow.session.execute(due_start_query(now, exclude, for_update=lock)).scalar_one_or_none()
    return timer


def _fire_next(engine, exclude=()) -> tuple[Outcome, int | None]:
    """Take the most overdue timer not in ``exclude`` and fire it in one transaction.

    Returns the outcome and the timer's id. An error while firing is logged and recorded
    on the row (``FAILED``); an error before a timer was taken (database down) is raised.
    """
    taken = None
    try:
        with engine.uow(SYSTEM) as uow:
            timer = _take_due(uow, exclude)
            if timer is None:
                return Outcome.NONE, None
            taken = timer.id
            return _fire(engine, uow, timer), taken
    except Exception as exc:  # noqa: BLE001 - one broken timer must not stop the worker
        if taken is None:
            raise
        log.exception("firing timer %s failed; it stays pending and is retried", taken)
        _record_failure(engine, taken, exc)
        return Outcome.FAILED, taken


def _fire(engine, uow, timer: Timer) -> Outcome:
    if timer.kind in ("bpmn", "continue"):
        return _fire_bpmn(engine, uow, timer)
    kind = REGISTRY.timer_kind(timer.kind)  # an extension's timers: an SLA threshold, a scheduled start ...
    if kind is None:
        raise LookupError(f"no extension fires timers of kind {timer.kind!r}")
    if kind.locks_task and not _locked_all(uow, LOCK_TASK_ROW, {"b_task": timer.task_id}):
        return Outcome.BUSY  # the task is being completed, claimed or cancelled right now
    timer.attempts += 1
    if not kind.fire(engine, uow, timer):
        timer.state = "cancelled"
        return Outcome.CANCELLED
    timer.state, timer.fired_at = "fired", utcnow()
    return Outcome.FIRED


def _fire_bpmn(engine, uow, timer: Timer) -> Outcome:
    """Advance the timer's instance past every timer of it that is due (a ``continue`` timer:
    go on with a run that was longer than one chunk)."""
    # the step may fire or cancel any of the instance's timers and cancel its open tasks
    if not _locked_all(uow, LOCK_INSTANCE_ROWS, {"b_instance": timer.instance_id}):
        return Outcome.BUSY
    timer.attempts += 1
    inst = load_instance(uow.session, timer.instance_id)
    if inst is None or inst.status != "running":
        timer.state = "cancelled"
        return Outcome.CANCELLED
    definition = definitions.by_id(engine, uow.session, inst.definition_id)
    workflow = load_workflow(engine, inst, definition)
    workflow.refresh_timers()
    result = advance(workflow, steps_before=(timer.payload or {}).get("steps", 0) if timer.kind == "continue" else 0)
    _mark_fired(uow, timer, inst.id, {t.task_id for t in result.timers})
    save(uow, inst, definition, workflow, result)
    return Outcome.FIRED


def _mark_fired(uow, timer: Timer, instance_id: str, still_waiting: set[str]) -> None:
    """Mark the instance's due timers that the step consumed as fired.

    ``refresh_timers`` fires every due timer of the instance, not only the one taken (the
    others are locked by this transaction already). Rows must be flushed before
    ``save()``: it looks up the pending rows in the database and would cancel these as no
    longer wanted. A timer the workflow still waits on (not yet due in SpiffWorkflow's
    terms) stays pending.
    """
    now = utcnow()
    siblings = (
        select(Timer)
        .where(Timer.instance_id == instance_id, Timer.state == "pending", Timer.kind == "bpmn",
               Timer.fire_at < now, Timer.id != timer.id)
        .order_by(Timer.id)
    )
    for row in [timer, *uow.session.execute(siblings).scalars()]:
        if row.kind == "continue":  # not a timer of the model: the second half of a long run
            row.state, row.fired_at = "fired", now
            uow.audit("instance_continued", instance_id=instance_id, element_id=row.element_id,
                      steps_before=(row.payload or {}).get("steps"))
            continue
        if row.task_id in still_waiting:
            continue
        row.state = "fired"
        row.fired_at = now
        uow.audit("timer_fired", instance_id=instance_id, element_id=row.element_id, due=row.fire_at.isoformat())
    uow.session.flush()


def _record_failure(engine, timer_id: int, exc: Exception) -> None:
    """Count the failed attempt and keep its message on the row (skipped if the row is busy).

    A timer that failed ``MAX_ATTEMPTS`` times is not tried again by itself: it turns
    ``failed`` and its instance becomes an incident naming the element and the error, which
    an administrator retries (``instances.retry``). The database being away does not count."""
    error = f"{type(exc).__name__}: {exc}"[:2000]
    counts = not isinstance(exc, ServiceUnavailable)
    mine = select(TIMERS.c.id).where(TIMERS.c.id == timer_id, TIMERS.c.state == "pending").with_for_update(skip_locked=True)
    try:
        with engine.uow(SYSTEM) as uow:
            attempts = uow.session.execute(
                update(TIMERS)
                .where(TIMERS.c.id.in_(mine.scalar_subquery()))
                .values(attempts=TIMERS.c.attempts + (1 if counts else 0), last_error=error)
                .returning(TIMERS.c.attempts, TIMERS.c.instance_id, TIMERS.c.element_id)
            ).first()
            if attempts is not None and attempts.attempts >= MAX_ATTEMPTS:
                _give_up(uow, timer_id, attempts.instance_id, attempts.element_id, attempts.attempts, error)
    except Exception:  # noqa: BLE001
        log.exception("could not record the failure of timer %s", timer_id)


def _give_up(uow, timer_id: int, instance_id: str | None, element_id: str, attempts: int, error: str) -> None:
    uow.session.execute(update(TIMERS).where(TIMERS.c.id == timer_id).values(state="failed"))
    message = f"the timer failed {attempts} times and is not tried again by itself: {error}"
    if instance_id is not None:
        incident = {"element_id": element_id, "timer_id": timer_id, "message": message}
        uow.session.execute(
            update(INSTANCES).where(INSTANCES.c.id == instance_id, INSTANCES.c.status == "running")
            .values(status="incident", incident=incident, lock_version=INSTANCES.c.lock_version + 1)
        )
    uow.audit("timer_failed", instance_id=instance_id, element_id=element_id, timer_id=timer_id, attempts=attempts,
              error=error)
    if instance_id is not None:
        uow.audit("incident_raised", instance_id=instance_id, element_id=element_id, message=message)


def fire_one(engine) -> bool:
    """Fire (or cancel, when there is nothing left to do) the most overdue timer.

    Returns False when no timer is due, or when the most overdue one is busy or failed
    (it stays pending).
    """
    outcome, _ = _fire_next(engine)
    return outcome in HANDLED


# --------------------------------------------------------------------------- batches and the worker


class RetryLater:
    """Timers that failed, kept out of the worker's way for a growing while (1 s, 2 s ... 60 s)."""

    def __init__(self) -> None:
        self._entries: dict[int, tuple[float, int]] = {}  # timer id -> (monotonic retry time, failures)

    def failed(self, timer_id: int) -> None:
        first, longest = FAILURE_RETRY_SECONDS
        failures = self._entries.get(timer_id, (0.0, 0))[1] + 1
        self._entries[timer_id] = (time.monotonic() + min(longest, first * 2 ** (failures - 1)), failures)

    def succeeded(self, timer_id: int) -> None:
        self._entries.pop(timer_id, None)

    def excluded(self) -> set[int]:
        """Ids still waiting for their retry time; entries long past it are forgotten."""
        now, longest = time.monotonic(), FAILURE_RETRY_SECONDS[1]
        self._entries = {k: v for k, v in self._entries.items() if v[0] + 2 * longest > now}
        return {k for k, (until, _) in self._entries.items() if until > now}


@dataclass
class Pass:
    """What one batch did: timers handled (fired or cancelled), busy and failed."""

    handled: int = 0
    busy: int = 0
    failed: int = 0


def fire_batch(engine, limit: int, retry: RetryLater, stop: threading.Event | None = None) -> Pass:
    """Fire up to ``limit`` due timers, most overdue first.

    A busy or failed timer is skipped for the rest of the batch (a failed one, through
    ``retry``, for longer), so it never holds up the timers behind it.
    """
    done = Pass()
    exclude = retry.excluded()
    while done.handled < limit and not (stop is not None and stop.is_set()):
        try:
            outcome, timer_id = _fire_next(engine, exclude)
        except ServiceUnavailable as exc:  # the database is away: one line, the next pass retries
            log.warning("the timer worker could not read due timers: %s", exc.message)
            break
        except Exception:  # noqa: BLE001 - anything else: the next pass retries
            log.exception("the timer worker could not read due timers")
            break
        if outcome is Outcome.NONE:
            break
        if outcome in HANDLED:
            retry.succeeded(timer_id)
            done.handled += 1
            continue
        exclude.add(timer_id)
        if outcome is Outcome.BUSY:
            done.busy += 1
        else:
            done.failed += 1
            retry.failed(timer_id)
    return done


def fire_due(engine, limit: int = 1000) -> int:
    """Fire every due timer (up to ``limit``) now; return how many were handled."""
    return fire_batch(engine, limit, RetryLater()).handled


def next_due(engine) -> datetime | None:
    """The earliest pending ``fire_at`` not yet reached on the engine clock, if any."""
    with engine.read() as session:
        return session.execute(next_due_query(utcnow())).scalar_one_or_none()


def _clock_jumped(clock_moved: float, real_elapsed: float) -> bool:
    """True when the engine clock moved differently from real time (pinned to a new
    instant, advanced, reset). A pinned clock that stays put is no jump."""
    return clock_moved != 0 and abs(clock_moved - real_elapsed) > CLOCK_JUMP_SECONDS


def wait_for_next_timer(engine, stop: threading.Event, longest: float) -> None:
    """Sleep until the next timer is due, at most ``longest`` seconds.

    Wakes early when ``stop`` is set or the engine clock jumps. Timers created meanwhile
    by other processes are seen at the latest after ``longest`` (the poll interval).
    """
    try:
        due = next_due(engine)
    except ServiceUnavailable as exc:
        log.warning("could not read the next timer's due time: %s", exc.message)
        due = None
    except Exception:  # noqa: BLE001
        log.exception("could not read the next timer's due time")
        due = None
    deadline = time.monotonic() + longest
    last_real, last_clock = time.monotonic(), utcnow()
    while not stop.is_set():
        real, now = time.monotonic(), utcnow()
        if due is not None and now > due:
            return
        if _clock_jumped((now - last_clock).total_seconds(), real - last_real) or real >= deadline:
            return
        step = min(deadline - real, IDLE_SLICE_SECONDS)
        if due is not None:
            step = min(step, (due - now).total_seconds() + DUE_MARGIN_SECONDS)
        last_real, last_clock = real, now
        stop.wait(max(step, DUE_MARGIN_SECONDS))


def run_worker(engine, stop: threading.Event, poll_seconds: float | None = None) -> None:
    """Fire due timers until ``stop`` is set.

    After a batch that fired something the worker goes again at once; when idle it waits
    for the next due time (at most ``poll_seconds``, default ``timer_poll_seconds``), or
    only briefly when a due timer was busy.
    """
    interval = poll_seconds or engine.settings.timer_poll_seconds
    retry = RetryLater()
    swept = 0.0
    while not stop.is_set():
        done = fire_batch(engine, BATCH, retry, stop)
        try:
            notifications.deliver_email(engine)
        except Exception:  # noqa: BLE001
            log.exception("e-mail delivery failed")
        if time.monotonic() - swept >= SWEEP_SECONDS:
            swept = time.monotonic()
            try:  # the tail of a burst of failed sign-ins gets its audit event (engine/identity/auth.py)
                flush_failed_logins(engine)
            except Exception:  # noqa: BLE001
                log.exception("auditing failed sign-ins failed")
        if done.handled:
            continue
        wait_for_next_timer(engine, stop, min(interval, BUSY_RETRY_SECONDS) if done.busy else interval)
