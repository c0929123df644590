"""Fixtures of the scheduled-job tests: a scenario built through the real engine, and one
session-wide Prefect test harness (SQLite only, started once: it takes about 30 s)."""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime, timedelta

import pytest

from engine.clock import clock
from engine.identity.auth import actor_by_name

T0 = datetime(2026, 10, 5, 1, 0, tzinfo=UTC)  # Monday 2026-10-05 09:00 in Shanghai (ISO week 2026-W41)
RUN_AT = T0 + timedelta(hours=13)  # 22:00 local, still 2026-10-05


def deploy_files(engine, *processes: str) -> None:
    from engine.ops.setup import deploy_shipped

    deploy_shipped(engine, processes, echo=lambda *_: None)


class Driver:
    """Start instances and work on tasks as the seeded users, at controlled clock instants."""

    def __init__(self, engine):
        self.engine = engine

    def actor(self, username):
        with self.engine.read() as session:
            return actor_by_name(session, username)

    def at(self, when: datetime) -> Driver:
        clock.set(when)
        return self

    def start(self, user: str, key: str, data: dict) -> str:
        from engine.runtime import instances

        with self.engine.uow(self.actor(user)) as uow:
            return instances.start(self.engine, uow, key, data).id

    def open_task(self, instance_id: str) -> str:
        from sqlalchemy import select

        from engine.store.models import Task

        with self.engine.read() as session:
            return session.execute(
                select(Task.id).where(Task.instance_id == instance_id, Task.status == "open")
            ).scalar_one()

    def claim(self, user: str, instance_id: str) -> str:
        from engine.runtime import tasks

        task_id = self.open_task(instance_id)
        with self.engine.uow(self.actor(user)) as uow:
            tasks.claim(uow, task_id)
        return task_id

    def complete(self, user: str, instance_id: str, data: dict) -> str:
        from engine.runtime import tasks

        task_id = self.open_task(instance_id)
        tasks.complete_task(self.engine, self.actor(user), task_id, data)
        return task_id

    # the business vocabulary of the scenario
    def complaint(self, user: str, category: str, complaint_type: str = "billing_support") -> str:
        return self.start(user, "complaint_handling", {
            "category": category, "complaint_type": complaint_type, "customer_name": "张三",
            "contact_phone": "13800138000", "description": "话费有误"})

    def resolve(self, user: str, instance_id: str, category: str) -> str:
        data = {"counter_action": "已处理"} if category == "standard" else {
            "tech_cause": "billing_error", "tech_action": "已更正计费"}
        return self.complete(user, instance_id, data)

    def close(self, user: str, instance_id: str, satisfaction: str) -> str:
        return self.complete(user, instance_id, {
            "resolution": "已解决", "answered_at": "2026-10-05T21:00", "satisfaction": satisfaction})

    def transaction(self, user: str, category: str) -> str:
        data = {"category": category, "customer_phone": "13900139000", "description": "办理业务"}
        if category == "payment":
            data["amount"] = 50
        return self.start(user, "one_counter", data)

    def clear(self, user: str, instance_id: str) -> str:
        return self.complete(user, instance_id, {"outcome": "cleared"})


@pytest.fixture
def driver(engine):
    deploy_files(engine, "complaint_handling", "one_counter")
    yield Driver(engine)
    clock.reset()


