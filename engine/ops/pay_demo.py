"""Demo data of the study days, monthly tests and attendance (``bpm init --demo``).

001 学习制度 and 考勤制度 in the key-account room (``room-key``): a third customer manager
``customer_manager3`` joins ``customer_manager`` and ``customer_manager2``; the room's test scores
of the three months up to the demo month (``demo_period()``, that of ``demo_facts.csv``) are
imported, so that ``customer_manager`` is best for the third time in a row (certificate) and
``customer_manager3`` worst for the third time (10 % of the month's performance pay cut), with
their performance pay and some attendance counts of the month; ``monthly_pay`` is run for the
month. A study day is open for the room manager (``key_account_manager``) to sign in.

Idempotent: what exists already is left as it is. Called once from ``engine.ops.setup.init_database``.
"""

from __future__ import annotations

from sqlalchemy import select

from engine.identity.actor import SYSTEM
from engine.store.models import Fact, ProcessDefinition, ProcessInstance

ROOM = "room-key"
THIRD = ("customer_manager3", "customer_manager", "客户经理三 (Customer manager 3)")
# test scores of the three months up to the demo month, oldest first
SCORES = {"customer_manager": (94, 91, 96), "customer_manager2": (82, 85, 79), "customer_manager3": (65, 70, 61)}
PAY = {"customer_manager": 3000, "customer_manager2": 2800, "customer_manager3": 2600}
ATTENDANCE = {("customer_manager2", "attendance_late_30"): 2, ("customer_manager2", "attendance_leave"): 4,
              ("customer_manager3", "attendance_no_uniform"): 1}


def _months(period: str) -> list[str]:
    from engine.jobs.periods import Period

    last = Period.parse(period)
    return [last.previous().previous().key, last.previous().key, last.key]


def seed_pay_demo(engine, demo_password: str, echo=print) -> None:
    from engine.identity import auth as identity
    from engine.identity import users as svc
    from engine.jobs.facts import import_facts
    from engine.jobs.runner import execute_job
    from engine.ops.demo_key_accounts import demo_period

    with engine.uow(SYSTEM) as uow:
        existing = {u["username"] for u in svc.list_users(uow.session, SYSTEM)}
        units = {u["key"] for u in svc.list_units(uow.session)}
        if ROOM not in units:
            echo("demo study days: no key-account room, nothing seeded")
            return
        username, role, name = THIRD
        if username not in existing:
            user = identity.add_user(uow.session, username, demo_password, [role], display_name=name, org_unit=ROOM)
            after = {k: v for k, v in svc.user_to_dict(uow.session, user).items() if k != "created_at"}
            uow.audit("user_created", username=username, after=after)
        existing |= {username}
    period = demo_period()
    months = _months(period)
    with engine.read() as session:
        have = session.execute(select(Fact.id).where(Fact.metric == "study_test_score", Fact.period == period)).first()
    if have is None:
        rows = [(m, user, "study_test_score", scores[i]) for user, scores in SCORES.items() if user in existing
                for i, m in enumerate(months)]
        rows += [(period, user, "performance_pay", pay) for user, pay in PAY.items() if user in existing]
        rows += [(period, user, metric, n) for (user, metric), n in ATTENDANCE.items() if user in existing]
        text = "period,subject,metric,value\n" + "".join(f"{p},{s},{m},{v}\n" for p, s, m, v in rows)
        with engine.uow(SYSTEM) as uow:
            import_facts(uow, "demo_study_attendance.csv", text.encode("utf-8"))
        run = execute_job(engine, "monthly_pay", period, "demo")
        echo(f"demo study tests {months[0]}..{period} and attendance imported; monthly_pay {period}: {run['rows']} rows")
    with engine.read() as session:
        deployed = session.execute(select(ProcessDefinition.id).where(ProcessDefinition.key == "study_day")).first()
        started = session.execute(select(ProcessInstance.id).where(ProcessInstance.process_key == "study_day")).first()
    if deployed is not None and started is None:  # a project without processes/study_day.bpmn has none
        from engine.identity.auth import actor_by_name
        from engine.runtime import instances

        with engine.read() as session:
            manager = actor_by_name(session, "key_account_manager")
        if manager is not None and manager.org_unit == ROOM:
            with engine.uow(manager) as uow:
                instances.start(engine, uow, "study_day", {})
            echo("demo study day: open for key_account_manager to sign in the room's customer managers")
