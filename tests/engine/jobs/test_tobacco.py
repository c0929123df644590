"""The tobacco branch beyond supply approval (000 精益营销平台): the brand list as data, the
retailer record beside the supply review, anomaly alerts, the needs review and the visit with
check-in / check-out and its monthly score.

Runs on SQLite and PostgreSQL (``engine`` / ``api`` fixtures). The seeded users include one per
role in hall-1 (``tobacco_customer_manager``, ``marketing_back_office``, ``service_center_head``
...); a second tobacco customer manager ``tcm2`` and a back-office user of hall-2 are added here.
The demo retailer file (engine/jobs/data/retailers.json) puts 350802100001-003 in hall-1 with
``tobacco_customer_manager`` as their manager and 350802100004 in hall-2 with none.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from engine.clock import clock
from engine.forms.lists import PACKAGED as PACKAGED_LISTS
from engine.identity import auth as identity
from engine.identity.actor import SYSTEM
from engine.jobs.facts import FactsImportError, import_facts
from engine.jobs.periods import Period
from engine.jobs.tobacco_jobs import compute_retailer_anomalies, compute_tobacco_visit_score
from engine.store.models import AuditEvent, ProcessInstance, User
from tests.engine.jobs.conftest import results
from tests.support.business import deploy, errors_of, open_task, start, try_complete, try_start, upload

SHOP = "350802100001"  # 新罗区好邻居便利店, a modern retail terminal of hall-1
VILLAGE = "350802100002"  # 西陂镇老林食杂店, an ordinary customer of hall-1
T0 = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)  # Monday 09:00 in Shanghai
BRANDS = PACKAGED_LISTS / "brands.json"


@pytest.fixture
def tobacco(engine, api):
    """The tobacco processes deployed; ``tcm2`` (tobacco customer manager, hall-1) and
    ``office_hall2`` (back office, hall-2) added with API tokens."""
    with engine.uow(SYSTEM) as uow:
        known = set(uow.session.execute(select(User.username)).scalars())  # PostgreSQL keeps users between tests
        if "tcm2" not in known:
            identity.add_user(uow.session, "tcm2", "demo", ["tobacco_customer_manager"], org_unit="hall-1",
                              display_name="客户经理二")
        if "office_hall2" not in known:
            identity.add_user(uow.session, "office_hall2", "demo", ["marketing_back_office"], org_unit="hall-2")
        for username in ("tcm2", "office_hall2"):
            api.tokens[username] = identity.issue_token(uow.session, username, "demo", 3600 * 24 * 3650)[0]
    deploy(api, "supply_approval", "retailer_anomaly", "retailer_needs_review", "retailer_visit")
    yield api
    clock.reset()


def import_csv(engine, rows: list[tuple]) -> None:
    text = "period,subject,metric,value\n" + "".join(",".join(str(c) for c in row) + "\n" for row in rows)
    with engine.uow(SYSTEM) as uow:
        import_facts(uow, "retailers.csv", text.encode("utf-8"))


def task_of(api, instance_id: str, element: str, user: str) -> dict:
    """The task as ``user`` reads it (``GET /api/tasks/<id>``: form, data with the extensions' additions)."""
    task = open_task(api, instance_id, element)
    r = api.get(f"/api/tasks/{task['id']}", user)
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def complete(api, user: str, instance_id: str, element: str, data: dict) -> None:
    task = open_task(api, instance_id, element)
    r = try_complete(api, user, task["id"], data)
    assert r.status_code == 200, r.get_json()


# --------------------------------------------------------------------------- brands


def brand_values(form: dict) -> list[str]:
    lines = next(c for c in form["components"] if c.get("path") == "lines")
    brand = next(c for c in lines["components"] if c.get("key") == "brand")
    return [v["value"] for v in brand["values"]]


def test_brand_list_is_data_and_includes_qipilang(tobacco, tmp_path, monkeypatch):
    """000 供货审核模块 「供货审批表的审核，由专卖人员上传至"精益营销"平台」: the form's brands come
    from the managed list (七匹狼 included), a brand added to the list is offered and accepted at
    once without a new form version, and a brand not in the list is refused. The form itself
    stays as deployed (its select names the list); ``?lists=current`` fills it in as the pages do."""
    deployed = tobacco.get("/api/forms/supply_request", "enforcement_officer").get_json()["content"]
    assert brand_values(deployed) == []
    form = tobacco.get("/api/forms/supply_request?lists=current", "enforcement_officer").get_json()["content"]
    assert "qipilang" in brand_values(form)
    labels = {v["value"]: v["label"] for v in json.loads(BRANDS.read_text(encoding="utf-8"))["values"]}
    assert labels["qipilang"] == "七匹狼"
    request = {"licence_no": SHOP, "retailer_name": "新罗区好邻居便利店", "reason": "节日备货",
               "lines": [{"brand": "qipilang", "specification": "软灰", "quantity": 20}],
               "attachments": [upload(tobacco, "enforcement_officer")]}
    start(tobacco, "enforcement_officer", "supply_approval", request)
    bad = {**request, "lines": [{"brand": "new_brand", "specification": "硬", "quantity": 1}],
           "attachments": [upload(tobacco, "enforcement_officer")]}
    assert "lines" in errors_of(try_start(tobacco, "enforcement_officer", "supply_approval", bad))
    # the list is data: a file in BPM_LISTS_DIR replaces the packaged one, read at the next request
    custom = json.loads(BRANDS.read_text(encoding="utf-8"))
    custom["values"].append({"label": "新品牌", "value": "new_brand"})
    (tmp_path / "brands.json").write_text(json.dumps(custom, ensure_ascii=False), encoding="utf-8")
    monkeypatch.setenv("BPM_LISTS_DIR", str(tmp_path))
    form = tobacco.get("/api/forms/supply_request?lists=current", "enforcement_officer").get_json()["content"]
    assert "new_brand" in brand_values(form)
    start(tobacco, "enforcement_officer", "supply_approval", {**bad, "attachments": [upload(tobacco, "enforcement_officer")]})


# --------------------------------------------------------------------------- retailer record


def test_supply_reviewer_sees_the_retailer_record(tobacco, engine):
    """000 零售客户基本信息查询模块 「为许可证号、经营地址、拜访服务类型、星级情况及之前的拜访情况记录、
    订单以及违法违章情况记录」 and 供货审核模块 「由客服中心负责人直接审核」: the head reviewing a supply
    request reads the retailer's record beside it: licence, address, visit service type, star
    rating, the latest months' orders and violations; the officer cannot send it back as data."""
    import_csv(engine, [
        ("2026-09", SHOP, "retailer_rating", 4), ("2026-09", SHOP, "retailer_order_amount", 52000),
        ("2026-10", SHOP, "retailer_rating", 5), ("2026-10", SHOP, "retailer_order_amount", 61000),
        ("2026-10", SHOP, "retailer_order_count", 4), ("2026-10", SHOP, "retailer_violations", 1),
    ])
    inst = start(tobacco, "enforcement_officer", "supply_approval", {
        "licence_no": SHOP, "retailer_name": "新罗区好邻居便利店", "reason": "节日备货",
        "lines": [{"brand": "zhonghua", "specification": "硬", "quantity": 10}],
        "attachments": [upload(tobacco, "enforcement_officer")]})
    task = task_of(tobacco, inst["id"], "review", "service_center_head")
    record = task["data"]["retailer_record"]
    assert record["registered"] is True
    assert record["address"] == "龙岩市新罗区中山路18号"
    assert record["customer_type_label"] == "现代零售终端客户"
    assert record["rating"] == 5
    assert [m["period"] for m in record["months"]] == ["2026-10", "2026-09"]
    assert record["months"][0]["retailer_order_amount"] == 61000
    assert record["violations_total"] == 1
    # the record is read, never stored: it is not in the instance's data
    with engine.read() as session:
        assert "retailer_record" not in session.get(ProcessInstance, inst["id"]).data
    # a licence in no retailer file is flagged as unregistered
    other = start(tobacco, "enforcement_officer", "supply_approval", {
        "licence_no": "350802999999", "retailer_name": "未登记", "reason": "试",
        "lines": [{"brand": "zhonghua", "specification": "硬", "quantity": 1}],
        "attachments": [upload(tobacco, "enforcement_officer")]})
    assert task_of(tobacco, other["id"], "review", "service_center_head")["data"]["retailer_record"]["registered"] is False


def test_retailer_facts_need_a_licence_number(engine, api):
    """000 零售客户基本信息查询模块 「为许可证号…」: retailer facts are keyed by the 12-digit licence
    number; any other subject is refused with the line named, and nothing is imported."""
    with pytest.raises(FactsImportError) as exc:
        import_csv(engine, [("2026-10", SHOP, "pos_scan_rate", 95), ("2026-10", "hall-1", "pos_scan_rate", 80)])
    assert [e for e in exc.value.errors if e.startswith("line 3: subject:")], exc.value.errors


# --------------------------------------------------------------------------- anomaly alerts


def test_anomaly_alert_goes_to_the_retailers_manager_with_the_back_office_instruction(tobacco, engine):
    """000 预警功能模块 「对POS扫描情况、网上订货情况、网上配货情况、后台结算等情况进行监控，发现异常情况
    系统会自动排查并且发出预警，后台人员可以通过预警对相应辖区的客户经理发出指令」: the nightly job raises
    one alert per anomaly in the retailer's unit; the back office of that unit (not another
    unit's) instructs; the task then belongs to the retailer's own customer manager, who sees
    the instruction; re-running the night raises nothing twice."""
    import_csv(engine, [
        ("2026-11", SHOP, "pos_scan_rate", 82), ("2026-11", SHOP, "settlement_failures", 0),
        ("2026-11", VILLAGE, "pos_scan_rate", 97), ("2026-11", VILLAGE, "online_order_rate", 60),
        ("2026-11", "350802100004", "distribution_exceptions", 2),
        ("2026-11", "350802999999", "settlement_failures", 3),
    ])
    with engine.uow(SYSTEM) as uow:
        compute_retailer_anomalies(uow, Period.parse("2026-11-05"))
    rows = results(engine, "retailer_anomalies", "2026-11-05")
    assert {(k[1], r["kind"], r["alert"]) for k, r in rows.items()} == {
        (SHOP, "pos_scan", "raised"), (VILLAGE, "online_order", "raised"),
        ("350802100004", "distribution", "raised"), ("350802999999", "settlement", "unrouted")}
    alert = rows[("retailer", SHOP, "hall-1")]["instance_id"]
    task = task_of(tobacco, alert, "instruct", "marketing_back_office")
    assert task["data"]["kind_label"] == "POS扫码异常" and task["data"]["value"] == 82
    assert task["data"]["retailer_record"]["name"] == "新罗区好邻居便利店"
    assert try_complete(tobacco, "office_hall2", task["id"], {"instruction": "x"}).status_code == 403
    complete(tobacco, "marketing_back_office", alert, "instruct", {"instruction": "本周内到店核查扫码枪并培训店员"})
    handle = task_of(tobacco, alert, "handle", "tobacco_customer_manager")
    assert handle["assignee"] == "tobacco_customer_manager"
    assert handle["data"]["instruction"] == "本周内到店核查扫码枪并培训店员"
    assert try_complete(tobacco, "tcm2", handle["id"], {"handling_outcome": "resolved",
                                                        "handling_notes": "x"}).status_code in (403, 409)
    complete(tobacco, "tobacco_customer_manager", alert, "handle",
             {"handling_outcome": "resolved", "handling_notes": "扫码枪故障已更换，店员已培训"})
    # the next night (and a re-run of any day of the month) raises nothing twice
    with engine.uow(SYSTEM) as uow:
        compute_retailer_anomalies(uow, Period.parse("2026-11-06"))
        compute_retailer_anomalies(uow, Period.parse("2026-11"))
    rows = results(engine, "retailer_anomalies", "2026-11-06")
    assert rows[("retailer", SHOP, "hall-1")]["alert"] == "already_raised"
    with engine.read() as session:
        keys = session.execute(select(ProcessInstance.business_key)
                               .where(ProcessInstance.process_key == "retailer_anomaly")).scalars().all()
        assert sorted(keys) == sorted(set(keys)) and len(keys) == 3
        assert session.execute(select(AuditEvent.seq).where(AuditEvent.action == "retailer_anomaly_unrouted")).first()


# --------------------------------------------------------------------------- needs review and visit


def test_needs_review_then_visit_with_check_in_and_check_out(tobacco, engine):
    """000 客户分析模块 「系统自动根据客户类型制作服务需求表，客户需求表制定成功后，由后台人员进行审核，
    后台人员可以根据服务内容补充个性化指导，审核通过后拜访内容发至客户经理移动平台，客户经理在走访过程中
    进行到店确认时，拜访内容就会自动显示」 and 客户经理走访路线模块 「客户经理可以通过移动平台签到、签退，
    签到时间、拜访时长…」: the needs table is preset by the retailer's type, the back office sends it
    back or approves it with guidance, and the approved content shows once the manager has checked
    in; the engine records check-in, check-out and the duration."""
    clock.set(T0)
    plan = start(tobacco, "tobacco_customer_manager", "retailer_needs_review",
                 {"licence_no": SHOP, "planned_date": "2026-11-03", "plan_notes": "重点讲解存销比"})
    draft = task_of(tobacco, plan["id"], "draft", "tobacco_customer_manager")
    assert draft["data"]["retailer_type"] == "modern_terminal"
    assert "business_guide" in draft["data"]["needs"] and "pos_scan" in draft["data"]["needs"]
    assert try_complete(tobacco, "tcm2", draft["id"], {}).status_code == 403  # another manager's plan
    complete(tobacco, "tobacco_customer_manager", plan["id"], "draft",
             {"retailer_type": "modern_terminal", "needs": ["business_guide", "inventory_ratio"], "plan_notes": "重点讲解存销比"})
    review = task_of(tobacco, plan["id"], "review", "marketing_back_office")
    assert review["data"]["needs_text"] == "经营指导书讲解、存销比与库存周转指导"  # the drafted table, in words
    assert try_complete(tobacco, "office_hall2", review["id"], {"review_decision": "approve"}).status_code == 403
    complete(tobacco, "marketing_back_office", plan["id"], "review",
             {"review_decision": "reject", "reject_reason": "请补充陈列指导"})
    complete(tobacco, "tobacco_customer_manager", plan["id"], "draft",
             {"retailer_type": "modern_terminal", "needs": ["business_guide", "inventory_ratio", "display"]})
    complete(tobacco, "marketing_back_office", plan["id"], "review",
             {"review_decision": "approve", "guidance": "参考东城烟酒行的陈列方案"})
    visit = start(tobacco, "tobacco_customer_manager", "retailer_visit", {"licence_no": SHOP, "visit_purpose": "经营指导"})
    check_in = task_of(tobacco, visit["id"], "check_in", "tobacco_customer_manager")
    assert check_in["data"]["retailer_record"]["licence_no"] == SHOP
    assert "visit_plan" not in check_in["data"]  # the content shows at the arrival confirmation
    clock.set(T0 + timedelta(minutes=5))
    complete(tobacco, "tobacco_customer_manager", visit["id"], "check_in", {"arrival": "arrived"})
    at_shop = task_of(tobacco, visit["id"], "check_out", "tobacco_customer_manager")
    shown = at_shop["data"]["visit_plan"]
    assert shown["instance_id"] == plan["id"]
    assert shown["needs_labels"] == ["经营指导书讲解", "存销比与库存周转指导", "终端陈列指导"]
    assert shown["guidance"] == "参考东城烟酒行的陈列方案"
    clock.set(T0 + timedelta(minutes=32))
    bad = try_complete(tobacco, "tobacco_customer_manager", at_shop["id"],
                       {"services_done": ["display"], "visit_notes": "x", "duration_minutes": 300})
    assert "duration_minutes" in errors_of(bad)  # the duration is the engine's, never typed in
    complete(tobacco, "tobacco_customer_manager", visit["id"], "check_out",
             {"services_done": ["business_guide", "display"], "visit_notes": "讲解存销比，调整陈列"})
    with engine.read() as session:
        data = session.get(ProcessInstance, visit["id"]).data
    assert data["checked_in_at"].startswith("2026-11-02T01:05")
    assert data["checked_out_at"].startswith("2026-11-02T01:32")
    assert data["duration_minutes"] == 27.0
    assert data["visit_plan_id"] == plan["id"]
    # the visit is a line of the customer-visit register (台账), which the back office of the unit reads
    listed = tobacco.get("/api/registers/retailer_visit", "marketing_back_office").get_json()["items"]
    assert [i["values"]["licence_no"] for i in listed] == [SHOP]
    assert listed[0]["values"]["services_done"] == ["经营指导书讲解", "终端陈列指导"]  # the managed list's labels


def run_visit(api, user: str, licence: str, at: datetime, minutes: float) -> str:
    clock.set(at)
    visit = start(api, user, "retailer_visit", {"licence_no": licence})
    complete(api, user, visit["id"], "check_in", {"arrival": "arrived"})
    clock.set(at + timedelta(minutes=minutes))
    complete(api, user, visit["id"], "check_out", {"services_done": ["policy"], "visit_notes": "走访"})
    return visit["id"]


def test_visit_duration_feeds_the_monthly_score(tobacco, engine):
    """000 客户经理走访路线模块 「签到时间、拜访时长、走访客户数等数据同步上传至"精益营销"管理平台，可用于
    客户经理的月度绩效考核」: the month's visits per manager with their minutes, the retailers visited
    and a score from the visits that lasted long enough (5 minutes by default: a 2-minute stop does
    not count); a manager without visits scores 0; another month's visit is not counted."""
    run_visit(tobacco, "tobacco_customer_manager", SHOP, T0, 30)
    run_visit(tobacco, "tobacco_customer_manager", VILLAGE, T0 + timedelta(hours=2), 12)
    run_visit(tobacco, "tobacco_customer_manager", VILLAGE, T0 + timedelta(days=1), 2)
    run_visit(tobacco, "tobacco_customer_manager", SHOP, datetime(2026, 12, 1, 2, 0, tzinfo=UTC), 20)
    with engine.uow(SYSTEM) as uow:
        compute_tobacco_visit_score(uow, Period.parse("2026-11"))
    rows = results(engine, "tobacco_visit_score", "2026-11")
    mine = rows[("user", "tobacco_customer_manager", "hall-1")]
    assert (mine["visits"], mine["counted_visits"], mine["short_visits"]) == (3, 2, 1)
    assert mine["retailers_visited"] == 2
    assert mine["total_minutes"] == 44.0
    assert mine["score"] == 4.0 and mine["rank"] == 1
    other = rows[("user", "tcm2", "hall-1")]
    assert other["visits"] == 0 and other["score"] == 0 and other["rank"] == 2


def test_a_form_naming_an_unknown_list_is_refused_at_deploy(api):
    """000 供货审核模块 (the brand list is data): a select bound to a managed list that does not exist
    is refused at deploy with 422 naming the field, so a form never shows an empty brand list."""
    form = {"id": "brand_probe", "type": "default", "schemaVersion": 16, "components": [
        {"id": "Field_brand", "type": "select", "key": "brand", "label": "品牌", "values": [],
         "properties": {"optionsList": "no_such_list"}}]}
    r = api.deploy_form(form)
    assert r.status_code == 422
    assert "no_such_list" in json.dumps(r.get_json(), ensure_ascii=False)
    form["components"][0]["properties"]["optionsList"] = "brands"
    assert api.deploy_form(form).status_code in (200, 201)
