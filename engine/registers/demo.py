"""Demo entries of the registers (台账), so a fresh ``bpm init --demo`` shows them: invoice
hand-overs (one signed by the information clerk, one awaiting a signature), a morning meeting's
minutes and two customer-manager visits. Run once: nothing is added when entries exist."""

from __future__ import annotations

from sqlalchemy import select

from engine.identity.auth import actor_by_name
from engine.runtime import instances, tasks
from engine.store.models import ProcessInstance, Task

HANDOVERS = [
    {"doc_kind": "general_invoice", "handover_type": "issue", "number_from": "04512301", "number_to": "04512400",
     "quantity": 100, "handover_remarks": "本月第一批普通发票领用"},
    {"doc_kind": "receipt", "handover_type": "return", "number_from": "0001201", "number_to": "0001250", "quantity": 50,
     "handover_remarks": "已开收据存根缴回"},
]
MEETING = {"meeting_date": None, "host": "值班经理", "attendees": "重要室经理、值班经理、客户经理", "duration_minutes": 12,
           "service_standards": "「0/3/4」服务规范：微笑服务、站立服务", "praise": "表扬客户经理按时完成集团走访",
           "unified_answers": "集团V网新资费统一解释口径", "work_plan": "走访城关第一中学；跟进集团协议续签",
           "books_checked": True, "minutes": "检查了前一天的出访登记本和当天的工作计划本，均已填写。"}
VISITS = [
    {"customer_name": "城关第一中学", "visited_at": None, "contact_person": "王主任", "visit_purpose": "routine",
     "visit_content": "定期拜访，了解集团V网使用情况", "problem_involved": "no", "next_plan": "下月推广集团短信"},
    {"customer_name": "县人民医院", "visited_at": None, "contact_person": "李科长", "visit_purpose": "business",
     "visit_content": "办理新增集团成员10人", "problem_involved": "no"},
]


def seed_demo_registers(engine, password: str) -> list[str]:
    """Add the demo entries; returns lines to print."""
    from engine.clock import LOCAL_TZ, utcnow

    with engine.read() as session:
        if session.execute(select(ProcessInstance.id).where(ProcessInstance.process_key == "invoice_handover")
                           .limit(1)).first() is not None:
            return []
        clerk, officer = actor_by_name(session, "counter_staff"), actor_by_name(session, "info_clerk")
        host, manager = actor_by_name(session, "duty_manager"), actor_by_name(session, "customer_manager")
    if None in (clerk, officer, host, manager):
        return []
    now = utcnow().astimezone(LOCAL_TZ)
    started = []
    for data in HANDOVERS:
        with engine.uow(clerk) as uow:
            started.append(instances.start(engine, uow, "invoice_handover", data).id)
    with engine.read() as session:
        task_id = session.execute(select(Task.id).where(Task.instance_id == started[0], Task.status == "open")).scalar_one()
    tasks.complete_task(engine, officer, task_id, {"counted_ok": True, "receive_remarks": "已当面清点，号码连续",
                                                   "sign_password": password})
    with engine.uow(host) as uow:
        instances.start(engine, uow, "morning_meeting", {**MEETING, "meeting_date": now.date().isoformat()})
    for visit in VISITS:
        with engine.uow(manager) as uow:
            instances.start(engine, uow, "group_visit", {**visit, "visited_at": now.strftime("%Y-%m-%dT09:30:00")})
    return ["demo registers (台账): 2 invoice hand-overs (1 signed by info_clerk, 1 awaiting a signature), "
            "1 morning meeting, 2 customer-manager visits: /registers"]
