"""External tasks: work a BPMN model hands to systems outside the engine, by topic.

Camunda 7's external-task pattern. A ``serviceTask`` (or ``sendTask`` / ``businessRuleTask``)
with ``camunda:type="external" camunda:topic="T"`` waits (``engine.bpmn.specs.ExternalTask``);
every save keeps one ``bpm_external_task`` row per waiting task (:func:`saved`). Workers on any
machine then, over the REST API:

* **fetch and lock** tasks of the topics they may work (highest ``camunda:taskPriority`` first,
  then oldest): a lock for ``lock_duration``; a lock that expires puts the task back in the pool.
  Each task is delivered to one worker: the lock is taken by a conditional UPDATE that only one
  transaction can win (``FOR UPDATE SKIP LOCKED`` on PostgreSQL keeps racing workers apart);
* **complete** it with variables (exactly once: the loser of a race gets 409), which runs the
  instance on in the same transaction;
* report a **failure**: retries left (the worker's count, or the model's ``retries`` property
  counted down) and a back-off (the worker's ``retry_timeout``, or the model's ``retryBackoff``);
  at zero the task fails and the instance becomes an incident an administrator retries;
* throw a **BPMN error**: it goes to the matching error boundary event of the task, or of a
  subprocess around it; one that nothing catches is an incident (never a silent end);
* **extend** or give up (**unlock**) a lock.

Who may work a topic is configuration, not model (``processes/connectors.toml``, ``BPM_CONNECTORS``):
each topic names the service accounts (users with the ``integration`` role) that may fetch it.
Every state change is audited.
"""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import ErrorEventDefinition
from SpiffWorkflow.bpmn.util import BpmnEvent
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import exists, insert, or_, select, update

from engine.bpmn.datefuncs import parse_duration
from engine.clock import utcnow
from engine.errors import BadRequest, Conflict, Forbidden, NotFound, StaleInstance, ValidationFailed
from engine.extensions import DeployContext, Element, Extension
from engine.identity.actor import Actor
from engine.runtime import definitions
from engine.runtime.connectors import ROLE, may_work, topics
from engine.runtime.io_params import io_leave
from engine.runtime.spiff import advance, describe
from engine.runtime.steps import load_workflow, local_data, save
from engine.store.models import ExternalTask, ProcessInstance
from engine.store.records import load_instance

TABLE = ExternalTask.__table__
KINDS = ("serviceTask", "sendTask", "businessRuleTask")
DEFAULT_RETRIES = 3
DEFAULT_BACKOFF = (60,)  # seconds before the next attempt after a failure, when neither model nor worker says
MAX_LOCK_MS = 24 * 3600 * 1000
MAX_TASKS = 100
MAX_WAIT_MS = 30_000
STALE_RETRIES = 5  # a completion that lost the instance to a concurrent step runs again


def _require_role(actor: Actor) -> None:
    if ROLE not in actor.roles:
        raise Forbidden(f"only a service account with the {ROLE!r} role works external tasks")


def _require_topic(engine, actor: Actor, topic: str) -> None:
    _require_role(actor)
    if topic not in topics(engine):
        raise NotFound(f"topic {topic!r} is not configured (processes/connectors.toml)")
    if not may_work(engine, actor, topic):
        raise Forbidden(f"{actor.username} may not work topic {topic!r}")


def _reads_all(actor: Actor) -> bool:
    return bool({"admin", "auditor"} & set(actor.roles))


# --- deploy -----------------------------------------------------------------------------------------------------

def backoff_of(properties: dict) -> list[float]:
    raw = (properties or {}).get("retryBackoff")
    return [parse_duration(p).total_seconds() for p in raw.split(",")] if raw else list(DEFAULT_BACKOFF)


def retries_of(properties: dict) -> int:
    raw = (properties or {}).get("retries")
    return int(raw) if raw not in (None, "") else DEFAULT_RETRIES


