"""The customer managers' perception survey (processes/perception_survey.bpmn) through the API,
on SQLite and PostgreSQL: the data group draws a sample of a manager's customers, one form per
call, and the month's average call score is the perception item of the customer-manager KPI.

Rules (engine/jobs/data/scoring_rules.json ``perception_survey``): four items of 25 points;
yes 100 %, partly 50 %, no 0; 3 to 20 customers per sample.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import delete, select

from engine.clock import clock
from engine.identity import auth as identity
from engine.identity.actor import SYSTEM
from engine.jobs.kpi import compute_customer_manager_kpi
from engine.jobs.periods import Period
from engine.store.models import AuditEvent, JobResult, Task, User
from tests.engine.jobs.key_account_rooms import key_account_rooms
from tests.support.business import (
    deploy,
    deploy_decisions,
    errors_of,
    instance,
    start,
    try_complete,
    try_start,
    work,
)

ALL_YES = {"reached": "yes", "satisfaction": "yes", "tariff_awareness": "yes", "campaign_awareness": "yes",
           "manager_awareness": "yes"}
CUSTOMERS = ["城关第一中学 李老师", "县人民医院 王科长", "县交通局 张主任"]


@pytest.fixture
def survey_api(api, engine):
    """perception_survey deployed, the rooms of 集团客户部 in place, the clock in October 2026."""
    deploy(api, "perception_survey")
    clock.set(datetime(2026, 10, 20, 2, 0, tzinfo=UTC))
    with key_account_rooms(api, engine):
        yield api
    clock.reset()


def call_tasks(api, instance_id: str) -> list[dict]:
    """The open call tasks of a survey (one per sampled customer), with their data as read."""
    out = []
    for t in instance(api, instance_id)["open_tasks"]:
        if t["element_id"] == "call":
            r = api.get(f"/api/tasks/{t['id']}", "data_analyst")
            assert r.status_code == 200, r.get_json()
            out.append(r.get_json())
    return sorted(out, key=lambda t: t["data"]["customer"])


def draw(api, manager: str = "customer_manager", period: str = "2026-10", customers=CUSTOMERS) -> str:
    iid = start(api, "data_analyst", "perception_survey", {})["id"]
    work(api, "data_analyst", iid, "sample", {"manager": manager, "period": period, "customers": "\n".join(customers)})
    return iid


def answer(api, task: dict, data: dict) -> dict:
    r = api.post(f"/api/tasks/{task['id']}/claim", "data_analyst")
    assert r.status_code == 200, r.get_json()
    r = try_complete(api, "data_analyst", task["id"], data)
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def kpi_row(engine, username: str, period: str = "2026-10") -> dict:
    with engine.uow(SYSTEM) as uow:
        compute_customer_manager_kpi(uow, Period.parse(period))
    with engine.read() as session:
        return session.execute(select(JobResult.metrics).where(
            JobResult.job == "customer_manager_kpi", JobResult.period == period,
            JobResult.subject_key == username)).scalar_one()


def test_one_form_per_sampled_customer_and_the_average_is_the_kpi_item(survey_api, engine):
    """000 篇3/4 「每个月数据组对客户经理感知度分满意度、集团资费认知度、当时开展活动内容认知度、客户经理认知度进行抽查并打分」:
    the data group samples three of the manager's customers and gets one call form each; calls
    scoring 100 and 62.5 (satisfied, tariffs partly, campaigns no, manager yes: 25+12.5+0+25)
    and one not reached average 81.25, which is 8.12 of the KPI's 10 perception points."""
    api = survey_api
    deploy_decisions(api)
    iid = draw(api)
    calls = call_tasks(api, iid)
    assert [c["data"]["customer"] for c in calls] == sorted(CUSTOMERS)
    assert all(c["form_key"] == "perception_call" and c["org_unit"] == "dept-group" for c in calls)
    assert calls[0]["data"]["manager"] == "customer_manager" and calls[0]["data"]["period"] == "2026-10"
    # only the data group may record a call
    for wrong in ("customer_manager", "key_account_manager", "dm_group"):
        assert api.post(f"/api/tasks/{calls[0]['id']}/complete", wrong, json={"data": ALL_YES}).status_code == 403
    answer(api, calls[0], ALL_YES)
    answer(api, calls[1], {"reached": "yes", "satisfaction": "yes", "tariff_awareness": "partly",
                           "campaign_awareness": "no", "manager_awareness": "yes", "remark": "不了解当前活动"})
    done = answer(api, calls[2], {"reached": "no", "satisfaction": "no", "remark": "无人接听"})
    assert done["instance"]["status"] == "completed"
    with engine.read() as session:
        scores = sorted((t.submitted["customer"], t.submitted["call_score"], t.submitted.get("satisfaction"))
                        for t in session.execute(select(Task).where(Task.element_id == "call")).scalars())
        recorded = session.execute(select(AuditEvent.details).where(
            AuditEvent.action == "perception_call_recorded")).scalars().all()
    # the call not reached is not scored and its answer is dropped
    assert scores == sorted([(calls[0]["data"]["customer"], 100.0, "yes"), (calls[1]["data"]["customer"], 62.5, "yes"),
                             (calls[2]["data"]["customer"], None, None)])
    assert sorted(str(d["call_score"]) for d in recorded) == ["100.0", "62.5", "None"]
    m = kpi_row(engine, "customer_manager")
    assert m["perception_score"] == 81.25 and m["perception"] == 8.12  # 8.125, rounded to 2 places
    assert "perception" not in m["missing"].split(",")
    # a month without a survey: the item is missing, 0 points
    assert kpi_row(engine, "customer_manager", "2026-09")["missing"].split(",")[-1] == "perception"


