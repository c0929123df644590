"""Earlier rounds of a step: what a task's form starts with when the same step ran before.

A step in a loop (review after revise, approval after rework, a KPI check after a correction)
runs again as a new task of the same element. The instance data still holds what the previous
round decided, and a form rendered over it would open with the old decision ("驳回") and the
old reason filled in: one click rejects again. The declared rule (Camunda/Flowable keep such
values in task-local variables for the same reason):

* a field of the task's form is **the step's own** when an earlier round of the same element
  in the same instance submitted it, and neither the start form nor any other step of the
  instance gave it a value (the application data a revise step edits stays as it is now);
* a **decision step** is one whose own fields include a decision: a field the process routes
  on right after the step (a condition of the gateway(s) its outgoing flows lead to, e.g.
  ``decision == "approve"``, ``revise_action == "resubmit"``);
* on a decision step all its own fields (the decision, its reason, comment, note) **start
  empty** in the read of the open task (``data``), whatever the instance data holds; input
  parameters of this round (``local_data``) are not touched. A step that only edits data (a
  plan draft sent back for revision) keeps showing its last values, to be corrected;
* an earlier round is a completed task of the same element that ended before this task was
  created (parallel multi-instance siblings are not earlier rounds);
* the earlier rounds of a decision step are returned as ``history``: who completed them, when,
  and the values of the step's own fields (choices with their labels), oldest first, for the
  page to show read-only above the form.
"""

from __future__ import annotations

import re
import weakref

from sqlalchemy import select

from engine.forms.model import FormDefinitionError, form_fields
from engine.runtime import definitions
from engine.store.models import AuditEvent, ProcessInstance, Task, User

_SKIPPED_TYPES = ("filepicker", "expression", "dynamiclist")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# parsed spec (engine.specs) -> element id -> the names its routes read; gone with the spec
_ROUTED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _conditions(spec, seen: set) -> list[str]:
    """The condition texts of the gateways a task spec's outgoing flows lead to (through gateways)."""
    out = []
    for nxt in getattr(spec, "outputs", None) or []:
        if nxt.name in seen:
            continue
        seen.add(nxt.name)
        conds = getattr(nxt, "cond_task_specs", None)
        if conds is None:
            continue  # not a gateway
        out += [str(c.args[0]) for c, _ in conds if c is not None and getattr(c, "args", None)]
        out += _conditions(nxt, seen)
    for cond, _ in getattr(spec, "cond_task_specs", None) or []:  # conditional flows out of the task itself
        if cond is not None and getattr(cond, "args", None):
            out.append(str(cond.args[0]))
    return out


def routed_names(engine, session, definition_id: int, element_id: str) -> frozenset[str]:
    """The names the conditions right after ``element_id`` read (cached on the engine's parsed
    spec of the version: a deployed version never changes)."""
    row = definitions.by_id(engine, session, definition_id)
    spec, subs = definitions.spec_for(engine, row)
    cache = _ROUTED.setdefault(spec, {})
    hit = cache.get(element_id)
    if hit is None:
        names: set[str] = set()
        for process in [spec, *(subs or {}).values()]:
            for task_spec in process.task_specs.values():
                if getattr(task_spec, "bpmn_id", None) == element_id:
                    for text in _conditions(task_spec, set()):
                        names |= set(_NAME.findall(text))
        hit = cache[element_id] = frozenset(names)
    return hit


def _earlier(session, task: Task) -> list[Task]:
    rows = session.execute(
        select(Task).where(Task.instance_id == task.instance_id, Task.status == "completed")
        .order_by(Task.completed_at, Task.id)
    ).scalars().all()
    return [r for r in rows if r.id != task.id]


def _start_keys(session, instance_id: str) -> set[str]:
    details = session.execute(
        select(AuditEvent.details).where(AuditEvent.instance_id == instance_id,
                                         AuditEvent.action == "instance_started")
        .order_by(AuditEvent.seq).limit(1)
    ).scalar_one_or_none()
    data = (details or {}).get("data") if isinstance(details, dict) else None
    return set(data) if isinstance(data, dict) else set()


def _value_at(data: dict, path: str):
    value = data
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _text(field, value) -> str:
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, list):
        return "、".join(_text(field, v) for v in value)
    return field.options.get(str(value), str(value))


def earlier_rounds(engine, session, task: Task, inst: ProcessInstance | None, form: dict | None,
                   data: dict) -> tuple[dict, list[dict]]:
    """``(data, history)`` for the read of ``task``: on a decision step, ``data`` without the
    step's own fields (when the task is open) and the earlier rounds of its element."""
    if not form or not task.element_id or inst is None:
        return data, []
    done = _earlier(session, task)
    # rounds finished before this task began (parallel instances of the element are no earlier rounds)
    mine = [r for r in done if r.element_id == task.element_id and r.completed_at is not None
            and (task.created_at is None or r.completed_at <= task.created_at)]
    if not mine:
        return data, []
    try:
        every = form_fields(form)
    except FormDefinitionError:
        return data, []
    fields = [f for f in every if "[]" not in f.path and f.type not in _SKIPPED_TYPES]
    written = set().union(*[set(r.submitted or {}) for r in mine])
    # another step that only cleared a field (None, "") did not author it
    others = set().union(*[{k for k, v in (r.submitted or {}).items() if v not in (None, "")}
                           for r in done if r.element_id != task.element_id])
    own = written - others - _start_keys(session, task.instance_id) - set(task.local_data or {})
    shown = [f for f in fields if f.path.split(".")[0] in own]
    if not shown or not own & routed_names(engine, session, inst.definition_id, task.element_id):
        return data, []  # not a decision step: its last values are there to be corrected
    if task.status == "open":  # only what the form asks for (what the step's hooks added stays)
        cleared = own & {f.path.split(".")[0].removesuffix("[]") for f in every}
        data = {k: v for k, v in data.items() if k not in cleared}
    names = dict(session.execute(select(User.username, User.display_name).where(
        User.username.in_({r.completed_by for r in mine if r.completed_by}))).all())
    history = []
    for number, row in enumerate(mine, start=1):
        values = []
        for f in shown:
            value = _value_at(row.submitted or {}, f.path)
            if value is None or value == "" or value == []:
                continue
            values.append({"key": f.path, "label": f.label or f.path, "value": value, "text": _text(f, value)})
        history.append({"round": number, "task_id": row.id, "completed_by": row.completed_by,
                        "completed_by_name": names.get(row.completed_by) or row.completed_by,
                        "completed_at": row.completed_at, "values": values})
    return data, history
