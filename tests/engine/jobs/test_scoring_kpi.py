"""customer_manager_kpi end to end: facts -> compute -> the three-step review of 001 客户经理考核制度
(「客户经理的的考核直接由重要室经理进行考核,报集团客户部,集团客户部进行审核无误后报分管市场副总审批」:
the key-account room manager, the group customer department's check, the vice-president's
approval) -> final scores.

Through the REST API with the rooms of ``tests/engine/jobs/key_account_rooms.py``: the seeded
``customer_manager`` and ``key_account_manager`` in room-key, ``cm_room2`` and ``kam_room2`` in
room-2, both rooms under dept-group (集团客户部, ``dm_group``); ``vice_president`` in the branch;
``data_analyst`` (数据组) in dept-group records each manager's perception survey. Runs on SQLite
and PostgreSQL.

Hand computation for ``customer_manager`` with FACTS (the demo figures) in 2026-10, alone in
the room (the room's month is their own, so both standards give the same share):
revenue 128,000 >= full 120,000 (< challenge 150,000): 25; informatisation 21,000 only
>= basic 20,000: 90 % of 20 = 18; members 64 vs 50: one whole 10 above, +1: 16; promotion
3 (+ agreements signed) vs 4: one below, -1: 14; churn 3 / 140 = 2.14 %: one whole 0.1 step
above 2 %, -1: 14; perception: three calls all answered yes, 100: 10. Total 97.
"""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from engine.clock import clock
from engine.identity.actor import SYSTEM
from engine.jobs.facts import import_facts
from engine.jobs.kpi import compute_customer_manager_kpi
from engine.jobs.periods import Period
from engine.store.models import AuditEvent, JobResult, OrgUnit, ScoreSheet, User
from tests.conftest import fixture_text
from tests.engine.jobs.key_account_rooms import key_account_rooms
from tests.engine.jobs.test_perception_survey import ALL_YES, answer, call_tasks, draw
from tests.support.business import (
    assert_forbidden,
    candidate_task_ids,
    deploy,
    deploy_decisions,
    errors_of,
    form_json,
    instance,
    instances_of,
    open_task,
    start,
    try_complete,
    upload,
    work,
)

OCTOBER = Period.parse("2026-10")
FACTS = {
    "group_revenue": 128000, "group_revenue_target_basic": 100000, "group_revenue_target_full": 120000,
    "group_revenue_target_challenge": 150000,
    "info_revenue": 21000, "info_revenue_target_basic": 20000, "info_revenue_target_full": 25000,
    "info_revenue_target_challenge": 30000,
    "member_growth": 64, "member_growth_target": 50, "product_promotions": 3, "product_promotion_target": 4,
    "churned_customers": 3, "group_customers_total": 140,
}
# room-2's manager reached every challenge target (得全分: 100 %), 20 members over (+2), churn 1.0 % (+3),
# perception 100: the items add up to 105, the sheet's full mark is 100 (满分100分)
FACTS_ROOM2 = {**FACTS, "group_revenue": 150000, "info_revenue": 30000, "member_growth": 70,
               "product_promotions": 4, "churned_customers": 1, "group_customers_total": 100}


def import_rows(engine, rows: dict[str, dict], name="facts.csv"):
    lines = ["period,subject,metric,value"]
    lines += [f"2026-10,{who},{metric},{value}" for who, values in rows.items() for metric, value in values.items()]
    with engine.uow(SYSTEM) as uow:
        import_facts(uow, name, ("\n".join(lines) + "\n").encode("utf-8"))


def compute(engine) -> int:
    with engine.uow(SYSTEM) as uow:
        return compute_customer_manager_kpi(uow, OCTOBER)


def results(engine) -> dict[tuple[str, str], tuple]:
    with engine.read() as session:
        rows = session.execute(select(JobResult).where(JobResult.job == "customer_manager_kpi",
                                                       JobResult.period == "2026-10")).scalars().all()
        out = {(r.subject_type, r.subject_key): (r.unit_key, r.status, r.metrics, r.rank) for r in rows}
    assert len(out) == len(rows), "duplicate result rows"
    return out


