"""Every report on /dashboards has data on a fresh demo (``bpm init --demo``), read by the auditor.

The demo seeds twelve weeks of finished complaints, counter transactions and service checks
(engine/ops/history_demo.py) and runs every job once, so each report's newest period has rows
and a chart; periods read as 2026年11月 / 2026年第48周; on-time counts are green and late ones
red; wide tables scroll inside their box, never the page. A report with no run for the chosen
period says why and when its job runs next.

Screenshots go to test-artifacts/dashboards-demo-*.png; any console error fails the test.
"""

from __future__ import annotations

import re

import pytest

from engine.jobs.registry import JOBS
from tests.browser.conftest import shot, sign_in
from web.presentation.reports import CHARTS

pytestmark = pytest.mark.browser
PERIOD_TEXT = re.compile(r"^\d{4}年(\d{1,2}月(\d{1,2}日)?|第\d{1,2}周)?$")


def _open(page, server: str, job: str) -> None:
    page.goto(f"{server}/dashboards?job={job}")
    page.locator("[data-testid=report]").wait_for()


def test_every_report_has_rows_and_a_chart_for_its_newest_period(server, browser_page):
    page, errors = browser_page
    sign_in(page, server, "auditor")
    page.set_viewport_size({"width": 1366, "height": 768})
    for job in JOBS:
        _open(page, server, job)
        report = page.locator("[data-testid=report]")
        assert report.get_attribute("data-period"), job
        assert page.locator("[data-testid=no-rows]").count() == 0, job
        assert page.locator("table.dash-table tbody tr").count() > 0, job
        # the period reads in Chinese: 2026年11月, 2026年第48周, 2026年12月5日
        shown = page.locator("#f-period option:checked").inner_text().strip()
        assert PERIOD_TEXT.match(shown), (job, shown)
        assert shown in page.locator("#h-report").inner_text()
        if CHARTS.get(job):  # the reports with charts draw at least one
            page.locator("#charts [data-ready=true]").first.wait_for()
            assert page.locator("#charts canvas").count() >= 1, job
        # no column is cut off: the page itself never scrolls sideways
        assert page.evaluate("document.documentElement.scrollWidth") <= 1366, job
    shot(page, "dashboards-demo-01-cycle-times")
    assert not errors, errors


def test_on_time_is_green_and_late_is_red(server, browser_page):
    page, errors = browser_page
    sign_in(page, server, "auditor")
    page.set_viewport_size({"width": 1366, "height": 768})
    page.goto(f"{server}/dashboards?job=sla_daily_report")
    options = page.locator("#f-period option").all_inner_texts()
    month = next(o for o in options if re.fullmatch(r"\d{4}年\d{1,2}月", o))
    page.locator("#f-period").select_option(label=month)
    page.locator("main button[type=submit]").first.click()
    page.wait_for_url("**period=*")
    good, bad = page.locator("td.cell-good").first, page.locator("td.cell-bad").first
    assert good.is_visible() and bad.is_visible()
    green = good.evaluate("e => getComputedStyle(e).color")
    red = bad.evaluate("e => getComputedStyle(e).color")
    r, g, _ = (int(x) for x in re.findall(r"\d+", green)[:3])
    assert g > r, green
    r, g, _ = (int(x) for x in re.findall(r"\d+", red)[:3])
    assert r > g, red
    # the complaint table: on-time and late counts of the month, per hall
    table = page.locator("[data-testid=table-hall]")
    assert table.locator("td.cell-good").count() and table.locator("td.cell-bad").count()
    shot(page, "dashboards-demo-02-sla-month")
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth") <= 391  # the tables scroll in their box
    wrap = page.locator(".table-wrap").first
    assert wrap.evaluate("e => getComputedStyle(e).overflowX") == "auto"
    shot(page, "dashboards-demo-03-sla-month-phone")
    assert not errors, errors


def test_a_period_without_a_run_says_why_and_when(server, browser_page):
    page, errors = browser_page
    sign_in(page, server, "auditor")
    page.set_viewport_size({"width": 1366, "height": 768})
    page.goto(f"{server}/dashboards?job=customer_manager_kpi&period=2026-03")
    text = page.locator("[data-testid=no-rows]").inner_text()
    assert "本期尚无数据" in text and "客户经理月度考核" in text, text
    assert "每月5日 03:00" in text and "下次运行" in text, text
    assert re.search(r"下次运行：\d{4}年\d{1,2}月5日 03:00", text), text
    assert "2026年3月" in page.locator("#h-report").inner_text()
    shot(page, "dashboards-demo-04-empty")
    page.set_viewport_size({"width": 390, "height": 844})
    shot(page, "dashboards-demo-05-empty-phone")
    # English: the same sentence, and 2026 W48-style periods
    page.goto(f"{server}/lang/en")
    page.goto(f"{server}/dashboards?job=customer_manager_kpi&period=2026-03")
    text = page.locator("[data-testid=no-rows]").inner_text()
    assert "No data for this period yet" in text and "on day 5 of every month at 03:00" in text, text
    assert "Mar 2026" in page.locator("#h-report").inner_text()
    page.goto(f"{server}/dashboards?job=process_cycle_times")
    assert re.fullmatch(r"\d{4} W\d{1,2}", page.locator("#f-period option:checked").inner_text().strip())
    page.goto(f"{server}/lang/zh-CN")
    assert not errors, errors
