"""Issue 17, items 6 and 11, in a real browser: validation messages read as words, never the
field's regex; dates out of order (an agreement ending before it starts, a complaint answered
before it was registered) are refused on the field before anything is sent; a time keeps its
minutes (form-js rounded 20:40 down to 20:30 with its default 15-minute picker).

Requests refused on purpose: the server's 422 for data sent around the page's own checks.
"""

from __future__ import annotations

import pytest

from tests.browser.conftest import shot, sign_in
from tests.browser.forms import api_headers, settled, wait_until

pytestmark = pytest.mark.browser
EXPECTED_REFUSALS = ((422, "/complete"), (422, "/start/group_agreement"))


def _posts(page) -> list[str]:
    """The URLs the page POSTs from now on."""
    seen: list[str] = []
    page.on("request", lambda r: seen.append(r.url) if r.method == "POST" else None)
    return seen


def _type_date(page, key: str, value: str) -> None:
    """Type a date into a form-js date input in its zh-CN format (YYYY/MM/DD) and close the calendar."""
    box = page.locator(f"#form input[id$='-Field_{key}-date'], #form input[id$='-Field_{key}']").first
    box.fill(value)
    box.press("Enter")
    page.locator("h1").click()


def test_a_wrong_phone_number_reads_as_words_not_a_pattern(server, browser_page):
    """001 「提供多种方式,方便客户的联系,随时向客户提供周到、细心及准确的服务。」: the counter staff
    registering a complaint read what the number should look like, on the field and in the list."""
    page, errors = browser_page
    sign_in(page, server, "counter_staff")
    page.goto(f"{server}/start/complaint_handling")
    page.locator(".fjs-form").wait_for()
    phone = page.get_by_label("联系电话")
    phone.fill("12345")
    phone.blur()
    settled(page, "d.contact_phone === '12345'")
    page.locator("#form-submit").click()
    page.locator("#form-errors").wait_for(state="visible")
    expected = "请输入11位手机号，或带区号的固定电话（如 0871-1234567）"
    wait_until(page, f"document.querySelector('#form').innerText.includes({expected!r})")
    listed = page.locator("#form-errors li[data-field=contact_phone]").inner_text()
    assert expected in listed
    shot(page, "form-checks-01-phone")
    text = page.locator("main").inner_text()
    assert "^(" not in text and "\\d" not in text and "格式不正确（" not in text
    assert errors == [], "\n".join(errors)


def test_an_agreement_ending_before_it_starts_is_refused_on_the_end_date(server, browser_page):
    """001 「集团客户部每月做好集团协议的收、发、存盘点工作。」: an agreement whose term ends before it
    starts cannot be registered; the message stands on the end date, before anything is sent, and
    the server refuses the same data sent around the page."""
    page, errors = browser_page
    sign_in(page, server, "customer_manager")
    page.goto(f"{server}/start/group_agreement")
    page.locator(".fjs-form").wait_for()
    _type_date(page, "term_start", "2026/06/30")
    _type_date(page, "term_end", "2026/01/01")
    settled(page, "d.term_start === '2026-06-30' && d.term_end === '2026-01-01'")
    posts = _posts(page)
    page.locator("#form-submit").click()
    page.locator("#form-errors").wait_for(state="visible")
    wait_until(page, "document.querySelector('#form-errors li[data-field=term_end]') !== null")
    assert "应晚于「协议开始日期」" in page.locator("#form-errors li[data-field=term_end]").inner_text()
    end_field = page.locator(".fjs-form-field-datetime", has_text="协议结束日期")
    wait_until(page, "[...document.querySelectorAll('.fjs-form-field-datetime')].some("
                     "f => f.innerText.includes('协议结束日期') && f.innerText.includes('应晚于「协议开始日期」'))")
    assert "应晚于" not in page.locator(".fjs-form-field-datetime", has_text="协议开始日期").first.inner_text()
    assert end_field.count() == 1
    assert not [u for u in posts if u.endswith("/start/group_agreement") or "/uploads" in u]  # nothing was sent
    shot(page, "form-checks-02-agreement-term")
    # the server holds the same rule: the 422 lands on the same field
    with page.expect_response(lambda r: r.url.endswith("/start/group_agreement") and r.request.method == "POST") as resp:
        page.evaluate("bpmForm.send({group_name: '城关第一中学', agreement_no: 'JT-2026-0042', "
                      "tariff_plan: '集团V网', term_start: '2026-06-30', term_end: '2026-01-01'})")
    assert resp.value.status == 422
    assert resp.value.json()["errors"]["term_end"] == ["Must be later than 协议开始日期."]
    wait_until(page, "(document.querySelector('#form-errors li[data-field=term_end]') || {}).innerText"
                     "?.includes('应晚于「协议开始日期」')")
    assert errors == [], "\n".join(errors)


