"""The customer managers' perception survey (客户经理感知度抽查, ``processes/perception_survey.bpmn``).

000 篇3/4 「每个月数据组对客户经理感知度分满意度、集团资费认知度、当时开展活动内容认知度、客户经理认知度进行抽查并打分」:
each month the data group (role ``data_analyst``, in the group customer department) draws a
sample of a customer manager's group customers and calls each of them, one form per call.

* ``record=perception_sample`` (task ``sample``, form ``perception_sample``): the manager (an
  active ``customer_manager`` of the survey's unit or of a room under it: the data group of
  集团客户部 surveys the managers of its 重要室), the month (``YYYY-MM``, offered: the current
  month and the two before it; never a later one) and the sampled customers, one per line
  (``sample_min`` to ``sample_max`` of the rules, no duplicates). A second survey of the same
  manager and month adds its calls to the month's average (a further spot check), it replaces
  nothing. Adds ``manager_name``, ``manager_unit``, ``sample`` (the list the call step runs
  over) and ``sample_size``; audited ``perception_sample_drawn``.
* ``record=perception_call`` (multi-instance task ``call``, one per sampled customer, form
  ``perception_call``): a reached call answers the rules' items (``perception_survey.items``)
  with yes / partly / no; its ``call_score`` is the points earned (each item's points x the
  answer's share) over the items' points x 100, so 0-100. A call not reached scores nothing
  and its answers are dropped. The stored data carries ``manager``, ``period`` and
  ``customer`` so the KPI reads the calls without the instance; audited
  ``perception_call_recorded``.

:func:`perception_scores` is the KPI's engine metric ``perception_score``: per manager, the
average ``call_score`` of the reached calls of surveys for the month (none reached: no score,
the KPI item is missing). The scores are final as each call is recorded: the survey has no
review step of its own; the KPI sheet that uses them is reviewed (kpi_review).
"""

from __future__ import annotations

from sqlalchemy import func, select

from engine.clock import utcnow
from engine.errors import ValidationFailed
from engine.identity.names import people_options, split_name
from engine.jobs.periods import LOCAL_TZ, Period, PeriodError
from engine.jobs.scoring import PERCEPTION_ANSWERS, load_rules
from engine.store.models import OrgUnit, ProcessInstance, Task, User, UserRole

PROCESS = "perception_survey"
CALL = "call"
MANAGER_ROLE = "customer_manager"
OPTIONS_KEY = "survey_managers"  # the sample form's select of managers (valuesKey), filled when read
MONTHS_KEY = "survey_months"  # ... and of the months a survey may count for
MONTHS_OFFERED = 3
DEFAULT_RULES = {
    "items": [{"key": k, "points": 25.0} for k in
              ("satisfaction", "tariff_awareness", "campaign_awareness", "manager_awareness")],
    "answers": {"yes": 100.0, "partly": 50.0, "no": 0.0}, "sample_min": 1, "sample_max": 20,
}


def survey_rules() -> dict:
    """The ``perception_survey`` section of the scoring rules (product defaults when a custom file has none)."""
    return load_rules().get("perception_survey") or DEFAULT_RULES


def _invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed("form data is invalid", {field: [message]})


def _units_surveyed(session, unit: str | None) -> set[str]:
    """The unit of the survey and the units directly under it (the department's rooms)."""
    if not unit:
        return set()
    children = session.execute(select(OrgUnit.key).where(OrgUnit.parent_key == unit)).scalars()
    return {unit, *children}


def managers_of(session, unit: str | None) -> list[dict]:
    """The active customer managers the survey of ``unit`` may sample, as select options."""
    units = _units_surveyed(session, unit)
    if not units:
        return []
    rows = session.execute(
        select(User.username, User.display_name, User.org_unit)
        .join(UserRole, UserRole.user_id == User.id)
        .where(UserRole.role == MANAGER_ROLE, User.is_active.is_(True), User.org_unit.in_(units))
    ).all()
    return people_options([(r.username, r.display_name) for r in rows])


def months_offered() -> list[dict]:
    """The current month (local time) and the ones before it, newest first, as select options."""
    now = utcnow().astimezone(LOCAL_TZ)
    out = []
    for back in range(MONTHS_OFFERED):
        year, month = divmod(now.year * 12 + now.month - 1 - back, 12)
        key = f"{year}-{month + 1:02d}"
        out.append({"label": key, "value": key})
    return out


def task_read(session, actor, task, inst) -> dict:
    """The manager and month selects of the sample form (computed per read, never stored)."""
    if (task.properties or {}).get("record") != "perception_sample":
        return {}
    return {OPTIONS_KEY: managers_of(session, task.org_unit or (inst.org_unit if inst is not None else None)),
            MONTHS_KEY: months_offered()}


def _month(text: str) -> Period:
    try:
        period = Period.parse((text or "").strip())
    except PeriodError:
        period = None
    if period is None or period.kind != "month":
        raise _invalid("period", "must be a month, YYYY-MM")
    current = utcnow().astimezone(LOCAL_TZ)
    if period.key > f"{current.year}-{current.month:02d}":
        raise _invalid("period", f"{period.key} has not begun: survey this month or an earlier one")
    return period


