"""Demo data of the key-account room (重要室) of the group customer department (集团客户部).

001 客户经理考核制度: the customer managers of the room are assessed by the room manager
(``key_account_manager``), checked by 集团客户部 and approved by the vice-president. The role
users are created by :func:`engine.ops.setup.init_database` (``customer_manager`` and
``key_account_manager`` in ``room-key``, ``data_analyst`` in ``dept-group``); this adds

* ``dept_group_manager``: the department manager of 集团客户部 (the KPI review's check step);
* ``room_info_clerk``: the information clerk of the room (archives the room's group agreements);
* ``customer_manager2``: a second customer manager of the room (its KPI sheet ranks two
  managers and the room's month is their sum): its facts for the demo month are imported here
  (``customer_manager``'s are in ``engine/jobs/data/demo_facts.csv``);
* a perception survey (``processes/perception_survey.bpmn``) of ``customer_manager`` for the
  month of the demo facts, two calls recorded and one left open for ``data_analyst``;
* ``customer_manager``'s demo facts of that month and the month's ``customer_manager_kpi`` run:
  the room's sheet (both standards, the perception item) waits for ``key_account_manager``.

Running it again changes nothing.
"""

from __future__ import annotations

import csv

from sqlalchemy import select

from engine.identity.actor import SYSTEM
from engine.jobs.facts import import_facts
from engine.jobs.scoring import DEFAULT_RULES
from engine.store.models import Fact

EXTRA_USERS = [  # (username, role, unit, display name)
    ("dept_group_manager", "department_manager", "dept-group", "集团客户部经理 (Group customer department manager)"),
    ("customer_manager2", "customer_manager", "room-key", "客户经理二 (Customer manager 2)"),
    # 001 「客户经理应将签定的协议交给信息管理员存档」: the room's agreements are archived by its information clerk
    ("room_info_clerk", "info_clerk", "room-key", "重要室信息管理员 (Key-account room information clerk)"),
]

# the second manager's month: below the basic revenue target, informatisation at the challenge target
MANAGER2_FACTS = {
    "group_revenue": 90000, "group_revenue_target_basic": 100000, "group_revenue_target_full": 120000,
    "group_revenue_target_challenge": 150000, "info_revenue": 31000, "info_revenue_target_basic": 20000,
    "info_revenue_target_full": 25000, "info_revenue_target_challenge": 30000, "member_growth": 30,
    "member_growth_target": 50, "product_promotions": 5, "product_promotion_target": 4, "churned_customers": 2,
    "group_customers_total": 120,
}


def demo_period() -> str:
    """The month of the demo facts (``demo_facts.csv``), so ``bpm jobs run customer_manager_kpi``
    for it finds the survey next to the imported facts."""
    with (DEFAULT_RULES.parent / "demo_facts.csv").open(encoding="utf-8") as fh:
        return next(csv.DictReader(fh))["period"]


def seed_key_account_room(engine, demo_password: str, echo=print) -> None:
    from engine.identity import auth as identity
    from engine.identity import users as svc
    from engine.jobs import perception

    with engine.uow(SYSTEM) as uow:
        existing = {u["username"] for u in svc.list_users(uow.session, SYSTEM)}
        units = {u["key"] for u in svc.list_units(uow.session)}
        for username, role, unit, name in EXTRA_USERS:
            if username in existing or unit not in units:
                continue
            user = identity.add_user(uow.session, username, demo_password, [role], display_name=name, org_unit=unit)
            after = {k: v for k, v in svc.user_to_dict(uow.session, user).items() if k != "created_at"}
            uow.audit("user_created", username=username, after=after)
    echo(f"demo key-account room: {', '.join(u for u, *_ in EXTRA_USERS)} (password: {demo_password})")
    period = demo_period()
    with engine.read() as session:
        have = session.execute(select(Fact.id).where(Fact.subject_key == "customer_manager2", Fact.period == period)).first()
    if have is None:
        lines = ["period,subject,metric,value"] + [f"{period},customer_manager2,{m},{v}" for m, v in MANAGER2_FACTS.items()]
        with engine.uow(SYSTEM) as uow:
            import_facts(uow, "demo_key_account_room.csv", ("\n".join(lines) + "\n").encode("utf-8"))
        echo(f"demo facts of customer_manager2 for {period} imported (customer_manager's: engine/jobs/data/demo_facts.csv)")
    perception.seed_demo(engine, period, echo)
    _kpi_sheet(engine, period, echo)


def _kpi_sheet(engine, period: str, echo) -> None:
    """``customer_manager``'s demo facts (demo_facts.csv) and the room's KPI sheet of the month,
    waiting for the room manager's assessment (kpi_review)."""
    from engine.jobs.runner import execute_job
    from engine.store.models import ScoreSheet

    with engine.read() as session:
        if session.execute(select(ScoreSheet.id).where(ScoreSheet.job == "customer_manager_kpi",
                                                       ScoreSheet.period == period)).first():
            return
        have = session.execute(select(Fact.id).where(Fact.subject_key == "customer_manager", Fact.period == period,
                                                     Fact.metric == "group_revenue")).first()
    if have is None:
        text = (DEFAULT_RULES.parent / "demo_facts.csv").read_text(encoding="utf-8").splitlines()
        rows = [text[0]] + [line for line in text[1:] if line.split(",")[1:2] == ["customer_manager"]]
        with engine.uow(SYSTEM) as uow:
            import_facts(uow, "demo_facts.csv", ("\n".join(rows) + "\n").encode("utf-8"))
    run = execute_job(engine, "customer_manager_kpi", period, triggered_by="demo")
    echo(f"demo customer_manager_kpi {period}: {run.get('rows')} rows, the room-key sheet waits for key_account_manager "
         "(then dept_group_manager, then vice_president)")
