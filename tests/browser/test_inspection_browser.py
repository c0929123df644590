"""The counter-service inspection in a real browser: the inspector picks the person from a list.

On the module's server (`bpm init --demo`, every demo user in hall-1) a second counter staff
member 营业员乙 is added to hall-1, one to hall-2 and a deactivated one to hall-1. The duty
manager starts 营业员服务检查 on the start page and opens the task: the 被检查营业员 dropdown
(``options.hall_staff`` = ``users:counter_staff``, engine/forms/options.py) lists exactly hall-1's
active counter staff by display name; searching for 乙 and picking 营业员乙 records the
inspection for ``counter_b``. Screenshots go to test-artifacts/inspection-*.png.
"""

from __future__ import annotations

import pytest

from tests.browser.conftest import shot, sign_in
from tests.browser.forms import api_headers as _api
from tests.browser.forms import bpm_cli as _bpm
from tests.browser.forms import open_task, wait_until
from tests.browser.forms import settled as _settled
from tests.browser.forms import submit_task as _submit

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def staff(bpm_server):
    var = bpm_server.var
    for name, display, unit in (("counter_b", "营业员乙", "hall-1"), ("counter_east", "城东营业员", "hall-2"),
                                ("counter_gone", "已离职营业员", "hall-1")):
        _bpm(var, "users", "add", name, "--password", "demo-counter", "--role", "counter_staff", "--unit", unit,
             "--name", display)
    _bpm(var, "users", "set", "counter_gone", "--inactive")
    return bpm_server


def test_the_duty_manager_picks_the_inspected_staff_from_the_hall_list(staff, server, browser_page):
    page, errors = browser_page
    base = server
    log = staff.var / "serve.log"
    sign_in(page, base, "duty_manager")
    page.goto(f"{base}/start")
    page.locator("li[data-process-key=counter_inspection] button[type=submit]").click()
    page.wait_for_url(f"{base}/tasks/**")  # the inspector's own step (candidateScope starter) opens at once
    task_id = open_task(page, base, "counter_inspection", "服务检查打分")

    field = page.locator(".fjs-form-field-select").first
    assert "被检查营业员" in field.inner_text()
    search = field.locator("input").first
    search.click()
    listed = page.locator(".fjs-dropdownlist-item")
    listed.first.wait_for(state="visible")
    # hall-1's active counter staff only (not hall-2's, not the deactivated one), by display name
    assert listed.all_inner_texts() == ["营业员", "营业员乙"]
    shot(page, "inspection-01-list")
    # the select is searchable: typing narrows the list
    search.fill("乙")
    wait_until(page, "document.querySelectorAll('.fjs-dropdownlist-item').length === 1")
    listed.first.click()
    _settled(page, "d.staff_username === 'counter_b' && d.smile_service === 10")
    shot(page, "inspection-02-picked")
    _submit(page, base, "inspection-02", log)

    task = page.request.get(f"{base}/api/tasks/{task_id}", headers=_api(page, base, "auditor")).json()
    assert task["status"] == "completed" and task["submitted"]["staff_username"] == "counter_b"
    inst = page.request.get(f"{base}/api/process-instances/{task['instance_id']}",
                            headers=_api(page, base, "auditor")).json()
    assert inst["status"] == "completed" and inst["data"]["staff_username"] == "counter_b"
    # every item of the sheet at its default full points: 12 items x 10 (接一、待二、招呼三 now three)
    assert inst["data"]["inspection_score"] == 120 and "hall_staff" not in inst["data"]
    assert errors == []