def sheets(engine) -> dict[str, SimpleNamespace]:
    with engine.read() as session:
        return {s.unit_key: SimpleNamespace(status=s.status, instance_id=s.instance_id, decided_by=s.decided_by,
                                            decided_at=s.decided_at)
                for s in session.execute(select(ScoreSheet)).scalars()}


def audit_details(engine, action: str) -> list[dict]:
    with engine.read() as session:
        return [e.details | {"_actor": e.actor, "_reason": e.reason} for e in session.execute(
            select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)).scalars()]


@pytest.fixture(autouse=True)
def tier_decision(api):
    """The KPI tiers are the deployed decision kpi_tier (processes/kpi_tier.dmn), as after bpm init."""
    deploy_decisions(api)


def perceived(api, manager: str) -> None:
    """A perception survey of ``manager`` for October: three calls, every answer yes (100)."""
    clock.set(datetime(2026, 10, 20, 2, 0, tzinfo=UTC))
    for task in call_tasks(api, draw(api, manager)):
        answer(api, task, ALL_YES)


@pytest.fixture
def kpi(api, engine):
    """kpi_review and perception_survey deployed, the rooms of 集团客户部, October's facts imported
    and each manager's perception survey recorded."""
    deploy(api, "kpi_review", "perception_survey")
    with key_account_rooms(api, engine):
        import_rows(engine, {"customer_manager": FACTS, "cm_room2": FACTS_ROOM2})
        perceived(api, "customer_manager")
        perceived(api, "cm_room2")
        yield api
    clock.reset()


def review_of(api, unit: str) -> dict:
    hits = [i for i in instances_of(api, "kpi_review") if i["business_key"] == f"customer_manager_kpi:2026-10:{unit}"]
    assert len(hits) == 1, hits
    return hits[0]


def sheet_report(api, user: str) -> list[dict]:
    """The score sheets of October on ``user``'s dashboard (``GET /api/reports/customer_manager_kpi``)."""
    r = api.get("/api/reports/customer_manager_kpi?period=2026-10", user)
    assert r.status_code == 200, r.get_json()
    return r.get_json()["sheets"]


def approve_all(api, instance_id: str) -> dict:
    """The three steps approve; returns the instance."""
    work(api, "key_account_manager", instance_id, "review", {"decision": "approve"})
    work(api, "dm_group", instance_id, "check", {"check_decision": "approve"})
    return work(api, "vice_president", instance_id, "approve", {"approval_decision": "approve"})


