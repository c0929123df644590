"""The tobacco side's extension of the runtime (:data:`EXTENSION`), 000 精益营销平台.

User-task ``camunda:properties`` (prefix ``tobacco.``), each naming a process variable:

* ``tobacco.retailer=licence_no``: whoever reads the task gets ``retailer_record``, the
  retailer's record (engine/jobs/retailers.py: licence, address, visit service type, star
  rating, recent orders, violations, earlier visits), computed per read and never stored. The
  supply reviewer sees it beside the request (专销结合); the visit steps show it too.
* ``tobacco.assignee=customer_manager``: the task is assigned, when it is created, to the user
  the variable names, if that user is active and holds one of the task's candidate roles in the
  task's org unit (an anomaly alert goes to the retailer's own customer manager); otherwise it
  stays with the candidate group.
  With a drafted needs table in the data, the reader also gets ``needs_text``, its items in words.
* ``tobacco.needsTable=licence_no``: the draft step of a needs review; until the manager has
  drafted one, the reader gets ``retailer_type`` and ``needs`` preset by the retailer's type
  (「系统自动根据客户类型制作服务需求表」).
* ``tobacco.visitPlan=licence_no``: the reader gets ``visit_plan``, the latest approved needs
  review of that retailer in the task's unit (its needs, the manager's plan, the back office's
  guidance): 「审核通过后拜访内容发至客户经理移动平台，客户经理在走访过程中进行到店确认时，拜访内容
  就会自动显示」. The check-out step keeps the plan's instance id as ``visit_plan_id``.
* ``tobacco.visit=check_in`` / ``check_out``: the engine clock, not the user, records
  ``checked_in_at`` at the check-in's completion and ``checked_out_at`` with
  ``duration_minutes`` at the check-out's (签到、签退、拜访时长).

The keys this extension adds for the reader are dropped from what a client sends back.
"""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import select

from engine.clock import utcnow
from engine.extensions import Completion, DeployContext, Element, Extension
from engine.jobs import retailers
from engine.store.models import ProcessInstance, User, UserRole

PREFIX = "tobacco."
VARIABLE_PROPS = ("tobacco.retailer", "tobacco.assignee", "tobacco.needsTable", "tobacco.visitPlan")
VISIT_STEPS = ("check_in", "check_out")
NEEDS_PROCESS = "retailer_needs_review"
READ_KEYS = ("retailer_record", "visit_plan", "needs_text")
_VAR = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


def check(element: Element, ctx: DeployContext) -> list[str]:
    messages = []
    for name, value in element.properties.items():
        if not name.startswith(PREFIX):
            continue
        if name in VARIABLE_PROPS:
            if not _VAR.match(value or ""):
                messages.append(f"property {name!r}: {value!r} is not a variable name")
        elif name == "tobacco.visit":
            if value not in VISIT_STEPS:
                messages.append(f"property {name!r}: {value!r} is not one of {', '.join(VISIT_STEPS)}")
        else:
            messages.append(f"unknown property {name!r} (known: {', '.join((*VARIABLE_PROPS, 'tobacco.visit'))})")
    return messages


def _data(task, inst) -> dict:
    return {**((inst.data or {}) if inst is not None else {}), **(task.local_data or {})}


def approved_plan(session, licence_no: str | None, unit: str | None) -> dict | None:
    """The latest approved needs review of the retailer in ``unit`` (None when there is none)."""
    if not licence_no:
        return None
    rows = session.execute(
        select(ProcessInstance.id, ProcessInstance.data, ProcessInstance.started_by, ProcessInstance.ended_at)
        .where(ProcessInstance.process_key == NEEDS_PROCESS, ProcessInstance.status == "completed",
               ProcessInstance.org_unit == unit)
        .order_by(ProcessInstance.ended_at.desc())
        .limit(500)
    ).all()
    for row in rows:
        data = row.data or {}
        if data.get("licence_no") == licence_no and data.get("review_decision") == "approve":
            return {"instance_id": row.id, "drafted_by": row.started_by, "approved_at": row.ended_at.isoformat() if row.ended_at else None,
                    "needs": list(data.get("needs") or []), "needs_labels": _labels(data.get("needs") or []),
                    "plan_notes": data.get("plan_notes"), "guidance": data.get("guidance"),
                    "planned_date": data.get("planned_date")}
    return None


def _labels(values: list) -> list[str]:
    from engine.forms import lists

    try:
        names = {e["value"]: e["label"] for e in lists.entries("visit_services")}
    except lists.ListError:
        names = {}
    return [names.get(v, str(v)) for v in values]


def task_read(session, actor, task, inst) -> dict:
    props = task.properties or {}
    if not any(k.startswith(PREFIX) for k in props):
        return {}
    data, out = _data(task, inst), {}
    unit = task.org_unit or (inst.org_unit if inst is not None else None)
    if "tobacco.retailer" in props:
        record = retailers.record(session, data.get(props["tobacco.retailer"]), exclude_instance=task.instance_id)
        if record is not None:
            out["retailer_record"] = record
        if isinstance(data.get("needs"), list):  # the drafted needs table in words, for the reviewer's form
            out["needs_text"] = "、".join(_labels(data["needs"]))
    if "tobacco.needsTable" in props and not data.get("needs"):
        found = retailers.get(data.get(props["tobacco.needsTable"]))
        if found:
            out["retailer_type"] = found["customer_type"]
            out["needs"] = retailers.needs_template(found["customer_type"])
    if "tobacco.visitPlan" in props:
        plan = approved_plan(session, data.get(props["tobacco.visitPlan"]), unit)
        out["visit_plan"] = plan
    return out


def task_creating(uow, inst, definition, row: dict) -> None:
    var = (row.get("properties") or {}).get("tobacco.assignee")
    if not var or row.get("assignee"):
        return
    username = (inst.data or {}).get(var)
    if not isinstance(username, str) or not username:
        return
    hit = uow.session.execute(
        select(User.id).join(UserRole, UserRole.user_id == User.id)
        .where(User.username == username, User.is_active.is_(True), UserRole.role.in_(row["candidate_groups"] or [""]),
               User.org_unit == row["org_unit"])
        .limit(1)
    ).first()
    if hit is not None:
        row.update(assignee=username, claimed_at=row["created_at"])


def task_submitted(task, data: dict) -> dict:
    if not any(k.startswith(PREFIX) for k in (task.properties or {})):
        return data
    return {k: v for k, v in data.items() if k not in READ_KEYS}


def _parse(value) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def completing(ctx: Completion) -> dict:
    props = ctx.task.properties or {}
    step = props.get("tobacco.visit")
    if step is None:
        return ctx.data
    now = utcnow()
    data = dict(ctx.data)
    if step == "check_in":
        data["checked_in_at"] = now.isoformat()
    else:
        began = _parse((ctx.inst.data or {}).get("checked_in_at"))
        data["checked_out_at"] = now.isoformat()
        data["duration_minutes"] = round(max((now - began).total_seconds(), 0) / 60, 1) if began else None
        if "tobacco.visitPlan" in props:
            plan = approved_plan(ctx.uow.session, (ctx.inst.data or {}).get(props["tobacco.visitPlan"]),
                                 ctx.task.org_unit or ctx.inst.org_unit)
            data["visit_plan_id"] = plan["instance_id"] if plan else None
    return data


EXTENSION = Extension("tobacco", properties=(PREFIX,), check=check, task_creating=task_creating, task_read=task_read,
                      task_submitted=task_submitted, task_completing=completing)
