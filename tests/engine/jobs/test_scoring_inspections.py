"""counter_inspection through the API and counter_service_score's monthly sum (SQLite and PostgreSQL).

Seeded users: ``duty_manager``, ``hall_manager``, ``counter_staff``, ``counter2`` in hall-1;
``duty_hall2``, ``counter_hall2`` in hall-2.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import delete, select

from engine.clock import clock
from engine.identity import auth as identity
from engine.identity.actor import SYSTEM
from engine.identity.auth import actor_by_name
from engine.jobs.inspections import compute_counter_service_score
from engine.jobs.periods import Period
from engine.jobs.scoring import load_rules
from engine.runtime import tasks
from engine.store.models import AuditEvent, Inspection, JobResult, Task, User, UserRole
from tests.support.business import (
    assert_forbidden,
    candidate_task_ids,
    deploy,
    errors_of,
    instance,
    open_task,
    process_xml,
    start,
    try_complete,
    try_start,
    work,
)
from tests.support.pages import sign_in

ITEMS = [item["key"] for item in load_rules()["counter_service"]["items"]]


def checklist(staff: str, missed: dict | None = None, **extra) -> dict:
    """Full points on every item except ``missed`` ({item: points given})."""
    data = {"staff_username": staff, **{key: 10 for key in ITEMS}, **(missed or {}), **extra}
    return data


def inspections(engine) -> list[tuple]:
    with engine.read() as session:
        return [tuple(r) for r in session.execute(
            select(Inspection.inspected_user, Inspection.inspector, Inspection.unit_key, Inspection.day,
                   Inspection.score, Inspection.items).order_by(Inspection.id))]


@pytest.fixture
def inspection(api):
    deploy(api, "counter_inspection")
    return api


def test_an_inspector_of_the_hall_scores_a_counter_staff_member(inspection, engine):
    api = inspection
    clock.set(datetime(2026, 10, 12, 1, 30, tzinfo=UTC))  # 09:30 in Beijing
    for wrong in ("counter_staff", "customer_manager", "nobody"):
        assert try_start(api, wrong, "counter_inspection", {}).status_code == 403
    iid = start(api, "duty_manager", "counter_inspection", {})["id"]
    task = open_task(api, iid, "inspect")
    assert task["org_unit"] == "hall-1" and set(task["candidate_groups"]) == {"duty_manager", "hall_manager"}
    # the inspector's own step (candidateScope starter): theirs, not the other inspectors' of the hall
    assert task["assignee"] == "duty_manager"
    assert candidate_task_ids(api, "duty_manager", iid, "mine") == [task["id"]]
    assert candidate_task_ids(api, "hall_manager", iid) == []
    assert candidate_task_ids(api, "duty_hall2", iid) == []
    for wrong in ("duty_hall2", "manager_hall2", "counter_staff", "customer_manager", "hall_manager"):
        assert_forbidden(api, wrong, task["id"])
    # the person checked must be active counter staff of this hall (and not the inspector)
    for staff, message in (("counter_hall2", "does not work in this hall"),
                           ("customer_manager", "is not counter staff"),
                           ("ghost", "no active user"),
                           ("duty_manager", "is not counter staff")):
        errors = errors_of(try_complete(api, "duty_manager", task["id"], checklist(staff)))
        assert message in errors["staff_username"][0], errors
    # each item at most its points, every item required
    assert "smile_service" in errors_of(try_complete(api, "duty_manager", task["id"],
                                                     checklist("counter_staff", {"smile_service": 11})))
    incomplete = checklist("counter_staff")
    del incomplete["standing_service"]
    assert "standing_service" in errors_of(try_complete(api, "duty_manager", task["id"], incomplete))
    assert inspections(engine) == []
    done = work(api, "duty_manager", iid, "inspect",
                checklist("counter_staff", {"smile_service": 6, "greet_three": 0}, inspection_comment="未主动招呼"))
    assert done["status"] == "completed"
    [(user, inspector, unit, day, score, items)] = inspections(engine)
    # twelve items of 10 points: 120 - 4 - 10
    assert (user, inspector, unit, day, score) == ("counter_staff", "duty_manager", "hall-1", "2026-10-12", 106)
    assert items["smile_service"] == 6 and items["greet_three"] == 0 and items["serve_one"] == items["wait_two"] == 10
    assert len(items) == len(ITEMS) == 12
    assert instance(api, iid)["data"]["inspection_score"] == 106
    with engine.read() as session:
        actions = [a for a in session.execute(select(AuditEvent.action).where(AuditEvent.instance_id == iid)).scalars()]
    assert "task_completed" in actions and "inspection_recorded" in actions


def test_the_local_day_decides_and_hall_2_inspects_its_own_staff(inspection, engine):
    api = inspection
    clock.set(datetime(2026, 10, 31, 16, 30, tzinfo=UTC))  # 00:30 on 1 November in Beijing
    iid = start(api, "duty_hall2", "counter_inspection", {})["id"]
    assert "does not work in this hall" in errors_of(
        try_complete(api, "duty_hall2", open_task(api, iid, "inspect")["id"], checklist("counter_staff")))["staff_username"][0]
    work(api, "duty_hall2", iid, "inspect", checklist("counter_hall2"))
    assert inspections(engine)[0][2:5] == ("hall-2", "2026-11-01", 120)


def inspect_on(api, when: datetime, inspector: str, staff: str, missed: dict | None = None) -> None:
    clock.set(when)
    iid = start(api, inspector, "counter_inspection", {})["id"]
    work(api, inspector, iid, "inspect", checklist(staff, missed))


def test_the_month_is_summed_per_person_and_ranked_within_the_hall(inspection, engine):
    api = inspection
    day = lambda d, h=2: datetime(2026, 10, d, h, 0, tzinfo=UTC)  # noqa: E731
    inspect_on(api, day(5), "duty_manager", "counter_staff", {"smile_service": 5})            # 115
    inspect_on(api, day(5, 7), "hall_manager", "counter_staff", {"standing_service": 0})      # 110
    inspect_on(api, day(20), "duty_manager", "counter_staff", {"two_hands": 7, "cash_announce": 8})  # 115
    inspect_on(api, day(8), "duty_manager", "counter2", {})                                    # 120
    inspect_on(api, day(9), "duty_hall2", "counter_hall2", {"time_limit": 0, "first_contact": 0})  # 100
    inspect_on(api, datetime(2026, 9, 30, 16, 30, tzinfo=UTC), "duty_manager", "counter2", {"smile_service": 0})  # 00:30 1 Oct local: 110
    inspect_on(api, datetime(2026, 10, 31, 16, 0, tzinfo=UTC), "duty_manager", "counter2", {})  # 1 Nov local: not October
    with engine.uow(SYSTEM) as uow:
        assert compute_counter_service_score(uow, Period.parse("2026-10")) == 3
    with engine.read() as session:
        rows = {r.subject_key: (r.unit_key, r.rank, r.metrics) for r in session.execute(
            select(JobResult).where(JobResult.job == "counter_service_score", JobResult.period == "2026-10")).scalars()}
    # 月末汇总 (000_*.txt): the monthly score is the sum of the month's checks, not their average,
    # so counter_staff (3 checks, 115 + 110 + 115) ranks above counter2 (2 checks, 120 + 110)
    unit, rank, m = rows["counter_staff"]
    assert (unit, rank) == ("hall-1", 1)
    assert (m["inspections"], m["days"], m["total"], m["score"], m["max_points"]) == (3, 2, 340, 340, 120)
    assert m["avg_points"] == pytest.approx(113.33) and m["avg_pct"] == pytest.approx(94.44)
    assert m["avg_smile_service"] == pytest.approx(8.33) and m["avg_standing_service"] == pytest.approx(6.67)
    unit, rank, m = rows["counter2"]
    assert (unit, rank, m["inspections"], m["total"], m["score"], m["avg_pct"]) == ("hall-1", 2, 2, 230, 230, 95.83)
    unit, rank, m = rows["counter_hall2"]
    assert (unit, rank, m["inspections"], m["score"], m["avg_time_limit"]) == ("hall-2", 1, 1, 100, 0)
    # a re-run replaces the month's rows
    with engine.uow(SYSTEM) as uow:
        assert compute_counter_service_score(uow, Period.parse("2026-10")) == 3
    with engine.read() as session:
        assert len(session.execute(select(JobResult.id).where(JobResult.job == "counter_service_score")).all()) == 3


# --------------------------------------------------------------------------- the staff picker (options.hall_staff)

EXTRA_STAFF = ("cs_wang", "cs_left", "duty_cs")


@pytest.fixture
def more_staff(inspection, engine):
    """hall-1 also has 王芳 (counter staff), a deactivated counter staff member and a duty manager
    who is counter staff too."""
    with engine.uow(SYSTEM) as uow:
        identity.add_user(uow.session, "cs_wang", "demo", ["counter_staff"], display_name="王芳", org_unit="hall-1")
        left = identity.add_user(uow.session, "cs_left", "demo", ["counter_staff"], display_name="离职者",
                                 org_unit="hall-1")
        left.is_active = False
        identity.add_user(uow.session, "duty_cs", "demo", ["duty_manager", "counter_staff"], display_name="兼任值班",
                          org_unit="hall-1")
    yield inspection
    with engine.uow(SYSTEM) as uow:  # PostgreSQL keeps the user tables between tests
        uow.session.execute(delete(User).where(User.username.in_(EXTRA_STAFF)))


# the seeded users and this module's; on PostgreSQL other tests' users stay in the user tables
KNOWN = {"counter2", "counter_staff", "counter_hall2", "duty_manager", "hall_manager", *EXTRA_STAFF}


def offered(api, user: str, task_id: str, engine=None) -> list[dict]:
    """The picker's options of the task as ``user`` reads it, restricted to KNOWN users; with
    ``engine``, the whole list is first checked: sorted by label, active counter staff of one hall."""
    r = api.get(f"/api/tasks/{task_id}", user)
    assert r.status_code == 200, r.get_json()
    options = r.get_json()["data"]["hall_staff"]
    assert [o["label"] for o in options] == sorted(o["label"] for o in options)
    if engine is not None:
        with engine.read() as session:
            users = {u.username: u for u in session.execute(
                select(User).where(User.username.in_([o["value"] for o in options]))).scalars()}
            roles = set(session.execute(select(UserRole.user_id, UserRole.role)).tuples())
            assert len(users) == len(options)
            assert len({u.org_unit for u in users.values()}) <= 1
            assert all(u.is_active and (u.id, "counter_staff") in roles for u in users.values())
    return [o for o in options if o["value"] in KNOWN]


def test_the_inspector_picks_from_the_active_counter_staff_of_the_hall(more_staff, engine):
    api = more_staff
    iid = start(api, "duty_manager", "counter_inspection", {})["id"]
    task = open_task(api, iid, "inspect")
    assert task["properties"]["options.hall_staff"] == "users:counter_staff"
    field = next(c for c in task["form"]["components"] if c.get("key") == "staff_username")
    assert field["type"] == "select" and field["valuesKey"] == "hall_staff" and field["validate"]["required"]
    # hall-1's active counter staff, by label; not hall-2's, not the deactivated one, not a non-counter user
    assert offered(api, "duty_manager", task["id"], engine) == [
        {"label": "counter2", "value": "counter2"},
        {"label": "counter_staff", "value": "counter_staff"},
        {"label": "兼任值班", "value": "duty_cs"},
        {"label": "王芳", "value": "cs_wang"},
    ]
    assert [o["value"] for o in offered(api, "hall_manager", task["id"])] == ["counter2", "counter_staff", "duty_cs",
                                                                               "cs_wang"]
    # the reader is never offered (an inspector cannot inspect themselves)
    with engine.read() as session:
        read = tasks.get_task(engine, session, actor_by_name(session, "duty_cs"), task["id"])
    assert [o["value"] for o in read["data"]["hall_staff"] if o["value"] in KNOWN] == ["counter2", "counter_staff",
                                                                                       "cs_wang"]
    # hall-2's inspector is offered hall-2's staff only
    iid2 = start(api, "duty_hall2", "counter_inspection", {})["id"]
    assert offered(api, "duty_hall2", open_task(api, iid2, "inspect")["id"], engine) == [
        {"label": "counter_hall2", "value": "counter_hall2"}]
    # the picked person is checked by the inspection hook as before
    assert "no active user" in errors_of(try_complete(api, "duty_manager", task["id"],
                                                      checklist("cs_left")))["staff_username"][0]
    work(api, "duty_manager", iid, "inspect", checklist("cs_wang"))
    assert inspections(engine)[0][:3] == ("cs_wang", "duty_manager", "hall-1")


def test_the_options_are_never_stored(inspection, engine):
    api = inspection
    iid = start(api, "duty_manager", "counter_inspection", {})["id"]
    task_id = open_task(api, iid, "inspect")["id"]
    options = offered(api, "duty_manager", task_id)
    assert "hall_staff" not in instance(api, iid)["data"]
    # a picked value must be a string (the values are usernames); empty is "required"
    assert "staff_username" in errors_of(try_complete(api, "duty_manager", task_id, checklist(5)))
    assert errors_of(try_complete(api, "duty_manager", task_id, checklist("")))["staff_username"] == [
        "Field is required."]
    # a client that sends the options back: they are dropped, not refused and not stored
    work(api, "duty_manager", iid, "inspect", checklist("counter2", hall_staff=options))
    data = instance(api, iid)["data"]
    assert data["staff_username"] == "counter2" and data["inspection_score"] == 120 and "hall_staff" not in data
    with engine.read() as session:
        submitted = session.execute(select(Task.submitted).where(Task.id == task_id)).scalar_one()
        details = session.execute(select(AuditEvent.details).where(
            AuditEvent.instance_id == iid, AuditEvent.action == "task_completed")).scalar_one()
    assert "hall_staff" not in submitted and "hall_staff" not in str(details)


@pytest.mark.parametrize("value, fragment", [("bogus:thing", "unknown option provider"),
                                             ("users:no_such_role", "names no known role")])
def test_an_unknown_option_provider_is_refused_at_deploy(inspection, value, fragment):
    api = inspection
    xml = process_xml("counter_inspection").replace(
        '<camunda:property name="options.hall_staff" value="users:counter_staff" />',
        f'<camunda:property name="options.x" value="{value}" />')
    assert "options.x" in xml
    r = api.deploy_xml(xml)
    assert r.status_code == 422, r.get_json()
    errors = r.get_json()["details"]["errors"]
    assert [e["element_id"] for e in errors] == ["inspect"], errors
    assert fragment in errors[0]["message"] and "options.x" in errors[0]["message"]


def test_twenty_checks_of_a_month_are_added_up(engine):
    """附表四 "每天不定时检查打分，月末汇总": 20 checks of 110 points each score 2200 for the month."""
    with engine.uow(SYSTEM) as uow:
        for n in range(20):
            at = datetime(2026, 8, 1 + n, 2, 0, tzinfo=UTC)
            uow.session.add(Inspection(instance_id=f"sum-{n:02d}", inspected_user="counter_staff",
                                       inspector="duty_manager", unit_key="hall-1", inspected_at=at,
                                       day=f"2026-08-{1 + n:02d}", items={"smile_service": 0}, score=110))
        uow.session.add(Inspection(instance_id="sum-once", inspected_user="counter2", inspector="duty_manager",
                                   unit_key="hall-1", inspected_at=datetime(2026, 8, 3, 2, tzinfo=UTC),
                                   day="2026-08-03", items={}, score=120))
    try:
        with engine.uow(SYSTEM) as uow:
            assert compute_counter_service_score(uow, Period.parse("2026-08")) == 2
        with engine.read() as session:
            rows = {r.subject_key: (r.rank, r.metrics) for r in session.execute(
                select(JobResult).where(JobResult.job == "counter_service_score", JobResult.period == "2026-08")).scalars()}
        rank, m = rows["counter_staff"]
        assert (rank, m["inspections"], m["days"], m["score"], m["total"], m["avg_points"]) == (1, 20, 20, 2200, 2200, 110)
        rank, m = rows["counter2"]
        assert (rank, m["inspections"], m["score"], m["avg_pct"]) == (2, 1, 120, 100)
    finally:
        with engine.uow(SYSTEM) as uow:  # PostgreSQL keeps the tables between tests
            uow.session.execute(delete(Inspection).where(Inspection.instance_id.like("sum-%")))
            uow.session.execute(delete(JobResult).where(JobResult.job == "counter_service_score",
                                                        JobResult.period == "2026-08"))


# --------------------------------------------------------------------------- daily coverage (every clerk every day)

SEEDED_CLERKS = {"counter_staff", "counter2", "counter_hall2"}


def coverage(api, user: str, **query) -> dict:
    r = api.get("/api/halls/inspection-coverage" + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else ""),
                user)
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    return {h["hall"]: ({c["username"] for c in h["unchecked"]} & SEEDED_CLERKS,
                        {s["username"]: s["checks"] for s in h["staff"] if s["username"] in SEEDED_CLERKS})
            for h in body["halls"]} | {"day": body["day"]}


def test_the_coverage_lists_the_clerks_not_yet_checked_today(inspection, app):
    api = inspection
    clock.set(datetime(2026, 10, 13, 1, 0, tzinfo=UTC))  # 09:00 on 13 October in Beijing
    seen = coverage(api, "duty_manager")
    assert seen["day"] == "2026-10-13" and set(seen) == {"day", "hall-1"}  # their own hall only
    assert seen["hall-1"] == ({"counter_staff", "counter2"}, {"counter_staff": 0, "counter2": 0})
    work(api, "duty_manager", start(api, "duty_manager", "counter_inspection", {})["id"], "inspect",
         checklist("counter_staff"))
    # checked once: dropped from the unchecked list; counter2 is still to be checked today
    assert coverage(api, "hall_manager")["hall-1"] == ({"counter2"}, {"counter_staff": 1, "counter2": 0})
    # the dashboards page of the monthly score shows the same per hall
    client, _ = sign_in(app, "hall_manager")
    html = client.get("/dashboards?job=counter_service_score").get_data(as_text=True)
    section = html.split('data-testid="coverage"')[1].split("</section>")[0]
    assert "今日未检查" in section and 'data-hall="hall-1"' in section and 'data-hall="hall-2"' not in section
    assert 'data-clerk="counter2"' in section and 'data-clerk="counter_staff"' not in section
    client, _ = sign_in(app, "counter_staff")
    assert 'data-testid="coverage"' not in client.get("/dashboards?job=counter_service_score").get_data(as_text=True)
    # another day starts with everyone unchecked again; a past day keeps its checks
    clock.set(datetime(2026, 10, 14, 1, 0, tzinfo=UTC))
    assert coverage(api, "duty_manager")["hall-1"][0] == {"counter_staff", "counter2"}
    assert coverage(api, "duty_manager", day="2026-10-13")["hall-1"][0] == {"counter2"}
    # hall-2's duty manager sees hall-2; the auditor every hall (or one by ?unit=); a clerk no hall
    assert set(coverage(api, "duty_hall2")) == {"day", "hall-2"}
    assert coverage(api, "duty_hall2")["hall-2"] == ({"counter_hall2"}, {"counter_hall2": 0})
    assert {"hall-1", "hall-2"} <= set(coverage(api, "auditor"))
    assert set(coverage(api, "auditor", unit="hall-2")) == {"day", "hall-2"}
    assert set(coverage(api, "counter_staff")) == {"day"}
    assert api.get("/api/halls/inspection-coverage?day=13.10.2026", "auditor").status_code == 422
    assert api.get("/api/halls/inspection-coverage", None).status_code == 401
