"""process_cycle_times against the hand-computed week of ``build_scenario`` (conftest), on both databases."""

from __future__ import annotations

from engine.identity.names import local_label
from engine.jobs.runner import execute_job
from tests.engine.jobs.conftest import results


def test_waiting_working_and_slowest_steps(engine, scenario):
    run = execute_job(engine, "process_cycle_times", "2026-W41", "tester")
    got = {k[1]: v for k, v in results(engine, "process_cycle_times", "2026-W41").items()}
    assert run["rows"] == len(got) == 4
    # resolve_counter completed this week: C1 (claimed after 60 s, worked 60 s), C2 (never claimed:
    # 300 s waiting), C5 (never claimed: 60 s). C6's was completed the week before.
    rc = got["complaint_handling:v1:resolve_counter"]
    assert rc["unit_key"] is None and rc["label"] == "投诉处理 v1|Complaint handling v1 / 柜台处理|Counter handling"
    assert local_label(rc["label"]) == "投诉处理 v1 / 柜台处理"  # a page shows one language, with the version
    assert local_label(rc["label"], "en") == "Complaint handling v1 / Counter handling"
    assert (rc["process"], rc["version"], rc["element_id"], rc["count"]) == ("complaint_handling", 1, "resolve_counter", 3)
    assert (rc["p50_waiting_s"], rc["p90_waiting_s"], rc["avg_waiting_s"]) == (60, 300, 140)
    assert (rc["p50_working_s"], rc["p90_working_s"], rc["avg_working_s"]) == (0, 60, 20)
    assert (rc["p50_total_s"], rc["p90_total_s"], rc["avg_total_s"]) == (120, 300, 160)
    # closing calls: C1 480 s, C2 600 s, C3 1800 s and C6 (opened last week) 33 h - 1 min
    close = got["complaint_handling:v1:close"]
    assert (close["count"], close["p50_total_s"], close["p90_total_s"]) == (4, 600, 118740)
    tech = got["complaint_handling:v1:resolve_technical"]
    assert (tech["count"], tech["p90_total_s"]) == (1, 10800)
    # slowest first within the process version; overall rank across processes
    assert [(s, got[f"complaint_handling:v1:{s}"]["rank"]) for s in ("close", "resolve_technical", "resolve_counter")] == [
        ("close", 1), ("resolve_technical", 2), ("resolve_counter", 3)]
    assert close["slowest"] is True and rc["slowest"] is False
    handle = got["one_counter:v1:handle"]
    assert (handle["count"], handle["p50_total_s"], handle["p90_total_s"], handle["rank"], handle["slowest"]) == (
        3, 60, 240, 1, True)
    assert [got[k]["overall_rank"] for k in ("complaint_handling:v1:close", "complaint_handling:v1:resolve_technical",
                                             "complaint_handling:v1:resolve_counter", "one_counter:v1:handle")] == [1, 2, 3, 4]


def test_a_week_without_completions_has_no_rows(engine, scenario):
    run = execute_job(engine, "process_cycle_times", "2026-W42", "tester")
    assert run["rows"] == 0 and results(engine, "process_cycle_times", "2026-W42") == {}
    # the week before holds only C6's counter handling
    execute_job(engine, "process_cycle_times", "2026-W40", "tester")
    assert list(results(engine, "process_cycle_times", "2026-W40")) == [("step", "complaint_handling:v1:resolve_counter", None)]
