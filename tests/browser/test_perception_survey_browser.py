"""The customer managers' perception survey in a real browser (000 篇3/4 「每个月数据组对客户经理感知度分满意度、
集团资费认知度、当时开展活动内容认知度、客户经理认知度进行抽查并打分」).

On the module's server (`bpm init --demo`: the data group's ``data_analyst`` in 集团客户部
``dept-group``, ``customer_manager`` and ``customer_manager2`` in its key-account room
``room-key``; a demo survey of ``customer_manager`` with one call left open) the data analyst
starts 客户经理感知度抽查 on the start page, picks the manager from the list of the department's
and its rooms' customer managers, lists two customers and gets one call form per customer; on a
call form the four questions show only once the call is marked reached. Screenshots go to
test-artifacts/perception-*.png.
"""

from __future__ import annotations

import pytest

from tests.browser.conftest import shot, sign_in
from tests.browser.forms import api_headers as _api
from tests.browser.forms import choose, fill, open_task, wait_until
from tests.browser.forms import settled as _settled
from tests.browser.forms import submit_task as _submit

pytestmark = pytest.mark.browser


def test_the_data_group_samples_a_manager_and_records_one_form_per_call(bpm_server, server, browser_page):
    """000 篇3/4: the data group picks the manager and the sampled customers; each call is one form
    whose four questions appear once the customer is reached; the call's score is recorded."""
    page, errors = browser_page
    base = server
    log = bpm_server.var / "serve.log"
    sign_in(page, base, "data_analyst")
    page.goto(f"{base}/start")
    page.locator("li[data-process-key=perception_survey] button[type=submit]").click()
    page.wait_for_url(f"{base}/tasks")
    task_id = open_task(page, base, "perception_survey", "抽取样本")

    manager = page.locator(".fjs-form-field-select", has_text="被抽查客户经理").first
    manager.locator("input").first.click()
    listed = page.locator(".fjs-dropdownlist-item")
    listed.first.wait_for(state="visible")
    # the customer managers of 集团客户部 and its rooms, by display name (not the tobacco side's, in hall-1)
    texts = listed.all_inner_texts()
    assert {"客户经理", "客户经理二"} <= set(texts)  # by name: no login names on a Chinese page
    assert not any("customer_manager" in t for t in texts), texts
    listed.filter(has_text="客户经理二").first.click()
    month = page.locator(".fjs-form-field-select", has_text="考核月份").first
    months = page.evaluate("() => window.bpmForm.form._getState().data.survey_months.map(o => o.value)")
    choose(page, month, months[0])
    fill(page.locator("textarea").first, "县交通局 张主任 0891-1234567\n县第一中学 李老师 13800000001")
    _settled(page, f"d.manager === 'customer_manager2' && d.period === '{months[0]}' && (d.customers || '').includes('李老师')")
    shot(page, "perception-01-sample")
    _submit(page, base, "perception-01", log)

    sample = page.request.get(f"{base}/api/tasks/{task_id}", headers=_api(page, base, "auditor")).json()
    assert sample["status"] == "completed"
    inst = page.request.get(f"{base}/api/process-instances/{sample['instance_id']}",
                            headers=_api(page, base, "auditor")).json()
    calls = [t for t in inst["open_tasks"] if t["element_id"] == "call"]
    assert len(calls) == 2 and "survey_managers" not in inst["data"]

    page.goto(f"{base}/tasks/{calls[0]['id']}")
    page.locator(".fjs-form").wait_for()
    assert "客户经理二" in page.locator(".fjs-form").inner_text()
    # before the call is marked reached, the four questions are hidden
    assert page.locator(".fjs-form-field", has_text="集团资费认知度").count() == 0
    page.locator(".fjs-form-field-radio", has_text="是否接通").get_by_text("接通", exact=True).click()
    wait_until(page, "document.body.innerText.includes('集团资费认知度')")
    for label, answer in (("满意度", "满意"), ("集团资费认知度", "部分了解"), ("当时开展活动内容认知度", "了解"),
                          ("客户经理认知度", "知道")):
        page.locator(".fjs-form-field-radio", has_text=label).get_by_text(answer, exact=True).click()
    _settled(page, "d.reached === 'yes' && d.manager_awareness === 'yes' && d.tariff_awareness === 'partly'")
    shot(page, "perception-02-call")
    _submit(page, base, "perception-02", log)
    done = page.request.get(f"{base}/api/tasks/{calls[0]['id']}", headers=_api(page, base, "auditor")).json()
    # 25 + 12.5 + 25 + 25 of 100
    assert done["status"] == "completed" and done["submitted"]["call_score"] == 87.5
    assert done["submitted"]["manager"] == "customer_manager2"
    assert errors == []
