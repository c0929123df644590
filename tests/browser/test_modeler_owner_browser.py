"""The process modeler as a process owner uses it (issue 17, items 7 and 9), in a real browser
against a `bpm serve` on a demo database: Chinese palette, context pad and properties panel; the
roles of a task picked by their Chinese names, its form from the deployed forms, its time limit
through a small form; the changes against the deployed version confirmed before deploying;
errors in Chinese naming the element by its name; Delete, Ctrl+Z / Ctrl+Y and the undo/redo
buttons; a warning before leaving with unsaved changes; the English page keeps English labels.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from tests.browser.conftest import shot, sign_in
from tests.browser.forms import wait_until

pytestmark = pytest.mark.browser
EXPECTED_REFUSALS = ((422, "/modeler/deploy"),)

SLA_OF = """(id) => { const bo = window.bpmModeler.get('elementRegistry').get(id).businessObject;
  const ext = bo.get('extensionElements');
  const props = ext && ext.get('values').find((v) => v.$type === 'camunda:Properties');
  const out = {};
  ((props && props.get('values')) || []).forEach((p) => { if (p.name.startsWith('sla.')) out[p.name] = p.value; });
  return out; }"""
PROPERTY_OF = """([id, name]) => { const bo = window.bpmModeler.get('elementRegistry').get(id).businessObject;
  const ext = bo.get('extensionElements');
  const props = ext && ext.get('values').find((v) => v.$type === 'camunda:Properties');
  const found = ((props && props.get('values')) || []).find((p) => p.name === name);
  return found ? found.value : null; }"""

# a named user task after `close` (before the end event), through the modeler's services
ADD_TASK = """async ([taskId, name, groups]) => {
  await window.bpmModelerReady;
  const m = window.bpmModeler;
  const registry = m.get('elementRegistry');
  const modeling = m.get('modeling');
  const close = registry.get('close');
  const end = registry.get('end');
  const flow = close.outgoing.find((c) => c.target === end);
  modeling.moveElements([end], { x: 200, y: 0 });
  const left = close.x + close.width;
  const task = modeling.createShape({ type: 'bpmn:UserTask' },
    { x: left + (end.x - left) / 2, y: close.y + close.height / 2 }, close.parent);
  modeling.reconnectEnd(flow, task, { x: task.x, y: task.y + task.height / 2 });
  modeling.connect(task, end);
  modeling.updateProperties(task, { id: taskId, name, 'camunda:candidateGroups': groups });
}"""


def _latest(var: Path, key: str) -> tuple[int, str]:
    with sqlite3.connect(var / "bpm.sqlite3") as db:
        return db.execute("SELECT version, xml FROM bpm_process_definition WHERE key = ? "
                          "ORDER BY version DESC LIMIT 1", (key,)).fetchone()


def _open(page, base: str, key: str = "complaint_handling") -> None:
    page.goto(f"{base}/modeler/{key}")
    page.locator("#canvas .djs-element[data-element-id=close]").wait_for()
    page.evaluate("() => window.bpmModelerReady")


def _present(page, element_id: str) -> bool:
    return page.evaluate("(id) => !!window.bpmModeler.get('elementRegistry').get(id)", element_id)


def test_process_owner_sets_roles_form_and_time_limit_and_deploys(bpm_server, browser_page):
    base, var = bpm_server.base, bpm_server.var
    page, errors = browser_page
    page.set_viewport_size({"width": 1366, "height": 768})
    sign_in(page, base, "process_owner")
    _open(page, base)
    before, _ = _latest(var, "complaint_handling")

    # the modeler speaks Chinese: palette, context pad, properties panel, the page around
    assert page.locator(".djs-palette [data-action='create.start-event']").get_attribute("title") == "添加开始事件"
    assert page.locator(".djs-palette [data-action='create.task']").get_attribute("title") == "添加任务"
    page.locator("#canvas .djs-element[data-element-id=close]").click()
    assert page.locator(".djs-context-pad [data-action=delete]").get_attribute("title") == "删除"
    assert page.locator(".djs-context-pad [data-action='append.append-task']").get_attribute("title") == "追加任务"
    page.locator("#properties .bio-properties-panel").wait_for()
    assert page.locator("#properties [data-group-id=group-general] .bio-properties-panel-group-header-title").inner_text() == "常规"
    assert page.locator("#properties .bio-properties-panel-header-type").inner_text() == "人工任务"
    toolbar = page.locator(".modeler-toolbar").inner_text()
    assert "撤销" in toolbar and "重做" in toolbar and not re.search(r"Undo|Redo|Save|Lint", toolbar)

    # roles by their Chinese names: 值班经理 is a box to tick, the key is written for it
    settings = page.get_by_test_id("task-settings")
    assert "任务设置：结案回访" in settings.locator("h2").inner_text()
    settings.get_by_test_id("ts-roles").get_by_label("值班经理").check()
    groups = page.evaluate("() => window.bpmModeler.get('elementRegistry').get('close').businessObject"
                           ".get('camunda:candidateGroups')")
    assert set(groups.split(",")) == {"counter_staff", "customer_manager", "duty_manager"}
    # the form from the list of deployed forms, said with the tasks that show it
    form = settings.get_by_test_id("ts-form")
    assert form.input_value() == "complaint_close"
    assert form.locator("option[value=complaint_close]").inner_text() == "complaint_close（用于：结案回访）"  # one language

    # the time limit through a small form: clock, amount, warning, escalation
    assert page.evaluate(SLA_OF, "close") == {}
    settings.get_by_test_id("ts-sla-kind").select_option("working_days")
    settings.get_by_test_id("ts-sla-amount").fill("2")
    settings.get_by_test_id("ts-sla-amount").press("Tab")
    settings.get_by_test_id("ts-sla-warn").fill("50")
    settings.get_by_test_id("ts-sla-warn").press("Tab")
    settings.get_by_test_id("ts-sla-add-escalation").click()
    assert page.evaluate(SLA_OF, "close") == {"sla.kind": "working_days", "sla.amount": "P2D", "sla.warn": "0.5",
                                              "sla.escalate": "1:duty_manager"}
    assert "值班经理" in settings.get_by_test_id("ts-sla-escalations").locator("select").evaluate(
        "(s) => s.options[s.selectedIndex].text")
    # the English name beside the Chinese one drawn on the diagram (camunda:properties name.en)
    english = settings.get_by_test_id("ts-name-en")
    assert english.input_value() == "Close and follow up"
    english.fill("Close the case and call back")
    english.press("Tab")
    assert page.evaluate(PROPERTY_OF, ["close", "name.en"]) == "Close the case and call back"
    assert page.evaluate("() => window.bpmModeler.get('elementRegistry').get('close').businessObject.name") == "结案回访"
    assert page.get_by_test_id("modeler-dirty").is_visible()
    shot(page, "modeler-owner-01-settings")

    # saving first lists what changes against the deployed version, by name
    page.locator("#modeler-save").click()
    dialog = page.get_by_test_id("modeler-diff")
    dialog.wait_for()
    assert f"与已部署的第 {before} 版相比" in dialog.inner_text()
    changed = dialog.locator("li[data-element-id=close]")
    assert changed.inner_text() == "修改 人工任务「结案回访」（名称、办理角色、时限）"
    assert dialog.locator("li").count() == 1
    shot(page, "modeler-owner-02-diff")
    page.get_by_test_id("modeler-diff-confirm").click()
    wait_until(page, f"document.getElementById('modeler-status').textContent.includes('已部署 版本 {before + 1}')")
    assert page.get_by_test_id("modeler-dirty").is_hidden()
    version, deployed = _latest(var, "complaint_handling")
    assert version == before + 1
    assert re.search(r'id="close"[^>]*camunda:candidateGroups="[^"]*duty_manager', deployed) or \
        re.search(r'camunda:candidateGroups="[^"]*duty_manager[^"]*"[^>]*id="close"', deployed)
    assert 'name="sla.amount" value="P2D"' in deployed
    assert 'name="name.en" value="Close the case and call back"' in deployed and 'name="结案回访"' in deployed

    # at phone width the settings sit under the canvas and nothing sticks out sideways
    page.set_viewport_size({"width": 390, "height": 844})
    page.evaluate("() => window.bpmModeler.get('canvas').zoom('fit-viewport', 'auto')")
    assert settings.is_visible() and "结案回访" in settings.locator("h2").inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= 391
    shot(page, "modeler-owner-03-phone")
    assert errors == []


def test_delete_undo_redo_and_leaving_with_unsaved_changes(bpm_server, browser_page):
    base = bpm_server.base
    page, errors = browser_page
    page.set_viewport_size({"width": 1366, "height": 768})
    sign_in(page, base, "process_owner")
    _open(page, base)
    undo, redo = page.get_by_test_id("modeler-undo"), page.get_by_test_id("modeler-redo")
    assert undo.is_disabled() and redo.is_disabled()

    # keys typed in the task settings stay there: Delete in the form list deletes no task
    page.locator("#canvas .djs-element[data-element-id=answer_written]").click()
    page.get_by_test_id("ts-form").focus()
    page.keyboard.press("Delete")
    assert _present(page, "answer_written") and undo.is_disabled()

    page.locator("#canvas").click(position={"x": 900, "y": 20})  # off the field, nothing selected
    assert page.evaluate("() => document.activeElement === document.body")
    page.locator("#canvas .djs-element[data-element-id=answer_written]").click()
    page.keyboard.press("Delete")
    assert not _present(page, "answer_written")
    assert page.locator("#canvas .djs-element[data-element-id=answer_written]").count() == 0
    assert undo.is_enabled() and page.get_by_test_id("modeler-dirty").is_visible()
    page.keyboard.press("Control+z")
    assert _present(page, "answer_written")
    page.locator("#canvas .djs-element[data-element-id=answer_written]").wait_for()
    page.keyboard.press("Control+y")
    assert not _present(page, "answer_written")
    undo.click()
    assert _present(page, "answer_written") and redo.is_enabled()
    redo.click()
    assert not _present(page, "answer_written")
    shot(page, "modeler-owner-04-deleted")

    # leaving with unsaved changes asks first; staying keeps the page and the change
    seen = []

    def on_dialog(dialog):
        seen.append(dialog.type)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.get_by_role("link", name="返回流程列表").click(no_wait_after=True)
    wait_until(page, "true")
    page.wait_for_timeout(300)
    assert seen == ["beforeunload"]
    assert page.url.endswith("/modeler/complaint_handling") and not _present(page, "answer_written")
    page.remove_listener("dialog", on_dialog)

    # back to the saved state: nothing to lose, no question
    undo.click()
    assert page.get_by_test_id("modeler-dirty").is_hidden()
    page.get_by_role("link", name="返回流程列表").click()
    page.wait_for_url(f"{base}/modeler")
    page.set_viewport_size({"width": 390, "height": 844})
    shot(page, "modeler-owner-05-list-phone")
    assert errors == []


def test_an_invalid_model_says_in_chinese_which_element_by_its_name(bpm_server, browser_page):
    base, var = bpm_server.base, bpm_server.var
    page, errors = browser_page
    page.set_viewport_size({"width": 1366, "height": 768})
    sign_in(page, base, "process_owner")
    _open(page, base)
    # a new task named 回访确认 with the role typed by its Chinese name and no form
    page.evaluate(ADD_TASK, ["Activity_0x1f3a", "回访确认", "值班经理"])
    page.locator("#modeler-save").click()
    dialog = page.get_by_test_id("modeler-diff")
    dialog.wait_for()
    assert "新增 人工任务「回访确认」" in dialog.locator("li[data-element-id=Activity_0x1f3a]").inner_text()
    page.get_by_test_id("modeler-diff-confirm").click()
    box = page.get_by_test_id("modeler-errors")
    box.wait_for()
    messages = box.locator("li[data-element-id=Activity_0x1f3a]").all_inner_texts()
    assert "人工任务「回访确认」没有选择表单：请在“表单”中选择办理时显示的表单" in messages
    assert any("“值班经理”是角色名称，请在角色列表中选择“值班经理”" in m for m in messages), messages
    text = box.inner_text()
    assert "Activity_0x1f3a" not in text and "formKey" not in text and "camunda" not in text
    assert page.locator("#canvas .djs-element.error[data-element-id=Activity_0x1f3a]").count() == 1
    before, _ = _latest(var, "complaint_handling")
    shot(page, "modeler-owner-06-invalid")

    # the task settings show the typed name as a wrong role; picking 值班经理 and a form fixes it
    settings = page.get_by_test_id("task-settings")
    assert "回访确认" in settings.locator("h2").inner_text()
    settings.locator("label.unknown input").click()  # the typed name goes away
    assert settings.locator("label.unknown").count() == 0
    settings.get_by_test_id("ts-roles").get_by_label("值班经理").check()
    settings.get_by_test_id("ts-form").select_option("complaint_close")
    page.locator("#modeler-save").click()
    page.get_by_test_id("modeler-diff-confirm").click()
    wait_until(page, "document.getElementById('modeler-status').textContent.includes('已部署 版本')")
    assert box.is_hidden()
    version, deployed = _latest(var, "complaint_handling")
    assert version == before + 1 and 'id="Activity_0x1f3a"' in deployed
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth") <= 391
    shot(page, "modeler-owner-07-fixed-phone")
    assert errors == []


def test_the_english_modeler_keeps_the_library_labels(bpm_server, browser_page):
    base = bpm_server.base
    page, errors = browser_page
    sign_in(page, base, "process_owner")
    page.goto(f"{base}/lang/en")
    _open(page, base)
    assert page.locator(".djs-palette [data-action='create.start-event']").get_attribute("title") == "Create start event"
    page.locator("#canvas .djs-element[data-element-id=close]").click()
    assert page.get_by_test_id("task-settings").locator("h2").inner_text().startswith("Task settings")
    assert page.get_by_test_id("ts-roles").get_by_label("Duty manager").count() == 1
    assert page.get_by_test_id("ts-form").locator("option").first.inner_text() == "(choose a form)"
    page.goto(f"{base}/lang/zh-CN")
    assert errors == []