def test_scores_go_through_room_manager_group_department_and_vice_president_and_only_then_are_final(kpi, engine):
    """001 客户经理考核制度 「客户经理的的考核直接由重要室经理进行考核,报集团客户部,集团客户部进行审核无误后报分管市场副总审批」:
    one sheet per key-account room, assessed by that room's manager, checked by the department
    manager of 集团客户部, approved by the vice-president; only then are the scores final."""
    api = kpi
    assert compute(engine) == 4  # two managers + two room summaries
    rows = results(engine)
    unit, status, m, rank = rows[("user", "customer_manager")]
    assert (unit, status, rank) == ("room-key", "draft", 1)
    assert (m["revenue"], m["informatisation"], m["members"], m["promotion"], m["retention"], m["perception"]) == (
        25, 18, 16, 14, 14, 10)
    assert m["total"] == 97 and m["missing"] == "" and m["revenue_tier"] == "full"
    assert (m["raw_total"], m["full_marks"]) == (97, 100)
    # 25 + 20 + 17 + 15 + 18 + 10 = 105 (the challenge target pays full points, 001 重要室经理考核制度; the
    # bonuses of members and retention stay in their items): the total stops at the full mark, 100
    room2 = rows[("user", "cm_room2")][2]
    assert room2["total"] == 100 and rows[("user", "cm_room2")][0] == "room-2"
    assert (room2["revenue"], room2["informatisation"], room2["members"], room2["promotion"], room2["retention"],
            room2["perception"]) == (25, 20, 17, 15, 18, 10)
    assert (room2["raw_total"], room2["full_marks"]) == (105, 100)
    assert room2["revenue_tier"] == "challenge"
    assert rows[("room", "room-2")][2]["max_total"] == 100  # the room's highest total
    # the reviewers read the full mark and why the total is not the sum of the items
    room2_summary = open_task(api, review_of(api, "room-2")["id"], "review")["data"]["summary"]
    assert room2_summary.startswith("满分100分")
    assert "总分 100（集团收入 25/25；集团信息化收入 20/20；集团客户到达数 17/15；集团产品推广 15/15；集团客户保有 18/15；" \
        "客户经理感知度 10/10） 合计105分，超过满分，按满分100分计" in room2_summary
    assert rows[("room", "room-key")][2]["avg_total"] == 97
    assert {k: s.status for k, s in sheets(engine).items()} == {"room-key": "in_review", "room-2": "in_review"}

    room = review_of(api, "room-key")
    assert room["org_unit"] == "room-key" and room["started_by"] == "system"
    task = open_task(api, room["id"], "review")
    assert task["org_unit"] == "room-key" and task["properties"]["score_review"] == "customer_manager_kpi"
    assert task["candidate_groups"] == ["key_account_manager", "hall_manager"] and task["data"]["unit_name"] == "重要室"
    assert "总分 97" in task["data"]["summary"] and task["data"]["managers"] == 1
    # the room's manager sees it; room-2's manager, hall managers and other roles do not and may not complete it
    assert candidate_task_ids(api, "key_account_manager", room["id"]) == [task["id"]]
    assert candidate_task_ids(api, "kam_room2", room["id"]) == []
    for wrong in ("kam_room2", "customer_manager", "hall_manager", "dm_group"):
        assert_forbidden(api, wrong, task["id"])
    assert results(engine)[("user", "customer_manager")][1] == "draft"
    assert [(s["unit_key"], s["step"]) for s in sheet_report(api, "customer_manager")] == [
        ("room-key", "重要室经理考核")]
    work(api, "key_account_manager", room["id"], "review", {"decision": "approve", "review_comment": "同意"})
    # where the review stands, for the people scored and their managers
    assert [s["step"] for s in sheet_report(api, "customer_manager")] == ["集团客户部审核"]
    # the room manager's approval passes the sheet to 集团客户部; still a draft
    assert sheets(engine)["room-key"].status == "in_review"
    assert results(engine)[("user", "customer_manager")][1] == "draft"
    [checked] = audit_details(engine, "score_sheet_checked")
    assert (checked["stage"], checked["_actor"], checked["comment"]) == ("room", "key_account_manager", "同意")
    check = open_task(api, room["id"], "check")
    assert check["org_unit"] == "dept-group" and check["candidate_groups"] == ["department_manager"]
    assert check["data"]["review_comment"] == "同意" and "check_decision" not in check["data"]
    assert candidate_task_ids(api, "dm_group", room["id"]) == [check["id"]]
    # the marketing department's manager (dept-1) is not 集团客户部
    for wrong in ("department_manager", "key_account_manager", "vice_president", "auditor"):
        assert_forbidden(api, wrong, check["id"])
    work(api, "dm_group", room["id"], "check", {"check_decision": "approve", "check_comment": "审核无误"})
    assert sheets(engine)["room-key"].status == "in_review"
    approval = open_task(api, room["id"], "approve")
    assert approval["org_unit"] is None and approval["candidate_groups"] == ["vice_president"]
    for wrong in ("key_account_manager", "dm_group"):
        assert_forbidden(api, wrong, approval["id"])
    assert [s["step"] for s in sheet_report(api, "key_account_manager")] == ["分管市场副总审批"]
    done = work(api, "vice_president", room["id"], "approve", {"approval_decision": "approve"})
    assert done["status"] == "completed"
    assert [(s["status"], s["step"]) for s in sheet_report(api, "key_account_manager")] == [("final", None)]
    assert "end_approved" in instance(api, room["id"])["completed_elements"]

    rows = results(engine)
    assert rows[("user", "customer_manager")][1] == "final" and rows[("room", "room-key")][1] == "final"
    assert rows[("user", "cm_room2")][1] == "draft"  # room-2's review is still open
    sheet = sheets(engine)["room-key"]
    assert (sheet.status, sheet.decided_by) == ("final", "vice_president") and sheet.decided_at is not None
    assert [c["stage"] for c in audit_details(engine, "score_sheet_checked")] == ["room", "department"]
    [approved] = audit_details(engine, "score_sheet_approved")
    assert approved["totals"] == {"customer_manager": 97} and approved["_actor"] == "vice_president"
    assert approved["stage"] == "vice_president"
    assert approved["period"] == "2026-10" and approved["unit_key"] == "room-key"

    # re-running the month leaves the approved room exactly as approved, even with new facts
    import_rows(engine, {"customer_manager": {"group_revenue": 1}}, name="late.csv")
    assert compute(engine) == 4
    again = results(engine)
    assert again[("user", "customer_manager")] == rows[("user", "customer_manager")]
    assert len(instances_of(api, "kpi_review")) == 2