def test_the_complaint_answer_keeps_its_minutes_and_follows_the_registration(server, browser_page):
    """003 「客户提交(投诉)问题 … 跟踪处理过程 答复。」: the closing step shows when the complaint was
    registered, refuses an answer before it on the answer's field, and records 20:40 as 20:40."""
    page, errors = browser_page
    sign_in(page, server, "counter_staff")
    headers = api_headers(page, server, "counter_staff")
    r = page.request.post(f"{server}/api/process-definitions/complaint_handling/instances", headers=headers,
                          data={"data": {"category": "standard", "complaint_type": "billing_support",
                                         "customer_name": "王五", "contact_phone": "13800138000",
                                         "description": "话费扣费有误"}})
    assert r.ok, r.text()
    iid = r.json()["id"]
    inst = page.request.get(f"{server}/api/process-instances/{iid}", headers=headers).json()
    counter = next(t for t in inst["open_tasks"] if t["element_id"] == "resolve_counter")
    assert page.request.post(f"{server}/api/tasks/{counter['id']}/claim", headers=headers).ok
    r = page.request.post(f"{server}/api/tasks/{counter['id']}/complete", headers=headers,
                          data={"data": {"counter_action": "已退还多扣话费"}})
    assert r.ok, r.text()
    inst = page.request.get(f"{server}/api/process-instances/{iid}", headers=headers).json()
    close = next(t for t in inst["open_tasks"] if t["element_id"] == "close")
    task = page.request.get(f"{server}/api/tasks/{close['id']}", headers=headers).json()
    registered = task["data"]["case_registered_at"]  # e.g. 2026-12-06T10:53, Beijing time
    day = registered[:10]

    page.goto(f"{server}/tasks?process=complaint_handling")
    item = page.locator(f"li.task[data-task-id='{close['id']}']")
    item.wait_for()
    page.goto(f"{server}/tasks/{close['id']}")
    page.locator(".fjs-form").wait_for()
    shown = page.locator("#form input[id$='-Field_case_registered_at-time']")
    assert shown.input_value() == registered[11:16]  # the registration, read-only
    assert shown.get_attribute("readonly") is not None
    # a time typed to the minute stays to the minute (a plain input, no 15-minute list)
    date_box = page.locator("#form input[id$='-Field_answered_at-date']")
    time_box = page.locator("#form input[id$='-Field_answered_at-time']")
    date_box.fill(day.replace("-", "/"))
    date_box.press("Enter")
    page.locator("h1").click()
    time_box.fill("20:40")
    time_box.press("Enter")
    time_box.blur()
    settled(page, f"d.answered_at === '{day}T20:40'")
    assert time_box.input_value() == "20:40"
    # an answer before the registration: refused on the field, nothing sent
    page.get_by_label("处理结果").fill("已解决")
    page.get_by_label("满意", exact=True).check()
    settled(page, "d.satisfaction === 'satisfied' && d.resolution === '已解决'")
    # (the demo server registers the complaint now: 00:00 of its day is before it)
    assert registered[11:16] != "00:00"
    time_box.fill("00:00")
    time_box.press("Enter")
    time_box.blur()
    settled(page, f"d.answered_at === '{day}T00:00'")
    posts = _posts(page)
    page.locator("#form-submit").click()
    wait_until(page, "document.querySelector('#form-errors li[data-field=answered_at]') !== null")
    assert "不能早于「登记时间」" in page.locator("#form-errors li[data-field=answered_at]").inner_text()
    wait_until(page, "[...document.querySelectorAll('.fjs-form-field-datetime')].some("
                     "f => f.innerText.includes('答复客户时间') && f.innerText.includes('不能早于「登记时间」'))")
    assert not [u for u in posts if u.endswith("/complete")]
    shot(page, "form-checks-03-answer-before-registration")
    # a later answer (to the minute) is accepted and stored as typed
    time_box.fill("20:40" if registered[11:16] <= "20:40" else "23:59")
    time_box.press("Enter")
    time_box.blur()
    minute = "20:40" if registered[11:16] <= "20:40" else "23:59"
    settled(page, f"d.answered_at === '{day}T{minute}'")
    with page.expect_response(lambda r: r.url.endswith("/complete")) as resp:
        page.locator("#form-submit").click()
    assert resp.value.status == 200, resp.value.text()
    page.wait_for_url(f"{server}/tasks*")
    data = page.request.get(f"{server}/api/process-instances/{iid}", headers=headers).json()["data"]
    assert data["answered_at"] == f"{day}T{minute}" and "case_registered_at" not in data
    assert errors == [], "\n".join(errors)
