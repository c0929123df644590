"""Scheduled process starts (``schedule.cycle``): the monthly agreement inventory."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from engine.clock import clock
from engine.scheduling.schedules import next_occurrence, occurrence, parse_cycle
from engine.scheduling.timers import fire_due
from engine.store.models import Timer


def test_calendar_months_do_not_drift():
    cycle = "R/2026-12-01T09:00:00+08:00/P1M"
    assert [occurrence(cycle, k).isoformat() for k in range(4)] == [
        "2026-12-01T01:00:00+00:00", "2027-01-01T01:00:00+00:00", "2027-02-01T01:00:00+00:00",
        "2027-03-01T01:00:00+00:00"]
    assert occurrence("R2/2026-12-01T09:00:00+08:00/P1M", 2) is None
    assert next_occurrence(cycle, datetime(2027, 1, 1, 1, 0, tzinfo=UTC))[0] == 2


@pytest.mark.parametrize("bad", ["P1M", "R/2026-12-01/P1M", "R/2026-12-01T09:00:00/P1M", "R/2026-12-01T09:00:00+08:00/1M",
                                 "Rx/2026-12-01T09:00:00+08:00/P1M", "R/2026-12-01T09:00:00+08:00/PT0S"])
def test_invalid_cycles(bad):
    with pytest.raises(ValueError):
        parse_cycle(bad)


def _start_timers(engine):
    with engine.read() as session:
        rows = session.execute(select(Timer).where(Timer.kind == "start").order_by(Timer.id)).scalars().all()
        return [(r.state, r.fire_at.isoformat(), r.instance_id) for r in rows]


def test_monthly_inventory_is_started_by_the_engine(api, engine):
    from tests.support.business import deploy, open_task

    clock.set(datetime(2026, 11, 23, 2, 0, tzinfo=UTC))
    try:
        deploy(api, "agreement_inventory")
        assert _start_timers(engine) == [("pending", "2026-12-01T01:00:00+00:00", None)]
        clock.set(datetime(2026, 12, 1, 0, 59, tzinfo=UTC))
        assert fire_due(engine) == 0
        clock.set(datetime(2026, 12, 1, 1, 0, 1, tzinfo=UTC))
        assert fire_due(engine) == 1
        timers = _start_timers(engine)
        assert timers[0][0] == "fired" and timers[0][2] is not None
        assert timers[1] == ("pending", "2027-01-01T01:00:00+00:00", None)
        # schedule.units=hall: one inventory per service hall, each bounded to its hall
        started = api.get("/api/process-instances?key=agreement_inventory&per_page=200", "admin").get_json()["items"]
        halls = {u["key"] for u in api.get("/api/org-units", "admin").get_json()["items"] if u["kind"] == "hall"}
        assert {"hall-1", "hall-2"} <= halls  # other tests' halls stay on PostgreSQL
        assert sorted((i["org_unit"], i["business_key"], i["started_by"]) for i in started) == sorted(
            (hall, f"agreement_inventory-{hall}-2026-12-01", "system") for hall in halls)
        by_unit = {i["org_unit"]: i["id"] for i in started}
        inst = api.get(f"/api/process-instances/{by_unit['hall-1']}", "info_clerk").get_json()
        assert inst["data"]["period"] == "2026-12"
        count = open_task(api, inst["id"], "count")
        assert count["candidate_groups"] == ["info_clerk"] and count["org_unit"] == "hall-1"
        other = open_task(api, by_unit["hall-2"], "count")
        assert other["org_unit"] == "hall-2"
        assert api.post(f"/api/tasks/{other['id']}/claim", "info_clerk").status_code == 403  # a hall-1 clerk
        assert api.post(f"/api/tasks/{count['id']}/claim", "info_clerk").status_code == 200
        assert fire_due(engine) == 0  # exactly once
        # a new version replaces the schedule instead of adding a second one
        from tests.support.business import process_xml

        xml = process_xml("agreement_inventory").replace("P1M", "P2M")
        assert api.deploy_xml(xml).status_code == 201
        pending = [t for t in _start_timers(engine) if t[0] == "pending"]
        assert pending == [("pending", "2027-02-01T01:00:00+00:00", None)]
    finally:
        clock.reset()
