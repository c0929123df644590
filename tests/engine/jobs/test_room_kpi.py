"""The key-account room manager's own assessment (001 重要室经理考核制度): the yearly target plan
split by the engine and written as monthly facts, the monthly job, and its review (集团客户部
checks, the vice-president approves). Runs on SQLite and PostgreSQL.

People made here: ``room_head`` (key_account_manager) and two customer managers ``room_cm1``
(王芳) and ``room_cm2`` (赵强) in the room ``room-k`` of the department ``dept-g`` (集团客户部),
whose manager is ``group_head``. The seeded ``department_manager`` (dept-1, the marketing
department over the halls) and ``key_account_manager`` (hall-1, not a room) are the wrong people.

Hand computation of October 2026 (OCTOBER_FACTS), full mark 25:
churn 5 / 200 = 2.5 %: five whole 0.1 steps above the 2 % line, 10 - 5 = 5;
revenue 320,000 >= target 300,000 (< challenge 360,000): 2; informatisation 46,000 only >= basic
45,000: 90 % of 1.5 = 1.35; personal customers 130 >= challenge 120: 1; new group customers 2 below
basic 4: 90 % x 2 / 4 of 1 = 0.45; CRBT 210 >= 200: 1; products 5 >= challenge 5: 1; retention
96 % >= 95 %: 1.5; new numbers 280 >= basic 270: 0.9 -> other indicators 9.2; 企信通 12,500 >= challenge
12,000: 5. Total 5 + 9.2 + 5 = 19.2.
"""

from __future__ import annotations

import pytest
from sqlalchemy import delete, select

from engine.errors import EngineError, Forbidden
from engine.identity import auth as identity
from engine.identity.actor import SYSTEM
from engine.identity.auth import actor_by_name
from engine.jobs.facts import import_facts
from engine.jobs.periods import Period
from engine.jobs.room_kpi import compute_key_account_room_kpi
from engine.jobs.target_plan import split
from engine.store.models import AuditEvent, Fact, JobResult, OrgUnit, ScoreSheet, Task, User
from tests.engine.jobs.conftest import deploy_files

OCTOBER = Period.parse("2026-10")
ROOM, DEPT = "room-k", "dept-g"
PEOPLE = [("room_head", "key_account_manager", "重要室经理甲", ROOM), ("room_cm1", "customer_manager", "王芳", ROOM),
          ("room_cm2", "customer_manager", "赵强", ROOM), ("group_head", "department_manager", "集团客户部经理", DEPT)]
YEARLY = {"target_group_revenue": 3600000, "target_info_revenue": 600000, "target_personal_customers": 1200,
          "target_new_group_customers": 60, "target_crbt_customers": 2400, "target_products_promoted": 48,
          "target_high_value_retention_pct": 95, "target_new_numbers": 3600, "target_qixintong_revenue": 120000}
OCTOBER_FACTS = {
    "room_group_revenue": 320000, "room_info_revenue": 46000, "room_personal_customers": 130,
    "room_new_group_customers": 2, "room_crbt_customers": 210, "room_products_promoted": 5,
    "room_high_value_retention_pct": 96, "room_new_numbers": 280, "room_qixintong_revenue": 12500,
    "room_churned_customers": 5, "room_group_customers_total": 200,
}


@pytest.fixture
def room(engine):
    """The room, its department, its people and the shipped processes of the room."""
    with engine.uow(SYSTEM) as uow:
        uow.session.add(OrgUnit(key=DEPT, name="集团客户部", kind="department", parent_key="branch"))
        uow.session.add(OrgUnit(key=ROOM, name="重要室", kind="room", parent_key=DEPT))
        uow.session.flush()
        for username, role, name, unit in PEOPLE:
            identity.add_user(uow.session, username, "demo", [role], display_name=name, org_unit=unit)
    deploy_files(engine, "target_plan", "room_kpi_review")
    yield engine
    with engine.uow(SYSTEM) as uow:  # PostgreSQL keeps the user and unit tables between tests
        uow.session.execute(delete(User).where(User.username.in_([p[0] for p in PEOPLE])))
        uow.session.execute(delete(OrgUnit).where(OrgUnit.key == ROOM))
        uow.session.execute(delete(OrgUnit).where(OrgUnit.key == DEPT))


