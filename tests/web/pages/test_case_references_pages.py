"""The case list and the task list show each case's reference and list fields, find a case by
reference, name or phone, and page 20 at a time with page links and the total."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from engine.clock import clock
from tests.support.business import deploy, start
from tests.support.pages import sign_in

ZH = {"Accept-Language": "zh-CN"}


@pytest.fixture(autouse=True)
def _in_2026():
    clock.set(datetime(2026, 6, 1, 2, 0, tzinfo=UTC))
    yield
    clock.reset()


def complaint(api, name: str, phone: str) -> dict:
    clock.advance(timedelta(seconds=1))  # the lists show the newest first
    return start(api, "counter_staff", "complaint_handling", {
        "category": "standard", "complaint_type": "billing_support", "customer_name": name, "contact_phone": phone,
        "description": "话费异常"})


def rows(page: str, attr: str) -> list[str]:
    return re.findall(rf'<li class="task" {attr}="([^"]+)"', page)


def test_the_case_list_finds_a_case_and_pages_twenty_at_a_time(app, api):
    deploy(api, "complaint_handling")
    cases = [complaint(api, f"客户{i:02d}", f"1380000{i:04d}") for i in range(23)]
    client = sign_in(app, "auditor")[0]
    page = client.get("/instances", headers=ZH).get_data(as_text=True)
    assert len(rows(page, "data-instance-id")) == 20
    assert "共 23 条" in page and 'aria-current="page">1<' in page and "?page=2" in page
    # the newest case first, with its reference and list fields
    assert "TS-2026-000023" in page and "客户22" in page and "13800000022" in page and "电话" in page
    second = client.get("/instances?page=2", headers=ZH).get_data(as_text=True)
    assert rows(second, "data-instance-id") == [c["id"] for c in cases[2::-1]]
    by_ref = client.get("/instances?q=TS-2026-000005", headers=ZH).get_data(as_text=True)
    assert rows(by_ref, "data-instance-id") == [cases[4]["id"]] and "共 1 条" in by_ref
    assert 'value="TS-2026-000005"' in by_ref  # the search box keeps what was typed
    by_phone = client.get("/instances?q=13800000007", headers=ZH).get_data(as_text=True)
    assert rows(by_phone, "data-instance-id") == [cases[7]["id"]]
    by_name = client.get("/instances?q=客户1", headers=ZH).get_data(as_text=True)
    assert len(rows(by_name, "data-instance-id")) == 10 and "共 10 条" in by_name
    none = client.get("/instances?q=不存在的人", headers=ZH).get_data(as_text=True)
    assert rows(none, "data-instance-id") == [] and "没有找到符合条件的业务" in none


def test_the_task_list_shows_references_and_finds_a_case(app, api):
    deploy(api, "complaint_handling")
    first = complaint(api, "张三", "13800138000")
    second = complaint(api, "李四", "13900139000")
    client = sign_in(app, "counter_staff")[0]
    page = client.get("/tasks", headers=ZH).get_data(as_text=True)
    assert first["reference"] in page and second["reference"] in page and "张三" in page
    found = client.get("/tasks?q=李四", headers=ZH).get_data(as_text=True)
    assert second["reference"] in found and first["reference"] not in found
    found = client.get(f"/tasks?q={first['reference']}", headers=ZH).get_data(as_text=True)
    assert first["reference"] in found and second["reference"] not in found
    task = re.search(r'href="(/tasks/[0-9a-f-]{36})"', found).group(1)
    assert first["reference"] in client.get(task, headers=ZH).get_data(as_text=True)  # the task page's header
    case = client.get(f"/instances/{first['id']}", headers=ZH).get_data(as_text=True)
    assert re.search(r'data-testid="case-reference"[^>]*>TS-2026-000001<', case)