def record_sample(uow, task, inst, cleaned: dict) -> dict:
    session = uow.session
    rules = survey_rules()
    unit = task.org_unit or inst.org_unit
    username = (cleaned.get("manager") or "").strip()
    manager = session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    roles = set(session.execute(select(UserRole.role).where(UserRole.user_id == manager.id)).scalars()) \
        if manager is not None else set()
    if manager is None or not manager.is_active or MANAGER_ROLE not in roles:
        raise _invalid("manager", f"{username!r} is not an active customer manager (客户经理)")
    if manager.org_unit not in _units_surveyed(session, unit):
        raise _invalid("manager", f"{username!r} works in {manager.org_unit or 'no unit'}, not in {unit or 'no unit'} "
                                  "or a room under it")
    period = _month(cleaned.get("period"))
    lines = [line.strip() for line in (cleaned.get("customers") or "").splitlines() if line.strip()]
    if len(set(lines)) != len(lines):
        raise _invalid("customers", "a customer is listed twice: call each sampled customer once")
    if not rules["sample_min"] <= len(lines) <= rules["sample_max"]:
        raise _invalid("customers", f"sample {rules['sample_min']} to {rules['sample_max']} customers, one per line "
                                    f"(got {len(lines)})")
    sample = lines
    uow.audit("perception_sample_drawn", instance_id=inst.id, task_id=task.id, element_id=task.element_id,
              manager=username, manager_unit=manager.org_unit, period=period.key, sample=sample)
    out = {k: v for k, v in cleaned.items() if k not in (OPTIONS_KEY, MONTHS_KEY)}
    return {**out, "manager": username, "manager_name": split_name(manager.display_name or username)[0],
            "manager_unit": manager.org_unit, "period": period.key, "sample": sample, "sample_size": len(sample)}


def call_score(rules: dict, answers: dict) -> float:
    """0-100: the points a reached call earned over the items' points."""
    full = sum(float(item["points"]) for item in rules["items"])
    earned = sum(float(item["points"]) * float(rules["answers"][answers[item["key"]]]) / 100.0 for item in rules["items"])
    return round(earned / full * 100.0, 2) if full else 0.0


def record_call(uow, task, inst, cleaned: dict) -> dict:
    rules = survey_rules()
    data = inst.data or {}
    customer = (task.local_data or {}).get("customer") or cleaned.get("customer")
    keys = [item["key"] for item in rules["items"]]
    reached = cleaned.get("reached")
    if reached not in ("yes", "no"):
        raise _invalid("reached", "must be yes or no")
    out = {k: v for k, v in cleaned.items() if k not in keys}
    if reached == "yes":
        bad = {k: [f"must be one of {', '.join(PERCEPTION_ANSWERS)}"] for k in keys
               if cleaned.get(k) not in PERCEPTION_ANSWERS}
        if bad:
            raise ValidationFailed("form data is invalid", bad)
        score = call_score(rules, cleaned)
        out.update({k: cleaned[k] for k in keys})
    else:
        score = None
    out.update({"manager": data.get("manager"), "period": data.get("period"), "customer": customer,
                "call_score": score})
    uow.audit("perception_call_recorded", instance_id=inst.id, task_id=task.id, element_id=task.element_id,
              manager=data.get("manager"), period=data.get("period"), customer=customer, reached=reached,
              call_score=score, answers={k: out.get(k) for k in keys})
    return out


def perception_scores(session, period: Period) -> dict[str, float]:
    """``{manager: average call_score}`` of the reached calls of the month's surveys."""
    manager = Task.submitted["manager"].as_string()
    rows = session.execute(
        select(manager, func.avg(Task.submitted["call_score"].as_float()))
        .where(Task.process_key == PROCESS, Task.element_id == CALL, Task.status == "completed",
               Task.submitted["period"].as_string() == period.key, Task.submitted["reached"].as_string() == "yes")
        .group_by(manager)
    ).all()
    return {name: round(float(avg), 2) for name, avg in rows if name and avg is not None}


# --------------------------------------------------------------------------- demo data

DEMO_CUSTOMERS = ["拉萨市某某局 办公室 张主任", "县第一中学 总务处 李老师", "县人民医院 信息科 王科长"]


def seed_demo(engine, period_key: str, echo=print) -> None:
    """A survey of the demo ``customer_manager`` for ``period_key`` by the demo ``data_analyst``:
    the sample drawn, two calls recorded (one reached and answered, one not reached), one left open."""
    from engine.identity.auth import actor_by_name
    from engine.runtime import instances, tasks
    from engine.store.models import ProcessDefinition

    with engine.read() as session:
        if session.execute(select(ProcessDefinition.id).where(ProcessDefinition.key == PROCESS)).first() is None:
            echo(f"demo perception survey skipped: process {PROCESS!r} is not deployed")
            return
        if session.execute(select(ProcessInstance.id).where(ProcessInstance.process_key == PROCESS)).first():
            return
        analyst = actor_by_name(session, "data_analyst")
    with engine.uow(analyst) as uow:
        inst_id = instances.start(engine, uow, PROCESS, {}).id

    def open_tasks():
        with engine.read() as session:
            return session.execute(select(Task.id).where(Task.instance_id == inst_id, Task.status == "open")
                                   .order_by(Task.created_at, Task.id)).scalars().all()

    tasks.complete_task(engine, analyst, open_tasks()[0], {
        "manager": "customer_manager", "period": period_key, "customers": "\n".join(DEMO_CUSTOMERS)})
    calls = open_tasks()
    tasks.complete_task(engine, analyst, calls[0], {
        "reached": "yes", "satisfaction": "yes", "tariff_awareness": "partly", "campaign_awareness": "yes",
        "manager_awareness": "yes", "remark": "客户表示客户经理上门及时"})
    tasks.complete_task(engine, analyst, calls[1], {"reached": "no", "remark": "无人接听"})
    echo(f"demo perception survey of customer_manager for {period_key}: 2 of {len(calls)} calls recorded "
         "by data_analyst, one left open")


__all__ = ["perception_scores", "record_sample", "record_call", "task_read", "seed_demo", "PROCESS"]
