"""The DMN decision-table editor (dmn-js) in a real browser: a process owner opens the one-counter
time-limit table from the modeler list, changes a cell, saves (= deploys a new version) and the
next instance uses the new limit; a cell that is not a valid unary test is refused with the cell
marked in red, and nothing is deployed."""

from __future__ import annotations

import time

from tests.browser.conftest import shot, sign_in
from tests.browser.forms import api_headers, wait_until

# the test's own requests that the server refuses on purpose: the invalid table's deploy
EXPECTED_REFUSALS = ((422, "/decisions-editor/deploy"),)


def _type_into(page, element_id: str, value: str) -> None:
    """Replace a cell's text as a user does: click into it, select its text, type."""
    cell = page.locator(f'#decision-editor td[data-element-id="{element_id}"]')
    cell.click()
    editable = cell.locator("[contenteditable=true]").first
    editable.press("Control+A")
    editable.press("Backspace")
    editable.type(value)
    page.locator("h1").click()  # leave the cell: dmn-js commits the edit


def test_edit_a_rule_deploy_and_the_next_instance_uses_it(server, browser_page):
    page, errors = browser_page
    base = server
    sign_in(page, base, "process_owner")
    page.goto(f"{base}/modeler")
    page.locator("[data-testid=decision-list] li[data-decision-key=one_counter_time_limit] a").click()
    page.wait_for_url(f"{base}/decisions-editor/one_counter_time_limit")
    wait_until(page, "window.bpmDecisionEditorReady !== undefined")
    page.evaluate("window.bpmDecisionEditorReady")
    page.locator('#decision-editor td[data-element-id="r_payment_out"]').wait_for()
    assert page.locator("#decision-editor tbody tr").count() == 9
    assert "v1" in page.locator("[data-testid=editor-version]").inner_text()
    table_text = page.locator("#decision-editor").inner_text()
    assert "命中策略" in table_text and "当" in table_text and "则" in table_text  # the editor's words in Chinese
    assert "唯一" in table_text and "文本" in table_text  # the hit policy and the columns' type in Chinese
    assert not {"Unique", "string", "Hit", "policy"} & set(table_text.split()), table_text
    shot(page, "decision-01-opened")
    page.set_viewport_size({"width": 390, "height": 844})
    shot(page, "decision-01-opened-phone")
    page.set_viewport_size({"width": 1366, "height": 768})

    _type_into(page, "r_payment_out", '"PT5M"')
    page.locator("#editor-save").click()
    status = page.locator("[data-testid=editor-status]")
    status.filter(has_text="已部署").wait_for()
    assert "2" in status.inner_text() and "v2" in page.locator("[data-testid=editor-version]").inner_text()
    shot(page, "decision-02-deployed")
    # the editor keeps the model's English name (camunda:properties name.en) through the save
    owner = api_headers(page, base, "process_owner")
    for language, name in (("zh-CN", "一台清办理时限"), ("en", "Time limit by category")):
        got = page.request.get(f"{base}/api/decision-definitions/one_counter_time_limit",
                               headers={**owner, "Accept-Language": language}).json()
        assert [(v["version"], v["name"]) for v in got["versions"]] == [(2, name), (1, name)], got

    # the next payment at the counter is timed by the new row
    headers = api_headers(page, base, "counter_staff")
    r = page.request.post(f"{base}/api/process-definitions/one_counter/instances", headers=headers, data={
        "data": {"category": "payment", "customer_phone": "13800138000", "amount": 50,
                 "description": "话费缴纳"}})
    assert r.ok, r.text()
    inst = r.json()
    assert inst["data"]["time_limit"] == "PT5M"
    task = page.request.get(f"{base}/api/tasks/{inst['open_tasks'][0]['id']}", headers=headers).json()
    assert task["sla"]["amount"] == "PT5M"
    events = page.request.get(f"{base}/api/process-instances/{inst['id']}/timeline",
                              headers=api_headers(page, base, "auditor")).json()["events"]
    [decided] = [e for e in events if e["action"] == "decision_evaluated"]
    assert decided["details"]["version"] == 2 and decided["details"]["matched_rules"] == [6]

    # a cell that is not a unary test: refused, its cell marked, nothing deployed
    _type_into(page, "r_unlock_in", ">>> 5")
    page.locator("#editor-save").click()
    page.locator("[data-testid=editor-errors] li").first.wait_for()
    assert "rule 1" in page.locator("[data-testid=editor-errors]").inner_text() or \
        "规则" in page.locator("[data-testid=editor-errors]").inner_text()
    marked = page.locator('#decision-editor td.cell-error[data-element-id="r_unlock_in"]')
    assert marked.count() == 1
    shot(page, "decision-03-refused")
    listed = page.request.get(f"{base}/api/decision-definitions/one_counter_time_limit", headers=headers).json()
    assert [v["version"] for v in listed["versions"]] == [2, 1]
    time.sleep(0.2)
    assert errors == [], "\n".join(errors)
