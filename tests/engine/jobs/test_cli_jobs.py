"""``bpm jobs``: list, run (direct and through Prefect) and clear errors."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from bpm_cli.main import main
from tests.engine.jobs.conftest import results


@pytest.fixture
def cli_env(db, tmp_path, monkeypatch):
    url, _ = db
    monkeypatch.setenv("BPM_DATABASE_URL", url)
    monkeypatch.setenv("BPM_VAR_DIR", str(tmp_path / "var"))
    return CliRunner()


def test_run_sla_daily_report_for_a_day(cli_env, engine, scenario):
    out = cli_env.invoke(main, ["jobs", "run", "sla_daily_report", "--period", "2026-10-05", "--no-prefect"])
    assert out.exit_code == 0, out.output
    run = json.loads(out.output.strip().splitlines()[-1])
    assert (run["job"], run["period"], run["status"], run["triggered_by"], run["flow_run_id"]) == (
        "sla_daily_report", "2026-10-05", "completed", "cli", None)
    got = results(engine, "sla_daily_report", "2026-10-05")
    assert run["rows"] == len(got) and got[("hall", "hall-1", "hall-1")]["complaints"] == 4
    listed = cli_env.invoke(main, ["jobs", "list"])
    assert listed.exit_code == 0
    line = next(x for x in listed.output.splitlines() if x.startswith("sla_daily_report"))
    assert "30 1 * * *" in line and f"last 2026-10-05 completed ({len(got)} rows)" in line
    assert "team_ranking" in listed.output and "year: 0 5 6 1 *" in listed.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nope"], "error: unknown job 'nope'"),
        (["sla_daily_report", "--period", "2026-W41"],
         "error: job sla_daily_report takes a day or month period, not a week"),
        (["process_cycle_times", "--period", "2026-W60"], "error: invalid period '2026-W60'"),
        (["team_ranking", "--period", "2026-10-05"], "error: job team_ranking takes a month or year period, not a day"),
    ],
)
def test_run_refuses_unknown_jobs_and_wrong_periods(cli_env, args, message):
    out = cli_env.invoke(main, ["jobs", "run", *args, "--no-prefect"])
    assert out.exit_code == 2 and message in out.output


def test_default_period_is_the_last_complete_one(cli_env, engine, scenario):
    # the scenario leaves the clock at 2026-10-05 22:00 in Shanghai: last complete week is 2026-W40
    out = cli_env.invoke(main, ["jobs", "run", "process_cycle_times", "--no-prefect"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output.strip().splitlines()[-1])["period"] == "2026-W40"
