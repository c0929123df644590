"""Report results (``/api/reports``, ``/dashboards``): who sees which rows, exports and their audit.

Result rows are written the way the jobs write them (``engine.jobs.results.replace_results``)
for three jobs: the counter service score of three counter staff in two halls, an SLA
report with process, category and hall rows, and a customer-manager KPI sheet under review.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest

from engine.identity.actor import SYSTEM
from engine.jobs.periods import Period
from engine.jobs.results import replace_results
from engine.store.models import JobRun, ScoreSheet
from tests.support.pages import sign_in

MONTH, DAY = "2026-10", "2026-10-05"
INJECTION = "=HYPERLINK(\"http://evil\",\"x\")"


def _score(user, unit, score, label=None):
    return {"unit_key": unit, "subject_type": "user", "subject_key": user, "subject_label": label or user,
            "metrics": {"inspections": 4, "days": 4, "total": score * 4, "score": score, "avg_smile_service": 9.5}}


@pytest.fixture
def seeded(api, engine):
    with engine.uow(SYSTEM) as uow:
        replace_results(uow, "counter_service_score", Period.parse(MONTH), [
            _score("counter_staff", "hall-1", 91.5, INJECTION),
            _score("counter2", "hall-1", 88.0),
            _score("counter_hall2", "hall-2", 79.25),
        ])
        # an older month: the default period is the newest
        replace_results(uow, "counter_service_score", Period.parse("2026-09"), [_score("counter_staff", "hall-1", 70.0)])
        replace_results(uow, "sla_daily_report", Period.parse(DAY), [
            {"unit_key": None, "subject_type": "process", "subject_key": "complaint_handling", "subject_label": "投诉处理",
             "metrics": {"process": "complaint_handling", "total": 10, "on_time": 8, "breached": 2, "on_time_pct": 80.0,
                         "p50_resolution_s": 600, "p90_resolution_s": 86000}},
            {"unit_key": "hall-1", "subject_type": "category", "subject_key": "complaint_handling/technical",
             "subject_label": "投诉处理 / 技术类", "metrics": {"total": 6, "on_time": 5, "breached": 1, "on_time_pct": 83.3}},
            {"unit_key": "hall-2", "subject_type": "category", "subject_key": "complaint_handling/technical",
             "subject_label": "投诉处理 / 技术类", "metrics": {"total": 4, "on_time": 3, "breached": 1, "on_time_pct": 75.0}},
            {"unit_key": "hall-1", "subject_type": "hall", "subject_key": "hall-1", "subject_label": "中心营业厅",
             "metrics": {"complaints": 3, "complaint_rate_per_1000": 12.5, "on_time_handling_rate": 100.0}},
            {"unit_key": "hall-2", "subject_type": "hall", "subject_key": "hall-2", "subject_label": "城东营业厅",
             "metrics": {"complaints": 1, "complaint_rate_per_1000": 4.0, "on_time_handling_rate": 50.0}},
        ])
        replace_results(uow, "customer_manager_kpi", Period.parse(MONTH), [
            {"unit_key": "hall-1", "subject_type": "user", "subject_key": "customer_manager", "subject_label": "客户经理",
             "metrics": {"total": 96.5, "revenue": 27.0, "revenue_tier": "basic", "retention": 15.0,
                         "missing": "members,promotion"}},
        ], status="draft")
        replace_results(uow, "process_cycle_times", Period.parse("2026-W41"), [
            {"unit_key": None, "subject_type": "step", "subject_key": "complaint_handling:v1:handle",
             "subject_label": "投诉处理 v1 / 处理", "rank": 1, "metrics": {"count": 3, "p90_waiting_s": 120}},
        ])
        at = datetime(2026, 11, 1, 1, 0, tzinfo=UTC)
        uow.session.add_all([
            JobRun(job="counter_service_score", period=MONTH, status="completed", started_at=at, finished_at=at, rows=3,
                   triggered_by="schedule"),
            JobRun(job="sla_daily_report", period=DAY, status="failed", started_at=at, finished_at=at, rows=0,
                   triggered_by="admin", error="boom: internal detail"),
            ScoreSheet(job="customer_manager_kpi", period=MONTH, unit_key="hall-1", status="in_review", created_at=at),
        ])
    return api


def _report(api, user, job, **query):
    r = api.get(f"/api/reports/{job}", user, query_string=query)
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def _subjects(body):
    return sorted((row["subject_type"], row["subject_key"], row["unit_key"]) for row in body["rows"])


# --------------------------------------------------------------------------- listing


def test_jobs_list_titles_periods_newest_first_and_last_run(seeded):
    body = seeded.get("/api/reports/jobs", "counter_staff").get_json()
    jobs = {j["name"]: j for j in body["items"]}
    assert set(jobs) == {"sla_daily_report", "customer_manager_kpi", "counter_service_score", "team_ranking",
                         "process_cycle_times", "monthly_pay", "retailer_anomalies", "tobacco_visit_score",
                         "key_account_room_kpi"}
    score = jobs["counter_service_score"]
    assert score["title_zh"] == "营业员服务评分" and score["periods"] == [MONTH, "2026-09"]
    assert score["last_run"]["status"] == "completed" and score["last_run"]["rows"] == 3
    assert jobs["team_ranking"]["periods"] == [] and jobs["team_ranking"]["last_run"] is None
    # a failure's message is for auditors and admins only
    assert jobs["sla_daily_report"]["last_run"]["status"] == "failed"
    assert jobs["sla_daily_report"]["last_run"]["error"] is None
    audit = {j["name"]: j for j in seeded.get("/api/reports/jobs", "auditor").get_json()["items"]}
    assert audit["sla_daily_report"]["last_run"]["error"] == "boom: internal detail"


# --------------------------------------------------------------------------- visibility


def test_counter_staff_sees_only_own_score(seeded):
    body = _report(seeded, "counter_staff", "counter_service_score")
    assert body["period"] == MONTH  # the newest by default
    assert _subjects(body) == [("user", "counter_staff", "hall-1")]
    assert body["rows"][0]["metrics"]["score"] == 91.5 and body["sees_all"] is False
    assert _subjects(_report(seeded, "counter_hall2", "counter_service_score")) == [("user", "counter_hall2", "hall-2")]
    # no user rows in the SLA report: nothing, and no error
    assert _report(seeded, "counter_staff", "sla_daily_report")["rows"] == []


def test_hall_managers_see_their_own_hall_only(seeded):
    hall1 = _report(seeded, "hall_manager", "counter_service_score")
    assert _subjects(hall1) == [("user", "counter2", "hall-1"), ("user", "counter_staff", "hall-1")]
    assert [u["key"] for u in hall1["units"]] == ["hall-1"]
    hall2 = _report(seeded, "manager_hall2", "counter_service_score")
    assert _subjects(hall2) == [("user", "counter_hall2", "hall-2")]
    # the unit filter cannot widen what they see
    assert _report(seeded, "hall_manager", "counter_service_score", unit="hall-2")["rows"] == []
    # SLA report: their hall's category and KPI rows, not the all-halls process rows
    sla = _report(seeded, "duty_hall2", "sla_daily_report")
    assert _subjects(sla) == [("category", "complaint_handling/technical", "hall-2"), ("hall", "hall-2", "hall-2")]


def test_department_manager_sees_the_halls_below_and_the_vice_president_everything(seeded):
    """dept-1 is over hall-1 and hall-2: its manager reads both halls' rows, never the all-halls
    process rows; the vice-president (who approves the scores) reads everything."""
    dept = _report(seeded, "department_manager", "counter_service_score")
    assert _subjects(dept) == [("user", "counter2", "hall-1"), ("user", "counter_hall2", "hall-2"),
                               ("user", "counter_staff", "hall-1")]
    assert dept["sees_all"] is False and [u["key"] for u in dept["units"]] == ["hall-1", "hall-2"]
    assert ("process", "complaint_handling", None) not in _subjects(_report(seeded, "department_manager",
                                                                            "sla_daily_report"))
    assert [(s["unit_key"], s["status"]) for s in _report(seeded, "department_manager", "customer_manager_kpi")[
        "sheets"]] == [("hall-1", "in_review")]
    vp = _report(seeded, "vice_president", "sla_daily_report")
    assert vp["sees_all"] is True and len(vp["rows"]) == 5
    assert len(_report(seeded, "vice_president", "counter_service_score")["rows"]) == 3


def test_auditor_sees_everything_and_filters_by_unit(seeded):
    body = _report(seeded, "auditor", "counter_service_score")
    assert len(body["rows"]) == 3 and body["sees_all"] is True
    assert [u["key"] for u in body["units"]] == ["hall-1", "hall-2"]
    assert [u["name"] for u in body["units"]] == ["中心营业厅", "城东营业厅"]
    assert _subjects(_report(seeded, "auditor", "counter_service_score", unit="hall-2")) == [
        ("user", "counter_hall2", "hall-2")]
    assert len(_report(seeded, "admin", "sla_daily_report")["rows"]) == 5
    sla = _report(seeded, "auditor", "sla_daily_report")
    assert [g["subject_type"] for g in sla["groups"]] == ["process", "category", "hall"]
    columns = {c["key"]: c for g in sla["groups"] for c in g["columns"]}
    assert columns["on_time_pct"]["zh"] == "按时率 %"
    assert columns["p90_resolution_s"]["zh"] == "P90 办结时长（秒）" and columns["p90_resolution_s"]["unit"] == "s"
    assert sla["run"]["status"] == "failed"


def test_process_owner_reads_sla_and_cycle_times_but_not_scores(seeded):
    assert len(_report(seeded, "process_owner", "sla_daily_report")["rows"]) == 5
    assert _subjects(_report(seeded, "process_owner", "process_cycle_times")) == [
        ("step", "complaint_handling:v1:handle", None)]
    assert _report(seeded, "hall_manager", "process_cycle_times")["rows"] == []
    assert _report(seeded, "process_owner", "counter_service_score")["rows"] == []


def test_user_without_rows_or_roles_gets_an_empty_report(seeded):
    for job in ("counter_service_score", "sla_daily_report", "customer_manager_kpi"):
        body = _report(seeded, "nobody", job)
        assert body["rows"] == [] and body["units"] == [] and body["sheets"] == []


def test_kpi_rows_stay_draft_and_sheet_status_is_shown_to_the_hall(seeded):
    own = _report(seeded, "customer_manager", "customer_manager_kpi")
    assert [(r["subject_key"], r["status"]) for r in own["rows"]] == [("customer_manager", "draft")]
    assert [(s["unit_key"], s["status"]) for s in own["sheets"]] == [("hall-1", "in_review")]
    assert [(s["unit_key"], s["status"]) for s in _report(seeded, "hall_manager", "customer_manager_kpi")["sheets"]] == [
        ("hall-1", "in_review")]
    other = _report(seeded, "manager_hall2", "customer_manager_kpi")
    assert other["rows"] == [] and other["sheets"] == []


# --------------------------------------------------------------------------- errors


def test_bad_period_job_and_format_are_refused(seeded):
    r = seeded.get("/api/reports/counter_service_score?period=2026-13", "auditor")
    assert r.status_code == 400 and r.get_json()["error"] == "bad_period"
    r = seeded.get(f"/api/reports/counter_service_score?period={DAY}", "auditor")  # a day for a monthly job
    assert r.status_code == 400 and "month" in r.get_json()["message"]
    r = seeded.get("/api/reports/no_such_job", "auditor")
    assert r.status_code == 404
    r = seeded.get("/api/reports/no_such_job/export", "auditor")
    assert r.status_code == 404
    r = seeded.get("/api/reports/counter_service_score/export?format=pdf", "auditor")
    assert r.status_code == 422
    r = seeded.get("/api/reports/team_ranking/export", "auditor")  # never ran
    assert r.status_code == 404
    assert seeded.get("/api/reports/counter_service_score", None).status_code == 401


def test_a_period_without_results_is_an_empty_report(seeded):
    body = _report(seeded, "auditor", "counter_service_score", period="2025-01")
    assert body["period"] == "2025-01" and body["rows"] == [] and body["run"] is None


# --------------------------------------------------------------------------- exports


def _audited_exports(api):
    return api.get("/api/audit/events?action=report_exported", "auditor").get_json()["items"]


def test_csv_export_has_bom_chinese_header_visible_rows_and_guards_formulas(seeded):
    r = seeded.get("/api/reports/counter_service_score/export?format=csv", "hall_manager")
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/csv")
    assert f'filename="counter_service_score-{MONTH}.csv"' in r.headers["Content-Disposition"]
    raw = r.get_data()
    assert raw.startswith("\ufeff".encode())
    lines = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    header, rows = lines[0], lines[1:]
    assert header[:6] == ["期间", "单位", "单位名称", "对象类型", "对象", "名称"]
    assert "月度服务得分" in header and "微笑服务（平均）" in header  # labels from the jobs and the scoring rules
    by_subject = {row[4]: dict(zip(header, row, strict=True)) for row in rows}
    assert set(by_subject) == {"counter_staff", "counter2"}  # hall-1 only
    assert by_subject["counter2"]["月度服务得分"] == "88.0" and by_subject["counter2"]["单位名称"] == "中心营业厅"
    assert by_subject["counter_staff"]["名称"] == "'" + INJECTION  # would run in Excel without the apostrophe
    assert by_subject["counter_staff"]["对象类型"] == "人员" and by_subject["counter_staff"]["状态"] == "已确认"

    events = _audited_exports(seeded)
    assert len(events) == 1
    assert events[0]["actor"] == "hall_manager"
    assert events[0]["details"] == {"job": "counter_service_score", "period": MONTH, "unit": None, "format": "csv",
                                    "rows": 2}


def test_xlsx_export_opens_with_bold_chinese_header_and_text_cells(seeded):
    from openpyxl import load_workbook

    r = seeded.get("/api/reports/sla_daily_report/export?format=xlsx&unit=hall-1", "auditor")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/vnd.openxmlformats")
    book = load_workbook(io.BytesIO(r.get_data()))
    assert book.sheetnames == ["类别", "营业厅"]  # one sheet per subject type; the unit filter leaves out processes
    sheet = book["类别"]
    header = [c.value for c in sheet[1]]
    assert header[:5] == ["期间", "单位", "单位名称", "对象", "名称"]
    assert all(c.font.bold for c in sheet[1])
    assert "按时率 %" in header
    rows = list(sheet.iter_rows(min_row=2, values_only=True))
    assert len(rows) == 1 and rows[0][1] == "hall-1" and rows[0][header.index("按时率 %")] == 83.3
    assert [c.value for c in book["营业厅"][2]][:5] == [DAY, "hall-1", "中心营业厅", "hall-1", "中心营业厅"]

    r = seeded.get("/api/reports/counter_service_score/export?format=xlsx", "counter_staff")
    sheet = load_workbook(io.BytesIO(r.get_data()))["人员"]
    name = sheet.cell(row=2, column=5)
    assert name.value == INJECTION and name.data_type == "s"  # text, never a formula
    assert sheet.max_row == 2  # own row only

    details = [e["details"] for e in _audited_exports(seeded)]
    assert details == [
        {"job": "sla_daily_report", "period": DAY, "unit": "hall-1", "format": "xlsx", "rows": 2},
        {"job": "counter_service_score", "period": MONTH, "unit": None, "format": "xlsx", "rows": 1},
    ]


def test_kpi_export_names_tiers_and_missing_dimensions_in_words(seeded):
    r = seeded.get("/api/reports/customer_manager_kpi/export?format=csv", "customer_manager")
    header, row = list(csv.reader(io.StringIO(r.get_data().decode("utf-8-sig"))))
    cells = dict(zip(header, row, strict=True))
    assert cells["总分"] == "96.5" and cells["集团收入"] == "27.0" and cells["状态"] == "待审核"
    assert cells["集团收入档位"] == "基本目标"
    assert cells["缺少数据的维度"] == "集团客户到达数、集团产品推广"


def test_export_of_nothing_visible_is_an_empty_file_and_still_audited(seeded):
    r = seeded.get("/api/reports/counter_service_score/export", "nobody")
    assert r.status_code == 200
    assert len(list(csv.reader(io.StringIO(r.get_data().decode("utf-8-sig"))))) == 1  # the header only
    assert _audited_exports(seeded)[0]["details"]["rows"] == 0


# --------------------------------------------------------------------------- page


def test_page_shows_own_row_to_counter_staff_and_downloads(seeded, app):
    client, _ = sign_in(app, "counter_staff")
    html = client.get("/dashboards?job=counter_service_score").get_data(as_text=True)
    assert "营业员服务评分" in html and "报表看板" in html
    assert 'data-subject="counter_staff"' in html
    assert 'data-subject="counter2"' not in html and 'data-subject="counter_hall2"' not in html
    assert "91.5" in html and "88" not in html.split('id="chart-data"')[0].split("<main>")[1]
    r = client.get(f"/dashboards/export?job=counter_service_score&period={MONTH}&format=csv")
    assert r.status_code == 200 and r.get_data().startswith("\ufeff".encode())
    assert len(r.get_data().decode("utf-8-sig").strip().splitlines()) == 2
    assert _audited_exports(seeded)[0]["actor"] == "counter_staff"


def test_page_for_auditor_lists_every_hall_and_formats_durations(seeded, app):
    client, _ = sign_in(app, "auditor")
    html = client.get(f"/dashboards?job=sla_daily_report&period={DAY}").get_data(as_text=True)
    assert 'data-testid="table-process"' in html and 'data-testid="table-hall"' in html
    assert "城东营业厅" in html and "中心营业厅" in html
    assert "23小时53分" in html  # p90 86000 s
    assert "echarts.min.js" in html
    # a bad period falls back to the newest with a notice instead of failing
    html = client.get("/dashboards?job=sla_daily_report&period=bad").get_data(as_text=True)
    assert "期间无效" in html and f'data-period="{DAY}"' in html
    assert client.get("/dashboards?job=nope").status_code == 404
    client.get("/lang/en")
    html = client.get(f"/dashboards?job=sla_daily_report&period={DAY}").get_data(as_text=True)
    assert "Daily SLA report" in html and "On time %" in html and "23 h 53 min" in html


def test_page_is_open_to_a_user_who_sees_nothing(seeded, app):
    client, _ = sign_in(app, "nobody")
    r = client.get("/dashboards")
    assert r.status_code == 200
    assert "本期间没有您可查看的数据" in r.get_data(as_text=True)
