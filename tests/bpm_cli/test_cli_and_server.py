"""The `bpm` command and the real server, as an operator would use them."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from datetime import UTC

import pytest
import requests
from click.testing import CliRunner

from bpm_cli.main import main
from tests.conftest import FIXTURES


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A project folder with processes/ and forms/ and its own SQLite database."""
    (tmp_path / "forms").mkdir()
    (tmp_path / "processes").mkdir()
    shutil.copy(FIXTURES / "simple_note.form", tmp_path / "forms")
    shutil.copy(FIXTURES / "case_start.form", tmp_path / "forms")
    shutil.copy(FIXTURES / "four_step.bpmn", tmp_path / "processes")
    monkeypatch.setenv("BPM_HOME", str(tmp_path))
    monkeypatch.setenv("BPM_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("BPM_DATABASE_URL", raising=False)
    return tmp_path


def test_init_deploys_folders_and_creates_demo_users(home):
    runner = CliRunner()
    result = runner.invoke(main, ["init", "--demo", "--demo-password", "s3cret"])
    assert result.exit_code == 0, result.output
    assert "deployed: form simple_note v1" in result.output
    assert "deployed: process four_step v1" in result.output
    assert "password: s3cret" in result.output
    again = runner.invoke(main, ["init", "--demo"])
    assert again.exit_code == 0 and "unchanged: process four_step v1" in again.output
    users = runner.invoke(main, ["users", "list"])
    assert "service_center_head" in users.output and "auditor" in users.output


def test_deploy_reports_validation_errors_with_element(home, tmp_path):
    runner = CliRunner()
    assert runner.invoke(main, ["init"]).exit_code == 0
    bad = (FIXTURES / "four_step.bpmn").read_text(encoding="utf-8").replace('candidateGroups="duty_manager"', 'candidateGroups="janitor"')
    path = tmp_path / "bad.bpmn"
    path.write_text(bad, encoding="utf-8")
    result = runner.invoke(main, ["deploy", str(path)])
    assert result.exit_code == 2
    assert "unknown role 'janitor'" in result.output and '"element_id": "t2"' in result.output
    changed = (FIXTURES / "four_step.bpmn").read_text(encoding="utf-8").replace("四步流程", "四步流程二")
    path.write_text(changed, encoding="utf-8")
    result = runner.invoke(main, ["deploy", str(path)])
    assert result.exit_code == 0 and "deployed: process four_step v2" in result.output


def test_users_add_and_duplicate(home):
    runner = CliRunner()
    assert runner.invoke(main, ["init", "--demo"]).exit_code == 0
    ok = runner.invoke(main, ["users", "add", "li", "--role", "auditor", "--unit", "hall-2"], input="pw123456\npw123456\n")
    assert ok.exit_code == 0, ok.output
    dup = runner.invoke(main, ["users", "add", "li", "--role", "auditor"], input="pw123456\npw123456\n")
    assert dup.exit_code == 2 and "already exists" in dup.output
    listed = runner.invoke(main, ["users", "list"]).output
    assert "li" in listed and "hall-2" in listed


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _until_serving(base: str) -> None:
    for _ in range(150):
        try:
            if requests.get(base + "/api/health", timeout=1).status_code == 200:
                return
        except requests.RequestException:
            time.sleep(0.1)
    pytest.fail("server did not come up")


def test_bpm_serve_answers_the_api(home):
    runner = CliRunner()
    assert runner.invoke(main, ["init", "--demo"]).exit_code == 0
    port = _free_port()
    env = {**os.environ}
    server = subprocess.Popen(
        [sys.executable, "-m", "bpm_cli.main", "serve", "--port", str(port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _until_serving(base)
        token = requests.post(base + "/api/auth/token", json={"username": "counter_staff", "password": "demo"}).json()["token"]
        headers = {"Authorization": f"Bearer {token}"}
        r = requests.post(base + "/api/process-definitions/four_step/instances", json={"data": {}}, headers=headers)
        assert r.status_code == 201, r.text
        assert r.json()["open_tasks"][0]["element_id"] == "t1"
        assert requests.get(base + "/api/process-definitions", timeout=5).status_code == 401
        spec = requests.get(base + "/api/openapi.json").json()
        assert spec["openapi"].startswith("3.") and "/api/tasks/{task_id}/complete" in spec["paths"]
    finally:
        server.terminate()
        server.wait(15)
    log = server.stdout.read().decode(errors="replace")
    assert "Listening at" in log and "Control socket" not in log  # no per-host socket shared between servers


def test_a_stopping_server_answers_a_waiting_long_poll_instead_of_dropping_it(home):
    """An external worker's long poll (fetch-and-lock waiting 25 s for work) is answered, empty, as
    soon as the server is told to stop: the restart is not held up by idle polls, and the worker is
    not left with a connection reset when gunicorn's graceful timeout (10 s) runs out."""
    import threading

    (home / "processes" / "connectors.toml").write_text(
        '[topics.idle]\nname = "nothing to do"\naccounts = ["integration"]\nlock_duration_ms = 10000\n', encoding="utf-8")
    assert CliRunner().invoke(main, ["init", "--demo"]).exit_code == 0
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "bpm_cli.main", "serve", "--port", str(port), "--no-timers"],
                              env={**os.environ}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        _until_serving(base)
        signed_in = requests.post(base + "/api/auth/token", json={"username": "integration", "password": "demo"})
        assert signed_in.status_code == 200, signed_in.text
        headers = {"Authorization": f"Bearer {signed_in.json()['token']}"}
        body = {"worker_id": "w1", "topics": [{"name": "idle"}], "async_response_timeout": 25_000}
        answer: dict = {}

        def poll():
            try:
                r = requests.post(base + "/api/external-tasks/fetch-and-lock", headers=headers, timeout=60,
                                  json=body)
                answer["status"], answer["items"] = r.status_code, r.json()["items"]
            except requests.RequestException as exc:
                answer["error"] = repr(exc)

        waiting = threading.Thread(target=poll)
        waiting.start()
        time.sleep(1.5)  # the poll is in the server, waiting
        assert waiting.is_alive()
        server.terminate()
        waiting.join(60)
        assert answer == {"status": 200, "items": []}
    finally:
        server.terminate()
        server.wait(30)


def test_production_mode_refuses_the_development_secret(home, monkeypatch):
    monkeypatch.setenv("BPM_ENV", "production")
    monkeypatch.delenv("BPM_SECRET_KEY", raising=False)
    result = CliRunner().invoke(main, ["serve"])
    assert result.exit_code == 2 and "BPM_SECRET_KEY" in result.output


def test_production_mode_refuses_demo_passwords(home, monkeypatch):
    runner = CliRunner()
    assert runner.invoke(main, ["init", "--demo"]).exit_code == 0
    monkeypatch.setenv("BPM_ENV", "production")
    monkeypatch.setenv("BPM_SECRET_KEY", "x" * 40)
    result = runner.invoke(main, ["serve"])
    assert result.exit_code == 2 and "demo passwords" in result.output and "auditor" in result.output


def test_calendar_overrides_change_working_day_due_dates(home):
    from datetime import datetime

    from engine.app import BpmEngine
    from engine.config import load_settings
    from engine.sla.calendar import BusinessCalendar
    from engine.sla.policy import calendar_for

    runner = CliRunner()
    assert runner.invoke(main, ["init"]).exit_code == 0
    result = runner.invoke(main, ["calendar", "close", "2026-12-01", "--reason", "停电检修 power maintenance"])
    assert result.exit_code == 0, result.output
    assert runner.invoke(main, ["calendar", "work", "2026-12-06", "--reason", "年终冲刺"]).exit_code == 0
    listed = runner.invoke(main, ["calendar", "list"]).output
    assert "2026-12-01  closed" in listed and "2026-12-06  working" in listed
    engine = BpmEngine(load_settings())
    try:
        with engine.read() as session:
            cal = calendar_for(session, engine.settings.working_hours)
    finally:
        engine.close()
    start = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)  # Monday 09:00 local
    # Tue 12-01 closed: day 1 is Wed 12-02 (without the override it would be Tue)
    assert cal.add(start, "working_days", 1).at.date().isoformat() == "2026-12-02"
    assert BusinessCalendar().add(start, "working_days", 1).at.date().isoformat() == "2026-12-01"
    assert cal.is_working_day(datetime(2026, 12, 6).date()) == (True, False)
