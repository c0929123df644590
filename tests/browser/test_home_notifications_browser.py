"""The home page as a work list, the header's notification bell and the tasklist that keeps itself
current, in a real browser on the module's demo server.

* 000 「技术性业务……限24小时解决」: a technical complaint left open past 150 % of its 24 hours is
  escalated to the hall manager, whose bell counts it (without a reload); the notification list
  links to the task, and marking it read lowers the count;
* the home page counts the user's open, overdue and due-today tasks, lists them and the processes
  the user may start, and shows no raw API description to a clerk;
* a complaint registered at another counter appears on an open tasklist without a reload.

The SLA thresholds are fired by the engine (``engine.sla.events.fire``) in a separate process
against the server's database, as the timer worker would when their time comes. Screenshots go
to test-artifacts/home-*.png at 1366x768 and 390x844.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from tests.browser.conftest import shot, sign_in
from tests.browser.forms import wait_until

pytestmark = pytest.mark.browser

TECHNICAL = {"category": "technical", "complaint_type": "network", "customer_name": "赵六",
             "contact_phone": "13900139001", "description": "室内无信号"}
STANDARD = {"category": "standard", "complaint_type": "billing_support", "customer_name": "钱七",
            "contact_phone": "13900139002", "description": "话费扣费有误"}
SIZES = (("desktop", 1366, 768), ("phone", 390, 844))

# fire every pending SLA threshold of one task now (warning, breach, escalations), oldest first
FIRE_SLA = """
import sys
from sqlalchemy import select
from engine.app import BpmEngine
from engine.clock import utcnow
from engine.config import load_settings
from engine.identity.actor import SYSTEM
from engine.sla import events
from engine.store.models import Timer

engine = BpmEngine(load_settings())
with engine.uow(SYSTEM) as uow:
    query = (select(Timer).where(Timer.task_id == sys.argv[1], Timer.kind == "sla", Timer.state == "pending")
             .order_by(Timer.fire_at))
    for timer in uow.session.scalars(query).all():
        assert events.fire(uow, timer)
        timer.state, timer.fired_at = "fired", utcnow()
        print(timer.payload.get("level"))
engine.close()
"""


def _fire_sla(var, task_id: str) -> list[str]:
    env = {**os.environ, "BPM_VAR_DIR": str(var)}
    env.pop("BPM_DATABASE_URL", None)
    done = subprocess.run([sys.executable, "-c", FIRE_SLA, task_id], env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def _headers(page, base: str, user: str) -> dict:
    """A bearer token; a sign-in refused while the server's password hashing is busy (429, the
    demo's workers sign in as the server starts) is tried again after the time it names."""
    for _ in range(20):
        r = page.request.post(f"{base}/api/auth/token", data={"username": user, "password": "demo"})
        if r.status != 429:
            break
        time.sleep(int(r.headers.get("retry-after", "1")))
    assert r.ok, r.text()
    return {"Authorization": f"Bearer {r.json()['token']}"}


def _start(page, base: str, data: dict) -> dict:
    r = page.request.post(f"{base}/api/process-definitions/complaint_handling/instances",
                          headers=_headers(page, base, "counter_staff"), data={"data": data})
    assert r.status == 201, r.text()
    return r.json()


def _bell(page) -> int:
    count = page.locator("[data-testid=bell-count]")
    return 0 if count.is_hidden() else int(count.inner_text())


def _shots(page, name: str) -> None:
    for label, width, height in SIZES:
        page.set_viewport_size({"width": width, "height": height})
        shot(page, f"{name}-{label}")
    page.set_viewport_size({"width": 1366, "height": 768})


def _header_fits(page) -> None:
    """1366 px: the header is one row (brand, nav, bell, language, user, sign-out); 390 px: the bell
    stays on the first row with the brand and the sign-out, nothing leaves the screen."""
    page.set_viewport_size({"width": 1366, "height": 768})
    brand = page.locator("header strong").bounding_box()
    for part in ("[data-testid=bell]", "header form.inline button", "header nav"):
        box = page.locator(part).bounding_box()
        assert abs((box["y"] + box["height"] / 2) - (brand["y"] + brand["height"] / 2)) < 12, part
    page.set_viewport_size({"width": 390, "height": 844})
    brand, bell = page.locator("header strong").bounding_box(), page.locator("[data-testid=bell]").bounding_box()
    assert abs(bell["y"] - brand["y"]) < 16 and bell["x"] + bell["width"] <= 390
    assert page.locator("header").bounding_box()["height"] < 140
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.set_viewport_size({"width": 1366, "height": 768})


