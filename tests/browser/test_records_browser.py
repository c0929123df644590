"""Records pages in a real browser: the auditor opens the instance page of a sealed supply
approval (diagram with highlighted elements, a valid seal badge in the timeline) and the
audit log. The approval is created through the running server's API: the officer submits
with an attachment, the head approves and seals with the demo PIN, the clerk confirms.

Uses the server and browser fixtures of the tasklist browser test (own server per module).
Screenshots go to test-artifacts/records-*.png; any console error fails the test.
"""

from __future__ import annotations

import time

import pytest

from tests.browser.conftest import shot as _shot
from tests.browser.conftest import sign_in

pytestmark = pytest.mark.browser

PIN = "123456"
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n"


class Client:
    def __init__(self, request, base: str, username: str) -> None:
        self.request, self.base = request, base
        r = request.post(f"{base}/api/auth/token", data={"username": username, "password": "demo"})
        assert r.ok, r.text()
        self.headers = {"Authorization": f"Bearer {r.json()['token']}"}

    def get(self, path: str) -> dict:
        r = self.request.get(self.base + path, headers=self.headers)
        assert r.ok, r.text()
        return r.json()

    def post(self, path: str, body: dict | None = None, **kw) -> dict:
        if body is not None:
            kw["data"] = body
        r = self.request.post(self.base + path, headers=self.headers, **kw)
        assert r.ok, (path, r.status, r.text())
        return r.json()

    def work(self, instance_id: str, element_id: str, data: dict) -> dict:
        deadline = time.monotonic() + 30  # a step after an external task waits for the served demo worker
        while True:
            inst = self.get(f"/api/process-instances/{instance_id}")
            task = next((t for t in inst["open_tasks"] if t["element_id"] == element_id), None)
            if task is not None or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert task is not None, (element_id, inst["open_tasks"])
        self.post(f"/api/tasks/{task['id']}/claim")
        return self.post(f"/api/tasks/{task['id']}/complete", {"data": data})["instance"]


def _sealed_supply(request, base: str) -> str:
    officer = Client(request, base, "enforcement_officer")
    scan = officer.post("/api/documents", multipart={
        "file": {"name": "供货审批表.pdf", "mimeType": "application/pdf", "buffer": PDF}})["id"]
    inst = officer.post("/api/process-definitions/supply_approval/instances", {
        "business_key": "GH-2026-888",
        "data": {"licence_no": "420100123456", "retailer_name": "城关便民烟酒店",
                 "lines": [{"brand": "huanghelou", "specification": "硬1916", "quantity": 5}],
                 "reason": "春节前备货", "attachments": [scan]}})
    head = Client(request, base, "service_center_head")
    head.work(inst["id"], "review", {"decision": "approve", "review_comment": "同意供货"})
    sealed = head.work(inst["id"], "seal", {"seal_confirm": True, "seal_pin": PIN})
    assert sealed["data"]["sealed_document"]
    Client(request, base, "info_clerk").work(inst["id"], "maintain", {"system_ref": "JYXT-888"})
    return inst["id"]


def test_auditor_sees_diagram_and_valid_seal_badge(server, browser_page):
    page, errors = browser_page
    iid = _sealed_supply(page.request, server)

    sign_in(page, server, "auditor")

    # instance page: the diagram with completed and active elements marked
    page.goto(f"{server}/instances/{iid}")
    page.locator("#diagram[data-ready=true]").wait_for()
    assert page.locator(".djs-element.done[data-element-id=seal]").count() == 1
    assert page.locator(".djs-element.done[data-element-id=maintain]").count() == 1
    assert page.locator(".djs-element.active[data-element-id=supply]").count() == 1
    assert page.locator("[data-testid=legend]").is_visible()
    # the timeline: Chinese labels and valid seal badges (sealed and countersigned)
    timeline = page.locator("[data-testid=timeline]")
    assert "加盖印章" in timeline.inner_text() and "确认签名" in timeline.inner_text()
    badges = page.locator("[data-testid=seal-badge]")
    assert badges.count() == 2
    for i in range(badges.count()):
        assert badges.nth(i).get_attribute("data-valid") == "true"
        assert "有效" in badges.nth(i).inner_text()
    assert page.locator("[data-testid=documents] li").count() >= 3  # attachment, sealed, countersigned
    # keyboard: the zoom buttons are reachable and work
    page.get_by_role("button", name="放大").focus()
    page.keyboard.press("Enter")
    _shot(page, "records-01-instance")
    page.set_viewport_size({"width": 375, "height": 800})
    page.locator("[data-zoom=fit]").click()
    assert page.evaluate("document.documentElement.scrollWidth") <= 376
    _shot(page, "records-02-instance-phone")
    page.set_viewport_size({"width": 1280, "height": 900})

    # my instances (the auditor reads all) and the audit log with the chain status
    page.get_by_role("link", name="我的流程").click()
    page.wait_for_url(f"{server}/instances")
    assert page.locator(f"li[data-instance-id='{iid}']").count() == 1
    _shot(page, "records-03-instances")
    page.get_by_role("link", name="审计", exact=True).click()
    page.wait_for_url(f"{server}/audit")
    assert "审计链完整" in page.locator("[data-testid=chain-status]").inner_text()
    page.locator("#f-action").select_option("seal_applied")
    page.locator("#f-instance").fill(iid)
    page.get_by_role("button", name="查询").click()
    page.wait_for_url(f"{server}/audit?**")
    assert page.locator("[data-testid=events] tbody tr").count() == 1
    assert "加盖印章" in page.locator("[data-testid=events]").inner_text()
    _shot(page, "records-04-audit")
    page.set_viewport_size({"width": 375, "height": 800})
    assert page.evaluate("document.documentElement.scrollWidth") <= 376
    _shot(page, "records-05-audit-phone")
    assert not errors, errors