def check(element: Element, ctx: DeployContext) -> list[str]:
    props = element.properties
    problems = []
    if "external" not in (element.info or {}):
        return [f"retries and retryBackoff belong on an external task (camunda:type=\"external\"), not on this "
                f"{element.kind}"]
    if "retries" in props:
        raw = props["retries"] or ""
        if not raw.isdigit() or int(raw) > 100:
            problems.append(f"retries {raw!r} must be a whole number from 0 to 100")
    if "retryBackoff" in props:
        try:
            backoff_of(props)
        except ValueError as exc:
            problems.append(f"retryBackoff: {exc} (a comma-separated list, one per failure, the last repeated)")
    return problems


# --- keeping the rows in step with the instance ------------------------------------------------------------------

def saved(uow, inst, definition, step) -> None:
    """After every save: a row for each external task that now waits, the rows of those that no
    longer wait (their scope was cancelled, a boundary event interrupted them) cancelled, and a
    failed one re-opened when an administrator retried it."""
    if not (definition.meta or {}).get("external"):
        return
    now = utcnow()
    conn = uow.session.connection()
    wanted = step.result.external
    # the rows still in play, and those of the tasks that wait now (a retried one may be closed)
    have = dict(conn.execute(select(TABLE.c.id, TABLE.c.state).where(
        TABLE.c.instance_id == inst.id,
        or_(TABLE.c.state.in_(("open", "failed")), TABLE.c.id.in_(sorted(wanted))))).all())
    elements = definition.meta.get("elements") or {}
    for tid, spiff_task in wanted.items():
        element = spiff_task.task_spec.bpmn_id
        info = elements.get(element) or {}
        props = info.get("properties") or {}
        if tid not in have:
            if spiff_task.state != TaskState.STARTED:
                continue
            row = {"id": tid, "instance_id": inst.id, "process_key": inst.process_key, "element_id": element,
                   "name": info.get("name") or spiff_task.task_spec.bpmn_name, "topic": info["external"]["topic"],
                   "priority": info["external"]["priority"], "state": "open", "retries": retries_of(props),
                   "failures": 0, "backoff": backoff_of(props), "business_key": inst.business_key,
                   "org_unit": inst.org_unit, "local_data": local_data(spiff_task), "created_at": now}
            conn.execute(insert(TABLE), row)
            uow.audit("external_task_created", instance_id=inst.id, task_id=tid, element_id=element,
                      topic=row["topic"], priority=row["priority"])
        elif have[tid] != "open" and spiff_task.state == TaskState.STARTED:
            # an administrator retried it (after its retries ran out, or an uncaught BPMN error)
            conn.execute(update(TABLE).where(TABLE.c.id == tid).values(
                state="open", retries=retries_of(props), failures=0, retry_at=None, worker_id=None, locked_by=None,
                lock_expires_at=None, result=None, completed_at=None, local_data=local_data(spiff_task)))
            uow.audit("external_task_reopened", instance_id=inst.id, task_id=tid, element_id=element)
    gone = [tid for tid, state in have.items() if state in ("open", "failed") and tid not in wanted]
    if gone:
        conn.execute(update(TABLE).where(TABLE.c.id.in_(gone)).values(state="cancelled", completed_at=now,
                                                                        lock_expires_at=None))
        for tid in gone:
            uow.audit("external_task_cancelled", instance_id=inst.id, task_id=tid)


# --- the worker's side ---------------------------------------------------------------------------------------------

def to_dict(row, variables: dict | None = None) -> dict:
    out = {"id": row.id, "instance_id": row.instance_id, "process_key": row.process_key,
           "element_id": row.element_id, "name": row.name, "topic": row.topic, "priority": row.priority,
           "state": row.state, "worker_id": row.worker_id, "lock_expires_at": row.lock_expires_at,
           "retries": row.retries, "retry_at": row.retry_at, "error_message": row.error_message,
           "business_key": row.business_key, "created_at": row.created_at, "completed_at": row.completed_at}
    if variables is not None:
        out["variables"] = variables
    return out