def test_the_sample_is_checked_and_a_second_spot_check_adds_its_calls(survey_api, engine):
    """000 篇3/4 「每个月数据组对客户经理感知度…进行抽查并打分」: a customer manager of the data group's
    department (or a room under it), a month that has begun (this one or the two before are
    offered), a sample of 1 to 20 customers without duplicates. A second spot check in the same
    month adds its calls to the month's average."""
    api = survey_api
    iid = start(api, "data_analyst", "perception_survey", {})["id"]
    task = next(t for t in instance(api, iid)["open_tasks"] if t["element_id"] == "sample")
    read = api.get(f"/api/tasks/{task['id']}", "data_analyst").get_json()
    # the selects offer the customer managers of 集团客户部 and its rooms, and this month and the two before
    assert sorted(o["value"] for o in read["data"]["survey_managers"]) == ["cm_room2", "customer_manager"]
    assert [o["value"] for o in read["data"]["survey_months"]] == ["2026-10", "2026-09", "2026-08"]
    api.post(f"/api/tasks/{task['id']}/claim", "data_analyst")
    base = {"manager": "customer_manager", "period": "2026-10", "customers": "\n".join(CUSTOMERS)}
    for bad, field in (({"manager": "counter_staff"}, "manager"),  # not a customer manager
                       ({"period": "2026-11"}, "period"),  # not begun on 2026-10-20
                       ({"customers": "\n".join(f"客户{i}" for i in range(21))}, "customers"),  # more than 20
                       ({"customers": "甲\n乙\n甲"}, "customers")):  # a duplicate
        assert field in errors_of(try_complete(api, "data_analyst", task["id"], {**base, **bad})), bad
    assert try_complete(api, "data_analyst", task["id"], base).status_code == 200
    [drawn] = [e for e in audit_of(engine, "perception_sample_drawn")]
    assert drawn["manager"] == "customer_manager" and drawn["sample"] == CUSTOMERS and drawn["period"] == "2026-10"
    for call in call_tasks(api, iid):
        answer(api, call, ALL_YES)
    # a second spot check the same month: one more call, answered no throughout: (100 x 3 + 0) / 4 = 75
    again = draw(api, customers=["县税务局 赵科长"])
    [call] = call_tasks(api, again)
    answer(api, call, {"reached": "yes", "satisfaction": "no", "tariff_awareness": "no", "campaign_awareness": "no",
                       "manager_awareness": "no"})
    assert kpi_row(engine, "customer_manager")["perception_score"] == 75


def test_only_the_data_group_starts_a_survey_and_only_of_its_own_department(survey_api, engine):
    """000 篇3/4 「每个月数据组对客户经理感知度…进行抽查并打分」: the survey is the data group's (数据组).
    A data analyst outside 集团客户部 (here in hall-1) is offered no manager of the rooms and may
    not sample one."""
    api = survey_api
    for wrong in ("customer_manager", "key_account_manager", "hall_manager"):
        r = try_start(api, wrong, "perception_survey", {})
        assert r.status_code == 403, (wrong, r.get_json())
    with engine.uow(SYSTEM) as uow:  # a data analyst in a service hall, outside 集团客户部
        identity.add_user(uow.session, "analyst_hall", "demo", ["data_analyst"], org_unit="hall-1")
        api.tokens["analyst_hall"] = identity.issue_token(uow.session, "analyst_hall", "demo", 10 * 365 * 24 * 3600)[0]
    try:
        iid = start(api, "analyst_hall", "perception_survey", {})["id"]
        task = next(t for t in instance(api, iid)["open_tasks"] if t["element_id"] == "sample")
        assert api.get(f"/api/tasks/{task['id']}", "analyst_hall").get_json()["data"]["survey_managers"] == []
        api.post(f"/api/tasks/{task['id']}/claim", "analyst_hall")
        errors = errors_of(try_complete(api, "analyst_hall", task["id"], {
            "manager": "cm_room2", "period": "2026-10", "customers": "\n".join(CUSTOMERS)}))
        assert "manager" in errors
        # nor may the data group of 集团客户部 work on that hall's survey
        assert api.post(f"/api/tasks/{task['id']}/complete", "data_analyst", json={"data": {}}).status_code == 403
    finally:
        api.tokens.pop("analyst_hall", None)
        with engine.uow(SYSTEM) as uow:
            uow.session.execute(delete(User).where(User.username == "analyst_hall"))


def audit_of(engine, action: str) -> list[dict]:
    with engine.read() as session:
        return list(session.execute(select(AuditEvent.details).where(AuditEvent.action == action)
                                    .order_by(AuditEvent.seq)).scalars())
