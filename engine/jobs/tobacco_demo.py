"""Demo data of the tobacco side (``bpm init --demo``): retailer facts, anomaly alerts, a needs
review, visits and the visit score, so a fresh ``make run`` shows them.

* facts of the demo retailers (engine/jobs/data/demo_retailer_facts.csv): ratings, orders,
  violations and four anomalies of 2026-11 (POS scanning, online ordering, settlement in hall-1,
  distribution in hall-2);
* the ``retailer_anomalies`` job for 2026-11: one alert per anomaly, waiting for the back
  office (``marketing_back_office``) of the retailer's unit;
* an approved needs review of 新罗区好邻居便利店 with the back office's guidance, and one waiting
  for review (西陂镇老林食杂店);
* a finished visit of 新罗区好邻居便利店 (35 minutes) and one waiting for its check-in;
* the ``tobacco_visit_score`` of the current month.

Each part runs once: a database that already has tobacco instances is left as it is.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from engine.clock import clock, utcnow
from engine.identity.actor import SYSTEM
from engine.jobs.retailers import DEFAULT_FILE

FACTS_FILE = DEFAULT_FILE.parent / "demo_retailer_facts.csv"
MANAGER, OFFICE = "tobacco_customer_manager", "marketing_back_office"
SHOP, VILLAGE = "350802100001", "350802100002"


def _actor(engine, username):
    from engine.identity.auth import actor_by_name

    with engine.read() as session:
        return actor_by_name(session, username)


def _start(engine, username: str, key: str, data: dict) -> str:
    from engine.runtime import instances

    with engine.uow(_actor(engine, username)) as uow:
        return instances.start(engine, uow, key, data).id


def _complete(engine, username: str, instance_id: str, data: dict) -> None:
    from engine.runtime import tasks
    from engine.store.models import Task

    with engine.read() as session:
        task_id = session.execute(select(Task.id).where(Task.instance_id == instance_id, Task.status == "open")
                                  ).scalars().first()
    tasks.complete_task(engine, _actor(engine, username), task_id, data)


def seed_tobacco_demo(engine) -> list[str]:
    from engine.jobs.facts import import_facts
    from engine.jobs.periods import Period
    from engine.jobs.runner import execute_job
    from engine.store.models import ProcessInstance

    with engine.read() as session:
        seeded = session.execute(select(ProcessInstance.id).where(
            ProcessInstance.process_key.in_(("retailer_needs_review", "retailer_visit"))).limit(1)).first()
    if seeded is not None:
        return ["tobacco demo: already seeded"]
    with engine.uow(SYSTEM) as uow:
        import_facts(uow, FACTS_FILE.name, FACTS_FILE.read_bytes())
    execute_job(engine, "retailer_anomalies", "2026-11", "demo")
    plan = _start(engine, MANAGER, "retailer_needs_review",
                  {"licence_no": SHOP, "planned_date": utcnow().date().isoformat(), "plan_notes": "讲解存销比，调整陈列"})
    _complete(engine, MANAGER, plan, {"retailer_type": "modern_terminal",
                                      "needs": ["business_guide", "inventory_ratio", "display", "pos_scan"],
                                      "plan_notes": "讲解存销比，调整陈列"})
    _complete(engine, OFFICE, plan, {"review_decision": "approve",
                                     "guidance": "POS扫码准确率偏低，请现场培训店员逐条扫码"})
    waiting = _start(engine, MANAGER, "retailer_needs_review",
                     {"licence_no": VILLAGE, "planned_date": utcnow().date().isoformat(), "plan_notes": "推广网上订货"})
    _complete(engine, MANAGER, waiting, {"retailer_type": "ordinary",
                                         "needs": ["order_guidance", "online_settlement", "policy"]})
    now = utcnow()
    try:
        clock.set(now - timedelta(minutes=35))
        visit = _start(engine, MANAGER, "retailer_visit", {"licence_no": SHOP, "visit_purpose": "经营指导"})
        _complete(engine, MANAGER, visit, {"arrival": "arrived"})
    finally:
        clock.reset()
    _complete(engine, MANAGER, visit, {"services_done": ["business_guide", "display", "pos_scan"],
                                       "visit_notes": "讲解存销比，调整了柜台陈列，培训店员扫码"})
    _start(engine, MANAGER, "retailer_visit", {"licence_no": VILLAGE, "visit_purpose": "网上订货指导"})
    month = Period.containing("month", utcnow()).key
    execute_job(engine, "tobacco_visit_score", month, "demo")
    return [f"tobacco demo: retailer facts imported, anomaly alerts raised for 2026-11, needs reviews and visits of "
            f"{MANAGER}, visit score of {month}"]
