"""The key-account room manager's own assessment and target plan, in a real browser.

The module's server is ``bpm init --demo`` (``engine.ops.room_demo``): the room's October 2026
facts, its sheet ``key_account_room_kpi`` computed (19.2 of 25) and waiting for the group
customer department's check, and an approved plan for 2027. Then:

* the room manager (``key_account_manager``) enters a 2028 plan in the task form; the engine's
  split is what the department manager reads;
* the department manager of 集团客户部 (``dept_group_manager``) opens the dashboard: the sheet with
  its three headings and the month per indicator, split per customer manager, week and day.

Screenshots go to test-artifacts/room-kpi-*.png; any console error fails the test.
"""

from __future__ import annotations

import pytest

from tests.browser.conftest import shot, sign_in
from tests.browser.forms import api_headers, fill, open_task, settled, submit_task

pytestmark = pytest.mark.browser

TARGETS = {"全年集团收入（元）": "2400000", "全年集团信息化收入（元）": "360000", "全年集团个人客户到达数": "600",
           "全年集团新增家数": "24", "全年集团彩铃个人客户到达数": "1200", "全年集团产品推广家数": "24",
           "中高端客户保有率 %（全年目标）": "96", "全年放号数": "2400", "全年企信通收入（元）": "60000"}


def test_room_manager_enters_the_yearly_plan_and_the_engine_splits_it(server, browser_page):
    """001 重要室经理考核制度 「重要室经理将一年的指标按照月进度进行分解,再按照客户经理的人数按照月计划表再分配到每周,
    再细化到每天」."""
    page, errors = browser_page
    sign_in(page, server, "key_account_manager")
    headers = api_headers(page, server, "key_account_manager")
    started = page.request.post(f"{server}/api/process-definitions/target_plan/instances", headers=headers,
                                data={"data": {}})
    assert started.status == 201, started.text()
    instance_id = started.json()["id"]
    open_task(page, server, "target_plan", "填写全年指标")
    fill(page.get_by_label("计划年度"), "2028")
    for label, value in TARGETS.items():
        fill(page.get_by_label(label), value)
    settled(page, "d.plan_year === 2028 && d.target_qixintong_revenue === 60000")
    shot(page, "room-kpi-01-plan")
    submit_task(page, server, "room-kpi-plan", console=errors)
    inst = page.request.get(f"{server}/api/process-instances/{instance_id}", headers=headers).json()
    summary = inst["data"]["plan_summary"]
    assert "全年 2,400,000" in summary and "1月 200,000" in summary
    assert "每周：" in summary and "每个工作日约" in summary
    assert [t["element_id"] for t in inst["open_tasks"]] == ["approve"]
    assert not errors, errors


def test_group_department_sees_the_room_sheet_and_the_split_of_the_month(server, browser_page):
    """001 重要室经理考核制度 「集团客户离网率10分 / 集团其他指标10分 / 企信通5分」 and 「完成指标得满分,
    若只完成基本目标得全分值的90%,若完成挑战目标得全分」."""
    page, errors = browser_page
    sign_in(page, server, "dept_group_manager")
    page.goto(f"{server}/dashboards?job=key_account_room_kpi&period=2026-10")
    user_table = page.locator("[data-testid=table-user]").inner_text()
    for text in ("集团客户离网率", "集团其他指标", "企信通", "19.2", "9.2", "76.8"):
        assert text in user_table, text
    kpi_table = page.locator("[data-testid=table-kpi]").inner_text()
    for text in ("集团收入（元）", "完成率 %", "106.67", "完成指标", "基本目标", "每人每周", "第41周"):
        assert text in kpi_table, text
    assert "审核中" in page.locator("[data-testid=sheets]").inner_text()
    page.locator("canvas").first.wait_for()
    shot(page, "room-kpi-02-dashboard")
    assert not errors, errors
