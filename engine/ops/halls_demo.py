"""Demo data of the service hall (``bpm init --demo``): queue tickets and congestion alerts.

* Yesterday in ``hall-1`` (中心营业厅): a day of counter transactions whose customers took a
  ticket (take-a-number machine or the greeter's entry), some accepted within 5 minutes and some
  not (000 限时服务 「等待办理业务时限5分钟」), each handled at the counter; ``sla_daily_report``
  is run for yesterday, so the dashboard shows waiting per hall and hour next to the handling
  time per category.
* Yesterday a level-1 congestion (002 一级应急) answered by the duty manager post by post (the
  four diversion posts, who did what), then cleared.
* Just now a level-1 congestion that rose to level 2 (002 二级应急): the level-1 alert ended
  "escalated" and one level-2 alert waits for the hall manager.

Idempotent: nothing is seeded when the hall already has ticketed transactions. Called once
from ``engine.ops.setup.init_database``.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from sqlalchemy import select

from engine.clock import LOCAL_TZ, clock, utcnow
from engine.store.models import HallState, OrgUnit, ProcessInstance

HALL = "hall-1"
# (ticket time, minutes waited, category, ticket source) of yesterday's customers
CUSTOMERS = [
    ("09:52", 2, "payment", "machine"), ("09:55", 4, "unlock", "machine"), ("10:03", 7, "transfer_ownership", "machine"),
    ("10:10", 3, "value_added", "greeter"), ("10:21", 9, "sim_replacement", "machine"), ("10:40", 5, "reports", "machine"),
    ("11:05", 1, "payment", "greeter"), ("11:30", 6, "business_change", "machine"), ("15:25", 2, "certificates", "machine"),
    ("15:40", 12, "payment", "machine"), ("16:10", 4, "unlock", "machine"), ("17:45", 3, "other", "greeter"),
]
EXTRA = {"payment": {"amount": 50}, "sim_replacement": {"id_number": "42010119900101123X"},
         "transfer_ownership": {"id_number": "42010119900101123X", "new_owner_name": "李四",
                                "new_owner_id": "420101199202022345"}}
RESPONSE = {"actions": ["wait_time_notice", "open_counters", "security_diversion", "pre_acceptance"],
            "counters_opened": 1, "response_note": "增开1个窗口，保安引导部分缴费客户至附近代办点",
            "greeter_staff": "迎宾 李娜", "greeter_done": ["ask_needs", "check_documents", "pre_acceptance"],
            "guide_staff": "导购 赵敏", "guide_done": ["self_service", "e_channels"],
            "duty_post_staff": "值班经理", "duty_post_done": ["open_counters", "wait_notice"],
            "security_staff": "保安 王强", "security_done": ["social_channels", "outlet_map"]}


def _actor(engine, username):
    from engine.identity.auth import actor_by_name

    with engine.read() as session:
        return actor_by_name(session, username)


def _complete_open(engine, username: str, instance_id: str, data: dict) -> None:
    from engine.runtime import tasks
    from engine.store.models import Task

    with engine.read() as session:
        task_id = session.execute(select(Task.id).where(Task.instance_id == instance_id, Task.status == "open")
                                  ).scalars().first()
    if task_id is not None:
        tasks.complete_task(engine, _actor(engine, username), task_id, data)


def _snapshots(engine, at: datetime, waiting: int, open_counters: int) -> dict:
    """A reading held for the debounce window (two snapshots a little over it apart)."""
    from engine.halls.congestion import record_snapshot

    actor = _actor(engine, "duty_manager")
    clock.set(at)
    with engine.uow(actor) as uow:
        record_snapshot(uow, HALL, waiting, open_counters)
    clock.set(at + timedelta(seconds=engine.settings.congestion_debounce_seconds + 1))
    with engine.uow(actor) as uow:
        return record_snapshot(uow, HALL, waiting, open_counters)


def seed_halls_demo(engine, echo=print) -> None:
    from engine.jobs.runner import execute_job
    from engine.runtime import instances

    with engine.read() as session:
        if session.get(OrgUnit, HALL) is None:
            echo("demo hall: no hall-1, nothing seeded")
            return
        ticketed = [d for (d,) in session.execute(
            select(ProcessInstance.data).where(ProcessInstance.process_key == "one_counter")) if d and d.get("ticket_time")]
        if ticketed:
            return
        busy = session.get(HallState, HALL)
    now = utcnow()
    yesterday = (now.astimezone(LOCAL_TZ) - timedelta(days=1)).date()
    counter = _actor(engine, "counter_staff")
    try:
        for ticket, waited, category, source in CUSTOMERS:
            taken = datetime.combine(yesterday, time.fromisoformat(ticket), LOCAL_TZ)
            data = {"category": category, "customer_phone": "13900139000", "description": "客户到厅办理业务",
                    "ticket_source": source, "ticket_time": taken.strftime("%Y-%m-%dT%H:%M"), **EXTRA.get(category, {})}
            if source == "machine":
                data["ticket_number"] = f"A{CUSTOMERS.index((ticket, waited, category, source)) + 101}"
            clock.set(taken + timedelta(minutes=waited))
            with engine.uow(counter) as uow:
                iid = instances.start(engine, uow, "one_counter", data).id
            clock.set(taken + timedelta(minutes=waited + 2))
            _complete_open(engine, "counter_staff", iid, {"outcome": "cleared", "handle_note": "已办结"})
        if busy is None or not busy.level:
            # yesterday 10:15: level 1 answered post by post, then cleared
            at = datetime.combine(yesterday, time(10, 15), LOCAL_TZ)
            alert = _snapshots(engine, at, 6, 2)["alerts"][0]["instance_id"]
            clock.set(at + timedelta(minutes=8))
            _complete_open(engine, "duty_manager", alert, RESPONSE)
            _snapshots(engine, at + timedelta(minutes=20), 2, 3)
            # just now: level 1, then level 2 (the level-1 alert is escalated, one level-2 alert stays open)
            _snapshots(engine, now - timedelta(minutes=6), 6, 2)
            _snapshots(engine, now - timedelta(minutes=3), 9, 2)
    finally:
        clock.reset()
    run = execute_job(engine, "sla_daily_report", yesterday.isoformat(), "demo")
    echo(f"demo hall: {len(CUSTOMERS)} ticketed counter transactions yesterday in {HALL}, sla_daily_report "
         f"{yesterday.isoformat()} {run['status']}; a level-2 congestion alert is open for hall_manager")