def actor(engine, username):
    with engine.read() as session:
        return actor_by_name(session, username)


def start(engine, username, key):
    from engine.runtime import instances

    with engine.uow(actor(engine, username)) as uow:
        return instances.start(engine, uow, key, {}).id


def open_task(engine, instance_id, element_id=None):
    with engine.read() as session:
        query = select(Task.id, Task.element_id).where(Task.instance_id == instance_id, Task.status == "open")
        rows = session.execute(query).all()
    if element_id is not None:
        rows = [r for r in rows if r.element_id == element_id]
    return rows[0].id if rows else None


def complete(engine, username, instance_id, element_id, data):
    from engine.runtime import tasks

    return tasks.complete_task(engine, actor(engine, username), open_task(engine, instance_id, element_id), data)


def refused(engine, username, instance_id, element_id, data) -> EngineError:
    with pytest.raises(EngineError) as exc:
        complete(engine, username, instance_id, element_id, data)
    return exc.value


def instance_data(engine, instance_id):
    from engine.store.models import ProcessInstance

    with engine.read() as session:
        inst = session.get(ProcessInstance, instance_id)
        return inst.status, dict(inst.data or {})


def facts(engine, source_like="target_plan:%") -> dict[tuple[str, str, str], float]:
    with engine.read() as session:
        return {(f.period, f.subject_key, f.metric): f.value for f in session.execute(
            select(Fact).where(Fact.source.like(source_like))).scalars()}


def audit(engine, action):
    with engine.read() as session:
        return [{**e.details, "_reason": e.reason} for e in session.execute(
            select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)).scalars()]


def import_october(engine, values=None, targets=True):
    rows = dict(OCTOBER_FACTS if values is None else values)
    if targets:
        for metric, (basic, full, challenge) in {
            "room_group_revenue": (270000, 300000, 360000), "room_info_revenue": (45000, 50000, 60000),
            "room_personal_customers": (90, 100, 120), "room_new_group_customers": (4, 5, 6),
            "room_crbt_customers": (180, 200, 240), "room_products_promoted": (4, 4, 5),
            "room_high_value_retention_pct": (85.5, 95, 100), "room_new_numbers": (270, 300, 360),
            "room_qixintong_revenue": (9000, 10000, 12000),
        }.items():
            rows.update({f"{metric}_target_basic": basic, f"{metric}_target_full": full,
                         f"{metric}_target_challenge": challenge})
    text = "period,subject,metric,value\n" + "".join(f"2026-10,{ROOM},{m},{v}\n" for m, v in rows.items())
    with engine.uow(SYSTEM) as uow:
        import_facts(uow, "room.csv", text.encode("utf-8"))


def compute(engine) -> int:
    with engine.uow(SYSTEM) as uow:
        return compute_key_account_room_kpi(uow, OCTOBER)


def results(engine) -> dict[tuple[str, str], tuple]:
    with engine.read() as session:
        rows = session.execute(select(JobResult).where(JobResult.job == "key_account_room_kpi",
                                                       JobResult.period == "2026-10")).scalars().all()
        return {(r.subject_type, r.subject_key): (r.unit_key, r.status, r.metrics) for r in rows}


def sheet(engine):
    with engine.read() as session:
        s = session.execute(select(ScoreSheet).where(ScoreSheet.job == "key_account_room_kpi")).scalar_one()
        return s.status, s.instance_id


# =========================================================================== the target plan