def _lock_ms(value, topic_spec: dict) -> int:
    ms = int(value) if value is not None else topic_spec["lock_duration_ms"]
    if ms <= 0 or ms > MAX_LOCK_MS:
        raise BadRequest(f"lock_duration must be between 1 and {MAX_LOCK_MS} milliseconds")
    return ms


def fetch_and_lock(engine, actor: Actor, worker_id: str, max_tasks: int, wanted: list[dict],
                   wait_ms: int = 0) -> list[dict]:
    """Lock up to ``max_tasks`` open tasks of the requested topics for ``worker_id``; with
    ``wait_ms`` (long polling) wait that long for one to arrive when none is there; a process that
    begins to stop (``engine.stopping``) ends the wait at once, answering what it has (nothing),
    so that a restart does not wait for idle polls and the worker polls again elsewhere."""
    if not wanted:
        raise BadRequest("name at least one topic")
    specs = {}
    for t in wanted:
        _require_topic(engine, actor, t["name"])
        specs[t["name"]] = (t, _lock_ms(t.get("lock_duration"), topics(engine)[t["name"]]))
    max_tasks = max(1, min(int(max_tasks), MAX_TASKS))
    deadline = time.monotonic() + min(max(int(wait_ms or 0), 0), MAX_WAIT_MS) / 1000
    delay = 0.05
    while True:
        with engine.uow(actor) as uow:
            got = _lock_some(uow, worker_id, max_tasks, specs)
        if got or time.monotonic() >= deadline or engine.stopping.is_set():
            return got
        engine.stopping.wait(min(delay, max(0.0, deadline - time.monotonic())))
        delay = min(delay * 2, 0.5)


def _lock_some(uow, worker_id: str, max_tasks: int, specs: dict) -> list[dict]:
    session = uow.session
    now = utcnow()
    free = (TABLE.c.state == "open") & or_(TABLE.c.lock_expires_at.is_(None), TABLE.c.lock_expires_at <= now) & \
        or_(TABLE.c.retry_at.is_(None), TABLE.c.retry_at <= now)
    instances = ProcessInstance.__table__
    suspended = exists().where(instances.c.id == TABLE.c.instance_id, instances.c.status == "suspended")
    # walks ix_external_task_fetch in hand-out order and stops at max_tasks (no sort of the pool)
    query = (select(TABLE.c.id, TABLE.c.topic).where(free, TABLE.c.topic.in_(sorted(specs)), ~suspended)
             .order_by(TABLE.c.priority.desc(), TABLE.c.created_at, TABLE.c.id).limit(max_tasks))
    if not uow.engine.settings.is_sqlite:
        query = query.with_for_update(skip_locked=True, of=TABLE)
    candidates = session.execute(query).all()
    locked = []
    for tid, topic in candidates:
        until = now + timedelta(milliseconds=specs[topic][1])
        done = session.execute(update(TABLE).where(TABLE.c.id == tid, free).values(
            worker_id=worker_id, locked_by=uow.actor.username, lock_expires_at=until)).rowcount
        if done == 1:
            locked.append(tid)
    if not locked:
        return []
    rows = {r.id: r for r in session.execute(select(TABLE).where(TABLE.c.id.in_(locked)))}
    data_of = dict(session.execute(select(instances.c.id, instances.c.data).where(
        instances.c.id.in_({r.instance_id for r in rows.values()}))).all())
    out = []
    for tid in locked:  # in hand-out order
        row = rows[tid]
        names = specs[row.topic][0].get("variables")
        data = {**(data_of.get(row.instance_id) or {}), **(row.local_data or {})}
        if names is not None:
            data = {k: v for k, v in data.items() if k in names}
        out.append(to_dict(row, data))
        uow.audit("external_task_locked", instance_id=row.instance_id, task_id=tid, element_id=row.element_id,
                  topic=row.topic, worker_id=worker_id, lock_expires_at=row.lock_expires_at.isoformat())
    return out


