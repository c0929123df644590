"""The web app as the halls use it (issue 17, items 12 and 15), in a real browser.

* 12: a start says what was started (the process's Chinese name, the case's reference, a link
  to the case) and opens the starter's own next step at once; a technical problem at the
  counter tells the clerk which technical complaint it opened, with its link;
* 15: 办理 is the one action of a claimable task (it claims and opens it), a claimed task is
  released with 放弃认领 (never 退回, which reads as "send back"); "请更正以下字段" heads field
  errors only; the header is one row at 1366 px and a small part of a phone screen; form-js's
  number stepper and radios keep their own layout.

Screenshots go to test-artifacts/feedback-*.png; any console error fails the test (except the
refusal the module provokes on purpose).
"""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import shot, sign_in
from tests.browser.forms import api_headers, choose, fill, settled, submit_task, wait_until

pytestmark = pytest.mark.browser
# a completion of a task completed meanwhile (the "not a field error" case), provoked on purpose
EXPECTED_REFUSALS = ((409, "/complete"),)

TASK_URL = re.compile(r"/tasks/[0-9a-f-]{36}$")


def _box(page, selector: str) -> dict:
    box = page.locator(selector).first.bounding_box()
    assert box, selector
    return box


def test_the_clerk_starts_at_the_counter_handles_it_and_is_told_of_the_technical_complaint(bpm_server, server,
                                                                                          browser_page):
    """000 「二是“首问负责制”,从迎宾到业务受理,严格执行“一台清”」 and 「技术性业务,例如小区计费错误等限24小时
    解决,并当场回复客户」: the clerk who accepts the customer lands on their own handling step, sees
    which case they started, and is told which technical complaint the problem opened."""
    page, errors = browser_page
    base = server
    sign_in(page, base, "counter_staff")
    page.goto(f"{base}/start/one_counter")
    page.locator(".fjs-form").wait_for()
    choose(page, page.locator(".fjs-form-field-select", has_text="业务类别"), "缴费")
    settled(page, "d.category === 'payment'")
    page.get_by_label("缴费金额（元）").wait_for()
    # the number stepper keeps form-js's layout: its two arrows fit beside the input
    group = _box(page, ".fjs-form-field-number .fjs-input-group")
    for arrow in (".fjs-number-arrow-up", ".fjs-number-arrow-down"):
        box = _box(page, f".fjs-form-field-number {arrow}")
        assert box["height"] <= group["height"] / 2 + 2 and box["width"] <= 30, (arrow, box, group)
    fill(page.get_by_label("缴费金额（元）"), "50")
    fill(page.get_by_label("客户号码"), "13900139000")
    fill(page.get_by_label("业务说明"), "缴费后计费异常")
    settled(page, "d.amount === 50 && d.customer_phone === '13900139000' && d.description === '缴费后计费异常'")
    shot(page, "feedback-01-start")
    page.locator("#form-submit").click()

    # straight to the clerk's own handling step, with what was started and a link to the case
    page.wait_for_url(TASK_URL)
    page.locator(".fjs-form").wait_for()
    assert page.locator("h1").inner_text().startswith("柜台办理")
    flash = page.locator("[data-testid=flash]").first
    text = flash.inner_text()
    assert "流程已发起：一台清，编号 " in text and "one_counter" not in text, text
    case_link = flash.get_by_role("link", name="查看案件")
    assert re.search(r"/instances/[0-9a-f-]{36}$", case_link.get_attribute("href"))
    shot(page, "feedback-02-handle")

    # the radios keep form-js's layout: a small box beside its label, on the same line
    radio = page.get_by_label("技术问题", exact=True)
    label = page.locator(f"label[for='{radio.get_attribute('id')}']")
    radio_box, label_box = radio.bounding_box(), label.bounding_box()
    assert radio_box["width"] < 30, radio_box
    assert abs((radio_box["y"] + radio_box["height"] / 2) - (label_box["y"] + label_box["height"] / 2)) < 8

    label.click()
    settled(page, "d.outcome === 'technical'")
    fill(page.get_by_label("问题说明"), "疑似小区计费错误")
    fill(page.get_by_label("客户姓名（登记技术投诉用）"), "王五")
    choose(page, page.locator(".fjs-form-field-select", has_text="投诉类型"), "计费支撑系统")
    settled(page, "d.issue_detail === '疑似小区计费错误' && d.customer_name === '王五' "
                  "&& d.complaint_type === 'billing_support'")
    submit_task(page, base, "feedback-03-technical", log=bpm_server.var / "serve.log", console=errors)
    told = page.locator("[data-testid=flash]", has_text="已自动发起关联流程")
    assert "已自动发起关联流程：投诉处理，编号 " in told.inner_text()
    shot(page, "feedback-04-told")
    told.get_by_role("link", name="查看案件").click()
    page.wait_for_url(re.compile(r"/instances/[0-9a-f-]{36}$"))
    assert "投诉处理" in page.locator("main").inner_text()
    assert errors == [], "\n".join(errors)


