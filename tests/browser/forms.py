"""Helpers for driving form-js task pages and the server of a browser-test module.

form-js applies typed input after a debounce, so ``fill`` leaves the field and ``settled``
waits until the form state holds what was typed; ``submit_task`` submits a task form and
lands on the tasklist, and when it does not, fails naming what the page showed, what the
server answered and the tail of the server's log.
"""

from __future__ import annotations

import os
import subprocess
import time

from tests.browser.conftest import BPM, shot


def bpm_cli(var, *args, input: str | None = None) -> str:
    """Run `bpm ARGS` against the SQLite database of the module's server (its var dir); stdout."""
    env = {**os.environ, "BPM_VAR_DIR": str(var)}
    env.pop("BPM_DATABASE_URL", None)
    done = subprocess.run([str(BPM), *args], env=env, capture_output=True, text=True, timeout=300, input=input)
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    return done.stdout


def open_task(page, base: str, process: str, name: str) -> str:
    """Open the claimable/own ``process`` task called ``name`` from the tasklist; returns its id."""
    page.goto(f"{base}/tasks?process={process}")
    item = page.locator("li.task", has_text=name).first
    item.wait_for()
    task_id = item.get_attribute("data-task-id")
    item.locator(".open-task", has_text="办理").click()  # a claimable task: 办理 claims it and opens it
    page.wait_for_url(f"{base}/tasks/{task_id}")
    page.locator(".fjs-form").wait_for()
    return task_id


def fill(locator, value: str) -> None:
    """Type into a form-js field and leave it, so its debounced change is applied at once."""
    locator.fill(value)
    locator.blur()


def wait_until(page, expression: str, timeout: float = 15.0) -> None:
    """Poll a JS ``expression`` until it is truthy. Playwright's ``wait_for_function`` compiles its
    predicate with ``eval`` inside the page, which the pages' Content-Security-Policy refuses (no
    ``unsafe-eval``); ``page.evaluate`` runs through the DevTools protocol, which the CSP does not govern."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(f"() => !!({expression})"):
        assert time.monotonic() < deadline, f"timed out waiting for {expression}"
        page.wait_for_timeout(50)


def settled(page, condition: str) -> None:
    """Wait until the form-js state holds what was typed (it applies input after a debounce):
    ``condition`` is a JS expression over the form data ``d``."""
    wait_until(page, f"(() => {{ const d = window.bpmForm.form._getState().data; return {condition}; }})()")


def choose(page, field, option: str) -> None:
    item = page.locator(".fjs-dropdownlist-item", has_text=option).first
    for opener in (lambda: field.locator(".fjs-input-group").click(), lambda: field.locator(".fjs-select-display").click(),
                   lambda: field.locator("input").press("ArrowDown")):
        opener()
        try:
            item.wait_for(state="visible", timeout=2000)
            break
        except Exception:  # noqa: BLE001 - try the next way of opening the list
            continue
    item.click()


def _log_tail(log) -> str:
    return "\nserver log:\n" + log.read_text(errors="replace")[-3000:] if log and log.exists() else ""


def submit_task(page, base: str, name: str, log=None, console=()) -> None:
    """Submit the task form and land on the tasklist. When the page does not post, or the
    server refuses, the failure names what the page shows (its error list) and what the
    server answered, and a screenshot ``name``-failed is kept."""
    button = page.locator("#form-submit")
    button.scroll_into_view_if_needed()
    page.evaluate("() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))")
    try:
        with page.expect_response(lambda r: r.url.endswith("/complete") and r.request.method == "POST") as answer:
            button.click()
    except Exception as exc:  # noqa: BLE001 - re-raised with what the page shows
        shot(page, f"{name}-failed")
        shown = page.locator("#form-errors").inner_text() if page.locator("#form-errors").is_visible() else ""
        state = page.evaluate("""() => ({status: document.getElementById('form-status').textContent,
            disabled: document.getElementById('form-submit').disabled, active: String(document.activeElement &&
            (document.activeElement.id || document.activeElement.tagName)),
            errors: window.bpmForm.form._getState().errors, data: window.bpmForm.form._getState().data})""")
        raise AssertionError(f"the form was not posted ({exc}); page errors: {shown!r}; state: {state}; "
                             f"console: {console}{_log_tail(log)}") from exc
    response = answer.value
    if response.status != 200:
        shot(page, f"{name}-failed")
        raise AssertionError(f"completion refused: {response.status} {response.text()[:500]}{_log_tail(log)}")
    try:
        page.wait_for_url(f"{base}/tasks")
    except Exception as exc:  # noqa: BLE001 - re-raised with what the page shows
        shot(page, f"{name}-failed")
        raise AssertionError(f"completed ({response.text()[:200]}) but the page stayed at {page.url}"
                             f"{_log_tail(log)}") from exc
    page.get_by_text("任务已提交").wait_for()


def api_headers(page, base: str, user: str):
    r = page.request.post(f"{base}/api/auth/token", data={"username": user, "password": "demo"})
    assert r.ok, r.text()
    return {"Authorization": f"Bearer {r.json()['token']}"}
