"""The tasklist in a real browser: Playwright drives Debian's chromium against a `bpm serve`
subprocess with its own SQLite database (`bpm init --demo` deploys the real processes).

Skipped when /usr/bin/chromium or Playwright is missing, unless BPM_REQUIRE_BROWSER=1.
Screenshots of every page go to test-artifacts/; any browser console error fails the test
(except the 422 the completion endpoint answers on purpose when the server refuses data).
"""

from __future__ import annotations

import pytest

from tests.browser.conftest import shot as _shot
from tests.browser.forms import wait_until

pytestmark = pytest.mark.browser
# the server's field errors, requested on purpose
EXPECTED_REFUSALS = ((422, "/complete"),)


def test_counter_staff_starts_works_and_completes_a_complaint(server, browser_page):
    page, errors = browser_page
    page.goto(f"{server}/login")
    _shot(page, "01-login")
    page.get_by_label("用户名").fill("counter_staff")
    page.get_by_label("密码").fill("demo")
    page.locator("main button[type=submit]").click()
    page.wait_for_url(f"{server}/")

    # start page: the complaint process opens its start form
    page.get_by_role("link", name="发起流程").first.click()
    page.wait_for_url(f"{server}/start")
    _shot(page, "02-start")
    page.locator("li[data-process-key=complaint_handling] a").click()
    page.wait_for_url(f"{server}/start/complaint_handling")
    page.locator(".fjs-form").wait_for()
    page.locator(".fjs-form-field-select .fjs-input-group").first.click()
    page.locator(".fjs-dropdownlist-item", has_text="标准业务").click()
    # the complaint type of the statistics (004), a second required select
    page.locator(".fjs-form-field-select .fjs-input-group").nth(1).click()
    page.locator(".fjs-dropdownlist-item", has_text="计费支撑系统").click()
    page.get_by_label("客户姓名").fill("张三")
    page.get_by_label("联系电话").fill("13800138000")
    page.get_by_label("问题描述").fill("话费扣费有误")
    _shot(page, "03-start-form")
    page.locator("#form-submit").click()
    page.wait_for_url(f"{server}/tasks")

    # tasklist: the counter task, claimable, with its due badge
    item = page.locator("[data-testid=section-candidate] li.task", has_text="柜台处理")
    item.wait_for()
    assert item.count() == 1
    badge = item.locator("[data-testid=due-badge]")
    assert badge.is_visible() and "截止时间" in badge.inner_text()
    task_id = item.get_attribute("data-task-id")
    _shot(page, "04-tasklist")
    page.set_viewport_size({"width": 375, "height": 800})  # phone width: nothing sticks out
    assert page.evaluate("document.documentElement.scrollWidth") <= 376
    _shot(page, "05-tasklist-phone")
    page.set_viewport_size({"width": 1280, "height": 900})

    # task page: the form-js viewer; a missing required field shows its error
    item.get_by_role("button", name="办理").click()  # one action: it claims the task and opens it
    page.wait_for_url(f"{server}/tasks/{task_id}")
    page.locator(".fjs-form").wait_for()
    assert "张三" in page.locator(".fjs-form").inner_text()  # the summary text from the instance data
    page.locator("#form-submit").click()
    errors_box = page.locator("#form-errors")
    errors_box.wait_for(state="visible")
    assert "处理情况" in errors_box.inner_text()
    assert page.locator(".fjs-form-field-error").first.is_visible()
    # validation messages read in Chinese, on the field and in the list
    assert "此项为必填项" in errors_box.inner_text() and "Field is required" not in errors_box.inner_text()
    wait_until(page, "document.querySelector('.fjs-form-field-error').innerText.includes('此项为必填项')")
    _shot(page, "06-task-client-error")
    # the server's 422 field errors appear on the page too
    with page.expect_response(lambda r: r.url.endswith("/complete")) as response:
        page.evaluate("bpmForm.send({})")
    assert response.value.status == 422
    wait_until(page, "document.querySelector('#form-errors li[data-field=counter_action]') !== null")
    assert "处理情况" in errors_box.inner_text() and "此项为必填项" in errors_box.inner_text()
    _shot(page, "07-task-server-error")

    page.get_by_label("处理情况").fill("已核实并退还多扣话费")
    page.locator("#form-submit").click()
    page.wait_for_url(f"{server}/tasks")
    page.get_by_text("任务已提交").wait_for()
    assert page.locator(f"li[data-task-id='{task_id}']").count() == 0
    _shot(page, "08-tasklist-after")
    assert not errors, errors