def test_a_to_c_score_against_the_managers_own_customers_and_the_rooms_month(api, engine):
    """001 客户经理考核制度 a)「对客户经理所负责的集团单位月收入及重要室当月集团收入为标准」, b) c) likewise;
    d)「根据当月行业产品的指标」; e)「离网客户数集团客户总数×100%(2%)」.

    Two managers in room-key: A (FACTS) and B (below the basic revenue target, informatisation
    at the challenge target, members 30 of 50). The room's month: revenue 218,000 against the
    full target 240,000 and the basic 200,000 (basic tier, 90 %); informatisation 52,000 vs
    basic 40,000 / full 50,000 (full); members 94 vs 100 (per manager 47 vs 50: less than one
    whole 10 below, no deduction). 70 % of each item on the manager's own figures, 30 % on the room's:
    A: revenue 17.5 + 6.75 = 24.25; informatisation 12.6 + 6 = 18.6; members 11.2 + 4.5 = 15.7;
    B: revenue below basic, 90 % x 90,000 / 100,000 = 81 % of 17.5 = 14.18 (rounded) + 6.75 = 20.93;
    informatisation 14 + 6 = 20; members 20 below, 10.5 - 1.4 = 9.1 + 4.5 = 13.6.
    d) and e) use the manager's own figures only."""
    deploy(api, "kpi_review")
    b = {**FACTS, "group_revenue": 90000, "info_revenue": 31000, "member_growth": 30, "product_promotions": 5,
         "churned_customers": 2, "group_customers_total": 120}
    with key_account_rooms(api, engine):
        with engine.uow(SYSTEM) as uow:
            uow.session.execute(User.__table__.update().where(User.username == "cm_room2").values(org_unit="room-key"))
        import_rows(engine, {"customer_manager": FACTS, "cm_room2": b})
        compute(engine)
        rows = results(engine)
        a, bm = rows[("user", "customer_manager")][2], rows[("user", "cm_room2")][2]
        assert (a["revenue_own"], a["revenue_room"], a["revenue"]) == (17.5, 6.75, 24.25)
        assert (a["revenue_tier"], a["revenue_room_tier"]) == ("full", "basic")
        assert (a["informatisation_own"], a["informatisation_room"], a["informatisation"]) == (12.6, 6, 18.6)
        assert (a["members_own"], a["members_room"], a["members"]) == (11.2, 4.5, 15.7)
        assert (bm["revenue_own"], bm["revenue_room"], bm["revenue"]) == (14.18, 6.75, 20.93)
        assert bm["revenue_tier"] == "below_basic" and bm["informatisation_tier"] == "challenge"
        assert (bm["informatisation_own"], bm["informatisation_room"]) == (14, 6)
        assert (bm["members_own"], bm["members_room"], bm["members"]) == (9.1, 4.5, 13.6)
        # d) against the month's product target, e) churn / total x 100 % against 2 %: own figures only
        assert (a["promotion"], bm["promotion"]) == (14, 16) and "promotion_room" not in a
        assert (bm["churn_rate_pct"], bm["retention"]) == (1.6667, 16.5)  # three whole 0.1 steps below 2 %
        room = rows[("room", "room-key")][2]
        assert (room["managers"], room["room_group_revenue"], room["room_group_revenue_target_full"]) == (2, 218000, 240000)
        assert room["room_member_growth"] == 94 and "room_product_promotions" not in room
        summary = open_task(api, review_of(api, "room-key")["id"], "review")["data"]["summary"]
        assert "重要室当月合计（实际/指标）：集团收入 218000/240000（占30%）；集团信息化收入 52000/50000（占30%）；" \
            "集团客户到达数 94/100（占30%）" in summary


