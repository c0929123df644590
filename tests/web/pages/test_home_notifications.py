"""The home page's work list (counts of my open, overdue and due-today tasks in the halls' time, my
recent cases, what I may start) and the notifications page behind the header's bell (mark read
with CSRF, only one's own), on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from engine.clock import clock
from engine.identity.auth import actor_by_name
from engine.runtime import worklist
from engine.scheduling.timers import fire_due
from tests.support.business import deploy, open_task, start
from tests.support.pages import sign_in

MONDAY_10 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # Monday 10:00 in the halls (Asia/Shanghai)
STANDARD = {"category": "standard", "complaint_type": "billing_support", "customer_name": "张三",
            "contact_phone": "13800138000", "description": "话费扣费有误"}


@pytest.fixture
def complaints(api):
    clock.set(MONDAY_10)
    deploy(api, "complaint_handling")
    yield api
    clock.reset()


def _count(html: str, name: str) -> int:
    match = re.search(rf'data-testid="count-{name}"><span class="n">(\d+)</span>', html)
    assert match, name
    return int(match.group(1))


def _bell(html: str) -> int | None:
    """The header bell's number, None when it is hidden (nothing unread)."""
    match = re.search(r'<span class="bell-count" data-testid="bell-count"( hidden)?>([^<]*)</span>', html)
    assert match, "no bell in the header"
    return None if match.group(1) else int(match.group(2))


def test_the_home_page_counts_my_open_overdue_and_due_today_tasks(app, complaints):
    api = complaints
    first = start(api, "counter_staff", "complaint_handling", STANDARD)
    start(api, "counter_staff", "complaint_handling", {**STANDARD, "customer_name": "李四"})
    api.post(f"/api/tasks/{open_task(api, first['id'], 'resolve_counter')['id']}/claim", "counter2")
    client, _ = sign_in(app, "counter2")
    home = client.get("/").get_data(as_text=True)
    # one claimed, one to claim; both due at 10:03 today, neither overdue yet
    assert (_count(home, "mine"), _count(home, "candidate"), _count(home, "overdue"), _count(home, "today")) == (1, 1, 0, 2)
    assert home.count('data-testid="due-badge"') == 2 and "2026-11-23 10:03" in home  # China time
    assert "柜台处理" in home and "待认领" in home
    # what counter2 may start, with the start form's link; no raw API description for a clerk
    assert 'href="/start/complaint_handling"' in home and "投诉处理" in home
    assert "openapi" not in home and "接口文档" not in home
    clock.advance(timedelta(minutes=4))  # 10:04: both past their 3 minutes
    home = client.get("/").get_data(as_text=True)
    assert _count(home, "overdue") == 2 and _count(home, "today") == 2 and "已超时" in home
    # the counts are the tasklist's filters
    assert client.get("/tasks?due=overdue").get_data(as_text=True).count('class="task"') == 2
    clock.advance(timedelta(hours=14))  # Tuesday 00:04 in the halls: still overdue, no longer due today
    client, _ = sign_in(app, "counter2")  # the next shift's session
    home = client.get("/").get_data(as_text=True)
    assert _count(home, "overdue") == 2 and _count(home, "today") == 0
    assert client.get("/tasks?due=today").get_data(as_text=True).count('class="task"') == 0


def test_the_starters_recent_cases_and_the_owners_api_link(app, complaints):
    api = complaints
    inst = start(api, "counter_staff", "complaint_handling", STANDARD)
    client, _ = sign_in(app, "counter_staff")
    home = client.get("/").get_data(as_text=True)
    cases = home[home.index('data-testid="home-cases"'):home.index('data-testid="home-start"')]
    assert f'href="/instances/{inst["id"]}"' in cases and "投诉处理 · " in cases and "进行中" in cases
    assert "Complaint handling" not in home  # the Chinese half of the bilingual name on a Chinese page
    # a user who starts nothing and has no work sees it said, not an empty page
    nobody, _ = sign_in(app, "nobody")
    page = nobody.get("/").get_data(as_text=True)
    assert "您没有可发起的流程" in page and "暂无流程实例" in page and _count(page, "mine") == 0
    for user in ("process_owner", "admin"):
        owner, _ = sign_in(app, user)
        assert 'href="/api/openapi.json"' in owner.get("/").get_data(as_text=True), user


def test_the_summary_is_the_engines(engine, complaints):
    """The engine's summary (what the page shows) for a duty manager: the technical complaint due
    tomorrow is open but not due today."""
    api = complaints
    start(api, "counter_staff", "complaint_handling", {**STANDARD, "category": "technical"})
    with engine.read() as db:
        actor = actor_by_name(db, "duty_manager")
        summary = worklist.summary(db, actor)
    assert summary["counts"] == {"mine": 0, "candidate": 1, "overdue": 0, "due_today": 0}
    assert [t["element_id"] for t in summary["tasks"]] == ["resolve_technical"]
    assert summary["tasks"][0]["due_state"] == "on_time"
    assert "complaint_handling" not in {d["key"] for d in summary["startable"]}  # counter staff and managers start it


def test_notifications_are_listed_marked_read_with_csrf_and_only_by_their_owner(app, engine, complaints):
    api = complaints
    inst = start(api, "counter_staff", "complaint_handling", STANDARD)
    task = open_task(api, inst["id"], "resolve_counter")
    clock.advance(timedelta(minutes=2, seconds=30))  # past 80 % of the 3 minutes: the SLA warning
    assert fire_due(engine) >= 1
    clerk, clerk_csrf = sign_in(app, "counter2")
    page = clerk.get("/notifications").get_data(as_text=True)
    assert _bell(page) == 1 and "未读 1 条，共 1 条" in page
    assert "时限预警：柜台处理" in page and f'href="/tasks/{task["id"]}"' in page and "查看任务" in page
    assert "SLA warning" not in page  # the page's language, not the stored bilingual title
    assert "2026-11-23 10:02" in page  # sent at 10:02:30 China time
    note_id = int(re.search(r'data-notification-id="(\d+)"', page).group(1))
    assert clerk.get("/live").get_json() == {"signed_in": True, "unread": 1, "tasks": [task["id"]]}
    clerk.get("/lang/en")
    page = clerk.get("/notifications").get_data(as_text=True)
    assert "SLA warning: Counter handling" in page and "Open the task" in page and "1 unread of 1" in page
    clerk.get("/lang/zh-CN")
    # another clerk warned of the same task cannot mark counter2's notification read
    other, other_csrf = sign_in(app, "counter_staff")
    assert other.post(f"/notifications/{note_id}/read", data={"csrf_token": other_csrf}).status_code == 404
    assert clerk.post(f"/notifications/{note_id}/read").status_code == 400  # no CSRF token
    assert _bell(clerk.get("/").get_data(as_text=True)) == 1
    r = clerk.post(f"/notifications/{note_id}/read", data={"csrf_token": clerk_csrf, "next": "//evil.example/"})
    assert r.status_code == 302 and r.headers["Location"].endswith("/notifications")
    page = clerk.get("/notifications").get_data(as_text=True)
    assert _bell(page) is None and "未读 0 条，共 1 条" in page and 'data-testid="mark-read"' not in page
    assert clerk.get("/live").get_json()["unread"] == 0
    # counter_staff's own copy is still unread; mark all read clears it
    assert _bell(other.get("/").get_data(as_text=True)) == 1
    r = other.post("/notifications/read-all", data={"csrf_token": other_csrf})
    assert r.status_code == 302 and _bell(other.get("/").get_data(as_text=True)) is None
    # signed out, the poll says so instead of failing
    assert app.test_client().get("/live").get_json() == {"signed_in": False}