def test_target_plan_is_split_into_months_managers_weeks_and_days_and_approved_into_monthly_facts(room):
    """001 重要室经理考核制度 「重要室经理将一年的指标按照月进度进行分解,再按照客户经理的人数按照月计划表
    再分配到每周,再细化到每天」: the room manager enters the year, the engine splits it; the group
    customer department approves; each month's targets of the room and of each manager become facts."""
    engine = room
    plan = start(engine, "room_head", "target_plan")
    # only the room's own manager drafts it: the key-account role outside the room does not see it
    assert isinstance(refused(engine, "key_account_manager", plan, "draft",
                              {"plan_year": 2027, **YEARLY}), Forbidden)
    complete(engine, "room_head", plan, "draft", {"plan_year": 2027, "plan_basic_pct": 90, "plan_challenge_pct": 120,
                                                 **YEARLY})
    status, data = instance_data(engine, plan)
    summary = data["plan_summary"]
    assert "全年 3,600,000" in summary and "1月 300,000" in summary and "12月 300,000" in summary
    assert "客户经理2人：王芳、赵强" in summary
    # January 2027: 20 working days (1 January is a holiday) in ISO weeks 1-4, five days each
    assert "王芳 1月：150,000（每周：W01 37,500，W02 37,500，W03 37,500，W04 37,500；每个工作日约 7,500）" in summary
    assert "中高端客户保有率 %：全年 95（比率，不分解）" in summary
    # the department manager of another department may not approve the room's plan
    assert isinstance(refused(engine, "department_manager", plan, "approve", {"plan_decision": "approve"}), Forbidden)
    assert facts(engine) == {}
    complete(engine, "group_head", plan, "approve", {"plan_decision": "approve", "plan_comment": "同意"})
    assert instance_data(engine, plan)[0] == "completed"
    written = facts(engine)
    months = [f"2027-{m:02d}" for m in range(1, 13)]
    assert [written[(p, ROOM, "room_group_revenue_target_full")] for p in months] == [300000.0] * 12
    assert written[("2027-05", ROOM, "room_group_revenue_target_basic")] == 270000.0
    assert written[("2027-05", ROOM, "room_group_revenue_target_challenge")] == 360000.0
    assert written[("2027-05", ROOM, "room_high_value_retention_pct_target_full")] == 95.0
    assert written[("2027-05", ROOM, "room_high_value_retention_pct_target_challenge")] == 100.0  # never above 100 %
    # per customer manager, read by the customer-manager KPI: half of the room's month each
    assert written[("2027-03", "room_cm1", "group_revenue_target_full")] == 150000.0
    assert written[("2027-03", "room_cm2", "group_revenue_target_basic")] == 135000.0
    assert written[("2027-03", "room_cm1", "member_growth_target")] == 50.0
    assert written[("2027-03", "room_cm2", "product_promotion_target")] == 2.0
    # 5 new group customers a month for two managers: 3 + 2, never a fraction of a customer
    assert sum(written[(p, ROOM, "room_new_group_customers_target_full")] for p in months) == 60
    approved = audit(engine, "target_plan_approved")
    assert len(approved) == 1 and approved[0]["year"] == 2027 and approved[0]["managers"] == ["room_cm1", "room_cm2"]


def test_rejected_plan_goes_back_to_the_room_manager_and_the_revision_replaces_the_targets(room):
    """001 重要室经理考核制度 「重要室经理将一年的指标按照月进度进行分解」: the plan is the room manager's;
    a plan the department rejects comes back to them with the reason and writes nothing, the
    revised plan's approval writes the revised months."""
    engine = room
    plan = start(engine, "room_head", "target_plan")
    complete(engine, "room_head", plan, "draft", {"plan_year": 2027, **YEARLY})
    refusal = refused(engine, "group_head", plan, "approve", {"plan_decision": "reject"})
    assert "plan_reject_reason" in str(refusal.details)
    complete(engine, "group_head", plan, "approve", {"plan_decision": "reject", "plan_reject_reason": "集团收入偏低"})
    assert open_task(engine, plan, "draft") is not None and facts(engine) == {}
    assert audit(engine, "target_plan_rejected")[0]["_reason"] == "集团收入偏低"
    complete(engine, "room_head", plan, "draft", {"plan_year": 2027, **YEARLY, "target_group_revenue": 4800000})
    assert "全年 4,800,000" in instance_data(engine, plan)[1]["plan_summary"]
    complete(engine, "group_head", plan, "approve", {"plan_decision": "approve"})
    assert facts(engine)[("2027-07", ROOM, "room_group_revenue_target_full")] == 400000.0