def test_rejection_needs_a_reason_and_a_rerun_starts_a_fresh_review(kpi, engine):
    """001 客户经理考核制度 「集团客户部进行审核无误后报分管市场副总审批」: a sheet found wrong goes back,
    with a reason, and the corrected month is assessed afresh."""
    api = kpi
    compute(engine)
    first = review_of(api, "room-key")
    task = open_task(api, first["id"], "review")
    assert "reject_reason" in errors_of(try_complete(api, "key_account_manager", task["id"], {"decision": "reject"}))
    work(api, "key_account_manager", first["id"], "review", {"decision": "reject", "reject_reason": "信息化收入数据有误"})
    assert sheets(engine)["room-key"].status == "rejected"
    assert results(engine)[("user", "customer_manager")][1] == "draft"
    [rejected] = audit_details(engine, "score_sheet_rejected")
    assert rejected["_reason"] == "信息化收入数据有误" and rejected["totals"] == {"customer_manager": 97}

    import_rows(engine, {"customer_manager": {"info_revenue": 25000}}, name="fixed.csv")
    compute(engine)
    sheet = sheets(engine)["room-key"]
    assert sheet.status == "in_review" and sheet.decided_by is None
    reviews = [i for i in instances_of(api, "kpi_review") if i["org_unit"] == "room-key"]
    assert sorted(i["status"] for i in reviews) == ["completed", "running"]
    fresh = next(i for i in reviews if i["status"] == "running")
    assert fresh["id"] == sheet.instance_id != first["id"]
    assert "总分 99" in open_task(api, fresh["id"], "review")["data"]["summary"]  # 18 -> 20
    approve_all(api, fresh["id"])
    assert results(engine)[("user", "customer_manager")][1:3][0] == "final"
    assert results(engine)[("user", "customer_manager")][2]["total"] == 99


def test_rerunning_with_an_open_review_keeps_the_one_review_and_refreshes_it(kpi, engine):
    """001 客户经理考核制度 「一个月为考核期」: one sheet and one review per room and month, refreshed
    when the month's figures change."""
    api = kpi
    compute(engine)
    review = review_of(api, "room-key")
    task = open_task(api, review["id"], "review")
    # unchanged figures: nothing happens to the review
    compute(engine)
    assert review_of(api, "room-key")["id"] == review["id"]
    assert open_task(api, review["id"], "review")["id"] == task["id"]
    # changed figures: the same review restarts its task with the new summary
    # 2 / 140 = 1.43 %: five whole 0.1 steps below the line, +2.5: retention 17.5, total 100.5 -> 100
    import_rows(engine, {"customer_manager": {"churned_customers": 2}}, name="fix.csv")
    assert compute(engine) == 4
    assert len([i for i in instances_of(api, "kpi_review") if i["org_unit"] == "room-key"]) == 1
    refreshed = open_task(api, review["id"], "review")
    assert refreshed["id"] != task["id"] and "总分 100（" in refreshed["data"]["summary"]
    rows = results(engine)
    assert rows[("user", "customer_manager")][2]["total"] == 100 and rows[("user", "customer_manager")][1] == "draft"
    assert try_complete(api, "key_account_manager", task["id"], {"decision": "approve"}).status_code in (404, 409)
    approve_all(api, review["id"])
    assert results(engine)[("user", "customer_manager")][1] == "final"
    assert sheets(engine)["room-key"].status == "final"