def test_the_hall_manager_is_told_of_the_escalation_follows_it_and_marks_it_read(bpm_server, server, browser_page):
    page, errors = browser_page
    base = server
    page.goto(f"{base}/login")
    inst = _start(page, base, TECHNICAL)
    [task_id] = [t["id"] for t in inst["open_tasks"] if t["element_id"] == "resolve_technical"]
    page.clock.install()  # the page's poll timer runs on a clock the test moves
    sign_in(page, base, "hall_manager")
    before = _bell(page)
    assert _fire_sla(bpm_server.var, task_id) == ["warning", "breach", "escalation", "escalation"]
    # no reload: the next poll (30 s) brings the count
    page.clock.fast_forward("00:31")
    # polled through page.evaluate: wait_for_function's eval is refused by the page's CSP (tests/browser/forms.py)
    wait_until(page, f"document.querySelector('[data-testid=bell-count]').textContent.trim() === '{before + 1}'",
               timeout=60)
    assert _bell(page) == before + 1 and f"{before + 1} 条未读" in page.locator("[data-testid=bell]").get_attribute("aria-label")
    _header_fits(page)

    page.locator("[data-testid=bell]").click()
    page.wait_for_url(f"{base}/notifications")
    note = page.locator("li.note.unread", has_text="超时升级：技术处理").first
    note.wait_for()
    assert "投诉处理" in note.inner_text() and "SLA" not in note.inner_text()
    assert f"未读 {before + 1} 条" in page.locator("[data-testid=unread-line]").inner_text()
    _shots(page, "home-notifications")

    # the link opens the task (the escalation made the hall manager one of its candidates)
    note.locator("[data-testid=note-link]").click()
    page.wait_for_url(f"{base}/tasks/{task_id}")
    page.locator(".fjs-form").wait_for()
    assert "技术处理" in page.locator("main h1").inner_text()
    assert _bell(page) == before + 1  # opening is not reading

    page.goto(f"{base}/notifications")
    page.locator("li.note.unread", has_text="超时升级：技术处理").first.locator("[data-testid=mark-read]").click()
    page.wait_for_url(f"{base}/notifications")
    assert _bell(page) == before
    assert page.locator("li.note.read", has_text="超时升级：技术处理").count() == 1
    assert errors == [], "\n".join(errors)


def test_the_home_page_is_the_users_work_list(server, browser_page):
    page, errors = browser_page
    base = server
    page.goto(f"{base}/login")
    _start(page, base, STANDARD)
    sign_in(page, base, "counter_staff")
    counts = page.locator("[data-testid=work-counts]")
    for testid, label in (("count-mine", "我的任务"), ("count-candidate", "可认领任务"), ("count-overdue", "已超时"),
                          ("count-today", "今日到期"), ("count-unread", "未读通知")):
        assert label in counts.locator(f"[data-testid={testid}]").inner_text(), testid
    claimable = int(counts.locator("[data-testid=count-candidate] .n").inner_text())
    today = int(counts.locator("[data-testid=count-today] .n").inner_text())
    assert claimable >= 1 and today >= 1
    tasks = page.locator("[data-testid=home-tasks] li.task")
    assert tasks.count() >= 1 and tasks.filter(has_text="柜台处理").count() >= 1
    assert page.locator("[data-testid=home-cases] li.task", has_text="投诉处理").count() >= 1
    start = page.locator("[data-testid=home-start]")
    assert start.get_by_role("link", name="投诉处理").count() == 1
    assert page.locator("a[href='/api/openapi.json']").count() == 0 and "接口文档" not in page.locator("body").inner_text()
    _header_fits(page)
    _shots(page, "home-worklist")

    # the due-today count opens the tasklist filtered the same way
    counts.locator("[data-testid=count-today]").click()
    page.wait_for_url(f"{base}/tasks?due=today")
    assert page.locator("li.task").count() == today
    page.goto(f"{base}/")
    start.get_by_role("link", name="投诉处理").click()
    page.wait_for_url(f"{base}/start/complaint_handling")
    page.locator(".fjs-form").wait_for()
    assert errors == [], "\n".join(errors)


def test_the_tasklist_shows_a_new_task_without_a_reload(server, browser_page):
    page, errors = browser_page
    base = server
    page.clock.install()
    sign_in(page, base, "counter_staff")
    page.goto(f"{base}/tasks")
    page.evaluate("window.__sameDocument = true")
    before = page.locator("[data-testid=section-candidate] li.task").count()
    assert page.locator("[data-testid=new-tasks]").is_hidden()
    inst = _start(page, base, {**STANDARD, "customer_name": "孙八"})
    [task_id] = [t["id"] for t in inst["open_tasks"] if t["element_id"] == "resolve_counter"]
    page.clock.fast_forward("00:31")
    item = page.locator(f"[data-testid=section-candidate] li.task.task-new[data-task-id='{task_id}']")
    item.wait_for()
    assert page.evaluate("window.__sameDocument") is True  # the same document: not reloaded
    assert page.locator("[data-testid=new-tasks]").inner_text() == "有 1 个新任务，列表已自动更新"
    assert page.locator("[data-testid=section-candidate] li.task").count() == before + 1
    assert f"({before + 1})" in page.locator("#h-candidate").inner_text()
    _shots(page, "home-tasklist-live")
    # the refreshed list works: 办理 claims the new task and opens it
    item.get_by_role("button", name="办理").click()
    page.wait_for_url(f"{base}/tasks/{task_id}")
    assert errors == [], "\n".join(errors)