def test_a_plan_with_impossible_targets_is_refused_naming_the_field(room):
    """001 重要室经理考核制度 「将一年的指标按照月进度进行分解」: a year and targets that can be split;
    a rate above 100 % or a fraction of a customer is refused and nothing moves on."""
    engine = room
    plan = start(engine, "room_head", "target_plan")
    error = refused(engine, "room_head", plan, "draft", {"plan_year": 2027, **YEARLY,
                                                         "target_high_value_retention_pct": 120,
                                                         "target_new_group_customers": 2.5})
    assert set(error.details["errors"]) >= {"target_high_value_retention_pct", "target_new_group_customers"}
    assert open_task(engine, plan, "draft") is not None


def test_split_parts_always_add_up_to_the_whole(room):
    """001 重要室经理考核制度 「按照月进度进行分解…再分配到每周,再细化到每天」: the months add up to the
    year, whatever the weights; money in cents, counts in whole units."""
    assert split(100, [1] * 12, "count") == [9.0] * 4 + [8.0] * 8  # the remainder to the first months
    assert sum(split(1000000.01, [1] * 12, "amount")) == pytest.approx(1000000.01)
    assert split(1000, [2, 1, 1], "amount") == [500.0, 250.0, 250.0]
    assert split(95, [1, 1], "rate") == [95.0, 95.0]


def test_only_a_room_manager_in_a_room_starts_a_plan(room):
    """001 重要室经理考核制度 「重要室经理将一年的指标…进行分解」: the plan belongs to a room, so the
    key-account role outside a room (hall-1) cannot start one."""
    with pytest.raises(Forbidden):
        start(room, "key_account_manager", "target_plan")
    with pytest.raises(Forbidden):
        start(room, "room_cm1", "target_plan")


# =========================================================================== the monthly assessment


def test_room_manager_is_scored_on_the_rooms_month_with_the_sources_points(room):
    """001 重要室经理考核制度 「集团客户离网率10分 / 集团其他指标10分 / 企信通5分」 and 「完成指标得满分,
    若只完成基本目标得全分值的90%,若完成挑战目标得全分」: the October sheet of the room manager."""
    engine = room
    import_october(engine)
    compute(engine)
    rows = results(engine)
    unit, status, m = rows[("user", "room_head")]
    assert (unit, status) == (ROOM, "draft")
    assert (m["churn_group"], m["other_indicators"], m["qixintong_group"]) == (5.0, 9.2, 5.0)
    assert m["total"] == 19.2 and m["full_marks"] == 25.0 and m["score_pct"] == 76.8
    assert (m["revenue_tier"], m["informatisation_tier"], m["new_customers_tier"]) == ("full", "basic", "below_basic")
    assert m["churn_rate_pct"] == 2.5
    # the hall-1 key-account manager is not a room's manager: not assessed
    assert ("user", "key_account_manager") not in rows
    # the month per indicator, split over the room's two managers, its weeks and working days
    _, _, revenue = rows[("kpi", f"{ROOM}:group_revenue")]
    assert (revenue["target"], revenue["actual"], revenue["completion_pct"]) == (300000.0, 320000.0, 106.67)
    assert revenue["manager_month"] == {"王芳": 150000.0, "赵强": 150000.0}
    assert revenue["working_days"] == 18  # October 2026: the National Day holidays are not working days
    assert revenue["manager_weeks"].startswith("王芳: 第41周 25,000，第42周 41,666.67")


def test_challenge_everywhere_earns_the_full_mark_never_more(room):
    """001 重要室经理考核制度 「若完成挑战目标得全分」: every indicator at its challenge target and no churn
    earns 25 of 25, not more."""
    engine = room
    best = {**OCTOBER_FACTS, "room_group_revenue": 400000, "room_info_revenue": 70000, "room_new_group_customers": 9,
            "room_crbt_customers": 300, "room_high_value_retention_pct": 100, "room_new_numbers": 400,
            "room_churned_customers": 0}
    import_october(engine, best)
    compute(engine)
    m = results(engine)[("user", "room_head")][2]
    assert (m["total"], m["raw_total"], m["churn_group"], m["other_indicators"]) == (25.0, 25.0, 10.0, 10.0)