def test_a_later_step_can_reject_and_a_rerun_there_restarts_at_the_room_manager(kpi, engine):
    """001 客户经理考核制度 「报集团客户部,集团客户部进行审核无误后报分管市场副总审批」: 集团客户部 may send
    the sheet back; new figures at any step restart the assessment at the room manager."""
    api = kpi
    compute(engine)
    review = review_of(api, "room-key")
    work(api, "key_account_manager", review["id"], "review", {"decision": "approve", "review_comment": "同意"})
    work(api, "dm_group", review["id"], "check", {"check_decision": "approve"})
    # new figures while the vice-president has it: back to the room manager, nothing pre-decided
    import_rows(engine, {"customer_manager": {"churned_customers": 2}}, name="fix.csv")
    compute(engine)
    restarted = open_task(api, review["id"], "review")
    assert "总分 100（" in restarted["data"]["summary"]
    for key in ("decision", "review_comment", "check_decision", "approval_decision"):
        assert restarted["data"].get(key) is None, key
    assert sheets(engine)["room-key"].status == "in_review"
    # the department rejects, with a reason: the sheet is rejected and stays a draft
    work(api, "key_account_manager", review["id"], "review", {"decision": "approve"})
    check = open_task(api, review["id"], "check")
    assert "check_reject_reason" in errors_of(try_complete(api, "dm_group", check["id"],
                                                           {"check_decision": "reject"}))
    done = work(api, "dm_group", review["id"], "check",
                {"check_decision": "reject", "check_reject_reason": "会员数与系统不符"})
    assert done["status"] == "completed" and "end_rejected_check" in instance(api, review["id"])["completed_elements"]
    assert sheets(engine)["room-key"].status == "rejected"
    assert results(engine)[("user", "customer_manager")][1] == "draft"
    [rejected] = audit_details(engine, "score_sheet_rejected")
    assert (rejected["stage"], rejected["_reason"], rejected["_actor"]) == ("department", "会员数与系统不符", "dm_group")


def test_the_department_check_goes_to_the_department_over_the_room(kpi, engine):
    """001 「报集团客户部,集团客户部进行审核」: the check is the department's over the room; room-2 is
    moved out of any department here, so its check is open to any department manager."""
    api = kpi
    with engine.uow(SYSTEM) as uow:
        uow.session.get(OrgUnit, "room-2").parent_key = None
    try:
        compute(engine)
        room2 = review_of(api, "room-2")
        work(api, "kam_room2", room2["id"], "review", {"decision": "approve"})
        assert open_task(api, room2["id"], "check")["org_unit"] is None
        room = review_of(api, "room-key")
        work(api, "key_account_manager", room["id"], "review", {"decision": "approve"})
        assert open_task(api, room["id"], "check")["org_unit"] == "dept-group"
        # the marketing department's manager sees room-2's check only
        seen = api.get("/api/tasks?scope=candidate", "department_manager").get_json()
        assert [t["instance_id"] for t in seen["items"]] == [room2["id"]]
    finally:
        with engine.uow(SYSTEM) as uow:
            uow.session.get(OrgUnit, "room-2").parent_key = "dept-group"


