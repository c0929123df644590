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

import os
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "test-artifacts"
BPM = Path(sys.executable).with_name("bpm")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]

pytestmark = pytest.mark.browser


def _missing() -> str | None:
    if not os.path.exists(CHROMIUM):
        return f"{CHROMIUM} is not installed (apt-get install -y chromium, or `make test` as root)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[test]')"
    if not (ROOT / "web/static/vendor/modeler.bundle.js").exists():
        return "front-end bundles are not built (make frontend)"
    return None


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    reason = _missing()
    if reason:
        if os.environ.get("BPM_REQUIRE_BROWSER") == "1":
            pytest.fail(f"browser tests required: {reason}")
        pytest.skip(reason)
    var = tmp_path_factory.mktemp("modeler-var")
    env = {**os.environ, "BPM_VAR_DIR": str(var)}
    env.pop("BPM_DATABASE_URL", None)
    subprocess.run([str(BPM), "init", "--demo"], env=env, check=True, capture_output=True, timeout=300)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log = open(var / "serve.log", "wb")
    proc = subprocess.Popen([str(BPM), "serve", "--host", "127.0.0.1", "--port", str(port), "--no-timers"],
                            env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail("bpm serve did not start: " + (var / "serve.log").read_text(errors="replace")[-2000:])
            time.sleep(0.2)
    yield base, var
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


@pytest.fixture
def browser_page(server):
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    errors: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = browser.new_context(locale="zh-CN", viewport={"width": 1400, "height": 900})
        page = context.new_page()
        page.set_default_timeout(15000)

        def on_console(msg):
            if msg.type != "error":
                return
            url = (msg.location or {}).get("url", "")
            if "status of 422" in msg.text and url.endswith("/modeler/deploy"):
                return  # the server's errors, requested on purpose below
            errors.append(f"{msg.text} ({url})")

        page.on("console", on_console)
        page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
        yield page, errors
        context.close()
        browser.close()


def _shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


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


def test_process_owner_models_and_deploys_a_new_version(server, browser_page):
    base, var = server
    page, errors = browser_page
    page.goto(f"{base}/login")
    page.get_by_label("用户名").fill("process_owner")
    page.get_by_label("密码").fill("demo")
    page.locator("main button[type=submit]").click()
    page.wait_for_url(f"{base}/")

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
    status = page.locator("[data-testid=modeler-status]")
    page.wait_for_function("document.getElementById('modeler-status').textContent.includes('已部署 版本 2')")
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


def test_form_editor_opens_and_deploys(server, browser_page):
    base, var = server
    page, errors = browser_page
    page.goto(f"{base}/login")
    page.get_by_label("用户名").fill("admin")
    page.get_by_label("密码").fill("demo")
    page.locator("main button[type=submit]").click()
    page.wait_for_url(f"{base}/")
    page.goto(f"{base}/forms-editor/complaint_close")
    page.locator("#form-editor .fjs-editor-container").wait_for()
    page.evaluate("() => window.bpmFormEditorReady")
    page.evaluate("""() => { const e = window.bpmFormEditor;
      const schema = e.saveSchema(); schema.components.push({ type: 'text', id: 'Text_note', text: '备注 note' });
      return e.importSchema(schema); }""")
    page.locator("#editor-save").click()
    page.wait_for_function("document.getElementById('editor-status').textContent.includes('已部署 版本 2')")
    _shot(page, "form-editor-01-deployed")
    page.set_viewport_size({"width": 375, "height": 800})
    assert page.evaluate("document.documentElement.scrollWidth") <= 376
    _shot(page, "form-editor-02-phone")
    assert errors == []


def test_new_process_starts_minimal_and_is_linted(server, browser_page):
    base, var = server
    page, errors = browser_page
    page.goto(f"{base}/login")
    page.get_by_label("用户名").fill("process_owner")
    page.get_by_label("密码").fill("demo")
    page.locator("main button[type=submit]").click()
    page.wait_for_url(f"{base}/")
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