def _held(uow, task_id: str, worker_id: str) -> ExternalTask:
    _require_role(uow.actor)  # before the lookup: a 403, whether the task exists or not
    row = uow.session.get(ExternalTask, task_id)
    if row is None:
        raise NotFound(f"external task {task_id!r} not found")
    _require_topic(uow.engine, uow.actor, row.topic)
    if row.state != "open":
        raise Conflict(f"external task is already {row.state}")
    if row.worker_id != worker_id:
        raise Conflict(f"external task is not locked by worker {worker_id!r}"
                       + (" (its lock expired and another worker holds it)" if row.worker_id else ""))
    return row


def _close(uow, row: ExternalTask, worker_id: str, result: dict) -> None:
    """Take the task out of the pool: exactly one caller wins (409 for any other)."""
    done = uow.session.execute(update(TABLE).where(
        TABLE.c.id == row.id, TABLE.c.state == "open", TABLE.c.worker_id == worker_id).values(
        state="completed", completed_at=utcnow(), result=result, lock_expires_at=None)).rowcount
    if done != 1:
        raise Conflict("external task was completed by another worker at the same time")


def _running(uow, row: ExternalTask):
    inst = load_instance(uow.session, row.instance_id)
    if inst.status == "suspended":
        raise Conflict("the process instance is suspended: its external tasks wait until an administrator resumes it")
    definition = definitions.by_id(uow.engine, uow.session, inst.definition_id)
    workflow = load_workflow(uow.engine, inst, definition)
    spiff_task = workflow.get_task_from_id(uuid.UUID(row.id))
    if spiff_task is None or spiff_task.state != TaskState.STARTED:
        raise Conflict("the external task no longer waits in its instance")
    return inst, definition, workflow, spiff_task


def _again(engine, actor: Actor, work):
    """Run ``work(uow)`` in a unit of work; a concurrent step of the same instance is retried."""
    for attempt in range(STALE_RETRIES):
        try:
            with engine.uow(actor) as uow:
                return work(uow)
        except StaleInstance:
            if attempt == STALE_RETRIES - 1:
                raise
            time.sleep(0.01 * (attempt + 1))


def _variables(variables) -> dict:
    if variables is None:
        return {}
    if not isinstance(variables, dict) or not all(isinstance(k, str) and k.isidentifier() for k in variables):
        raise ValidationFailed("variables must be an object whose keys are names",
                               {"variables": ["keys must be names (letters, digits, _)"]})
    return variables


def complete(engine, actor: Actor, task_id: str, worker_id: str, variables: dict | None = None) -> dict:
    variables = _variables(variables)

    def work(uow):
        row = _held(uow, task_id, worker_id)
        inst, definition, workflow, spiff_task = _running(uow, row)
        _close(uow, row, worker_id, variables)
        spiff_task.data.update(variables)
        io_leave(spiff_task, extra=row.local_data)
        spiff_task.complete()
        uow.audit("external_task_completed", instance_id=inst.id, task_id=task_id, element_id=row.element_id,
                  topic=row.topic, worker_id=worker_id, data=variables)
        save(uow, inst, definition, workflow, advance(workflow))
        return {"id": task_id, "state": "completed", "instance_id": inst.id, "instance_status": inst.status}

    return _again(engine, actor, work)