def test_without_the_review_process_the_sheet_waits_for_the_next_run(api, engine):
    """001 客户经理考核制度 「客户经理的的考核直接由重要室经理进行考核」: no sheet is final without its review."""
    import_rows(engine, {"customer_manager": FACTS})
    compute(engine)
    sheet = sheets(engine)["hall-1"]
    assert sheet.status == "in_review" and sheet.instance_id is None
    assert audit_details(engine, "score_review_not_started")[0]["unit_key"] == "hall-1"
    deploy(api, "kpi_review")
    compute(engine)
    assert sheets(engine)["hall-1"].instance_id == review_of(api, "hall-1")["id"]


def complaint_closed(api, registrar: str, satisfaction: str, about: str | None = None) -> str:
    """A standard complaint registered by ``registrar`` (its first responder), naming ``about``
    as the manager concerned (涉及人员) or nobody, closed by the registrar with ``satisfaction``."""
    data = {"category": "standard", "complaint_type": "billing_support", "customer_name": "张三", "contact_phone": "13800138000",
            "description": "账单不明扣费"}
    if about is not None:
        data["manager_concerned"] = about
    iid = start(api, registrar, "complaint_handling", data)["id"]
    work(api, registrar, iid, "resolve_counter", {"counter_action": "已解释"})
    work(api, registrar, iid, "close",
         {"resolution": "客户不接受解释", "answered_at": "2026-10-15T10:30", "satisfaction": satisfaction})
    return iid


def test_engine_facts_agreements_signed_and_dissatisfied_complaints(kpi, engine):
    """001 d)「根据当月行业产品的指标,考核客户经理所负责的行业产品推广情况」: a group agreement the
    manager (in room-key) signed in October, approved by the room's manager: promotion 3 + 1 = 4
    = target (15 instead of 14). 000 「通过抽查以及客户投诉进行监控」: a complaint about the manager,
    registered by a counter clerk, closed dissatisfied: complaints -1. Complaints the manager took
    in as first responder about nobody, and one about them closed satisfied, cost nothing."""
    api = kpi
    clock.set(datetime(2026, 10, 15, 2, 0, tzinfo=UTC))
    deploy(api, "group_agreement", "complaint_handling")
    data = {"group_name": "城关第一中学", "agreement_no": "JT-2026-0042", "tariff_plan": "集团V网 58元套餐",
            "term_start": "2026-10-01", "term_end": "2027-09-30",
            "customer_id_copy": [upload(api, "customer_manager", "证件.pdf")]}
    agreement = start(api, "customer_manager", "group_agreement", data)["id"]
    work(api, "customer_manager", agreement, "accept", {"documents_complete": "yes", "id_copy_checked": "yes"})
    assert instance(api, agreement)["org_unit"] == "room-key"
    work(api, "key_account_manager", agreement, "approve", {"approval": "approve"}, wrong=("hall_manager",))
    work(api, "customer_manager", agreement, "sign",
         {"signed_scan": [upload(api, "customer_manager", "签署件.pdf")], "signed_at": "2026-10-15"})
    about_them = complaint_closed(api, "counter_staff", "dissatisfied", about="customer_manager")
    assert instance(api, about_them)["data"]["manager_concerned"] == "customer_manager"
    complaint_closed(api, "customer_manager", "dissatisfied")  # first responder, about nobody: no deduction
    complaint_closed(api, "customer_manager", "dissatisfied", about="")  # left empty: the same
    complaint_closed(api, "counter_staff", "satisfied", about="customer_manager")  # satisfied: does not count
    compute(engine)
    m = results(engine)[("user", "customer_manager")][2]
    assert m["agreements_signed"] == 1 and m["complaints_dissatisfied"] == 1
    assert m["promotion"] == 15 and m["complaints"] == -1 and m["total"] == 97
    # November sees none of it
    with engine.uow(SYSTEM) as uow:
        compute_customer_manager_kpi(uow, Period.parse("2026-11"))
    with engine.read() as session:
        nov = session.execute(select(JobResult.metrics).where(
            JobResult.period == "2026-11", JobResult.subject_key == "customer_manager")).scalar_one()
        assert nov["agreements_signed"] == 0 and nov["complaints_dissatisfied"] == 0 and nov["total"] == 0
        assert session.execute(select(func.count()).select_from(ScoreSheet)).scalar_one() == 4


