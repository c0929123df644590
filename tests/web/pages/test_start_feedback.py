"""What the pages say after a start and after a completion that started another case (issue 17, item 12)."""

from __future__ import annotations

import re

from tests.support.business import deploy, instance, instances_of, open_task, start
from tests.support.pages import sign_in as _sign_in

BUSINESS = {"category": "business_change", "customer_phone": "13900139000", "description": "改套餐后计费异常"}


def _flash(page: str) -> str:
    match = re.search(r'data-testid="flash">(.*?)</p>', page, re.S)
    assert match, page
    return match.group(1)


def test_the_counter_clerk_lands_on_the_handling_of_the_customer_they_accepted(app, api):
    """000 「二是“首问负责制”,从迎宾到业务受理,严格执行“一台清”」: the clerk who accepted the customer
    handles the business, so the start opens their own handling step at once, and says what was
    started (「一台清」, the case's reference) with a link to the case."""
    deploy(api, "one_counter")
    client, csrf = _sign_in(app, "counter_staff")
    r = client.post("/start/one_counter", json={"data": BUSINESS}, headers={"X-CSRFToken": csrf})
    assert r.status_code == 201, r.get_json()
    [case] = instances_of(api, "one_counter")
    handle = open_task(api, case["id"], "handle")
    assert handle["assignee"] == "counter_staff"
    assert r.get_json()["redirect"] == f"/tasks/{handle['id']}"
    page = client.get(r.get_json()["redirect"]).get_data(as_text=True)
    flash = _flash(page)
    assert "流程已发起：一台清，编号 " + (case.get("reference") or case.get("business_key") or case["id"][:8]) in flash
    assert f'href="/instances/{case["id"]}"' in flash and "查看案件" in flash
    assert "one_counter" not in flash and "柜台办理" in page
    # a colleague of the same hall does not find it in a pool
    colleague, _ = _sign_in(app, "counter2")
    assert handle["id"] not in colleague.get("/tasks").get_data(as_text=True)


def test_a_start_on_an_english_page_names_the_process_in_english(app, api):
    """000 「严格执行“一台清”」: the same feedback in English on an English page."""
    deploy(api, "one_counter")
    client, csrf = _sign_in(app, "counter_staff")
    client.get("/lang/en")
    r = client.post("/start/one_counter", json={"data": BUSINESS}, headers={"X-CSRFToken": csrf})
    assert r.status_code == 201
    flash = _flash(client.get(r.get_json()["redirect"]).get_data(as_text=True))
    assert "Process started: One counter clears it, reference " in flash and "View the case" in flash
    assert "一台清" not in flash


def test_a_start_whose_first_step_is_a_pool_task_lands_on_the_tasklist_with_the_reference(app, api):
    """000 「三是落实业务记录制,对投诉客户、未受理完毕业务进行详细登记」: the registered complaint's first
    step belongs to the hall's counter staff (any of them may take it), so the start lands on the
    tasklist, naming 投诉处理 and the complaint's reference for the record."""
    deploy(api, "complaint_handling")
    client, csrf = _sign_in(app, "counter_staff")
    data = {"category": "standard", "complaint_type": "network", "customer_name": "李四",
            "contact_phone": "13900139000", "description": "网络信号差"}
    r = client.post("/start/complaint_handling", json={"data": data}, headers={"X-CSRFToken": csrf})
    assert r.status_code == 201 and r.get_json()["redirect"] == "/tasks"
    [case] = instances_of(api, "complaint_handling")
    flash = _flash(client.get("/tasks").get_data(as_text=True))
    assert "流程已发起：投诉处理，编号 " + (case.get("reference") or case.get("business_key") or case["id"][:8]) in flash
    assert f'href="/instances/{case["id"]}"' in flash


def test_a_technical_problem_at_the_counter_tells_the_clerk_which_complaint_was_opened(app, api):
    """000 「技术性业务,例如小区计费错误等限24小时解决,并当场回复客户」: the technical problem becomes a
    technical complaint; the clerk is told so, with the complaint's reference and a link, to answer
    the customer on the spot."""
    deploy(api, "complaint_handling", "one_counter")
    iid = start(api, "counter_staff", "one_counter", BUSINESS)["id"]
    handle = open_task(api, iid, "handle")
    client, csrf = _sign_in(app, "counter_staff")
    r = client.post(f"/tasks/{handle['id']}/complete", headers={"X-CSRFToken": csrf}, json={"data": {
        "outcome": "technical", "issue_detail": "疑似小区计费错误", "customer_name": "王五",
        "complaint_type": "billing_support"}})
    assert r.status_code == 200, r.get_json()
    [complaint] = instances_of(api, "complaint_handling")
    assert instance(api, complaint["id"])["data"]["linked_from"]["instance_id"] == iid
    [linked] = r.get_json()["linked"]
    assert linked["link"] == f"/instances/{complaint['id']}"
    page = client.get("/tasks").get_data(as_text=True)
    assert "任务已提交" in page
    assert "已自动发起关联流程：投诉处理，编号 " + (complaint["reference"] or complaint["id"][:8]) in page
    assert f'href="/instances/{complaint["id"]}"' in page
