"""Dashboards page in a real browser, over results computed by the real jobs.

The data is made the way it is in production, on the module's server: a second counter
staff member is added (``bpm users add``), the hall manager scores both on the service
checklist through the API (``counter_inspection``), 6S / activity / innovation facts of
both halls are imported (``bpm facts import``) and ``bpm jobs run ... --no-prefect``
computes this month's counter service score and team ranking. Then:

* the auditor sees both staff members in the table and the chart drawn (an ECharts canvas),
  switches the report to the team ranking, reads it at phone width and downloads the CSV;
* a counter staff member sees only their own row.

Screenshots go to test-artifacts/dashboards-*.png; any console error fails the test.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime

import pytest

from engine.jobs.periods import LOCAL_TZ
from tests.browser.conftest import shot, sign_in
from tests.browser.forms import bpm_cli as _bpm
from tests.browser.forms import wait_until

pytestmark = pytest.mark.browser

ITEMS = ("smile_service", "standing_service", "serve_one", "wait_two", "greet_three", "appearance", "polite_language",
         "first_contact", "time_limit", "cash_announce", "two_hands", "tidy_counter")


class Client:
    def __init__(self, request, base: str, username: str) -> None:
        self.request, self.base = request, base
        r = request.post(f"{base}/api/auth/token", data={"username": username, "password": "demo"})
        assert r.ok, r.text()
        self.headers = {"Authorization": f"Bearer {r.json()['token']}"}

    def post(self, path: str, body: dict | None = None) -> dict:
        r = self.request.post(self.base + path, headers=self.headers, data=body)
        assert r.ok, (path, r.status, r.text())
        return r.json()


def _inspect(manager: Client, staff: str, points: int) -> None:
    inst = manager.post("/api/process-definitions/counter_inspection/instances", {"data": {}})
    task = inst["open_tasks"][0]["id"]
    manager.post(f"/api/tasks/{task}/claim")
    data = {"staff_username": staff, **{item: points for item in ITEMS}}
    done = manager.post(f"/api/tasks/{task}/complete", {"data": data})
    assert done["instance"]["status"] == "completed"


@pytest.fixture(scope="module")
def month(bpm_server, tmp_path_factory):
    """Compute this month's scores on the server's database; returns the period key."""
    var = bpm_server.var
    period = datetime.now(LOCAL_TZ).strftime("%Y-%m")
    _bpm(var, "users", "add", "counter_b", "--password", "demo-counter-b", "--role", "counter_staff", "--unit", "hall-1",
         "--name", "营业员乙")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        request = pw.request.new_context()
        manager = Client(request, bpm_server.base, "hall_manager")
        _inspect(manager, "counter_staff", 10)
        _inspect(manager, "counter_staff", 9)
        _inspect(manager, "counter_b", 7)
        request.dispose()
    facts = tmp_path_factory.mktemp("facts") / "facts.csv"
    facts.write_text("period,subject,metric,value\n" + "".join(
        f"{period},{unit},{metric},{value}\n"
        for unit, values in (("hall-1", (90, 80, 70)), ("hall-2", (60, 70, 65)))
        for metric, value in zip(("six_s_score", "activity_score", "innovation_score"), values, strict=True)
    ), encoding="utf-8")
    _bpm(var, "facts", "import", str(facts))
    _bpm(var, "jobs", "run", "counter_service_score", "--period", period, "--no-prefect")
    _bpm(var, "jobs", "run", "team_ranking", "--period", period, "--no-prefect")
    return period


def _rows(page, testid: str) -> list[str]:
    return [row.get_attribute("data-subject") for row in page.locator(f"[data-testid={testid}] tbody tr").all()]


def test_auditor_sees_charts_and_every_row_and_downloads_csv(server, browser_page, month):
    page, errors = browser_page
    sign_in(page, server, "auditor")
    page.get_by_role("link", name="报表看板").click()
    page.wait_for_url(f"{server}/dashboards")
    page.locator("#f-job").select_option("counter_service_score")
    page.wait_for_url(f"{server}/dashboards?job=counter_service_score")
    assert page.locator("[data-testid=report]").get_attribute("data-period") == month
    assert sorted(_rows(page, "table-user")) == ["counter_b", "counter_staff"]
    table = page.locator("[data-testid=table-user]").inner_text()
    assert "月度服务得分" in table and "营业员乙" in table
    chart = page.locator("[data-testid=chart-user][data-ready=true]")
    chart.wait_for()
    assert chart.locator("canvas").count() == 1
    box = chart.locator("canvas").bounding_box()
    assert box["width"] > 200 and box["height"] > 200
    shot(page, "dashboards-01-scores")

    with page.expect_download() as info:
        page.locator("[data-testid=download-csv]").click()
    download = info.value
    assert download.suggested_filename == f"counter_service_score-{month}.csv"
    raw = open(download.path(), "rb").read()
    assert raw.startswith("\ufeff".encode())
    lines = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert lines[0][:3] == ["期间", "单位", "单位名称"]
    assert sorted(line[4] for line in lines[1:]) == ["counter_b", "counter_staff"]

    # another report: the page reloads with its newest period
    page.locator("#f-job").select_option("team_ranking")
    page.wait_for_url(f"{server}/dashboards?job=team_ranking")
    assert _rows(page, "table-unit") == ["hall-1", "hall-2"]  # ranked: hall-1 has the better facts and scores
    page.locator("[data-testid=chart-unit][data-ready=true]").first.wait_for()
    assert page.locator("#charts canvas").count() == 2  # overall score and the components
    shot(page, "dashboards-02-ranking")
    page.set_viewport_size({"width": 375, "height": 800})
    # the charts follow the window (after a short debounce)
    wait_until(page, "[...document.querySelectorAll('#charts canvas')].every(c => c.clientWidth <= 375)")
    assert page.evaluate("document.documentElement.scrollWidth") <= 376
    shot(page, "dashboards-03-ranking-phone")
    assert not errors, errors


def test_counter_staff_sees_only_their_own_score(server, browser_page, month):
    page, errors = browser_page
    sign_in(page, server, "counter_staff")
    page.goto(f"{server}/dashboards?job=counter_service_score&period={month}")
    assert _rows(page, "table-user") == ["counter_staff"]
    assert "营业员乙" not in page.locator("main").inner_text()
    page.locator("[data-testid=chart-user][data-ready=true]").wait_for()
    assert "本人" in page.locator("[data-testid=scope]").inner_text()
    # the team ranking has no row about them: an empty report, not an error
    page.goto(f"{server}/dashboards?job=team_ranking")
    assert page.locator("[data-testid=no-rows]").is_visible()
    page.set_viewport_size({"width": 375, "height": 800})
    assert page.evaluate("document.documentElement.scrollWidth") <= 376
    shot(page, "dashboards-04-counter-staff-phone")
    assert not errors, errors
