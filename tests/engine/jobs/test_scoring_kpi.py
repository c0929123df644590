"""customer_manager_kpi end to end: facts -> compute -> the three-step review (hall manager,
department check, vice-president approval) -> final scores.

Through the REST API with the seeded users (``customer_manager``, ``hall_manager`` ... in
hall-1; ``manager_hall2`` in hall-2; ``department_manager`` in dept-1, the department over
both halls; ``vice_president`` in the branch) plus a customer manager of hall-2 created here.
Runs on SQLite and PostgreSQL.

Hand computation for ``customer_manager`` with FACTS (the demo figures) in 2026-10:
revenue 128,000 >= full 120,000 (< challenge 150,000): 30; informatisation 21,000 only
>= basic 20,000: 90 % of 25 = 22.5; members 64 vs 50: one whole 10 above, +1: 16; promotion
3 (+ agreements signed) vs 4: one below, -1: 14; churn 3 / 140 = 2.14 %: one whole 0.1 step
above 2 %, -1: 14. Total 96.5.
"""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from sqlalchemy import delete, func, select

from engine.clock import clock
from engine.identity import auth as identity
from engine.identity.actor import SYSTEM
from engine.jobs.facts import import_facts
from engine.jobs.kpi import compute_customer_manager_kpi
from engine.jobs.periods import Period
from engine.store.models import AuditEvent, JobResult, OrgUnit, ScoreSheet, User
from tests.conftest import fixture_text
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
# hall-2's manager reached every challenge target (得全分: 100 %), 20 members over (+2), churn 1.0 % (+3):
# the items add up to 105, the sheet's full mark is 100 (满分100分)
FACTS_HALL2 = {**FACTS, "group_revenue": 150000, "info_revenue": 30000, "member_growth": 70,
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


@pytest.fixture
def kpi(api, engine):
    """kpi_review deployed, a customer manager in hall-2, October's facts imported."""
    deploy(api, "kpi_review")
    with engine.uow(SYSTEM) as uow:
        identity.add_user(uow.session, "cm_hall2", "demo", ["customer_manager"], display_name="李四", org_unit="hall-2")
    import_rows(engine, {"customer_manager": FACTS, "cm_hall2": FACTS_HALL2})
    yield api
    with engine.uow(SYSTEM) as uow:  # PostgreSQL keeps the user tables between tests
        uow.session.execute(delete(User).where(User.username == "cm_hall2"))


def review_of(api, hall: str) -> dict:
    hits = [i for i in instances_of(api, "kpi_review") if i["business_key"] == f"customer_manager_kpi:2026-10:{hall}"]
    assert len(hits) == 1, hits
    return hits[0]


def sheet_report(api, user: str) -> list[dict]:
    """The score sheets of October on ``user``'s dashboard (``GET /api/reports/customer_manager_kpi``)."""
    r = api.get("/api/reports/customer_manager_kpi?period=2026-10", user)
    assert r.status_code == 200, r.get_json()
    return r.get_json()["sheets"]


def approve_all(api, instance_id: str) -> dict:
    """The three steps approve; returns the instance."""
    work(api, "hall_manager", instance_id, "review", {"decision": "approve"})
    work(api, "department_manager", instance_id, "check", {"check_decision": "approve"})
    return work(api, "vice_president", instance_id, "approve", {"approval_decision": "approve"})


def test_scores_go_through_hall_department_and_vice_president_and_only_then_are_final(kpi, engine):
    api = kpi
    assert compute(engine) == 4  # two managers + two hall summaries
    rows = results(engine)
    unit, status, m, rank = rows[("user", "customer_manager")]
    assert (unit, status, rank) == ("hall-1", "draft", 1)
    assert (m["revenue"], m["informatisation"], m["members"], m["promotion"], m["retention"]) == (30, 22.5, 16, 14, 14)
    assert m["total"] == 96.5 and m["missing"] == "" and m["revenue_tier"] == "full"
    assert (m["raw_total"], m["full_marks"]) == (96.5, 100)
    # 30 + 25 + 17 + 15 + 18 = 105 (the challenge target pays full points, 001 重要室经理考核制度; the
    # bonuses of members and retention stay in their items): the total stops at the full mark, 100
    hall2 = rows[("user", "cm_hall2")][2]
    assert hall2["total"] == 100 and rows[("user", "cm_hall2")][0] == "hall-2"
    assert (hall2["revenue"], hall2["informatisation"], hall2["members"], hall2["promotion"], hall2["retention"]) == (
        30, 25, 17, 15, 18)
    assert (hall2["raw_total"], hall2["full_marks"]) == (105, 100)
    assert hall2["revenue_tier"] == "challenge"
    assert rows[("hall", "hall-2")][2]["max_total"] == 100  # the hall's highest total
    # the reviewers read the full mark and why the total is not the sum of the items
    hall2_summary = open_task(api, review_of(api, "hall-2")["id"], "review")["data"]["summary"]
    assert hall2_summary.startswith("满分100分")
    assert "总分 100（集团收入 30/30；集团信息化收入 25/25；集团客户到达数 17/15；集团产品推广 15/15；集团客户保有 18/15）" \
        " 合计105分，超过满分，按满分100分计" in hall2_summary
    assert rows[("hall", "hall-1")][2]["avg_total"] == 96.5
    assert {k: s.status for k, s in sheets(engine).items()} == {"hall-1": "in_review", "hall-2": "in_review"}

    hall1 = review_of(api, "hall-1")
    assert hall1["org_unit"] == "hall-1" and hall1["started_by"] == "system"
    task = open_task(api, hall1["id"], "review")
    assert task["org_unit"] == "hall-1" and task["properties"]["score_review"] == "customer_manager_kpi"
    assert "总分 96.5" in task["data"]["summary"] and task["data"]["managers"] == 1
    # the hall-1 manager sees it; the hall-2 manager and other roles do not and may not complete it
    assert candidate_task_ids(api, "hall_manager", hall1["id"]) == [task["id"]]
    assert candidate_task_ids(api, "manager_hall2", hall1["id"]) == []
    for wrong in ("manager_hall2", "customer_manager", "counter_staff", "duty_manager"):
        assert_forbidden(api, wrong, task["id"])
    assert results(engine)[("user", "customer_manager")][1] == "draft"
    assert [(s["unit_key"], s["step"]) for s in sheet_report(api, "customer_manager")] == [
        ("hall-1", "审核评分表 Review score sheet")]
    work(api, "hall_manager", hall1["id"], "review", {"decision": "approve", "review_comment": "同意"})
    # where the review stands, for the people scored and their managers
    assert [s["step"] for s in sheet_report(api, "customer_manager")] == ["部门复核评分表 Department check"]
    # the hall manager's approval passes the sheet to the department over the hall; still a draft
    assert sheets(engine)["hall-1"].status == "in_review"
    assert results(engine)[("user", "customer_manager")][1] == "draft"
    [checked] = audit_details(engine, "score_sheet_checked")
    assert (checked["stage"], checked["_actor"], checked["comment"]) == ("hall", "hall_manager", "同意")
    check = open_task(api, hall1["id"], "check")
    assert check["org_unit"] == "dept-1" and check["candidate_groups"] == ["department_manager"]
    assert check["data"]["review_comment"] == "同意" and "check_decision" not in check["data"]
    assert candidate_task_ids(api, "department_manager", hall1["id"]) == [check["id"]]
    for wrong in ("hall_manager", "vice_president", "auditor"):
        assert_forbidden(api, wrong, check["id"])
    work(api, "department_manager", hall1["id"], "check", {"check_decision": "approve", "check_comment": "复核无误"})
    assert sheets(engine)["hall-1"].status == "in_review"
    approval = open_task(api, hall1["id"], "approve")
    assert approval["org_unit"] is None and approval["candidate_groups"] == ["vice_president"]
    for wrong in ("hall_manager", "department_manager"):
        assert_forbidden(api, wrong, approval["id"])
    assert [s["step"] for s in sheet_report(api, "hall_manager")] == ["审批评分表 Vice-president approval"]
    done = work(api, "vice_president", hall1["id"], "approve", {"approval_decision": "approve"})
    assert done["status"] == "completed"
    assert [(s["status"], s["step"]) for s in sheet_report(api, "hall_manager")] == [("final", None)]
    assert "end_approved" in instance(api, hall1["id"])["completed_elements"]

    rows = results(engine)
    assert rows[("user", "customer_manager")][1] == "final" and rows[("hall", "hall-1")][1] == "final"
    assert rows[("user", "cm_hall2")][1] == "draft"  # hall-2's review is still open
    sheet = sheets(engine)["hall-1"]
    assert (sheet.status, sheet.decided_by) == ("final", "vice_president") and sheet.decided_at is not None
    assert [c["stage"] for c in audit_details(engine, "score_sheet_checked")] == ["hall", "department"]
    [approved] = audit_details(engine, "score_sheet_approved")
    assert approved["totals"] == {"customer_manager": 96.5} and approved["_actor"] == "vice_president"
    assert approved["stage"] == "vice_president"
    assert approved["period"] == "2026-10" and approved["unit_key"] == "hall-1"

    # re-running the month leaves the approved hall exactly as approved, even with new facts
    import_rows(engine, {"customer_manager": {"group_revenue": 1}}, name="late.csv")
    assert compute(engine) == 4
    again = results(engine)
    assert again[("user", "customer_manager")] == rows[("user", "customer_manager")]
    assert len(instances_of(api, "kpi_review")) == 2


def test_rejection_needs_a_reason_and_a_rerun_starts_a_fresh_review(kpi, engine):
    api = kpi
    compute(engine)
    first = review_of(api, "hall-1")
    task = open_task(api, first["id"], "review")
    assert "reject_reason" in errors_of(try_complete(api, "hall_manager", task["id"], {"decision": "reject"}))
    work(api, "hall_manager", first["id"], "review", {"decision": "reject", "reject_reason": "信息化收入数据有误"})
    assert sheets(engine)["hall-1"].status == "rejected"
    assert results(engine)[("user", "customer_manager")][1] == "draft"
    [rejected] = audit_details(engine, "score_sheet_rejected")
    assert rejected["_reason"] == "信息化收入数据有误" and rejected["totals"] == {"customer_manager": 96.5}

    import_rows(engine, {"customer_manager": {"info_revenue": 25000}}, name="fixed.csv")
    compute(engine)
    sheet = sheets(engine)["hall-1"]
    assert sheet.status == "in_review" and sheet.decided_by is None
    hall1 = [i for i in instances_of(api, "kpi_review") if i["org_unit"] == "hall-1"]
    assert sorted(i["status"] for i in hall1) == ["completed", "running"]
    fresh = next(i for i in hall1 if i["status"] == "running")
    assert fresh["id"] == sheet.instance_id != first["id"]
    assert "总分 99" in open_task(api, fresh["id"], "review")["data"]["summary"]  # 22.5 -> 25
    approve_all(api, fresh["id"])
    assert results(engine)[("user", "customer_manager")][1:3][0] == "final"
    assert results(engine)[("user", "customer_manager")][2]["total"] == 99


def test_rerunning_with_an_open_review_keeps_the_one_review_and_refreshes_it(kpi, engine):
    api = kpi
    compute(engine)
    review = review_of(api, "hall-1")
    task = open_task(api, review["id"], "review")
    # unchanged figures: nothing happens to the review
    compute(engine)
    assert review_of(api, "hall-1")["id"] == review["id"]
    assert open_task(api, review["id"], "review")["id"] == task["id"]
    # changed figures: the same review restarts its task with the new summary
    # 2 / 140 = 1.43 %: five whole 0.1 steps below the line, +2.5: retention 17.5, total 100
    import_rows(engine, {"customer_manager": {"churned_customers": 2}}, name="fix.csv")
    assert compute(engine) == 4
    assert len([i for i in instances_of(api, "kpi_review") if i["org_unit"] == "hall-1"]) == 1
    refreshed = open_task(api, review["id"], "review")
    assert refreshed["id"] != task["id"] and "总分 100（" in refreshed["data"]["summary"]
    rows = results(engine)
    assert rows[("user", "customer_manager")][2]["total"] == 100 and rows[("user", "customer_manager")][1] == "draft"
    assert try_complete(api, "hall_manager", task["id"], {"decision": "approve"}).status_code in (404, 409)
    approve_all(api, review["id"])
    assert results(engine)[("user", "customer_manager")][1] == "final"
    assert sheets(engine)["hall-1"].status == "final"


def test_a_later_step_can_reject_and_a_rerun_there_restarts_at_the_hall_manager(kpi, engine):
    api = kpi
    compute(engine)
    review = review_of(api, "hall-1")
    work(api, "hall_manager", review["id"], "review", {"decision": "approve", "review_comment": "同意"})
    work(api, "department_manager", review["id"], "check", {"check_decision": "approve"})
    # new figures while the vice-president has it: back to the hall manager, nothing pre-decided
    import_rows(engine, {"customer_manager": {"churned_customers": 2}}, name="fix.csv")
    compute(engine)
    restarted = open_task(api, review["id"], "review")
    assert "总分 100（" in restarted["data"]["summary"]
    for key in ("decision", "review_comment", "check_decision", "approval_decision"):
        assert restarted["data"].get(key) is None, key
    assert sheets(engine)["hall-1"].status == "in_review"
    # the department rejects, with a reason: the sheet is rejected and stays a draft
    work(api, "hall_manager", review["id"], "review", {"decision": "approve"})
    check = open_task(api, review["id"], "check")
    assert "check_reject_reason" in errors_of(try_complete(api, "department_manager", check["id"],
                                                           {"check_decision": "reject"}))
    done = work(api, "department_manager", review["id"], "check",
                {"check_decision": "reject", "check_reject_reason": "会员数与系统不符"})
    assert done["status"] == "completed" and "end_rejected_check" in instance(api, review["id"])["completed_elements"]
    assert sheets(engine)["hall-1"].status == "rejected"
    assert results(engine)[("user", "customer_manager")][1] == "draft"
    [rejected] = audit_details(engine, "score_sheet_rejected")
    assert (rejected["stage"], rejected["_reason"], rejected["_actor"]) == ("department", "会员数与系统不符",
                                                                             "department_manager")


def test_the_department_check_goes_to_the_department_over_the_hall(kpi, engine):
    """hall-2 belongs to no department here: its check is open to any department manager."""
    api = kpi
    with engine.uow(SYSTEM) as uow:
        uow.session.get(OrgUnit, "hall-2").parent_key = None
    try:
        compute(engine)
        hall2 = review_of(api, "hall-2")
        work(api, "manager_hall2", hall2["id"], "review", {"decision": "approve"})
        assert open_task(api, hall2["id"], "check")["org_unit"] is None
        hall1 = review_of(api, "hall-1")
        work(api, "hall_manager", hall1["id"], "review", {"decision": "approve"})
        assert open_task(api, hall1["id"], "check")["org_unit"] == "dept-1"
        # a department manager of another department sees hall-2's check only
        with engine.uow(SYSTEM) as uow:
            identity.add_user(uow.session, "dm_other", "demo", ["department_manager"], org_unit="dept-9")
            token = identity.issue_token(uow.session, "dm_other", "demo", 10 * 365 * 24 * 3600)[0]
        seen = api.client.get("/api/tasks?scope=candidate", headers={"Authorization": f"Bearer {token}"}).get_json()
        assert [t["instance_id"] for t in seen["items"]] == [hall2["id"]]
    finally:
        with engine.uow(SYSTEM) as uow:
            uow.session.get(OrgUnit, "hall-2").parent_key = "dept-1"
            uow.session.execute(delete(User).where(User.username == "dm_other"))


def test_without_the_review_process_the_sheet_waits_for_the_next_run(api, engine):
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
    """A group agreement the manager signed in October: promotion 3 + 1 = 4 = target (15 instead
    of 14). A complaint about the manager, registered by a counter clerk, closed dissatisfied:
    complaints -1. Complaints the manager took in as first responder about nobody, and one about
    them closed satisfied, cost nothing."""
    api = kpi
    clock.set(datetime(2026, 10, 15, 2, 0, tzinfo=UTC))
    deploy(api, "group_agreement", "complaint_handling")
    data = {"group_name": "城关第一中学", "agreement_no": "JT-2026-0042", "tariff_plan": "集团V网 58元套餐",
            "term_start": "2026-10-01", "term_end": "2027-09-30",
            "customer_id_copy": [upload(api, "customer_manager", "证件.pdf")]}
    agreement = start(api, "customer_manager", "group_agreement", data)["id"]
    work(api, "customer_manager", agreement, "accept", {"documents_complete": "yes", "id_copy_checked": "yes"})
    work(api, "hall_manager", agreement, "approve", {"approval": "approve"})
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
    assert m["promotion"] == 15 and m["complaints"] == -1 and m["total"] == 96.5
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
    Manager X (customer_manager, hall-1) registers and closes a dissatisfied complaint about
    manager Y (cm_hall2, hall-2): Y loses 1 point, X nothing; a dissatisfied complaint X registers
    about nobody (billing, network ...) costs nobody anything."""
    api = kpi
    import_rows(engine, {"cm_hall2": FACTS}, name="hall2.csv")  # 96.5 like X, so the point shows in the total
    clock.set(datetime(2026, 10, 15, 2, 0, tzinfo=UTC))
    deploy(api, "complaint_handling")
    complaint_closed(api, "customer_manager", "dissatisfied", about="cm_hall2")
    complaint_closed(api, "customer_manager", "dissatisfied")
    compute(engine)
    rows = results(engine)
    x, y = rows[("user", "customer_manager")][2], rows[("user", "cm_hall2")][2]
    assert (y["complaints_dissatisfied"], y["complaints"], y["total"]) == (1, -1, 95.5)
    assert (x["complaints_dissatisfied"], x["complaints"], x["total"]) == (0, 0, 96.5)
    # the complaint about nobody is counted for no one at all
    assert sum(r[2].get("complaints_dissatisfied", 0) for key, r in rows.items() if key[0] == "user") == 1


def test_a_one_step_review_migrated_to_the_three_step_version_follows_its_steps(api, engine):
    """kpi_review version 1 (tests/fixtures/kpi_review_v1.bpmn, one step: the hall manager's
    approval was final) moved to the current version: the hall manager's approval now passes
    it on, and only the vice-president's makes the scores final."""
    deploy_form_of(api, "kpi_review")
    assert api.deploy_xml(fixture_text("kpi_review_v1.bpmn")).status_code == 201
    import_rows(engine, {"customer_manager": FACTS})
    compute(engine)
    review = review_of(api, "hall-1")
    assert review["definition_version"] == 1
    deploy(api, "kpi_review")
    r = api.post(f"/api/process-instances/{review['id']}/migration", "process_owner", json={})
    assert r.status_code == 200 and r.get_json()["migrated"], r.get_json()
    work(api, "hall_manager", review["id"], "review", {"decision": "approve"})
    assert sheets(engine)["hall-1"].status == "in_review"
    assert results(engine)[("user", "customer_manager")][1] == "draft"
    work(api, "department_manager", review["id"], "check", {"check_decision": "approve"})
    work(api, "vice_president", review["id"], "approve", {"approval_decision": "approve"})
    assert sheets(engine)["hall-1"].status == "final"
    assert results(engine)[("user", "customer_manager")][1] == "final"


def test_a_one_step_review_left_on_version_1_still_decides_at_once(api, engine):
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

