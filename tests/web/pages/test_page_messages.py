"""The engine's refusals on a zh-CN page are Chinese; the API keeps its English message and code."""

from __future__ import annotations

import re

from engine.errors import Conflict, Forbidden
from tests.support.business import deploy, open_task, start
from tests.support.pages import sign_in

LATIN_WORD = re.compile(r"[A-Za-z]{2,}")


def _counter_task(api):
    deploy(api, "complaint_handling")
    inst = start(api, "counter_staff", "complaint_handling",
                 {"category": "standard", "complaint_type": "billing_support", "customer_name": "张三",
                  "contact_phone": "13800138000", "description": "话费扣费有误"})
    return open_task(api, inst["id"], "resolve_counter")


def test_completing_a_completed_task_says_so_in_chinese(app, api):
    task = _counter_task(api)
    client, csrf = sign_in(app, "counter_staff")
    url, headers = f"/tasks/{task['id']}/complete", {"X-CSRFToken": csrf}
    assert client.post(url, json={"data": {"counter_action": "已更正扣费"}}, headers=headers).status_code == 200
    again = client.post(url, json={"data": {"counter_action": "已更正扣费"}}, headers=headers)
    assert again.status_code == 409
    assert again.get_json()["message"] == "该任务已经办理完成，无需再次提交"
    # the API keeps the engine's English words and its error code
    r = api.post(f"/api/tasks/{task['id']}/complete", user="counter_staff", json={"data": {"counter_action": "x"}})
    assert r.status_code == 409 and r.get_json()["error"] == "conflict" and "already completed" in r.get_json()["message"]


def test_claimed_task_names_the_person_not_the_username(app, api):
    task = _counter_task(api)
    assert api.post(f"/api/tasks/{task['id']}/claim", user="counter_staff").status_code == 200
    other, csrf = sign_in(app, "counter2")
    r = other.post(f"/tasks/{task['id']}/claim", data={"csrf_token": csrf})
    assert r.status_code == 302
    page = other.get("/tasks").get_data(as_text=True)
    flash = re.search(r'class="flash[^"]*flash-error[^"]*"[^>]*>(.*?)</', page, re.S)
    assert flash, page
    assert "认领" in flash.group(1) and not LATIN_WORD.search(flash.group(1)), flash.group(1)


def test_unknown_engine_message_falls_back_to_a_chinese_sentence(app):
    from web.messages import page_message

    with app.test_request_context("/", headers={"Accept-Language": "zh-CN"}):
        assert page_message(Conflict("something nobody translated")) == "操作与当前状态冲突，请刷新页面后重试"
        assert page_message(Forbidden("only bots may do that")) == "您无权执行此操作"
        assert page_message(Conflict("task is already cancelled")) == "该任务已被取消"
    with app.test_request_context("/", headers={"Accept-Language": "en"}):
        assert page_message(Conflict("task is already completed")) == "task is already completed"


def test_names_show_in_the_page_language_only(app, api):
    """A task's and a process's two-language names: one language per page, never both glued."""
    task = _counter_task(api)
    client, _ = sign_in(app, "counter_staff")
    zh = client.get(f"/tasks/{task['id']}").get_data(as_text=True)
    assert "柜台处理" in zh and "Counter handling" not in zh
    assert "投诉处理" in zh and "Complaint handling" not in zh
    client.get("/lang/en")
    en = client.get(f"/tasks/{task['id']}").get_data(as_text=True)
    assert "Counter handling" in en and "柜台处理 Counter handling" not in en
