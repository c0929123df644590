"""Registers (台账) in a real browser, on the demo data of `bpm init --demo` (two invoice
hand-overs, one awaiting its signature; a morning meeting; two visits).

The information clerk signs the waiting hand-over on its task page with their password, opens
the hand-over register from the navigation, sees both entries signed, filters by month and
exports the CSV; a user who may not read it is refused. Screenshots go to
test-artifacts/registers-*.png; any console error fails the test.
"""

from __future__ import annotations

from datetime import datetime

import pytest

from engine.clock import LOCAL_TZ
from tests.browser.conftest import shot, sign_in
from tests.browser.forms import open_task, settled, submit_task

pytestmark = pytest.mark.browser

EXPECTED_REFUSALS = ((403, "/registers/invoice_handover"),)


def test_receiver_signs_the_handover_and_the_register_lists_filters_and_exports(server, browser_page):
    """001 「营业厅应做好发票及收据的收、发登记工作,并与收发环节有交接签收手续」: the receiver signs the
    hand-over with their own password; the register shows who signed; it is filtered and exported."""
    page, errors = browser_page
    sign_in(page, server, "info_clerk")

    # the hand-over awaiting a signature: counted and signed with the clerk's own password
    open_task(page, server, "invoice_handover", "接收签收")
    page.get_by_label("我已当面清点，票据种类、号码与份数无误").check()
    password = page.get_by_label("签收密码（本人登录密码）")
    assert password.get_attribute("type") == "password"
    password.fill("demo")
    password.blur()
    settled(page, "d.counted_ok === true && d.sign_password === 'demo'")
    shot(page, "registers-01-sign")
    submit_task(page, server, "registers-sign")

    # the register, from the navigation
    page.get_by_role("link", name="台账", exact=True).click()
    page.wait_for_url(f"{server}/registers")
    listed = page.locator("[data-testid=registers] [data-register]")
    keys = {listed.nth(i).get_attribute("data-register") for i in range(listed.count())}
    assert {"invoice_handover", "group_agreement"} <= keys, keys  # the clerk keeps the agreements too (001 存档)
    assert "morning_meeting" not in keys  # the key-account room's minutes are not the clerk's
    page.get_by_role("link", name="发票收据交接登记", exact=True).click()  # the Chinese name only on a zh-CN page
    page.wait_for_url(f"{server}/registers/invoice_handover")
    rows = page.locator("[data-testid=register-entries] tbody tr")
    assert rows.count() == 2
    signers = [rows.nth(i).locator("[data-testid=signed-by]").inner_text() for i in range(2)]
    assert all("内务信息员" in s for s in signers), signers
    assert "增值税普通发票" in page.locator("[data-testid=register-entries]").inner_text()
    shot(page, "registers-02-list")

    # filters: this month in China time has both, a month long past none
    month = datetime.now(LOCAL_TZ).strftime("%Y-%m")
    page.locator("#period-filter").fill(month)
    page.get_by_role("button", name="筛选").click()
    page.wait_for_url(f"{server}/registers/invoice_handover?**")
    assert page.locator("[data-testid=register-entries] tbody tr").count() == 2
    page.locator("#period-filter").fill("2020-01")
    page.get_by_role("button", name="筛选").click()
    page.get_by_text("暂无登记").wait_for()
    page.goto(f"{server}/registers/invoice_handover?period={month}")

    # the export: UTF-8 with BOM, Chinese headers, the signer
    with page.expect_download() as info:
        page.locator("[data-testid=register-export]").click()
    body = open(info.value.path(), "rb").read().decode("utf-8")
    assert body.startswith("\ufeff序号,登记时间,登记人,单位,票据种类"), body[:80]
    assert body.count("内务信息员") >= 2

    # on a phone the table scrolls inside its box, never the page
    page.set_viewport_size({"width": 375, "height": 800})
    assert page.evaluate("document.documentElement.scrollWidth") <= 376
    shot(page, "registers-03-phone")
    page.set_viewport_size({"width": 1280, "height": 900})
    assert not errors, errors


def test_a_user_without_a_part_in_the_register_is_refused(server, browser_page):
    """001 「营业厅应做好发票及收据的收、发登记工作」: the hall's hand-over book is for the hall's staff and
    managers; the tobacco enforcement officer neither lists nor opens it."""
    page, errors = browser_page
    sign_in(page, server, "enforcement_officer")
    page.goto(f"{server}/registers")
    assert page.locator("[data-register=invoice_handover]").count() == 0
    response = page.goto(f"{server}/registers/invoice_handover")
    assert response.status == 403
    shot(page, "registers-04-refused")
    assert not errors, errors
