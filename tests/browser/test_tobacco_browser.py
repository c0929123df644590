"""The tobacco side in a real browser (the demo database of `bpm init --demo`, which imports the
demo retailer facts and seeds an approved needs table for 新罗区好邻居便利店):

* the officer's supply start form offers 七匹狼 from the managed brand list;
* the head reviewing a supply request sees the retailer's record beside the form (address,
  visit service type, star rating, the months' orders and violations);
* the customer manager checks in at the shop, then sees the approved visit content with the
  back office's guidance, records the visit and checks out; the engine records the duration.

Screenshots go to test-artifacts/tobacco-*.png; any console error fails the test.
"""

from __future__ import annotations

import pytest

from tests.browser.conftest import shot, sign_in
from tests.browser.forms import api_headers, choose, settled, submit_task

pytestmark = pytest.mark.browser

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n"
SHOP = "350802100001"


def _post(page, base, headers, path, body=None, **kw):
    if body is not None:
        kw["data"] = body
    r = page.request.post(base + path, headers=headers, **kw)
    assert r.ok, (path, r.status, r.text())
    return r.json()


def _task_id(page, base, headers, instance_id, element_id) -> str:
    r = page.request.get(f"{base}/api/process-instances/{instance_id}", headers=headers)
    assert r.ok, r.text()
    return next(t["id"] for t in r.json()["open_tasks"] if t["element_id"] == element_id)


def test_brands_retailer_record_and_visit(server, browser_page):
    """000 「供货审核模块」「零售客户基本信息查询模块：为许可证号、经营地址、拜访服务类型、星级情况…订单以及
    违法违章情况记录」「客户经理在走访过程中进行到店确认时，拜访内容就会自动显示」「客户经理可以通过移动平台
    签到、签退，签到时间、拜访时长…」"""
    page, errors = browser_page
    base = server

    # ---- the brand list is data: 七匹狼 is offered on the start form
    sign_in(page, base, "enforcement_officer")
    page.goto(f"{base}/start/supply_approval")
    page.locator(".fjs-form").wait_for()
    choose(page, page.locator(".fjs-form-field-select").first, "七匹狼")
    settled(page, "(d.lines || [])[0] && d.lines[0].brand === 'qipilang'")
    shot(page, "tobacco-brands")

    # ---- a request for the demo shop; the head sees its record beside the review form
    officer = api_headers(page, base, "enforcement_officer")
    scan = _post(page, base, officer, "/api/documents", multipart={
        "file": {"name": "供货审批表.pdf", "mimeType": "application/pdf", "buffer": PDF}})["id"]
    inst = _post(page, base, officer, "/api/process-definitions/supply_approval/instances", {"data": {
        "licence_no": SHOP, "retailer_name": "新罗区好邻居便利店", "reason": "节日备货", "attachments": [scan],
        "lines": [{"brand": "qipilang", "specification": "软灰", "quantity": 20}]}})
    head = api_headers(page, base, "service_center_head")
    review = _task_id(page, base, head, inst["id"], "review")
    sign_in(page, base, "service_center_head")
    page.goto(f"{base}/tasks/{review}")
    panel = page.locator("[data-testid=retailer-record]")
    panel.wait_for()
    assert page.locator("[data-testid=retailer-address]").inner_text() == "龙岩市新罗区中山路18号"
    assert "5" in page.locator("[data-testid=retailer-rating]").inner_text()
    months = page.locator("[data-testid=retailer-months]").inner_text()
    assert "2026-11" in months and "61000" in months
    assert "现代零售终端客户" in panel.inner_text()
    shot(page, "tobacco-supply-review")

    # ---- a visit: check in (by the API), then the approved content shows; check out in the page
    manager = api_headers(page, base, "tobacco_customer_manager")
    visit = _post(page, base, manager, "/api/process-definitions/retailer_visit/instances",
                  {"data": {"licence_no": SHOP, "visit_purpose": "经营指导"}})
    check_in = _task_id(page, base, manager, visit["id"], "check_in")
    _post(page, base, manager, f"/api/tasks/{check_in}/complete", {"data": {"arrival": "arrived"}})
    check_out = _task_id(page, base, manager, visit["id"], "check_out")
    sign_in(page, base, "tobacco_customer_manager")
    page.goto(f"{base}/tasks/{check_out}")
    page.locator(".fjs-form").wait_for()
    plan = page.locator("[data-testid=visit-plan]")
    assert "POS扫码准确率偏低" in page.locator("[data-testid=visit-plan-guidance]").inner_text()
    assert "终端陈列指导" in page.locator("[data-testid=visit-plan-needs]").inner_text()
    assert plan.is_visible()
    page.get_by_label("终端陈列指导").check()
    page.get_by_label("拜访记录").fill("调整了柜台陈列")
    page.get_by_label("拜访记录").blur()
    settled(page, "(d.services_done || []).includes('display') && d.visit_notes === '调整了柜台陈列'")
    shot(page, "tobacco-visit")
    submit_task(page, base, "tobacco-visit")
    r = page.request.get(f"{base}/api/process-instances/{visit['id']}", headers=manager)
    data = r.json()["data"]
    assert r.json()["status"] == "completed"
    assert data["checked_in_at"] and data["checked_out_at"] and data["duration_minutes"] is not None
    assert not errors