def test_one_action_opens_a_claimable_task_and_release_reads_as_release(bpm_server, server, browser_page):
    """000 「异常业务中基本业务由值班经理当场处理完毕;技术性业务,例如小区计费错误等限24小时解决」: the duty
    manager takes the technical complaint with one action, 办理 (it claims and opens it); a
    claimed task is put back with 放弃认领; 「请更正以下字段」 only heads field errors."""
    page, errors = browser_page
    base = server
    page.goto(f"{base}/login")
    started = page.request.post(f"{base}/api/process-definitions/complaint_handling/instances",
                                headers=api_headers(page, base, "counter_staff"), data={"data": {
                                    "category": "technical", "complaint_type": "network", "customer_name": "赵六",
                                    "contact_phone": "13900139001", "description": "室内无信号"}})
    assert started.status == 201, started.text()
    [task_id] = [t["id"] for t in started.json()["open_tasks"] if t["element_id"] == "resolve_technical"]
    sign_in(page, base, "duty_manager")
    page.goto(f"{base}/tasks?process=complaint_handling")
    item = page.locator(f"[data-testid=section-candidate] li.task[data-task-id='{task_id}']")
    item.wait_for()
    actions = item.locator(".task-actions")
    assert actions.get_by_role("button").all_inner_texts() == ["办理"]
    assert actions.get_by_role("link").count() == 0 and "认领" not in actions.inner_text()
    shot(page, "feedback-05-claimable")
    actions.get_by_role("button", name="办理").click()
    page.wait_for_url(f"{base}/tasks/{task_id}")
    page.locator(".fjs-form").wait_for()
    assert "值班经理" in page.locator("p.meta").first.inner_text() or "duty_manager" in page.locator("p.meta").first.inner_text()

    # a field error: the list is headed by 请更正以下字段
    page.locator("#form-submit").click()
    box = page.locator("#form-errors")
    box.wait_for(state="visible")
    assert "请更正以下字段" in box.inner_text()

    # back on the list: the task is mine, released with 放弃认领 (no 退回 anywhere)
    page.goto(f"{base}/tasks?process=complaint_handling")
    mine = page.locator(f"[data-testid=section-mine] li.task[data-task-id='{task_id}']")
    mine.wait_for()
    assert "退回" not in page.locator("main").inner_text()
    release = mine.get_by_role("button", name="放弃认领")
    assert "释放" in release.get_attribute("title")
    release.click()
    page.wait_for_url(re.compile(r"/tasks(\?.*)?$"))
    assert "已放弃认领" in page.locator("[data-testid=flash]").first.inner_text()
    page.locator(f"[data-testid=section-candidate] li.task[data-task-id='{task_id}']").wait_for()

    # not a field error: the task was completed meanwhile; the refusal is shown without the heading
    page.locator(f"[data-testid=section-candidate] li.task[data-task-id='{task_id}']").get_by_role(
        "button", name="办理").click()
    page.wait_for_url(f"{base}/tasks/{task_id}")
    page.locator(".fjs-form").wait_for()
    done = page.request.post(f"{base}/api/tasks/{task_id}/complete", headers=api_headers(page, base, "duty_manager"),
                             data={"data": {"tech_cause": "billing_error", "tech_action": "已更正计费"}})
    assert done.ok, done.text()
    with page.expect_response(lambda r: r.url.endswith("/complete")) as answer:
        page.evaluate("bpmForm.send({})")
    assert answer.value.status == 409
    wait_until(page, "!document.getElementById('form-errors').hidden")
    assert "请更正以下字段" not in box.inner_text() and box.inner_text().strip()
    shot(page, "feedback-06-refused")
    assert errors == [], "\n".join(errors)


@pytest.mark.parametrize(("user", "width", "height", "limit"), [
    ("admin", 1366, 768, 56),      # one row on the branch's laptops
    ("counter_staff", 1366, 768, 56),
    ("admin", 390, 844, 0.25 * 844),  # a phone: a quarter of the screen at most, far from 40 %
    ("counter_staff", 390, 844, 0.25 * 844),
], ids=["admin-1366", "counter-1366", "admin-phone", "counter-phone"])
def test_the_header_stays_small(server, browser_page, user, width, height, limit):
    """000 「突出体现“五心”服务」「强化服务细节」: the clerk at the counter sees the work, not the header:
    one row at 1366×768, a small band on a 390×844 phone, nothing sticking out."""
    page, errors = browser_page
    sign_in(page, server, user)
    page.set_viewport_size({"width": width, "height": height})
    page.goto(f"{server}/tasks")
    header = _box(page, "header")
    shot(page, f"feedback-header-{user}-{width}")
    assert header["height"] <= limit, header
    if width >= 1366:
        tops = page.evaluate("[...document.querySelectorAll('header > *, header nav a')]"
                             ".map(e => e.getBoundingClientRect()).filter(r => r.width > 0).map(r => r.top + r.height / 2)")
        assert max(tops) - min(tops) < 12, tops  # every item on one line
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    assert errors == [], "\n".join(errors)
