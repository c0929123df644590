"""Human tasks: tasklist queries, claim, unclaim, complete with form validation."""

from __future__ import annotations

import uuid

from SpiffWorkflow.util.task import TaskState
from sqlalchemy import bindparam, exists, func, select, update

from engine.clock import utcnow
from engine.errors import BadRequest, Conflict, Forbidden, NotFound, ValidationFailed
from engine.extensions import REGISTRY, Completion, DeployContext, Element, Extension, PreparationRequired
from engine.forms import definitions as formdefs
from engine.forms.model import secret_keys
from engine.identity.actor import Actor
from engine.identity.policy import (
    check_scope,
    holds_role_in_unit,
    is_candidate,
    may_reassign,
    may_release,
    may_see_task,
    reads_everything,
    task_scope,
)
from engine.runtime import definitions, documents, references
from engine.runtime.instances import validate_against
from engine.runtime.io_params import io_leave
from engine.runtime.rounds import earlier_rounds
from engine.runtime.spiff import advance
from engine.runtime.steps import CANDIDATES, load_workflow, save
from engine.store.models import ProcessInstance, Task, TaskCandidate
from engine.store.records import TASKS, InstanceRecord, load_instance, load_task

COMPLETE_TASK = (
    update(TASKS)
    .where(TASKS.c.id == bindparam("b_id"), TASKS.c.status == "open")
    .values(
        status="completed",
        completed_at=bindparam("completed_at"),
        completed_by=bindparam("completed_by"),
        submitted=bindparam("submitted"),
        assignee=bindparam("assignee"),
        claimed_at=bindparam("claimed_at"),
    )
)
# the candidate rows are the tasklist's index of *open* tasks: a closed task leaves it
DROP_CANDIDATES = CANDIDATES.delete().where(CANDIDATES.c.task_id == bindparam("b_task"))

SCOPES = ("mine", "candidate", "all")


def task_to_dict(task: Task) -> dict:
    return {
        "id": task.id,
        "instance_id": task.instance_id,
        "process_key": task.process_key,
        "element_id": task.element_id,
        "name": task.name,
        "status": task.status,
        "form_key": task.form_key,
        "form_version": task.form_version,
        "candidate_groups": task.candidate_groups,
        "assignee": task.assignee,
        "created_at": task.created_at,
        "claimed_at": task.claimed_at,
        "due_at": task.due_at,
        "completed_at": task.completed_at,
        "completed_by": task.completed_by,
        "properties": task.properties,
        "org_unit": task.org_unit,
        "sla": task.sla,
        "sla_state": task.sla_state,
    }


_TC = TaskCandidate.__table__
_TASKLISTS: dict[tuple[str, bool, bool, bool], tuple] = {}


def _tasklist(scope: str, everything: bool, one_instance: bool, searching: bool = False) -> tuple:
    """The page and count statements of one kind of tasklist, built once (they differ only in
    their parameters: the user, roles, unit, instance, page, search text)."""
    key = (scope, everything, one_instance, searching)
    built = _TASKLISTS.get(key)
    if built is None:
        # correlated: checked per *open* task (ix_task_open), never the set of every task the roles ever had
        has_my_role = exists().where(_TC.c.task_id == TASKS.c.id, _TC.c.role.in_(bindparam("b_roles", expanding=True)))
        in_my_groups = has_my_role & (TASKS.c.org_unit.is_(None) | (TASKS.c.org_unit == bindparam("b_unit")))
        mine = TASKS.c.assignee == bindparam("b_user")
        where = [TASKS.c.status == "open"]
        if scope == "mine":
            where.append(mine)
        elif scope == "candidate":
            where += [TASKS.c.assignee.is_(None), in_my_groups]
        elif not everything:
            where.append(mine | in_my_groups)
        if one_instance:
            where.append(TASKS.c.instance_id == bindparam("b_instance"))
        if searching:
            found = references.INSTANCES.alias("found")
            where.append(TASKS.c.instance_id.in_(select(found.c.id).where(references.search_clause(found))))
        page = (select(TASKS).where(*where)
                .order_by(TASKS.c.due_at.is_(None), TASKS.c.due_at, TASKS.c.created_at, TASKS.c.id)
                .offset(bindparam("b_offset")).limit(bindparam("b_limit")))
        count = select(func.count()).select_from(TASKS).where(*where)
        built = _TASKLISTS[key] = (page, count)
    return built


