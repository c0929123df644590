"""Demo data of the key-account room's own assessment (``bpm init --demo``): an approved target
plan for 2027 (drafted in December by the room manager, approved by the group customer
department: its monthly targets are written as facts), the room's facts of October 2026 (its
targets of that month and its actuals) and October's room-manager assessment, waiting for the
department's check.

The customer managers of the room (``customer_manager``, ``customer_manager2``) and the
department's manager ``dept_group_manager`` come from ``engine.ops.demo_key_accounts``; the
manager is created here too when that module has not (same name and role).

Idempotent: what exists already is left as it is. Called once from ``engine.ops.setup.init_database``.
"""

from __future__ import annotations

from sqlalchemy import select

from engine.identity.actor import SYSTEM
from engine.store.models import Fact, ProcessInstance, Task

ROOM, DEPARTMENT = "room-key", "dept-group"
APPROVER = "dept_group_manager"
# (username, role, display name, unit): the group customer department's manager (the plan's approver)
PEOPLE = [(APPROVER, "department_manager", "集团客户部经理 (Group customer department manager)", DEPARTMENT)]
YEAR = 2027
# the room manager's yearly targets (each month a twelfth of them)
TARGETS = {
    "target_group_revenue": 3600000, "target_info_revenue": 600000, "target_personal_customers": 1200,
    "target_new_group_customers": 60, "target_crbt_customers": 2400, "target_products_promoted": 48,
    "target_high_value_retention_pct": 95, "target_new_numbers": 3600, "target_qixintong_revenue": 120000,
}
PERIOD = "2026-10"
# October 2026 of the room: its targets (a twelfth of TARGETS, basic 90 %, challenge 120 %) and actuals,
# scored 19.2 of 25 (README "Scoring and reports")
TARGETS_2026_10 = {
    "room_group_revenue": (270000, 300000, 360000), "room_info_revenue": (45000, 50000, 60000),
    "room_personal_customers": (90, 100, 120), "room_new_group_customers": (4, 5, 6),
    "room_crbt_customers": (180, 200, 240), "room_products_promoted": (4, 4, 5),
    "room_high_value_retention_pct": (85.5, 95, 100), "room_new_numbers": (270, 300, 360),
    "room_qixintong_revenue": (9000, 10000, 12000),
}
ACTUALS = {
    "room_group_revenue": 320000, "room_info_revenue": 46000, "room_personal_customers": 130,
    "room_new_group_customers": 2, "room_crbt_customers": 210, "room_products_promoted": 5,
    "room_high_value_retention_pct": 96, "room_new_numbers": 280, "room_qixintong_revenue": 12500,
    "room_churned_customers": 5, "room_group_customers_total": 200,
}


def _people(engine, password: str) -> list[str]:
    from engine.identity import auth as identity
    from engine.identity import users as svc

    made = []
    with engine.uow(SYSTEM) as uow:
        units = {u["key"] for u in svc.list_units(uow.session)}
        existing = {u["username"] for u in svc.list_users(uow.session, SYSTEM)}
        for username, role, name, unit in PEOPLE:
            if username in existing or unit not in units:
                continue
            user = identity.add_user(uow.session, username, password, [role], display_name=name, org_unit=unit)
            after = {k: v for k, v in svc.user_to_dict(uow.session, user).items() if k != "created_at"}
            uow.audit("user_created", username=username, after=after)
            made.append(username)
    return made


def _open_task(engine, instance_id: str, element_id: str) -> str | None:
    with engine.read() as session:
        return session.execute(select(Task.id).where(Task.instance_id == instance_id, Task.element_id == element_id,
                                                     Task.status == "open")).scalar()


def _plan(engine) -> str | None:
    """The 2027 plan, drafted by the room manager and approved by the group customer department."""
    from engine.identity.auth import actor_by_name
    from engine.runtime import instances, tasks

    with engine.read() as session:
        if session.execute(select(ProcessInstance.id).where(ProcessInstance.process_key == "target_plan")).first():
            return None
        head, approver = actor_by_name(session, "key_account_manager"), actor_by_name(session, APPROVER)
    if head is None or approver is None or head.org_unit != ROOM:
        return None
    with engine.uow(head) as uow:
        instance_id = instances.start(engine, uow, "target_plan", {}, business_key=f"target_plan:{ROOM}:{YEAR}").id
    tasks.complete_task(engine, head, _open_task(engine, instance_id, "draft"),
                        {"plan_year": YEAR, "plan_basic_pct": 90, "plan_challenge_pct": 120, **TARGETS})
    tasks.complete_task(engine, approver, _open_task(engine, instance_id, "approve"),
                        {"plan_decision": "approve", "plan_comment": "同意按月分解（演示数据）"})
    return instance_id


def _actuals(engine) -> int:
    from engine.jobs.facts import import_facts

    with engine.read() as session:
        if session.execute(select(Fact.id).where(Fact.period == PERIOD, Fact.subject_key == ROOM,
                                                 Fact.metric == "room_group_revenue")).first():
            return 0
    facts = dict(ACTUALS)
    for metric, (basic, full, challenge) in TARGETS_2026_10.items():
        facts.update({f"{metric}_target_basic": basic, f"{metric}_target_full": full,
                      f"{metric}_target_challenge": challenge})
    text = "period,subject,metric,value\n" + "".join(f"{PERIOD},{ROOM},{m},{v}\n" for m, v in facts.items())
    with engine.uow(SYSTEM) as uow:
        import_facts(uow, "room_demo_facts.csv", text.encode("utf-8"))
    return len(facts)


def seed_room_demo(engine, password: str = "demo", echo=print) -> None:
    """The key-account room's demo: people, the approved plan, October's facts and assessment."""
    from engine.jobs.runner import execute_job

    made = _people(engine, password)
    if made:
        echo(f"key-account room demo users: {', '.join(made)} (password: {password})")
    plan = _plan(engine)
    if plan:
        echo(f"key-account room: {YEAR} target plan approved (instance {plan}); monthly targets written as facts")
    if _actuals(engine):
        run = execute_job(engine, "key_account_room_kpi", PERIOD, "demo")
        echo(f"key-account room: {PERIOD} room-manager assessment computed ({run['rows']} rows), "
             f"waiting for the group customer department's check (user {APPROVER})")
