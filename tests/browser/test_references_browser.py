"""Case references in a real browser: two supply approvals and two group agreements are started
through the running server's API; the lists show each case's reference (GH-…, XY-…) with its
retailer or group customer, and a user finds one case by its reference and by a name, on a desktop
and on a phone. The task list finds the head's review of one shop; its task page names the case.

Screenshots go to test-artifacts/references-*.png; any console error fails the test.
"""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import shot, sign_in
from tests.browser.test_records_browser import PDF, Client

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}


def _supply(officer: Client, retailer: str, licence: str) -> dict:
    scan = officer.post("/api/documents", multipart={
        "file": {"name": "供货审批表.pdf", "mimeType": "application/pdf", "buffer": PDF}})["id"]
    return officer.post("/api/process-definitions/supply_approval/instances", {
        "data": {"licence_no": licence, "retailer_name": retailer,
                 "lines": [{"brand": "huanghelou", "specification": "硬1916", "quantity": 5}],
                 "reason": "节前备货", "attachments": [scan]}})


def _agreement(manager: Client, group: str, number: str) -> dict:
    copy = manager.post("/api/documents", multipart={
        "file": {"name": "营业执照.pdf", "mimeType": "application/pdf", "buffer": PDF}})["id"]
    return manager.post("/api/process-definitions/group_agreement/instances", {
        "data": {"group_name": group, "agreement_no": number, "tariff_plan": "集团V网 58元套餐",
                 "term_start": "2026-01-01", "term_end": "2026-12-31", "customer_id_copy": [copy]}})


def _search(page, text: str) -> None:
    box = page.get_by_test_id("case-search")
    box.fill(text)
    box.press("Enter")
    page.wait_for_load_state("load")


def _rows(page) -> list[str]:
    return page.locator("[data-testid=instances] li.task a.task-name").all_inner_texts()


def test_a_supply_and_an_agreement_are_found_by_reference_and_by_name(server, browser_page):
    page, errors = browser_page
    officer = Client(page.request, server, "enforcement_officer")
    west, east = _supply(officer, "西街烟酒行", "420100900001"), _supply(officer, "东门便利店", "420100900002")
    manager = Client(page.request, server, "customer_manager")
    school, hospital = (_agreement(manager, "城关第一中学", "JT-2026-0901"),
                        _agreement(manager, "青山湖水务公司", "JT-2026-0902"))
    for case, prefix in ((west, "GH"), (east, "GH"), (school, "XY"), (hospital, "XY")):
        assert re.fullmatch(rf"{prefix}-20\d\d-\d{{6}}", case["reference"]), case["reference"]
    assert west["reference"] != east["reference"] and school["reference"] != hospital["reference"]

    # the officer's cases: each row names its reference and its retailer
    sign_in(page, server, "enforcement_officer")
    page.set_viewport_size(DESKTOP)
    page.goto(f"{server}/instances")
    listed = page.locator("[data-testid=instances]")
    assert east["reference"] in _rows(page) and west["reference"] in _rows(page)
    east_row = listed.locator(f"li[data-instance-id='{east['id']}']")
    assert "东门便利店" in east_row.inner_text() and "零售户" in east_row.inner_text()
    _search(page, east["reference"])
    assert _rows(page) == [east["reference"]]
    assert page.get_by_test_id("case-search").input_value() == east["reference"]
    assert "共 1 条" in page.get_by_test_id("pager").first.inner_text()
    shot(page, "references-cases-by-reference-1366")
    page.set_viewport_size(PHONE)
    shot(page, "references-cases-by-reference-390")

    # the customer manager finds an agreement by the group's name, on a phone
    sign_in(page, server, "customer_manager")
    page.set_viewport_size(PHONE)
    page.goto(f"{server}/instances")
    _search(page, "水务")
    assert _rows(page) == [hospital["reference"]]
    row = page.locator(f"li[data-instance-id='{hospital['id']}']")
    assert "青山湖水务公司" in row.inner_text() and "JT-2026-0902" in row.inner_text()
    shot(page, "references-cases-by-name-390")
    page.set_viewport_size(DESKTOP)
    shot(page, "references-cases-by-name-1366")
    row.locator("a.task-name").click()
    assert page.get_by_test_id("case-reference").inner_text() == hospital["reference"]

    # the head's task list: both reviews, each with its case; the search keeps the east shop's
    sign_in(page, server, "service_center_head")
    page.set_viewport_size(DESKTOP)
    page.goto(f"{server}/tasks")
    pool = page.get_by_test_id("section-candidate")
    refs = pool.get_by_test_id("case-ref").all_inner_texts()
    assert east["reference"] in refs and west["reference"] in refs
    _search(page, "东门")
    pool = page.get_by_test_id("section-candidate")
    assert pool.get_by_test_id("case-ref").all_inner_texts() == [east["reference"]]
    assert "东门便利店" in pool.locator("li.task").inner_text()
    shot(page, "references-tasks-by-name-1366")
    page.set_viewport_size(PHONE)
    shot(page, "references-tasks-by-name-390")
    pool.locator("li.task button.open-task").click()
    page.wait_for_url(re.compile(r".*/tasks/[0-9a-f-]{36}$"))
    assert page.get_by_test_id("case-reference").inner_text() == east["reference"]
    shot(page, "references-task-header-390")
    assert not errors, errors