def list_tasks(session, actor: Actor, scope: str, instance_id: str | None, page: int, per_page: int,
               q: str | None = None) -> dict:
    """mine: assigned to me; candidate: unclaimed in my groups; all: both (admins/auditors: every open task).
    ``q``: only tasks of cases whose reference, business key or list fields match (engine/runtime/references.py)."""
    if scope not in SCOPES:
        raise BadRequest(f"scope must be one of {', '.join(SCOPES)}")
    search = references.search_params(q)
    page_of, count_of = _tasklist(scope, reads_everything(actor), bool(instance_id), search is not None)
    params = {"b_user": actor.username, "b_unit": actor.org_unit, "b_roles": sorted(actor.roles) or [""],
              "b_instance": instance_id, "b_offset": (page - 1) * per_page, "b_limit": per_page, **(search or {})}
    conn = session.connection()
    items = [task_to_dict(row) for row in conn.execute(page_of, params)]
    if page == 1 and len(items) < per_page:
        total = len(items)  # the whole list is on this page: no count needed
    else:
        total = conn.execute(count_of, params).scalar_one()
    return {"items": items, "page": page, "per_page": per_page, "total": total}


def next_tasks(actor: Actor, rows) -> list[dict]:
    """Of an instance's open task ``rows`` (``instances.open_task_rows``), those ``actor`` may
    work now: assigned to them, or unclaimed in their roles and unit (what a completion answers,
    so a client need not list again)."""
    return [task_to_dict(r) for r in rows
            if r.assignee == actor.username or (r.assignee is None and is_candidate(actor, r))]


def _load(session, task_id: str) -> Task:
    task = session.get(Task, task_id)
    if task is None:
        raise NotFound(f"task {task_id!r} not found")
    return task


def get_task(engine, session, actor: Actor, task_id: str) -> dict:
    task = _load(session, task_id)
    if not may_see_task(session, actor, task):
        raise Forbidden("you may not see this task")
    out = task_to_dict(task)
    out["form"] = (
        formdefs.form_content(engine, session, task.form_key, task.form_version) if task.form_key and task.form_version else None
    )
    out["submitted"] = task.submitted
    inst = session.get(ProcessInstance, task.instance_id)
    out["data"] = {**((inst.data or {}) if inst else {}), **(task.local_data or {})}
    # a step in a loop: its own fields start empty, its earlier rounds are history (engine/runtime/rounds.py)
    out["data"], out["history"] = earlier_rounds(engine, session, task, inst, out["form"], out["data"])
    for hook in REGISTRY.hooks("task_read"):  # e.g. the option lists of dynamic selects, computed per read
        out["data"].update(hook(session, actor, task, inst))
    return out


def _check_worker(actor: Actor, task: Task, verb: str) -> None:
    if task.status != "open":
        raise Conflict(f"task is already {task.status}")
    if not is_candidate(actor, task):
        raise Forbidden(_who_may(task, verb))


def _who_may(task: Task, verb: str) -> str:
    """The refusal names who may act: the owner of a starter's step, or the roles and their unit."""
    if task_scope(task.properties) == "starter" and task.assignee:
        return f"only {task.assignee} (whose case this is) may {verb} this task"
    where = f" of org unit {task.org_unit}" if task.org_unit else ""
    return f"only {', '.join(task.candidate_groups)}{where} may {verb} this task"


