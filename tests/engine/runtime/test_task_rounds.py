"""A step in a loop opens empty: its earlier rounds are history, never the form's initial data
(engine/runtime/rounds.py), on SQLite and PostgreSQL, through the API and the task page."""

from __future__ import annotations

import re

from engine.clock import clock
from tests.engine.jobs.test_room_kpi import room as room  # noqa: F401 - the fixture
from tests.processes.test_business_processes import ACCEPTED, AGREEMENT_DAY, agreement_request, supply_request
from tests.support.business import deploy, open_task, start, work
from tests.support.pages import sign_in


def _rejected_and_resubmitted_supply(api) -> str:
    deploy(api, "supply_approval")
    iid = start(api, "enforcement_officer", "supply_approval", supply_request(api))["id"]
    work(api, "service_center_head", iid, "review",
         {"decision": "reject", "reject_reason": "数量超出月度限量", "review_comment": "请按限量重报"})
    work(api, "enforcement_officer", iid, "revise",
         {"revise_action": "resubmit", "lines": [{"brand": "huanghelou", "specification": "硬1916", "quantity": 3}],
          "reason": "按限量调整", "revise_note": "数量已下调"})
    return iid


def test_second_supply_review_opens_without_the_old_rejection(api):
    """000 供货审核模块: 「由客服中心负责人直接审核、电子公章盖章以示生效」: the head decides each
    submission anew. After 驳回 and a resubmission the second review's decision, reason and
    comment start empty; the first round (who, when, 驳回, the reason) is history; the revised
    application itself is shown as it is now."""
    iid = _rejected_and_resubmitted_supply(api)
    review = open_task(api, iid, "review")
    assert not {"decision", "reject_reason", "review_comment"} & set(review["data"])
    assert review["data"]["reason"] == "按限量调整"  # the application (start form, revise) stays
    assert review["data"]["lines"][0]["quantity"] == 3
    [first] = review["history"]
    assert first["round"] == 1 and first["completed_by"] == "service_center_head" and first["completed_at"]
    shown = {v["key"]: v["text"] for v in first["values"]}
    assert shown == {"decision": "驳回", "reject_reason": "数量超出月度限量", "review_comment": "请按限量重报"}
    # a decision is required again: an empty submission is refused, not a second rejection
    r = api.post(f"/api/tasks/{review['id']}/claim", "service_center_head")
    r = api.post(f"/api/tasks/{review['id']}/complete", "service_center_head", json={"data": {}})
    assert r.status_code == 422 and "decision" in r.get_json()["details"]["errors"]


def test_second_revise_keeps_the_application_but_not_the_old_choice(api):
    """000 供货审核模块: 「由专卖人员上传至“精益营销”平台」: the officer revises the application; a
    second revision shows the application as last submitted, while the officer's own choice
    (重报/撤回) and note of the first revision start empty."""
    iid = _rejected_and_resubmitted_supply(api)
    work(api, "service_center_head", iid, "review", {"decision": "reject", "reject_reason": "附件不清晰"})
    revise = open_task(api, iid, "revise")
    assert not {"revise_action", "revise_note"} & set(revise["data"])
    assert revise["data"]["reason"] == "按限量调整" and revise["data"]["reject_reason"] == "附件不清晰"
    [first] = revise["history"]
    assert {v["key"]: v["text"] for v in first["values"]} == {"revise_action": "修改后重新提交",
                                                            "revise_note": "数量已下调"}


def test_first_round_has_no_history_and_a_completed_task_keeps_its_data(api):
    """000 供货审核模块: 「由客服中心负责人直接审核」: a first review has nothing earlier to show; the
    completed first review still reads what was decided in it."""
    deploy(api, "supply_approval")
    iid = start(api, "enforcement_officer", "supply_approval", supply_request(api))["id"]
    review = open_task(api, iid, "review")
    assert review["history"] == []
    work(api, "service_center_head", iid, "review", {"decision": "reject", "reject_reason": "许可证已过期"})
    done = api.get(f"/api/tasks/{review['id']}", "service_center_head").get_json()
    assert done["status"] == "completed" and done["submitted"]["decision"] == "reject" and done["history"] == []


def test_second_agreement_approval_opens_without_the_old_rejection(api, app):
    """001 集团业务: 「在用户提交客户资料单后3分钟内完成业务受理」 and the approval after it: after
    驳回 and a rework the hall manager's second approval starts without a decision or reason;
    the first rejection shows as history on the task page, in China time."""
    clock.set(AGREEMENT_DAY)
    deploy(api, "group_agreement")
    iid = start(api, "customer_manager", "group_agreement", agreement_request(api))["id"]
    work(api, "customer_manager", iid, "accept", ACCEPTED)
    work(api, "hall_manager", iid, "approve", {"approval": "reject", "approval_reason": "资费低于集团底线"})
    work(api, "customer_manager", iid, "rework",
         {"rework_action": "resubmit", "tariff_plan": "集团V网 88元套餐", "term_start": "2026-02-01",
          "term_end": "2026-07-31", "rework_note": "已按底线调整"})
    approve = open_task(api, iid, "approve")
    assert not {"approval", "approval_reason"} & set(approve["data"])
    assert approve["data"]["tariff_plan"] == "集团V网 88元套餐"
    [first] = approve["history"]
    assert {v["key"]: v["text"] for v in first["values"]} == {"approval": "驳回", "approval_reason": "资费低于集团底线"}

    client, _ = sign_in(app, "hall_manager")
    html = client.get(f"/tasks/{approve['id']}").get_data(as_text=True)
    box = html[html.index('data-testid="earlier-rounds"'):]
    assert "往轮办理记录" in box and "第1轮" in box and "资费低于集团底线" in box and "驳回" in box
    assert re.search(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", box)
    data = html[html.index('id="form-data">'):]
    data = data[:data.index("</script>")]
    assert "资费低于集团底线" not in data and '"approval"' not in data


def test_a_plan_sent_back_keeps_its_figures_and_the_second_approval_opens_empty(room):
    """001 重要室经理考核制度 「重要室经理将一年的指标按照月进度进行分解」: a plan sent back (驳回修改) is
    corrected, not typed again: the draft shows its last figures and has no history; the
    department's second approval starts without a decision, its first 驳回 is history."""
    from engine.runtime import tasks
    from tests.engine.jobs.test_room_kpi import YEARLY, actor, complete, open_task
    from tests.engine.jobs.test_room_kpi import start as start_plan

    engine = room
    plan = start_plan(engine, "room_head", "target_plan")
    complete(engine, "room_head", plan, "draft", {"plan_year": 2027, **YEARLY})
    complete(engine, "group_head", plan, "approve", {"plan_decision": "reject", "plan_reject_reason": "集团收入偏低"})
    with engine.read() as session:
        draft = tasks.get_task(engine, session, actor(engine, "room_head"), open_task(engine, plan, "draft"))
    assert draft["data"]["plan_year"] == 2027 and draft["data"]["target_group_revenue"] == 3600000
    assert draft["history"] == []
    complete(engine, "room_head", plan, "draft", {"plan_year": 2027, **YEARLY, "target_group_revenue": 4800000})
    with engine.read() as session:
        approve = tasks.get_task(engine, session, actor(engine, "group_head"), open_task(engine, plan, "approve"))
    assert not {"plan_decision", "plan_reject_reason"} & set(approve["data"])
    [first] = approve["history"]
    assert first["completed_by"] == "group_head" and first["completed_by_name"] == "集团客户部经理"
    assert {v["key"]: v["text"] for v in first["values"]} == {"plan_decision": "驳回", "plan_reject_reason": "集团收入偏低"}