def test_missing_facts_score_zero_and_are_named(room):
    """001 重要室经理考核制度 「企信通5分」: a month without the 企信通 facts scores 0 for it and says so."""
    engine = room
    import_october(engine, {k: v for k, v in OCTOBER_FACTS.items() if k != "room_qixintong_revenue"})
    compute(engine)
    m = results(engine)[("user", "room_head")][2]
    assert m["qixintong"] == 0.0 and m["missing"] == "qixintong" and m["total"] == 14.2


def test_department_checks_vice_president_approves_and_the_scores_become_final(room):
    """001 「集团客户部进行审核无误后报分管市场副总审批」: the room's sheet is checked by the department
    manager of 集团客户部 (not another department's) and approved by the vice-president."""
    engine = room
    import_october(engine)
    compute(engine)
    status, review = sheet(engine)
    assert status == "in_review"
    summary = instance_data(engine, review)[1]["summary"]
    assert "满分25分（集团客户离网率10分、集团其他指标10分、企信通5分）" in summary
    assert "重要室经理甲：总分 19.2（集团客户离网率 5/10；集团其他指标 9.2/10；企信通 5/5）" in summary
    assert isinstance(refused(engine, "department_manager", review, "check", {"check_decision": "approve"}), Forbidden)
    assert isinstance(refused(engine, "room_head", review, "check", {"check_decision": "approve"}), Forbidden)
    complete(engine, "group_head", review, "check", {"check_decision": "approve", "check_comment": "无误"})
    assert sheet(engine)[0] == "in_review" and audit(engine, "score_sheet_checked")[-1]["unit_key"] == ROOM
    complete(engine, "vice_president", review, "approve", {"approval_decision": "approve"})
    assert sheet(engine)[0] == "final"
    assert {status for _, status, _ in results(engine).values()} == {"final"}
    # an approved month is not re-scored by a later run
    import_october(engine, {**OCTOBER_FACTS, "room_qixintong_revenue": 0})
    compute(engine)
    assert results(engine)[("user", "room_head")][2]["total"] == 19.2


def test_rejected_sheet_is_reviewed_afresh_after_the_facts_are_corrected(room):
    """001 「集团客户部进行审核无误后报分管市场副总审批」: a sheet the department rejects is not final;
    the corrected month goes through a fresh review."""
    engine = room
    import_october(engine)
    compute(engine)
    first = sheet(engine)[1]
    complete(engine, "group_head", first, "check", {"check_decision": "reject", "check_reject_reason": "放号数有误"})
    assert sheet(engine)[0] == "rejected"
    assert audit(engine, "score_sheet_rejected")[-1]["_reason"] == "放号数有误"
    import_october(engine, {**OCTOBER_FACTS, "room_new_numbers": 310}, targets=False)
    compute(engine)
    status, second = sheet(engine)
    assert status == "in_review" and second != first
    assert results(engine)[("user", "room_head")][2]["total"] == 19.3
    assert "19.3" in instance_data(engine, second)[1]["summary"]


def test_rerun_during_the_review_keeps_one_review_and_restarts_it_with_the_new_figures(room):
    """001 「集团客户部进行审核无误后报分管市场副总审批」: what the vice-president approves is what the
    department checked: corrected facts during the review send the same review back to the check."""
    engine = room
    import_october(engine)
    compute(engine)
    review = sheet(engine)[1]
    complete(engine, "group_head", review, "check", {"check_decision": "approve", "check_comment": "无误"})
    assert open_task(engine, review, "approve") is not None
    import_october(engine, {**OCTOBER_FACTS, "room_new_numbers": 310}, targets=False)
    compute(engine)
    status, again = sheet(engine)
    assert (status, again) == ("in_review", review)
    assert open_task(engine, review, "check") is not None and open_task(engine, review, "approve") is None
    data = instance_data(engine, review)[1]
    assert "总分 19.3" in data["summary"] and data["check_decision"] is None
    assert audit(engine, "score_sheet_recomputed")[-1]["review_instance_id"] == review


def test_a_sheet_names_the_missing_data_by_its_label():
    """The review summary's 缺数据 line reads the score items' Chinese labels; a key without one stays."""
    from engine.jobs.sheets import missing_text

    assert missing_text("qixintong,new_key", {"qixintong": "企信通"}) == "缺数据：企信通、new_key"
    assert missing_text("", {}) == "缺数据："
