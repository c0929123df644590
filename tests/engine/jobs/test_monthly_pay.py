"""Study days, monthly tests, attendance deductions and the shift leaders' link (job ``monthly_pay``).

Sources: 001 学习制度 and 考勤制度, 000 篇3/篇4. Runs on SQLite and PostgreSQL (``engine`` /
``api`` fixtures). A key-account room ``room-pay`` with three customer managers and its room
manager is added to the seeded users.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import delete, select

from engine.clock import clock
from engine.identity import auth as identity
from engine.identity.actor import SYSTEM
from engine.jobs.facts import import_facts
from engine.jobs.monthly_pay import compute_monthly_pay
from engine.jobs.periods import Period
from engine.jobs.scoring import RulesError, load_rules, parse_rules
from engine.scheduling.timers import fire_due
from engine.store.models import AuditEvent, Inspection, OrgUnit, User, UserRole
from tests.engine.jobs.conftest import results
from tests.support.business import deploy, errors_of, open_task, start, try_complete, try_start

ROOM = "room-pay"  # a room of its own (tests/engine/jobs/key_account_rooms.py builds room-key)
MANAGERS = {"cm_a": "客户经理甲", "cm_b": "客户经理乙", "cm_c": "客户经理丙"}


@pytest.fixture
def room(engine, api):
    """The room, its manager ``km_room`` and customer managers cm_a, cm_b, cm_c (with API tokens);
    PostgreSQL keeps users and units between tests, so they are removed afterwards."""
    users = {"km_room": ("室经理", "key_account_manager"), **{u: (n, "customer_manager") for u, n in MANAGERS.items()}}
    with engine.uow(SYSTEM) as uow:
        uow.session.add(OrgUnit(key=ROOM, name="重要客户室", kind="room", parent_key="dept-1"))
        uow.session.flush()
        for username, (name, role) in users.items():
            identity.add_user(uow.session, username, "demo", [role], org_unit=ROOM, display_name=name)
        for username in users:
            api.tokens[username] = identity.issue_token(uow.session, username, "demo", 3600 * 24 * 3650)[0]
    try:
        yield api
    finally:
        with engine.uow(SYSTEM) as uow:
            uow.session.execute(delete(User).where(User.username.in_(list(users))))
            uow.session.execute(delete(OrgUnit).where(OrgUnit.key == ROOM))
        for username in users:
            api.tokens.pop(username, None)


def import_csv(engine, rows: list[tuple]) -> None:
    text = "period,subject,metric,value\n" + "".join(",".join(str(c) for c in row) + "\n" for row in rows)
    with engine.uow(SYSTEM) as uow:
        import_facts(uow, "pay.csv", text.encode("utf-8"))


def run(engine, month: str) -> dict:
    with engine.uow(SYSTEM) as uow:
        compute_monthly_pay(uow, Period.parse(month))
    return results(engine, "monthly_pay", month)


def person(rows: dict, username: str, unit: str = ROOM) -> dict:
    return rows[("user", username, unit)]


def monthly_tests(scores: dict[str, dict[str, int]]) -> list[tuple]:
    return [(month, user, "study_test_score", score) for month, by_user in scores.items()
            for user, score in by_user.items()]


def test_three_consecutive_worst_lose_ten_percent_and_three_consecutive_best_get_a_certificate(engine, room):
    """001 学习制度 「次月对上月所学的内容进行综合测试,评出最优客户经理和最差客户经理,连续三次被评为最优客户经理的
    员工颁发奖状;连续三次被评为最差客户经理的员工扣除当月绩效的10%。」"""
    import_csv(engine, monthly_tests({
        "2026-08": {"cm_a": 95, "cm_b": 80, "cm_c": 60},
        "2026-09": {"cm_a": 92, "cm_b": 85, "cm_c": 70},
        "2026-10": {"cm_a": 98, "cm_b": 75, "cm_c": 66},
    }) + [("2026-10", "cm_c", "performance_pay", 3200), ("2026-10", "cm_a", "performance_pay", 3000)])
    september = run(engine, "2026-09")
    assert person(september, "cm_c")["worst_streak"] == 2 and person(september, "cm_c")["consequence"] == ""
    assert person(september, "cm_c")["pay_cut"] == 0
    october = run(engine, "2026-10")
    worst, best, middle = person(october, "cm_c"), person(october, "cm_a"), person(october, "cm_b")
    assert (worst["worst"], worst["worst_streak"], worst["consequence"]) == (True, 3, "pay_cut")
    assert worst["pay_cut_pct"] == 10 and worst["pay_cut"] == 320 and worst["total_deduction"] == 320
    assert worst["rank"] == 3 and worst["test_takers"] == 3
    assert (best["best"], best["best_streak"], best["certificate"], best["consequence"]) == (True, 3, True, "certificate")
    assert best["pay_cut"] == 0 and best["total_deduction"] == 0 and best["rank"] == 1
    assert (middle["best"], middle["worst"], middle["consequence"]) == (False, False, "")
    assert person(october, "cm_c")["label"] == "客户经理丙"
    # re-running the month replaces its rows
    assert run(engine, "2026-10") == october


def test_a_missed_test_or_a_better_month_breaks_the_run_and_ties_share_the_place(engine, room):
    """001 学习制度 「连续三次被评为最差客户经理的员工扣除当月绩效的10%」: only three tests in a row count."""
    import_csv(engine, monthly_tests({
        "2026-07": {"cm_a": 90, "cm_b": 70, "cm_c": 50},
        "2026-08": {"cm_a": 90, "cm_b": 50},  # cm_c missed the room's test: the run starts again
        "2026-09": {"cm_a": 90, "cm_b": 80, "cm_c": 60},
        "2026-10": {"cm_a": 60, "cm_b": 80, "cm_c": 60},  # cm_a and cm_c share the worst place
    }) + [("2026-10", "cm_a", "performance_pay", 3000)])
    october = run(engine, "2026-10")
    assert person(october, "cm_c")["worst"] and person(october, "cm_c")["worst_streak"] == 2
    assert person(october, "cm_c")["consequence"] == ""
    assert person(october, "cm_a")["worst"] and person(october, "cm_a")["worst_streak"] == 1
    assert person(october, "cm_a")["best_streak"] == 0 and person(october, "cm_a")["rank"] == 2
    assert person(october, "cm_b")["best"] and person(october, "cm_b")["best_streak"] == 1
    # the fourth worst test in a row pays nothing more; the sixth does again
    import_csv(engine, monthly_tests({"2026-11": {"cm_a": 90, "cm_b": 80, "cm_c": 10},
                                 "2026-12": {"cm_a": 90, "cm_b": 80, "cm_c": 10},
                                 "2027-01": {"cm_a": 90, "cm_b": 80, "cm_c": 10},
                                 "2027-02": {"cm_a": 90, "cm_b": 80, "cm_c": 10}}))
    november = person(run(engine, "2026-11"), "cm_c")  # Sep, Oct, Nov
    assert november["consequence"] == "pay_cut" and november["pay_cut_pct"] == 10
    assert november["pay_cut"] is None and november["performance_pay"] is None  # the pay was not imported
    assert [person(run(engine, m), "cm_c")["consequence"] for m in ("2026-12", "2027-01")] == ["", ""]
    assert person(run(engine, "2027-02"), "cm_c")["worst_streak"] == 6
    assert person(run(engine, "2027-02"), "cm_c")["consequence"] == "pay_cut"


def test_a_lone_taker_or_a_level_test_places_nobody(engine, room):
    """001 学习制度 「评出最优客户经理和最差客户经理」: a test needs someone better and someone worse."""
    import_csv(engine, monthly_tests({"2026-09": {"cm_a": 80}, "2026-10": {"cm_a": 70, "cm_b": 70}}))
    assert person(run(engine, "2026-09"), "cm_a")["best"] is False
    october = run(engine, "2026-10")
    assert [person(october, u)["best"] or person(october, u)["worst"] for u in ("cm_a", "cm_b")] == [False, False]


def test_attendance_deductions_follow_the_attendance_rule(engine, room):
    """001 考勤制度 「每次迟到/早退在30分钟以内的扣除员工50元,30-60分钟的扣除100元,60分钟以上扣除200元。旷工一次
    扣除100元。…发现一次扣200元,并在本片区内通报。不穿工作服一次,扣50元。每月请假超过3次以上的,扣除100元。」"""
    import_csv(engine, [
        ("2026-10", "cm_a", "attendance_late_30", 2), ("2026-10", "cm_a", "attendance_late_60", 1),
        ("2026-10", "cm_a", "attendance_late_over_60", 1), ("2026-10", "cm_a", "attendance_absent", 1),
        ("2026-10", "cm_a", "attendance_private_errand", 1), ("2026-10", "cm_a", "attendance_no_uniform", 1),
        ("2026-10", "cm_a", "attendance_leave", 4),
        ("2026-10", "cm_b", "attendance_leave", 3),  # exactly 3 is not "more than 3"
        ("2026-10", "customer_manager", "attendance_late_30", 1),  # a manager of hall-1
    ])
    rows = run(engine, "2026-10")
    a = person(rows, "cm_a")
    assert (a["att_late_30"], a["att_late_60"], a["att_late_over_60"], a["att_absent"], a["att_private_errand"],
            a["att_no_uniform"], a["att_leave"]) == (100, 100, 200, 100, 200, 50, 100)
    assert a["attendance_deduction"] == 850 and a["total_deduction"] == 850 and a["notice"] is True
    b = person(rows, "cm_b")
    assert b["attendance_deduction"] == 0 and "att_leave" not in b and b["notice"] is False
    assert person(rows, "customer_manager", "hall-1")["attendance_deduction"] == 50
    assert "test_score" not in a  # no test taken: no study consequence


def _inspect(engine, hall: str, day: str, score: float, n: int) -> None:
    """``n`` completed checklists (bpm_inspection rows, as counter_inspection writes them)."""
    with engine.uow(SYSTEM) as uow:
        for i in range(n):
            uow.session.add(Inspection(instance_id=f"{hall}-{day}-{i}", inspected_user="counter_staff",
                                       inspector="hall_manager", unit_key=hall,
                                       inspected_at=datetime.fromisoformat(f"{day}T02:00:00+00:00"), day=day,
                                       items={}, score=score))


def test_shift_leaders_are_assessed_on_the_halls_service_result_and_its_improvement(engine):
    """000 篇3 「把营业厅服务质量改善程度和当月成绩与班长、值班长绩效考核挂钩」."""
    full = sum(item["points"] for item in load_rules()["counter_service"]["items"])  # 120
    _inspect(engine, "hall-1", "2026-09-10", 0.80 * full, 2)
    _inspect(engine, "hall-1", "2026-10-10", 0.90 * full, 3)
    _inspect(engine, "hall-2", "2026-10-11", 0.70 * full, 1)
    rows = run(engine, "2026-10")
    lead1 = rows[("shift_leader", "duty_manager", "hall-1")]
    assert (lead1["hall_result_pct"], lead1["prev_result_pct"], lead1["improvement_pct"]) == (90, 80, 10)
    assert lead1["linked_score"] == 100 and lead1["inspections"] == 3  # 90 + 10, within 0-100
    lead2 = rows[("shift_leader", "duty_hall2", "hall-2")]
    assert lead2["hall_result_pct"] == 70 and lead2["improvement_pct"] is None and lead2["linked_score"] == 70
    # shift leaders are the halls' duty managers, and nobody else (PostgreSQL keeps other tests' users)
    leaders = {key[1] for key in rows if key[0] == "shift_leader"}
    with engine.read() as session:
        duty = set(session.execute(select(User.username).join(UserRole, UserRole.user_id == User.id).where(UserRole.role == "duty_manager")).scalars())
    assert {"duty_manager", "duty_hall2"} <= leaders <= duty
    # a worse month costs the leader
    _inspect(engine, "hall-1", "2026-11-10", 0.75 * full, 1)
    assert run(engine, "2026-11")[("shift_leader", "duty_manager", "hall-1")]["linked_score"] == 60  # 75 - 15


def test_people_see_their_own_consequences_and_hall_managers_their_hall(engine, room):
    """001 学习制度 「连续三次被评为最差客户经理的员工扣除当月绩效的10%」: the person concerned and the room's manager
    read it, a colleague not."""
    import_csv(engine, monthly_tests({m: {"cm_a": 90, "cm_b": 80, "cm_c": 50} for m in ("2026-08", "2026-09", "2026-10")})
               + [("2026-10", "customer_manager", "attendance_absent", 1)])
    _inspect(engine, "hall-1", "2026-10-10", 100, 1)
    run(engine, "2026-10")
    api = room

    def subjects(user):
        body = api.get("/api/reports/monthly_pay?period=2026-10", user).get_json()
        return sorted((r["subject_type"], r["subject_key"]) for r in body["rows"])

    assert subjects("cm_c") == [("user", "cm_c")]
    assert subjects("customer_manager") == [("user", "customer_manager")]
    assert subjects("hall_manager") == [("shift_leader", "duty_manager"), ("user", "customer_manager")]
    assert subjects("km_room") == [("user", "cm_a"), ("user", "cm_b"), ("user", "cm_c")]  # the room's manager
    assert len(subjects("auditor")) == 5
    body = api.get("/api/reports/monthly_pay?period=2026-10", "cm_c").get_json()
    assert body["rows"][0]["metrics"]["consequence"] == "pay_cut"
    # the download reads in Chinese: the consequence in words, the amounts under their labels
    r = api.get("/api/reports/monthly_pay/export?format=csv&period=2026-10", "cm_c")
    assert r.status_code == 200
    lines = r.data.decode("utf-8-sig").splitlines()
    header, row = lines[0].split(","), lines[1].split(",")
    assert len(lines) == 2 and row[header.index("奖惩")] == "扣除当月绩效"
    assert row[header.index("连续最差次数")] == "3" and row[header.index("扣绩效比例 %")] == "10"


def test_the_rules_section_is_checked_and_names_the_bad_key():
    """001 考勤制度 「每月请假超过3次以上的,扣除100元」: the numbers are data, a bad one is named."""
    import json

    from engine.jobs.scoring import rules_path

    raw = json.loads(rules_path().read_text(encoding="utf-8"))
    raw["monthly_pay"]["attendance"]["items"][6].pop("over")
    with pytest.raises(RulesError, match=r"monthly_pay.attendance.items\[6\].over"):
        parse_rules(raw)
    raw = json.loads(rules_path().read_text(encoding="utf-8"))
    raw["monthly_pay"]["study"]["test_metric"] = "nope"
    with pytest.raises(RulesError, match="monthly_pay.study.test_metric: unknown metric 'nope'"):
        parse_rules(raw)
    assert load_rules()["monthly_pay"]["study"]["worst_pay_cut_pct"] == 10


# --------------------------------------------------------------------------- study day


def test_the_engine_starts_a_study_day_every_second_week_per_room_and_the_manager_signs_in(engine, room):
    """001 学习制度 「重要客户室每两周安排一次学习日」."""
    api = room
    clock.set(datetime(2026, 11, 30, 2, 0, tzinfo=UTC))
    try:
        deploy(api, "study_day")
        clock.set(datetime(2026, 12, 3, 7, 20, 1, tzinfo=UTC))  # Thursday 15:20 in Beijing
        assert fire_due(engine) == 1
        started = api.get("/api/process-instances?key=study_day", "admin").get_json()["items"]
        assert [(i["org_unit"], i["started_by"]) for i in started] == [(ROOM, "system")]
        clock.set(datetime(2026, 12, 10, 7, 20, 1, tzinfo=UTC))  # one week later: nothing
        assert fire_due(engine) == 0
        clock.set(datetime(2026, 12, 17, 7, 20, 1, tzinfo=UTC))
        assert fire_due(engine) == 1  # two weeks later: the next one
        task = open_task(api, started[0]["id"], "signin")
        assert task["candidate_groups"] == ["key_account_manager"] and task["org_unit"] == ROOM
        options = api.get(f"/api/tasks/{task['id']}", "km_room").get_json()["data"]["room_members"]
        assert sorted(o["value"] for o in options) == ["cm_a", "cm_b", "cm_c"]
        for wrong in ("customer_manager", "cm_a", "hall_manager"):
            assert api.post(f"/api/tasks/{task['id']}/claim", wrong).status_code == 403
        assert api.post(f"/api/tasks/{task['id']}/claim", "km_room").status_code == 200
        data = {"study_date": "2026-12-03", "topic": "集团资费政策", "attendees": ["cm_a", "customer_manager"]}
        assert "attendees" in errors_of(try_complete(api, "km_room", task["id"], data))
        data["attendees"] = ["cm_a", "cm_c"]
        done = try_complete(api, "km_room", task["id"], data)
        assert done.status_code == 200, done.get_json()
        inst = api.get(f"/api/process-instances/{started[0]['id']}", "km_room").get_json()
        assert inst["status"] == "completed"
        assert (inst["data"]["attended"], inst["data"]["members"], inst["data"]["absentees"]) == (2, 3, ["cm_b"])
        with engine.read() as session:
            details = session.execute(select(AuditEvent.details)
                                      .where(AuditEvent.action == "study_day_signed_in")).scalar_one()
        assert details["absentees"] == ["cm_b"] and details["attended"] == ["cm_a", "cm_c"]
        # the month's pay sheet shows who came to the room's study days
        import_csv(engine, monthly_tests({"2026-12": {"cm_a": 90, "cm_b": 80}}))
        december = run(engine, "2026-12")
        assert (person(december, "cm_a")["study_days"], person(december, "cm_a")["study_days_attended"]) == (1, 1)
        assert (person(december, "cm_b")["study_days"], person(december, "cm_b")["study_days_attended"]) == (1, 0)
        # only the room manager, in a room, starts one by hand
        assert try_start(api, "customer_manager", "study_day", {}).status_code == 403
        assert try_start(api, "key_account_manager", "study_day", {}).status_code == 403  # seeded in hall-1
        assert start(api, "km_room", "study_day", {})["org_unit"] == ROOM
    finally:
        clock.reset()
