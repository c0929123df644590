"""Shared browser-test fixtures: a real `bpm serve` and a Playwright page in Debian's chromium.

Each test module gets its own server: a copy of one `bpm init --demo` of the session (a fresh
SQLite database with the demo data and seal keys), then `bpm serve --no-timers --demo-workers`
on a free port. Browser tests are skipped when /usr/bin/chromium,
Playwright or the front-end bundles are missing, unless BPM_REQUIRE_BROWSER=1. Any browser
console error fails a test, except the refusals a module lists in ``EXPECTED_REFUSALS``
as ``(status, url suffix)`` pairs (requests the test makes to see them refused).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import ROOT

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "test-artifacts"
BPM = Path(sys.executable).with_name("bpm")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]


def shot(page, name: str) -> None:
    """Keep a screenshot of the page as a test artifact (not committed)."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def sign_in(page, base: str, username: str, password: str = "demo") -> None:
    """Sign in through the login page (the demo users' password by default), from a fresh session."""
    page.context.clear_cookies()
    page.goto(f"{base}/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(password)
    page.locator("main button[type=submit]").click()
    page.wait_for_url(f"{base}/")


def _missing() -> str | None:
    if not os.path.exists(CHROMIUM):
        return f"{CHROMIUM} is not installed (apt-get install -y chromium, or `make test` as root)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[test]')"
    if not (ROOT / "web/static/vendor/form-js/form-viewer.umd.js").exists():
        return "front-end bundles are not built (make frontend)"
    return None


@dataclass
class Server:
    base: str
    var: Path


@pytest.fixture(scope="session")
def demo_var(tmp_path_factory) -> Path:
    """A var folder after `bpm init --demo`, made once per session: each module's server starts
    from a copy of it (the init takes seconds, mostly hashing the demo users' passwords)."""
    var = tmp_path_factory.mktemp("browser-demo")
    env = {**os.environ, "BPM_VAR_DIR": str(var)}
    env.pop("BPM_DATABASE_URL", None)
    subprocess.run([str(BPM), "init", "--demo"], env=env, check=True, capture_output=True, timeout=300)
    return var


@pytest.fixture(scope="module")
def bpm_server(request, tmp_path_factory) -> Server:
    reason = _missing()
    if reason:
        if os.environ.get("BPM_REQUIRE_BROWSER") == "1":
            pytest.fail(f"browser tests required: {reason}")
        pytest.skip(reason)
    var = tmp_path_factory.mktemp("browser-var")
    shutil.copytree(request.getfixturevalue("demo_var"), var, dirs_exist_ok=True)
    # every test signs in from 127.0.0.1: the per-address sign-in limits would count the whole suite as one client
    env = {**os.environ, "BPM_VAR_DIR": str(var), "BPM_RATE_LIMIT_LOGINS": "10000/minute",
           "BPM_RATE_LIMIT_FAILED_LOGINS": "10000/minute"}
    env.pop("BPM_DATABASE_URL", None)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log = open(var / "serve.log", "wb")
    # with the demo's external-task workers (bpm external-worker per topic, over this server's API)
    proc = subprocess.Popen([str(BPM), "serve", "--host", "127.0.0.1", "--port", str(port), "--no-timers",
                             "--demo-workers"],
                            env=env, stdout=log, stderr=subprocess.STDOUT)
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
    yield Server(f"http://127.0.0.1:{port}", var)
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


@pytest.fixture(scope="module")
def server(bpm_server) -> str:
    """The base URL of the module's server."""
    return bpm_server.base


@pytest.fixture
def browser_page(request, bpm_server):
    """``(page, errors)``: a zh-CN page at desktop size and the console errors seen so far."""
    from playwright.sync_api import sync_playwright

    expected = getattr(request.module, "EXPECTED_REFUSALS", ())
    errors: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900}, accept_downloads=True)
        page = context.new_page()
        page.set_default_timeout(15000)

        def on_console(msg):
            if msg.type != "error":
                return
            url = (msg.location or {}).get("url", "")
            if any(f"status of {status}" in msg.text and url.endswith(suffix) for status, suffix in expected):
                return
            errors.append(f"{msg.text} ({url})")

        page.on("console", on_console)
        page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
        yield page, errors
        context.close()
        browser.close()