def failure(engine, actor: Actor, task_id: str, worker_id: str, error_message: str, error_details: str | None = None,
            retries: int | None = None, retry_timeout: int | None = None) -> dict:
    """The worker could not do the work: try again after the back-off while retries are left; at
    zero, the task fails and its instance becomes an incident."""

    def work(uow):
        row = _held(uow, task_id, worker_id)
        left = retries if retries is not None else max(0, (row.retries if row.retries is not None
                                                           else DEFAULT_RETRIES) - 1)
        if left < 0:
            raise ValidationFailed("retries must be 0 or more", {"retries": ["must be >= 0"]})
        message = (error_message or "").strip()[:1000] or "the worker reported a failure"
        details = (error_details or None) and str(error_details)[:20_000]
        uow.audit("external_task_failed", instance_id=row.instance_id, task_id=task_id, element_id=row.element_id,
                  topic=row.topic, worker_id=worker_id, message=message, retries=left)
        if left > 0:
            backoff = row.backoff or list(DEFAULT_BACKOFF)
            wait = retry_timeout / 1000 if retry_timeout is not None else backoff[min(row.failures or 0, len(backoff) - 1)]
            uow.session.execute(update(TABLE).where(TABLE.c.id == task_id).values(
                retries=left, failures=(row.failures or 0) + 1, retry_at=utcnow() + timedelta(seconds=max(0.0, wait)), worker_id=None, locked_by=None,
                lock_expires_at=None, error_message=message, error_details=details))
            return {"id": task_id, "state": "open", "retries": left}
        inst, definition, workflow, spiff_task = _running(uow, row)
        uow.session.execute(update(TABLE).where(TABLE.c.id == task_id).values(
            state="failed", retries=0, failures=(row.failures or 0) + 1, worker_id=None, locked_by=None, lock_expires_at=None, error_message=message,
            error_details=details))
        _incident(uow, inst, definition, workflow, spiff_task,
                  f"external task of topic {row.topic!r} failed with no retries left: {message}")
        return {"id": task_id, "state": "failed", "retries": 0, "instance_status": "incident"}

    return _again(engine, actor, work)


def _incident(uow, inst, definition, workflow, spiff_task, message: str) -> None:
    spiff_task._set_state(TaskState.ERROR)
    spiff_task._set_internal_data(incident_message=message)
    incident = {"element_id": spiff_task.task_spec.bpmn_id, "task_id": str(spiff_task.id), "message": message}
    save(uow, inst, definition, workflow, describe(workflow, incident))


def bpmn_error(engine, actor: Actor, task_id: str, worker_id: str, error_code: str, error_message: str | None = None,
               variables: dict | None = None) -> dict:
    """A business error the worker found (not a technical failure): it goes to the error boundary
    event that catches ``error_code`` on the task, or on a subprocess around it."""
    variables = _variables(variables)
    if not (error_code or "").strip():
        raise ValidationFailed("error_code is required", {"error_code": ["name the BPMN error"]})

    def work(uow):
        row = _held(uow, task_id, worker_id)
        inst, definition, workflow, spiff_task = _running(uow, row)
        _close(uow, row, worker_id, {"bpmn_error": error_code, "error_message": error_message, **variables})
        uow.audit("external_task_bpmn_error", instance_id=inst.id, task_id=task_id, element_id=row.element_id,
                  topic=row.topic, worker_id=worker_id, error_code=error_code, message=error_message, data=variables)
        spiff_task.data.update(variables)
        event = BpmnEvent(ErrorEventDefinition(error_code, code=error_code), payload=dict(spiff_task.data))
        catcher = _catcher(spiff_task, event)
        if catcher is None:
            _incident(uow, inst, definition, workflow, spiff_task,
                      f"BPMN error {error_code!r} ({error_message or 'no message'}) from the external task: no error "
                      "boundary event on the task or a subprocess around it catches it")
            return {"id": task_id, "state": "completed", "caught": False, "instance_status": "incident"}
        catcher.task_spec.catch(catcher, event)
        catcher.task_spec._update(catcher)
        save(uow, inst, definition, workflow, advance(workflow))
        return {"id": task_id, "state": "completed", "caught": True, "caught_by": catcher.task_spec.bpmn_id,
                "instance_status": inst.status}

    return _again(engine, actor, work)


def _catcher(spiff_task, event):
    """The waiting error boundary event of the task, else of the nearest enclosing subprocess."""
    node = spiff_task
    while node is not None:
        parent = node.parent
        for sibling in parent.children if parent is not None else []:
            if sibling is node or sibling.state != TaskState.WAITING:
                continue
            if hasattr(sibling.task_spec, "cancel_activity") and sibling.task_spec.catches(sibling, event):
                return sibling
        sub = node.workflow
        host_workflow = getattr(sub, "parent_workflow", None)
        node = host_workflow.get_task_from_id(sub.parent_task_id) if host_workflow is not None else None
    return None