def claim(uow, task_id: str) -> Task:
    task = _load(uow.session, task_id)
    _check_worker(uow.actor, task, "claim")
    if task.assignee == uow.actor.username:
        return task
    if task.assignee is not None:
        raise Conflict(f"task is already claimed by {task.assignee}")
    done = uow.session.execute(
        update(Task)
        .where(Task.id == task_id, Task.status == "open", Task.assignee.is_(None))
        .values(assignee=uow.actor.username, claimed_at=utcnow())
    ).rowcount
    if done != 1:
        raise Conflict("task was claimed by someone else at the same time")
    uow.audit("task_claimed", instance_id=task.instance_id, task_id=task.id, element_id=task.element_id)
    uow.session.refresh(task)
    return task


def assign(uow, task_id: str, username: str, reason: str | None = None) -> Task:
    """Hand an open task to an eligible user (admin, or a manager of the instance's unit)."""
    from engine.identity.auth import actor_by_name

    task = _load(uow.session, task_id)
    if task.status != "open":
        raise Conflict(f"task is already {task.status}")
    inst = uow.session.get(ProcessInstance, task.instance_id)
    if not may_reassign(uow.actor, inst.org_unit):
        raise Forbidden("only an administrator or a manager of the instance's org unit may reassign tasks")
    target = actor_by_name(uow.session, username)
    # the roles within the task's unit: also how a starter's own step is handed over to a colleague
    if target is None or not holds_role_in_unit(target, task.candidate_groups, task.org_unit):
        raise ValidationFailed("user cannot take this task", {"assignee": [f"{username!r} is not an eligible candidate"]})
    before = task.assignee
    uow.session.execute(update(Task).where(Task.id == task_id).values(assignee=username, claimed_at=utcnow()))
    uow.audit("task_reassigned", instance_id=task.instance_id, task_id=task.id, element_id=task.element_id,
              before={"assignee": before}, after={"assignee": username}, reason=reason)
    uow.session.refresh(task)
    return task


def unclaim(uow, task_id: str) -> Task:
    task = _load(uow.session, task_id)
    if task.status != "open":
        raise Conflict(f"task is already {task.status}")
    if not (is_candidate(uow.actor, task) or may_release(uow.actor, task)):
        raise Forbidden(_who_may(task, "release"))
    if task.assignee is None:
        return task
    if task_scope(task.properties) == "starter":
        raise Conflict("this step belongs to whoever started the case; a manager of the unit may hand it over "
                       "(reassign) to a colleague")
    if not may_release(uow.actor, task):
        raise Forbidden(f"task is claimed by {task.assignee}; only they or an administrator may release it")
    uow.session.execute(update(Task).where(Task.id == task_id).values(assignee=None, claimed_at=None))
    uow.audit("task_unclaimed", instance_id=task.instance_id, task_id=task.id, element_id=task.element_id, previous=task.assignee)
    uow.session.refresh(task)
    return task


def split_secrets(form: dict | None, data: dict) -> tuple[dict, dict]:
    """Separate the form's secret fields (marked ``secret: true``, e.g. a seal PIN): they are
    handed to the step that needs them (``uow.secrets``) and never stored in process data, task
    history or audit."""
    keys = secret_keys(form) if form else []
    secrets = {k: data[k] for k in keys if k in data}
    return ({k: v for k, v in data.items() if k not in secrets}, secrets) if secrets else (data, {})


def complete_task(engine, actor: Actor, task_id: str, data: dict, describe=None) -> tuple[dict, InstanceRecord, object]:
    """A user completes a task: the one entry point of the web pages, the API and the CLI.

    Re-authentication a step asks for (the seal PIN of a seal step) happens first, outside
    the transaction, so that its attempts are counted even when the completion is refused;
    then :func:`complete` runs in one unit of work. ``describe(session, inst)`` (optional) builds
    the caller's response inside that unit of work; its result is returned third.
    """
    prepared: dict = {}
    done: set[str] = set()
    while True:
        try:
            with engine.uow(actor) as uow:
                uow.secrets.update(prepared)
                task, inst = complete(engine, uow, task_id, data)
                return task, inst, describe(uow.session, inst) if describe is not None else None
        except PreparationRequired as exc:
            if exc.extension in done:
                raise  # prepared once already: asking again would loop
            done.add(exc.extension)
            prepared.update(REGISTRY.get(exc.extension).prepare(engine, actor, task_id, data))


