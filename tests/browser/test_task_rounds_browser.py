"""A second review in a real browser (Playwright + Debian chromium against `bpm serve` with
`bpm init --demo`): after 驳回 and a resubmission the review opens with no decision chosen and
no reason filled in, the first round shows read-only above the form (who, when in China time,
驳回 and its reason), and the head decides anew. The same for the group agreement's approval
after a rework. The earlier rounds are driven through the API; the second round is the page's.
"""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import shot as _shot
from tests.browser.conftest import sign_in
from tests.browser.forms import api_headers as _api
from tests.browser.forms import submit_task as _submit

pytestmark = pytest.mark.browser

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n"
CHINA_TIME = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}")


def _upload(page, base: str, headers: dict, name: str) -> str:
    r = page.request.post(f"{base}/api/documents", headers=headers,
                          multipart={"file": {"name": name, "mimeType": "application/pdf", "buffer": PDF}})
    assert r.status == 201, r.text()
    return r.json()["id"]


def _work(page, base: str, user: str, instance_id: str, element: str, data: dict) -> None:
    """``user`` claims and completes the instance's open ``element`` task through the API."""
    headers = _api(page, base, user)
    inst = page.request.get(f"{base}/api/process-instances/{instance_id}", headers=_api(page, base, "auditor")).json()
    [task] = [t for t in inst["open_tasks"] if t["element_id"] == element]
    assert page.request.post(f"{base}/api/tasks/{task['id']}/claim", headers=headers).ok
    r = page.request.post(f"{base}/api/tasks/{task['id']}/complete", headers=headers, data={"data": data})
    assert r.ok, r.text()


def _open(page, base: str, instance_id: str, element: str) -> str:
    auditor = _api(page, base, "auditor")
    inst = page.request.get(f"{base}/api/process-instances/{instance_id}", headers=auditor).json()
    [task] = [t for t in inst["open_tasks"] if t["element_id"] == element]
    page.goto(f"{base}/tasks/{task['id']}")
    page.locator(".fjs-form").wait_for()
    return task["id"]


def _nothing_chosen(page) -> bool:
    return page.evaluate("() => [...document.querySelectorAll('#form input[type=radio]')].every(i => !i.checked)")


def test_second_supply_review_opens_empty_with_the_first_round_above(server, bpm_server, browser_page):
    """000 供货审核模块: 「由客服中心负责人直接审核、电子公章盖章以示生效」: each submission is
    reviewed anew; the earlier 驳回 is history, not the second review's answer."""
    page, errors = browser_page
    base = server
    officer = _api(page, base, "enforcement_officer")
    doc = _upload(page, base, officer, "供货审批表.pdf")
    r = page.request.post(f"{base}/api/process-definitions/supply_approval/instances", headers=officer, data={
        "data": {"licence_no": "420100123456", "retailer_name": "城关便民烟酒店", "reason": "春节前备货",
                 "attachments": [doc], "lines": [{"brand": "huanghelou", "specification": "硬1916", "quantity": 5}]}})
    assert r.status == 201, r.text()
    iid = r.json()["id"]
    _work(page, base, "service_center_head", iid, "review", {"decision": "reject", "reject_reason": "数量超出月度限量"})
    _work(page, base, "enforcement_officer", iid, "revise",
          {"revise_action": "resubmit", "reason": "按限量调整",
           "lines": [{"brand": "huanghelou", "specification": "硬1916", "quantity": 3}]})

    sign_in(page, base, "service_center_head")
    _open(page, base, iid, "review")
    rounds = page.locator("[data-testid=earlier-rounds]")
    assert rounds.is_visible()
    text = rounds.inner_text()
    assert "往轮办理记录" in text and "第1轮" in text and "驳回" in text and "数量超出月度限量" in text
    assert CHINA_TIME.search(rounds.locator("[data-testid=round-at]").inner_text())
    # the history is above the form, and the form itself starts empty
    above = page.evaluate("""() => document.querySelector('[data-testid=earlier-rounds]')
        .compareDocumentPosition(document.getElementById('form')) & Node.DOCUMENT_POSITION_FOLLOWING""")
    assert above
    assert _nothing_chosen(page)
    assert page.locator("#form textarea").evaluate_all("els => els.every(e => e.value === '')")
    assert "数量超出月度限量" not in page.locator("#form").inner_text()
    assert "按限量调整" in page.locator("#form").inner_text()  # the revised application is shown
    _shot(page, "rounds-01-second-review")
    # one click on 提交 rejects nothing: a decision is required
    page.locator("#form-submit").click()
    page.locator("#form-errors").wait_for(state="visible")
    assert "审核结论" in page.locator("#form-errors").inner_text()
    page.locator(".fjs-form-field-radio label", has_text="通过").click()
    _submit(page, base, "rounds-02-approved", bpm_server.var / "serve.log", errors)
    inst = page.request.get(f"{base}/api/process-instances/{iid}", headers=_api(page, base, "auditor")).json()
    assert [t["element_id"] for t in inst["open_tasks"]] == ["seal"] and inst["data"]["decision"] == "approve"
    assert not errors, errors


def test_second_agreement_approval_opens_empty_with_the_first_round_above(server, bpm_server, browser_page):
    """001 集团业务: 「在用户提交客户资料单后3分钟内完成业务受理」, then the approval: after 驳回 and a
    rework the second approval starts without a decision or reason; the first is history."""
    page, errors = browser_page
    base = server
    manager = _api(page, base, "customer_manager")
    doc = _upload(page, base, manager, "营业执照及经办人身份证.pdf")
    r = page.request.post(f"{base}/api/process-definitions/group_agreement/instances", headers=manager, data={
        "data": {"group_name": "城关第一中学", "agreement_no": "JT-2026-0099", "tariff_plan": "集团V网 58元套餐",
                 "term_start": "2026-01-01", "term_end": "2026-06-30", "customer_id_copy": [doc]}})
    assert r.status == 201, r.text()
    iid = r.json()["id"]
    _work(page, base, "customer_manager", iid, "accept", {"documents_complete": "yes", "id_copy_checked": "yes"})
    _work(page, base, "key_account_manager", iid, "approve", {"approval": "reject", "approval_reason": "资费低于集团底线"})
    _work(page, base, "customer_manager", iid, "rework",
          {"rework_action": "resubmit", "tariff_plan": "集团V网 88元套餐", "term_start": "2026-02-01",
           "term_end": "2026-07-31"})

    sign_in(page, base, "key_account_manager")
    _open(page, base, iid, "approve")
    text = page.locator("[data-testid=earlier-rounds]").inner_text()
    assert "第1轮" in text and "驳回" in text and "资费低于集团底线" in text
    assert _nothing_chosen(page)
    assert "资费低于集团底线" not in page.locator("#form").inner_text()
    _shot(page, "rounds-03-second-approval")
    page.locator(".fjs-form-field-radio label", has_text="通过").click()
    _submit(page, base, "rounds-04-approved", bpm_server.var / "serve.log", errors)
    inst = page.request.get(f"{base}/api/process-instances/{iid}", headers=_api(page, base, "auditor")).json()
    assert [t["element_id"] for t in inst["open_tasks"]] == ["sign"]
    assert not errors, errors
