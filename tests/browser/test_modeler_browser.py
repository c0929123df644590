"""The process modeler in a real browser: Playwright drives Debian's chromium against a
`bpm serve` subprocess with its own SQLite database (`bpm init --demo` deploys the processes).

A process owner opens complaint_handling in the bpmn-js modeler, inserts a user task into a
flow through the modeler's API (modeling + moddle, as the properties panel does), saves (=
deploys) and gets version 2; an invalid diagram (a user task without candidate groups) shows
the server's errors and marks the element. Skipped when /usr/bin/chromium, Playwright or the
built bundles are missing, unless BPM_REQUIRE_BROWSER=1. Screenshots go to test-artifacts/;
any browser console error fails the test (except the 422 the deploy endpoint answers on purpose).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.browser.conftest import ARTIFACTS, sign_in
from tests.browser.conftest import shot as _shot
from tests.browser.forms import wait_until

pytestmark = pytest.mark.browser
# the server's errors, requested on purpose
EXPECTED_REFUSALS = ((422, "/modeler/deploy"),)


def _versions(var: Path, key: str) -> list[int]:
    with sqlite3.connect(var / "bpm.sqlite3") as db:
        rows = db.execute("SELECT version FROM bpm_process_definition WHERE key = ? ORDER BY version", (key,))
        return [row[0] for row in rows]


# Inserts a user task between `after` and `end`, through the modeler's services.
INSERT_TASK = """async ([after, taskId, groups, formKey]) => {
  await window.bpmModelerReady;
  const m = window.bpmModeler;
  const registry = m.get('elementRegistry');
  const modeling = m.get('modeling');
  const close = registry.get(after);
  const end = registry.get('end');
  const flow = close.outgoing.find((c) => c.target === end);
  modeling.moveElements([end], { x: 200, y: 0 });
  const left = close.x + close.width;
  const task = modeling.createShape({ type: 'bpmn:UserTask' },
    { x: left + (end.x - left) / 2, y: close.y + close.height / 2 }, close.parent);
  modeling.reconnectEnd(flow, task, { x: task.x, y: task.y + task.height / 2 });
  modeling.connect(task, end);
  const props = { id: taskId, name: '回访确认 Follow-up' };
  if (groups) props['camunda:candidateGroups'] = groups;
  if (formKey) props['camunda:formKey'] = formKey;
  modeling.updateProperties(task, props);
  const bo = registry.get(taskId).businessObject;
  return { id: bo.id, groups: bo.get('camunda:candidateGroups') || null, formKey: bo.get('camunda:formKey') || null,
           incoming: bo.incoming.map((f) => f.sourceRef.id), outgoing: bo.outgoing.map((f) => f.targetRef.id) };
}"""


def _confirm_deploy(page) -> None:
    """Saving first lists the changes against the deployed version; deploy them."""
    page.get_by_test_id("modeler-diff-confirm").click()


def test_process_owner_models_and_deploys_a_new_version(bpm_server, browser_page):
    base, var = bpm_server.base, bpm_server.var
    page, errors = browser_page
    sign_in(page, base, "process_owner")

    page.get_by_role("link", name="流程建模").click()
    page.wait_for_url(f"{base}/modeler")
    _shot(page, "modeler-01-list")
    assert _versions(var, "complaint_handling") == [1]
    page.locator("li[data-process-key=complaint_handling] a").click()
    page.wait_for_url(f"{base}/modeler/complaint_handling")
    page.locator("#canvas .djs-element[data-element-id=resolve_counter]").wait_for()
    page.evaluate("() => window.bpmModelerReady")

    # the properties panel shows the Camunda 7 fields of a selected user task
    page.evaluate("""() => { const m = window.bpmModeler;
      m.get('selection').select(m.get('elementRegistry').get('resolve_counter')); }""")
    page.locator("#properties .bio-properties-panel").wait_for()
    page.locator("#properties [data-group-id=group-CamundaPlatform__UserAssignment] .bio-properties-panel-group-header").click()
    groups_input = page.locator("#properties input[name=candidateGroups]")
    groups_input.wait_for()
    assert groups_input.input_value() == "counter_staff,customer_manager"
    _shot(page, "modeler-02-open")

    result = page.evaluate(INSERT_TASK, ["close", "followup_call", "counter_staff,customer_manager", "complaint_close"])
    assert result == {"id": "followup_call", "groups": "counter_staff,customer_manager", "formKey": "complaint_close",
                      "incoming": ["close"], "outgoing": ["end"]}  # inserted into the flow
    page.locator("#modeler-save").focus()
    page.keyboard.press("Enter")  # keyboard-usable save
    _confirm_deploy(page)
    status = page.locator("[data-testid=modeler-status]")
    wait_until(page, "document.getElementById('modeler-status').textContent.includes('已部署 版本 2')")
    assert "已部署 版本 2" in status.inner_text()
    assert page.locator("[data-testid=modeler-errors]").is_hidden()
    assert _versions(var, "complaint_handling") == [1, 2]
    with sqlite3.connect(var / "bpm.sqlite3") as db:
        xml, by = db.execute("SELECT xml, deployed_by FROM bpm_process_definition "
                             "WHERE key = 'complaint_handling' AND version = 2").fetchone()
    assert by == "process_owner" and 'id="followup_call"' in xml and 'camunda:formKey="complaint_close"' in xml
    _shot(page, "modeler-03-deployed")

    # the new version opens in the modeler, with its task
    page.goto(f"{base}/modeler/complaint_handling?version=2")
    page.locator("#canvas .djs-element[data-element-id=followup_call]").wait_for()

    # an invalid diagram: a user task without candidate groups
    page.evaluate(INSERT_TASK, ["followup_call", "followup_nogroups", None, "complaint_close"])
    page.locator("#modeler-save").click()
    _confirm_deploy(page)
    errors_box = page.locator("[data-testid=modeler-errors]")
    errors_box.wait_for()
    assert page.locator("#modeler-errors li[data-element-id=followup_nogroups]").count() >= 1
    assert "部署失败" in status.inner_text()
    marked = page.locator("#canvas .djs-element.error[data-element-id=followup_nogroups]")
    assert marked.count() == 1
    assert page.evaluate("""() => window.bpmModeler.get('selection').get().map((e) => e.id)""") == ["followup_nogroups"]
    assert _versions(var, "complaint_handling") == [1, 2]
    _shot(page, "modeler-04-invalid")

    # phone width: the page does not break (nothing sticks out sideways)
    page.set_viewport_size({"width": 375, "height": 800})
    assert page.evaluate("document.documentElement.scrollWidth") <= 376
    _shot(page, "modeler-05-phone")
    assert errors == []


def test_form_editor_opens_and_deploys(bpm_server, browser_page):
    base = bpm_server.base
    page, errors = browser_page
    sign_in(page, base, "admin")
    page.goto(f"{base}/forms-editor/complaint_close")
    page.locator("#form-editor .fjs-editor-container").wait_for()
    page.evaluate("() => window.bpmFormEditorReady")
    # the editor speaks Chinese: palette groups and entries, the properties panel of a selected field
    palette = page.locator("#form-editor .fjs-palette").inner_text()
    for word in ("组件", "输入", "单行文本", "复选框", "下拉选择", "展示", "容器", "按钮"):
        assert word in palette, (word, palette)
    assert "Text field" not in palette and "Components" not in palette
    page.locator("#form-editor .fjs-editor-container .fjs-form-field-textarea").first.click()
    panel = page.locator("#form-editor .fjs-properties-container")
    for group in ("常规", "布局", "校验"):
        panel.locator(".bio-properties-panel-group-header", has_text=group).click()
    panel.get_by_text("字段键", exact=True).first.wait_for()
    _shot(page, "form-editor-00-field-selected")
    panel_text = panel.inner_text()
    (ARTIFACTS / "form-editor-panel.txt").write_text(panel_text, encoding="utf-8")
    for word in ("多行文本", "常规", "字段键", "绑定到表单变量", "校验", "必填"):
        assert word in panel_text, (word, panel_text)
    assert not {"General", "Key", "Validation", "Required"} & set(panel_text.split()), panel_text
    page.evaluate("""() => { const e = window.bpmFormEditor;
      const schema = e.saveSchema(); schema.components.push({ type: 'text', id: 'Text_note', text: '备注 note' });
      return e.importSchema(schema); }""")
    page.locator("#editor-save").click()
    wait_until(page, "document.getElementById('editor-status').textContent.includes('已部署 版本 2')")
    _shot(page, "form-editor-01-deployed")
    page.set_viewport_size({"width": 375, "height": 800})
    assert page.evaluate("document.documentElement.scrollWidth") <= 376
    _shot(page, "form-editor-02-phone")
    # the English page keeps the library's English words
    page.goto(f"{base}/lang/en")
    page.goto(f"{base}/forms-editor/complaint_close")
    page.locator("#form-editor .fjs-palette-group-title").first.wait_for()
    palette = page.locator("#form-editor .fjs-palette").inner_text()
    assert "Components" in palette and "Text field" in palette and "组件" not in palette
    page.goto(f"{base}/lang/zh-CN")
    assert errors == []


def test_new_process_starts_minimal_and_is_linted(bpm_server, browser_page):
    base = bpm_server.base
    page, errors = browser_page
    sign_in(page, base, "process_owner")
    page.goto(f"{base}/modeler")
    page.get_by_test_id("new-process").click()
    page.wait_for_url(f"{base}/modeler/new")
    page.locator("#canvas .djs-element[data-element-id=start]").wait_for()
    page.evaluate("() => window.bpmModelerReady")
    # bpmnlint (recommended rules, bundled at build time): a lone start event has no end event
    rules = page.evaluate("""async () => {
      const issues = await window.bpmModeler.get('linting').lint();
      return Object.keys(issues).concat(Object.values(issues).flat().map((issue) => issue.rule || issue.id));
    }""")
    assert "end-event-required" in rules, rules
    page.locator(".bjsl-button-error").wait_for()
    _shot(page, "modeler-06-new-linted")
    assert errors == []
