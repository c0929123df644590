"""The service hall in a real browser: queue tickets, waiting per hall and hour, congestion response.

On the module's server (`bpm init --demo`: yesterday's ticketed counter transactions in hall-1,
``sla_daily_report`` run for yesterday, and a congestion that rose from level 1 to level 2 just now):

* the counter clerk's acceptance form asks for the ticket number and time only when the
  customer took a ticket from the machine, for the time alone after the greeter's entry;
* the hall manager answers the one open level-2 alert: the level's actions and the four
  diversion posts, each with who was on it and what they did; an empty post is refused;
* the hall manager's dashboard shows yesterday's waiting per hall and per hour, with a chart.

Screenshots go to test-artifacts/halls-*.png; any console error fails the test.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from engine.clock import LOCAL_TZ
from tests.browser.conftest import shot, sign_in
from tests.browser.forms import api_headers as _api
from tests.browser.forms import choose, fill, open_task, settled, wait_until
from tests.browser.forms import submit_task as _submit

pytestmark = pytest.mark.browser


def test_the_acceptance_form_asks_for_the_queue_ticket(server, browser_page):
    """000 限时服务 「等待办理业务时限5分钟」: the ticket (machine number and time, or the greeter's
    entry time) is taken at the acceptance, so that each customer's waiting can be measured."""
    page, errors = browser_page
    base = server
    sign_in(page, base, "counter_staff")
    page.goto(f"{base}/start/one_counter")
    page.locator(".fjs-form").wait_for()
    source = page.locator(".fjs-form-field-select", has_text="排队登记方式")
    ticket_time = page.locator(".fjs-form-field-datetime")
    assert page.get_by_text("排队号码").count() == 0 and ticket_time.count() == 0
    choose(page, source, "取号机取号")
    settled(page, "d.ticket_source === 'machine'")
    page.get_by_text("排队号码").first.wait_for()
    assert ticket_time.count() == 1 and "取号日期" in ticket_time.inner_text()
    shot(page, "halls-01-ticket")
    choose(page, source, "迎宾登记")
    settled(page, "d.ticket_source === 'greeter'")
    wait_until(page, "!document.body.innerText.includes('排队号码')")
    assert ticket_time.count() == 1
    assert errors == [], "\n".join(errors)


def test_the_hall_manager_answers_the_level_two_alert_post_by_post(bpm_server, server, browser_page):
    """002 「二级应急」 「A、客户等候时间预警 B、增开受理台席 C、保安协助进行就近社会渠道分流 D、预受理」 and
    「四级分流岗 … 迎宾咨询岗 流动导购岗 值班经理岗 保安岗」: one alert at level 2, answered post by post."""
    page, errors = browser_page
    base = server
    hall = page.request.get(f"{base}/api/halls/hall-1/congestion", headers=_api(page, base, "hall_manager")).json()
    assert hall["level"] == 2 and [a["level"] for a in hall["alerts"]] == [2]  # one alert, the right level
    sign_in(page, base, "hall_manager")
    task_id = open_task(page, base, "hall_congestion", "二级处置")
    for post in ("迎宾咨询岗", "流动导购岗", "值班经理岗", "保安岗"):
        assert page.get_by_text(post).count() >= 1, post
    actions = page.locator(".fjs-form-field-checklist", has_text="应急措施（002 A–D）")
    for label in ("A 客户等候时间预警", "B 增开受理台席", "C 保安协助进行就近社会渠道分流", "D 预受理"):
        actions.get_by_label(label, exact=True).check()
    page.locator(".fjs-form-field-checklist", has_text="二级应急措施").get_by_label(
        "将常态化分流转化为强制分流", exact=True).check()
    posts = {"迎宾咨询岗": ("迎宾 李娜", "填写预受理单"), "流动导购岗": ("导购 赵敏", "发放客户服务小卡片"),
             "值班经理岗": ("值班经理 张伟", "增开受理台席")}
    for post, (who, what) in posts.items():
        group = page.locator(".fjs-form-field-group", has_text=post)
        fill(group.get_by_label("当班人员（姓名或工号）"), who)
        group.get_by_label(what, exact=True).check()
    settled(page, "d.duty_post_staff === '值班经理 张伟' && (d.duty_post_done || []).length === 1")
    # the security post is left empty: refused, nothing stored
    page.locator("#form-submit").click()
    wait_until(page, "document.body.innerText.includes('Field is required') || "
                     "document.querySelectorAll('.fjs-form-field-error, .fjs-has-errors').length > 0")
    shot(page, "halls-02-post-missing")
    task = page.request.get(f"{base}/api/tasks/{task_id}", headers=_api(page, base, "auditor")).json()
    assert task["status"] == "open"
    security = page.locator(".fjs-form-field-group", has_text="保安岗")
    fill(security.get_by_label("当班人员（姓名或工号）"), "保安 王强")
    security.get_by_label("协助就近社会渠道分流", exact=True).check()
    settled(page, "d.security_staff === '保安 王强' && (d.security_done || []).length === 1")
    shot(page, "halls-03-answered")
    _submit(page, base, "halls-03", bpm_server.var / "serve.log")
    task = page.request.get(f"{base}/api/tasks/{task_id}", headers=_api(page, base, "auditor")).json()
    assert task["status"] == "completed" and task["completed_by"] == "hall_manager"
    assert task["submitted"]["security_staff"] == "保安 王强"
    assert task["submitted"]["security_done"] == ["social_channels"]
    assert task["submitted"]["greeter_done"] == ["pre_acceptance"]
    assert errors == [], "\n".join(errors)


def test_the_dashboard_shows_waiting_per_hall_and_hour(server, browser_page):
    """000 限时服务 「等待办理业务时限5分钟」: waiting per hall and per hour of the day, beside the handling."""
    page, errors = browser_page
    base = server
    yesterday = (datetime.now(LOCAL_TZ) - timedelta(days=1)).date().isoformat()
    sign_in(page, base, "hall_manager")
    page.goto(f"{base}/dashboards?job=sla_daily_report&period={yesterday}")
    table = page.locator("[data-testid=table-waiting_hour]")
    table.wait_for()
    # rows by the hall's Chinese name and hour; the key stays on the row (and in the CSV), not in its text
    assert "中心营业厅" in table.inner_text() and "hall-1" not in table.inner_text()
    assert table.locator("tbody tr[data-subject='hall-1/10:00']").count() == 1
    assert "等候达标率" in page.locator("[data-testid=table-waiting_hall]").inner_text()
    page.locator("[data-testid=chart-waiting_hour][data-ready=true]").wait_for()
    shot(page, "halls-04-dashboard")
    assert errors == [], "\n".join(errors)