def complete(engine, uow, task_id: str, data: dict) -> tuple[dict, InstanceRecord]:
    """Validate the form data, run the task and the engine to the next wait state."""
    session = uow.session
    task = load_task(session, task_id)
    if task is None:
        raise NotFound(f"task {task_id!r} not found")
    _check_worker(uow.actor, task, "complete")
    if task.assignee is not None and task.assignee != uow.actor.username:
        raise Conflict(f"task is claimed by {task.assignee}")
    for hook in REGISTRY.hooks("task_submitted"):  # e.g. read-only option lists are dropped, never stored
        data = hook(task, data)
    cleaned, docs, form = (data, [], None)
    if task.form_key:
        version = task.form_version or formdefs.get_form(session, task.form_key).version
        form = formdefs.form_content(engine, session, task.form_key, version)
        cleaned, docs = validate_against(form, data)
    cleaned, secrets = split_secrets(form, cleaned)
    uow.secrets.update(secrets)
    inst = load_instance(session, task.instance_id)
    if inst.status == "suspended":
        raise Conflict("the process instance is suspended: no task of it can be completed until an administrator "
                       "resumes it")
    definition = definitions.by_id(engine, session, inst.definition_id)
    workflow = load_workflow(engine, inst, definition)
    spiff_task = workflow.get_task_from_id(uuid.UUID(task_id))
    if spiff_task is None or not spiff_task.has_state(TaskState.READY):
        raise Conflict("task is no longer waiting for input")
    # the extensions' work on the completion (a seal, a score sheet decision ...): each may change the
    # data to store or refuse, before anything is written
    ctx = Completion(engine, uow, task, inst, definition, spiff_task, form, cleaned)
    for hook in REGISTRY.hooks("task_completing"):
        ctx.data = hook(ctx)
    cleaned = ctx.data
    now = utcnow()
    claimed_at = task.claimed_at or now
    done = session.connection().execute(
        COMPLETE_TASK,
        {"b_id": task_id, "completed_at": now, "completed_by": uow.actor.username, "submitted": cleaned,
         "assignee": uow.actor.username, "claimed_at": claimed_at},
    ).rowcount
    if done != 1:
        raise Conflict("task was completed by someone else at the same time")
    # the candidate rows are the tasklist's index of *open* tasks: a closed task leaves it (its roles
    # stay on the task row, candidate_groups)
    session.connection().execute(DROP_CANDIDATES, {"b_task": task_id})
    for hook in REGISTRY.hooks("task_closed"):
        hook(uow, task_id, True, now, task.due_at)
    spiff_task.data.update(cleaned)
    io_leave(spiff_task, extra=task.local_data)  # camunda:inputOutput output parameters
    spiff_task.run()
    uow.audit("task_completed", instance_id=inst.id, task_id=task_id, element_id=task.element_id, data=cleaned)
    result = advance(workflow)
    save(uow, inst, definition, workflow, result)
    documents.link(uow, "data", docs, inst.id)
    out = task_to_dict(task)
    out.update(status="completed", completed_at=now, completed_by=uow.actor.username, assignee=uow.actor.username,
               claimed_at=claimed_at)
    return out, inst


def check_scope_property(element: Element, ctx: DeployContext) -> list[str]:
    problem = check_scope(element.properties.get("candidateScope"))
    return [problem] if problem else []


# the unit boundary of user tasks (engine/identity/policy.py): candidateScope is the runtime's own property
EXTENSION = Extension("unit_boundary", properties=("candidateScope",), check=check_scope_property)
