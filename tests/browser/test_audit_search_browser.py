"""The audit log as an auditor uses it, in a real browser, on the demo database.

The counter clerk signs in (a 登录 event); the auditor opens 审计, types part of the clerk's
Chinese name (营业员), picks 登录 from the Chinese action list (grouped: 用户与登录), and
searches: the clerk's sign-ins, newest first, names and roles in Chinese. The CSV download has
Chinese headers, China time (2026-12-06 14:05:09) and a BOM so Excel reads it.

Screenshots go to test-artifacts/audit-search-*.png; any console error fails the test.
"""

from __future__ import annotations

import csv
import io
import re

import pytest

from tests.browser.conftest import shot, sign_in

pytestmark = pytest.mark.browser
LATIN_WORD = re.compile(r"\b[A-Za-z]{3,}\b")


def test_auditor_finds_a_clerks_sign_ins_by_chinese_name_and_downloads_them(server, browser_page):
    page, errors = browser_page
    sign_in(page, server, "counter_staff")
    sign_in(page, server, "counter_staff")
    sign_in(page, server, "auditor")
    page.set_viewport_size({"width": 1366, "height": 768})
    page.get_by_role("link", name="审计", exact=True).click()
    page.wait_for_url(f"{server}/audit")
    # the action list: Chinese labels in groups, no codes
    groups = page.locator("#f-action optgroup").evaluate_all("gs => gs.map(g => g.label)")
    assert groups[:2] == ["流程实例", "任务"] and "用户与登录" in groups and "电子印章" in groups
    options = page.locator("#f-action option").all_inner_texts()
    assert len(options) > 60 and not [o for o in options if LATIN_WORD.search(o)], options
    page.get_by_label("人员").fill("营业员")
    page.locator("#f-action").select_option(label="登录")
    page.get_by_role("button", name="查询").click()
    page.wait_for_url(f"{server}/audit?**")
    rows = page.locator("[data-testid=events] tbody tr")
    assert rows.count() == 2
    assert {rows.nth(i).get_attribute("data-actor") for i in range(2)} == {"counter_staff"}
    table = page.locator("[data-testid=events]").inner_text()
    assert "营业员" in table and "登录" in table and "中心营业厅" in table
    assert "Counter staff" not in table and "Central service hall" not in table  # names in the page's language
    assert "counter_staff" not in table and "hall-1" not in table  # roles and unit by name
    seqs = [int(rows.nth(i).get_attribute("data-seq")) for i in range(2)]
    assert seqs[0] > seqs[1]  # newest first
    shot(page, "audit-search-01-by-name")

    with page.expect_download() as info:
        page.locator("[data-testid=export-csv]").click()
    raw = open(info.value.path(), "rb").read()
    assert raw.startswith("\ufeff".encode())
    lines = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert lines[0][:8] == ["序号", "时间（北京时间）", "姓名", "用户名", "角色", "单位", "操作", "操作代码"]
    assert len(lines) == 3 and {line[7] for line in lines[1:]} == {"login"}
    assert {line[4] for line in lines[1:]} == {"营业员"}
    # China time to the second, the same clock as the page's (not UTC, eight hours off)
    shown = {rows.nth(i).locator("time").inner_text() for i in range(2)}
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", line[1]) for line in lines[1:])
    assert {line[1][:16] for line in lines[1:]} == shown

    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth") <= 391
    shot(page, "audit-search-02-phone")
    assert not errors, errors