def build_scenario(d: Driver) -> dict:
    """The hand-computed day 2026-10-05 (times relative to T0 = 09:00 local).

    Complaint types (004): C2 service_marketing, C3 network, every other one billing_support.

    hall-1: C1 standard 0:00, claimed +1 min, resolved +2 min (on time, 120 s), closed +10 min satisfied;
            C2 standard 1:00, resolved +5 min (breached, 300 s), closed 1:15 dissatisfied;
            C3 technical 2:00, resolved 5:00 (on time, 10800 s), closed 5:30 satisfied;
            C4 technical 3:00, still open at 22:00 (pending: due 3:00 next day);
            C6 standard registered the day before, resolved then, closed today 9:00 neutral;
            O1 unlock 4:00 cleared +60 s; O2 unlock 5:00 cleared +240 s (breached);
            O3 payment 6:00 still open (breached: due 6:03);
    hall-2: C5 standard 7:00, resolved +60 s; O4 unlock 8:00, cleared +30 s.
    """
    m = timedelta(minutes=1)
    h = timedelta(hours=1)
    ids = {}
    ids["C6"] = d.at(T0 - 24 * h).complaint("counter_staff", "standard")
    d.at(T0 - 24 * h + m).resolve("counter_staff", ids["C6"], "standard")
    ids["C1"] = d.at(T0).complaint("counter_staff", "standard")
    d.at(T0 + m).claim("counter_staff", ids["C1"])
    d.at(T0 + 2 * m).resolve("counter_staff", ids["C1"], "standard")
    d.at(T0 + 10 * m).close("counter_staff", ids["C1"], "satisfied")
    ids["C2"] = d.at(T0 + h).complaint("counter2", "standard", "service_marketing")
    d.at(T0 + h + 5 * m).resolve("counter2", ids["C2"], "standard")
    d.at(T0 + h + 15 * m).close("counter2", ids["C2"], "dissatisfied")
    ids["C3"] = d.at(T0 + 2 * h).complaint("counter_staff", "technical", "network")
    d.at(T0 + 5 * h).resolve("duty_manager", ids["C3"], "technical")
    d.at(T0 + 5 * h + 30 * m).close("counter_staff", ids["C3"], "satisfied")
    ids["C4"] = d.at(T0 + 3 * h).complaint("counter_staff", "technical")
    ids["O1"] = d.at(T0 + 4 * h).transaction("counter_staff", "unlock")
    d.at(T0 + 4 * h + m).clear("counter_staff", ids["O1"])
    ids["O2"] = d.at(T0 + 5 * h).transaction("counter2", "unlock")
    d.at(T0 + 5 * h + 4 * m).clear("counter2", ids["O2"])
    ids["O3"] = d.at(T0 + 6 * h).transaction("counter_staff", "payment")
    ids["C5"] = d.at(T0 + 7 * h).complaint("counter_hall2", "standard")
    d.at(T0 + 7 * h + m).resolve("counter_hall2", ids["C5"], "standard")
    ids["O4"] = d.at(T0 + 8 * h).transaction("counter_hall2", "unlock")
    d.at(T0 + 8 * h + timedelta(seconds=30)).clear("counter_hall2", ids["O4"])
    d.at(T0 + 9 * h).close("counter_staff", ids["C6"], "neutral")
    d.at(RUN_AT)
    return ids


@pytest.fixture
def scenario(driver):
    return build_scenario(driver)


def results(engine, job: str, period: str) -> dict:
    """{(subject_type, subject_key, unit_key): row dict} of a job's results for a period."""
    from sqlalchemy import select

    from engine.store.models import JobResult

    with engine.read() as session:
        rows = session.execute(select(JobResult).where(JobResult.job == job, JobResult.period == period)).scalars()
        return {(r.subject_type, r.subject_key, r.unit_key): {"unit_key": r.unit_key, "label": r.subject_label,
                                                   "rank": r.rank, "status": r.status, **r.metrics} for r in rows}


# ----------------------------------------------------------------------------- Prefect


@pytest.fixture(scope="session")
def prefect_home(tmp_path_factory):
    """Keep Prefect's files out of the repository (set before bpm_cli.flows is imported)."""
    home = tmp_path_factory.mktemp("prefect-home")
    saved = os.environ.get("PREFECT_HOME")
    os.environ["PREFECT_HOME"] = str(home)
    yield home
    if saved is None:
        os.environ.pop("PREFECT_HOME", None)
    else:
        os.environ["PREFECT_HOME"] = saved


@pytest.fixture(scope="session")
def prefect_harness(prefect_home):
    """One Prefect test harness (temporary API server and database) for the whole session."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=180):
        yield


@pytest.fixture
def sqlite_engine(sqlite_template, tmp_path):
    """An engine on a fresh copy of the seeded SQLite database (Prefect tests run on SQLite only)."""
    from engine.app import BpmEngine
    from engine.config import load_settings

    path, _ = sqlite_template
    target = tmp_path / "bpm.sqlite3"
    shutil.copy(path, target)
    eng = BpmEngine(load_settings(database_url=f"sqlite:///{target}", var_dir=tmp_path / "var"))
    yield eng
    clock.reset()
    eng.close()