def extend_lock(engine, actor: Actor, task_id: str, worker_id: str, new_duration: int) -> dict:
    def work(uow):
        row = _held(uow, task_id, worker_id)
        if row.lock_expires_at is None or row.lock_expires_at <= utcnow():
            raise Conflict("the lock has expired: the task is back in the pool; fetch it again")
        until = utcnow() + timedelta(milliseconds=_lock_ms(new_duration, topics(engine)[row.topic]))
        uow.session.execute(update(TABLE).where(TABLE.c.id == task_id).values(lock_expires_at=until))
        uow.audit("external_task_lock_extended", instance_id=row.instance_id, task_id=task_id,
                  worker_id=worker_id, lock_expires_at=until.isoformat())
        return {"id": task_id, "lock_expires_at": until}

    return _again(engine, actor, work)


def unlock(engine, actor: Actor, task_id: str) -> dict:
    """Give the task back to the pool at once (its holder, or an administrator)."""
    if "admin" not in actor.roles and ROLE not in actor.roles:
        raise Forbidden("only the service account that holds the lock, or an administrator, may unlock it")
    with engine.uow(actor) as uow:
        row = uow.session.get(ExternalTask, task_id)
        if row is None:
            raise NotFound(f"external task {task_id!r} not found")
        if "admin" not in actor.roles:
            _require_topic(engine, actor, row.topic)
            if row.locked_by not in (None, actor.username):
                raise Forbidden("only the service account that holds the lock, or an administrator, may unlock it")
        if row.state != "open":
            raise Conflict(f"external task is already {row.state}")
        uow.session.execute(update(TABLE).where(TABLE.c.id == task_id).values(
            worker_id=None, locked_by=None, lock_expires_at=None))
        uow.audit("external_task_unlocked", instance_id=row.instance_id, task_id=task_id, previous=row.worker_id)
        return {"id": task_id, "state": "open"}


def list_tasks(engine, session, actor: Actor, topic: str | None = None, locked: bool | None = None,
               state: str | None = "open", instance_id: str | None = None, limit: int = 100) -> list[dict]:
    """What waits (or waited) for workers; service accounts see their own topics."""
    query = select(ExternalTask)
    if not _reads_all(actor):
        mine = [t for t in topics(engine) if may_work(engine, actor, t)]
        if not mine:
            raise Forbidden("only administrators, auditors and the service accounts of a topic see external tasks")
        query = query.where(ExternalTask.topic.in_(mine))
    if topic:
        query = query.where(ExternalTask.topic == topic)
    if state:
        query = query.where(ExternalTask.state == state)
    if instance_id:
        query = query.where(ExternalTask.instance_id == instance_id)
    now = utcnow()
    if locked is True:
        query = query.where(ExternalTask.lock_expires_at > now)
    elif locked is False:
        query = query.where(or_(ExternalTask.lock_expires_at.is_(None), ExternalTask.lock_expires_at <= now))
    rows = session.execute(query.order_by(ExternalTask.priority.desc(), ExternalTask.created_at, ExternalTask.id)
                           .limit(max(1, min(limit, 1000)))).scalars()
    return [to_dict(r) for r in rows]


def topic_list(engine, actor: Actor) -> list[dict]:
    out = []
    for name, spec in sorted(topics(engine).items()):
        if _reads_all(actor) or may_work(engine, actor, name):
            out.append({"topic": name, "name": spec["name"], "accounts": spec["accounts"],
                        "lock_duration_ms": spec["lock_duration_ms"]})
    return out


EXTENSION = Extension("external_tasks", properties=("retries", "retryBackoff"), kinds=KINDS, check=check,
                      saved=saved)
