"""An empty report on /dashboards says why and when it fills; periods read as 2026年11月 /
2026年第48周 (SQLite and PostgreSQL)."""

from __future__ import annotations

import re

from engine.jobs.runner import execute_job
from tests.support.pages import sign_in


def _empty(html: str) -> str:
    match = re.search(r'<p class="empty" data-testid="no-rows">([^<]*)</p>', html)
    assert match, html[-3000:]
    return match.group(1)


def test_a_report_that_never_ran_says_which_job_fills_it_and_when(app):
    client = sign_in(app, "auditor")[0]
    text = _empty(client.get("/dashboards?job=customer_manager_kpi").get_data(as_text=True))
    assert text.startswith("本期尚无数据：该报表由“客户经理月度考核”作业于每月5日 03:00（统计上月）运行后生成。"), text
    assert re.search(r"下次运行：\d{4}年\d{1,2}月5日 03:00（北京时间）。$", text), text
    html = client.get("/dashboards?job=customer_manager_kpi&period=2026-03").get_data(as_text=True)
    assert "客户经理月度考核 · 2026年3月" in html and "本期尚无数据" in _empty(html)
    client.get("/lang/en")
    html = client.get("/dashboards?job=customer_manager_kpi&period=2026-03").get_data(as_text=True)
    assert "Customer manager monthly KPI · Mar 2026" in html
    assert _empty(html).startswith("No data for this period yet: this report is made by the “Customer manager "
                                   "monthly KPI” job; it runs on day 5 of every month at 03:00 (for last month).")


def test_a_run_that_found_nothing_says_so_and_periods_read_in_chinese(app, engine):
    execute_job(engine, "process_cycle_times", "2026-W48", "test")  # no task was completed that week
    client = sign_in(app, "auditor")[0]
    html = client.get("/dashboards?job=process_cycle_times").get_data(as_text=True)
    assert '<option value="2026-W48" selected>2026年第48周</option>' in html
    assert "流程环节用时 · 2026年第48周" in html
    assert _empty(html).startswith("本期作业“流程环节用时”已运行，但没有可统计的数据；该作业于每周一 02:00（统计上周）运行。")
    client.get("/lang/en")
    html = client.get("/dashboards?job=process_cycle_times").get_data(as_text=True)
    assert '<option value="2026-W48" selected>2026 W48</option>' in html