def test_a_complaint_deducts_from_the_manager_it_is_about_not_from_its_first_responder(kpi, engine):
    """000: 「对客户经理执行“4W”服务情况通过抽查以及客户投诉进行监控」: complaints about the manager.
    Manager X (customer_manager, room-key) registers and closes a dissatisfied complaint about
    manager Y (cm_room2, room-2): Y loses 1 point, X nothing; a dissatisfied complaint X registers
    about nobody (billing, network ...) costs nobody anything."""
    api = kpi
    import_rows(engine, {"cm_room2": FACTS}, name="room2.csv")  # 97 like X, so the point shows in the total
    clock.set(datetime(2026, 10, 15, 2, 0, tzinfo=UTC))
    deploy(api, "complaint_handling")
    complaint_closed(api, "customer_manager", "dissatisfied", about="cm_room2")
    complaint_closed(api, "customer_manager", "dissatisfied")
    compute(engine)
    rows = results(engine)
    x, y = rows[("user", "customer_manager")][2], rows[("user", "cm_room2")][2]
    assert (y["complaints_dissatisfied"], y["complaints"], y["total"]) == (1, -1, 96)
    assert (x["complaints_dissatisfied"], x["complaints"], x["total"]) == (0, 0, 97)
    # the complaint about nobody is counted for no one at all
    assert sum(r[2].get("complaints_dissatisfied", 0) for key, r in rows.items() if key[0] == "user") == 1


def test_a_one_step_review_migrated_to_the_three_step_version_follows_its_steps(api, engine):
    """001 客户经理考核制度 「…报集团客户部,集团客户部进行审核无误后报分管市场副总审批」: kpi_review version 1 (tests/fixtures/kpi_review_v1.bpmn, one step: the hall manager's
    approval was final) moved to the current version: the first step's approval (now the room
    manager's) passes it on, and only the vice-president's makes the scores final."""
    deploy_form_of(api, "kpi_review")
    assert api.deploy_xml(fixture_text("kpi_review_v1.bpmn")).status_code == 201
    import_rows(engine, {"customer_manager": FACTS})
    compute(engine)
    review = review_of(api, "hall-1")
    assert review["definition_version"] == 1
    deploy(api, "kpi_review")
    r = api.post(f"/api/process-instances/{review['id']}/migration", "process_owner", json={})
    assert r.status_code == 200 and r.get_json()["migrated"], r.get_json()
    # the open step follows the current version: the room manager of the unit (here hall-1) assesses
    work(api, "key_account_manager", review["id"], "review", {"decision": "approve"})
    assert sheets(engine)["hall-1"].status == "in_review"
    assert results(engine)[("user", "customer_manager")][1] == "draft"
    work(api, "department_manager", review["id"], "check", {"check_decision": "approve"})
    work(api, "vice_president", review["id"], "approve", {"approval_decision": "approve"})
    assert sheets(engine)["hall-1"].status == "final"
    assert results(engine)[("user", "customer_manager")][1] == "final"


def test_a_one_step_review_left_on_version_1_still_decides_at_once(api, engine):
    """001 「一个月为考核期」: a month reviewed under version 1 (one step, the hall manager's approval
    final) is still decided as that version says."""
    deploy_form_of(api, "kpi_review")
    assert api.deploy_xml(fixture_text("kpi_review_v1.bpmn")).status_code == 201
    import_rows(engine, {"customer_manager": FACTS})
    compute(engine)
    review = review_of(api, "hall-1")
    deploy(api, "kpi_review")  # a newer version exists; this review stays on version 1
    done = work(api, "hall_manager", review["id"], "review", {"decision": "approve"})
    assert done["status"] == "completed" and sheets(engine)["hall-1"].status == "final"


def deploy_form_of(api, form_id: str) -> None:
    r = api.deploy_form(form_json(form_id))
    assert r.status_code in (200, 201), r.get_json()

