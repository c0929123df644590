"""Study day sign-in and the month's pay consequences, in a real browser.

The module's server is ``bpm init --demo``: the key-account room (``room-key``) has three customer
managers, their test scores of the three months up to the demo month (``customer_manager`` best
three times, ``customer_manager3`` worst three times), their performance pay and attendance counts,
``monthly_pay`` computed for that month, and a study day open for the room manager. Then:

* the room manager (``key_account_manager``) signs in two of the three at the study day;
* ``customer_manager3`` opens the dashboards and sees their own pay cut, in Chinese, and nobody else;
* the auditor sees the whole room, the certificate, the attendance deductions and the chart.

Screenshots go to test-artifacts/monthly-pay-*.png; any console error fails the test.
"""

from __future__ import annotations

import pytest

from engine.ops.demo_key_accounts import demo_period
from tests.browser.conftest import shot, sign_in
from tests.browser.forms import api_headers, fill, open_task, settled, submit_task

pytestmark = pytest.mark.browser


def _rows(page, testid: str) -> list[str]:
    return [row.get_attribute("data-subject") for row in page.locator(f"[data-testid={testid}] tbody tr").all()]


def test_room_manager_signs_in_the_study_day(server, browser_page):
    """001 学习制度 「重要客户室每两周安排一次学习日」: the room manager records who came."""
    page, errors = browser_page
    sign_in(page, server, "key_account_manager")
    task_id = open_task(page, server, "study_day", "学习签到")
    date_input = page.locator(".fjs-form-field-datetime input").first
    date_input.fill("2026/12/03")  # the date picker's zh-CN input format
    date_input.press("Enter")
    page.locator("h1").click()  # closes the calendar
    fill(page.get_by_label("学习主题"), "集团资费政策")
    page.get_by_label("客户经理三", exact=True).check()
    page.locator(".fjs-form-field-checklist input[type=checkbox]").first.wait_for()
    page.get_by_label("客户经理", exact=True).check()
    settled(page, "d.study_date && d.topic === '集团资费政策' && (d.attendees || []).length === 2")
    shot(page, "monthly-pay-01-study-day")
    submit_task(page, server, "monthly-pay-study-day", console=errors)
    headers = api_headers(page, server, "key_account_manager")
    task = page.request.get(f"{server}/api/tasks/{task_id}", headers=headers).json()
    inst = page.request.get(f"{server}/api/process-instances/{task['instance_id']}", headers=headers).json()
    assert inst["status"] == "completed"
    assert sorted(inst["data"]["attendees"]) == ["customer_manager", "customer_manager3"]
    assert inst["data"]["absentees"] == ["customer_manager2"] and inst["data"]["attended"] == 2
    assert not errors, errors


def test_the_worst_three_times_sees_their_pay_cut_and_only_their_own(server, browser_page):
    """001 学习制度 「连续三次被评为最差客户经理的员工扣除当月绩效的10%」."""
    page, errors = browser_page
    month = demo_period()
    sign_in(page, server, "customer_manager3")
    page.goto(f"{server}/dashboards?job=monthly_pay&period={month}")
    assert _rows(page, "table-user") == ["customer_manager3"]
    table = page.locator("[data-testid=table-user]").inner_text()
    for text in ("扣除当月绩效", "连续最差次数", "扣绩效（元）", "未穿工作服扣款（元）", "合计扣款（元）", "260", "310"):
        assert text in table, text
    assert "客户经理二" not in page.locator("main").inner_text()
    page.set_viewport_size({"width": 375, "height": 800})
    assert page.evaluate("document.documentElement.scrollWidth") <= 376
    shot(page, "monthly-pay-02-own-phone")
    assert not errors, errors


def test_auditor_sees_the_room_certificate_and_deductions(server, browser_page):
    """001 学习制度 「连续三次被评为最优客户经理的员工颁发奖状」 and 考勤制度 「每月请假超过3次以上的,扣除100元」."""
    page, errors = browser_page
    sign_in(page, server, "auditor")
    page.get_by_role("link", name="报表看板").click()
    page.wait_for_url(f"{server}/dashboards")  # loaded, so the selector's change handler is attached
    page.locator("#f-job").select_option("monthly_pay")
    page.wait_for_url(f"{server}/dashboards?job=monthly_pay")
    assert _rows(page, "table-user") == ["customer_manager", "customer_manager2", "customer_manager3"]
    rows = page.locator("[data-testid=table-user] tbody tr")
    assert "颁发奖状" in rows.nth(0).inner_text()
    second = rows.nth(1).inner_text()
    assert "200" in second and "扣除当月绩效" not in second  # late twice (2 x 50) and leave 4 times (100)
    assert "扣除当月绩效" in rows.nth(2).inner_text()
    chart = page.locator("[data-testid=chart-user][data-ready=true]")
    chart.wait_for()
    assert chart.locator("canvas").count() == 1
    shot(page, "monthly-pay-03-room")
    assert not errors, errors
