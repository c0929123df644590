"""Case references (process property businessKeyPrefix) and list fields (listFields): every case
of a seed process gets a unique ``GH-2026-000123``, counted per prefix and China year, also when
the engine starts it; the case and task lists find a case by its reference, a name or a phone."""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, update

from engine.clock import clock
from engine.errors import Conflict
from engine.identity.actor import SYSTEM
from engine.identity.auth import actor_by_name
from engine.runtime import instances, tasks
from engine.store.models import ProcessInstance, ReferenceCounter
from tests.support.business import deploy, process_xml, start, upload

YEAR = 2026


@pytest.fixture(autouse=True)
def _in_2026():
    clock.set(datetime(YEAR, 6, 1, 2, 0, tzinfo=UTC))
    yield
    clock.reset()


def supply(api, retailer: str, licence: str = "341122100001") -> dict:
    return start(api, "enforcement_officer", "supply_approval", {
        "licence_no": licence, "retailer_name": retailer,
        "lines": [{"brand": "huanghelou", "specification": "硬1916", "quantity": 5}],
        "reason": "节前备货", "attachments": [upload(api, "enforcement_officer")]})


def complaint(api, name: str, phone: str) -> dict:
    return start(api, "counter_staff", "complaint_handling", {
        "category": "standard", "complaint_type": "billing_support", "customer_name": name, "contact_phone": phone,
        "description": "话费异常"})


def found(api, q: str, user: str = "auditor", **extra) -> list[str]:
    r = api.get("/api/process-instances", user, query_string={"q": q, **extra})
    assert r.status_code == 200, r.get_json()
    return [i["reference"] for i in r.get_json()["items"]]


def test_each_case_gets_the_next_reference_of_its_process(api):
    deploy(api, "supply_approval", "complaint_handling")
    first, second = supply(api, "城关烟酒店"), supply(api, "东门便利店", "341122100002")
    other = complaint(api, "张三", "13800138000")
    assert (first["reference"], second["reference"], other["reference"]) == (
        f"GH-{YEAR}-000001", f"GH-{YEAR}-000002", f"TS-{YEAR}-000001")
    # without a business key of its own, the reference is the case's business key
    assert first["business_key"] == first["reference"]
    assert first["summary"] == {"retailer_name": "城关烟酒店", "licence_no": "341122100001"}
    assert other["summary"] == {"customer_name": "张三", "contact_phone": "13800138000"}
    # a business key given at the start stays; the reference is still the next one
    mine = start(api, "counter_staff", "complaint_handling", {
        "category": "standard", "complaint_type": "billing_support", "customer_name": "李四",
        "contact_phone": "13900000001", "description": "x"}, business_key="CRM-778")
    assert (mine["business_key"], mine["reference"]) == ("CRM-778", f"TS-{YEAR}-000002")


def test_the_lists_find_a_case_by_reference_name_or_phone(api, engine):
    deploy(api, "supply_approval", "complaint_handling")
    supply(api, "城关烟酒店")
    east = supply(api, "东门便利店", "341122100002")
    complaint(api, "张三", "13800138000")
    complaint(api, "王五_100%", "13911112222")
    assert found(api, f"GH-{YEAR}-000002") == [east["reference"]]
    assert found(api, "gh-2026-000002") == [east["reference"]]  # case does not matter
    assert found(api, "东门") == [east["reference"]]
    assert found(api, "13800138") == [f"TS-{YEAR}-000001"]
    assert sorted(found(api, f"GH-{YEAR}")) == [f"GH-{YEAR}-000001", f"GH-{YEAR}-000002"]
    assert found(api, "_100%") == [f"TS-{YEAR}-000002"]  # LIKE wildcards are plain text
    assert found(api, "0%%") == [] and found(api, "_1") == [f"TS-{YEAR}-000002"]
    assert found(api, east["id"][:8]) == [east["reference"]]
    assert found(api, "李四") == []
    # the search narrows, it does not widen: a clerk of another hall finds none of hall-1's cases
    assert found(api, "东门", user="counter_hall2") == []
    # paging with a total
    r = api.get("/api/process-instances", "auditor", query_string={"q": YEAR, "per_page": 3, "page": 2}).get_json()
    assert (r["total"], len(r["items"]), r["page"]) == (4, 1, 2)
    # the tasklist searches the same way: the head's review of the east shop only
    with engine.read() as session:
        head = actor_by_name(session, "service_center_head")
        listed = tasks.list_tasks(session, head, "candidate", None, 1, 50, q="东门")
        everything = tasks.list_tasks(session, head, "candidate", None, 1, 50)
    assert [t["instance_id"] for t in listed["items"]] == [east["id"]] and listed["total"] == 1
    assert len(everything["items"]) == 2
    r = api.get("/api/tasks", "service_center_head", query_string={"scope": "candidate", "q": "GH-2026-000002"})
    assert [t["instance_id"] for t in r.get_json()["items"]] == [east["id"]]


def test_the_sequence_starts_again_each_china_year(api):
    deploy(api, "supply_approval")
    clock.set(datetime(YEAR, 12, 31, 15, 59, tzinfo=UTC))  # 23:59 on 31 December in Beijing
    assert supply(api, "甲")["reference"] == f"GH-{YEAR}-000001"
    clock.set(datetime(YEAR, 12, 31, 16, 1, tzinfo=UTC))  # 00:01 on 1 January in Beijing (still 2026 in UTC)
    assert supply(api, "乙")["reference"] == f"GH-{YEAR + 1}-000001"
    assert supply(api, "丙")["reference"] == f"GH-{YEAR + 1}-000002"


def test_a_start_that_fails_gives_its_number_back(api):
    deploy(api, "supply_approval")
    assert supply(api, "甲")["reference"] == f"GH-{YEAR}-000001"
    r = api.post("/api/process-definitions/supply_approval/instances", "enforcement_officer",
                 json={"data": {"licence_no": "341122100001"}})  # the start form refuses it
    assert r.status_code == 422
    assert supply(api, "乙")["reference"] == f"GH-{YEAR}-000002"


def test_concurrent_starts_get_distinct_consecutive_references(api, app, tokens, engine):
    deploy(api, "complaint_handling")
    n = 8
    barrier = threading.Barrier(n)
    results: list = [None] * n

    def worker(i):
        client = app.test_client()
        body = {"data": {"category": "standard", "complaint_type": "billing_support", "customer_name": f"客户{i}",
                         "contact_phone": f"1380000{i:04d}", "description": "并发"}}
        try:
            barrier.wait(timeout=30)
            r = client.post("/api/process-definitions/complaint_handling/instances", json=body,
                            headers={"Authorization": f"Bearer {tokens['counter_staff']}"})
            results[i] = (r.status_code, r.get_json().get("reference"))
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            results[i] = ("exception", repr(exc))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a start hung"
    assert all(code == 201 for code, _ in results), results
    assert sorted(ref for _, ref in results) == [f"TS-{YEAR}-{k:06d}" for k in range(1, n + 1)]
    with engine.read() as session:
        assert session.execute(select(ReferenceCounter.last_number)).scalar_one() == n


def test_the_database_refuses_a_second_case_with_the_same_reference(api, engine):
    deploy(api, "supply_approval")
    supply(api, "甲")
    with engine.uow(SYSTEM) as uow:  # someone rewinds the counter by hand
        uow.session.execute(update(ReferenceCounter).values(last_number=0))
    data = {"licence_no": "341122100001", "retailer_name": "乙",
            "lines": [{"brand": "huanghelou", "specification": "x", "quantity": 1}],
            "reason": "x", "attachments": [upload(api, "enforcement_officer")]}
    with engine.read() as session:
        officer = actor_by_name(session, "enforcement_officer")
    with pytest.raises(Conflict) as refused, engine.uow(officer) as uow:
        instances.start(engine, uow, "supply_approval", data)
    assert "reference" in str(refused.value.details)  # the unique constraint on bpm_process_instance.reference
    with engine.read() as session:
        assert session.execute(select(ProcessInstance.reference)).scalars().all() == [f"GH-{YEAR}-000001"]


def test_engine_started_cases_get_references_too(api, engine):
    from tests.processes.test_business_processes import _technical_counter_case

    counter = _technical_counter_case(api, engine.settings.var_dir)
    with engine.read() as session:
        rows = {r.process_key: r for r in session.execute(select(
            ProcessInstance.process_key, ProcessInstance.id, ProcessInstance.reference, ProcessInstance.business_key))}
    assert rows["one_counter"].id == counter
    assert re.fullmatch(rf"YT-{YEAR}-\d{{6}}", rows["one_counter"].reference)
    # the complaint the counter started: a reference of its own, the counter case's business key
    assert rows["complaint_handling"].reference == f"TS-{YEAR}-000001"
    assert rows["complaint_handling"].business_key == rows["one_counter"].reference


def test_scheduled_cases_get_references(api, engine):
    from engine.scheduling.timers import fire_due

    clock.set(datetime(YEAR, 11, 23, 2, 0, tzinfo=UTC))
    deploy(api, "agreement_inventory")
    clock.set(datetime(YEAR, 12, 1, 1, 0, 1, tzinfo=UTC))
    assert fire_due(engine) == 1
    started = api.get("/api/process-instances?key=agreement_inventory&per_page=200", "admin").get_json()["items"]
    assert sorted(i["reference"] for i in started) == [f"PD-{YEAR}-{k:06d}" for k in range(1, len(started) + 1)]
    # the schedule's own business key (one inventory per hall and day) stays
    assert all(i["business_key"].startswith("agreement_inventory-") for i in started)
    assert {i["summary"]["period"] for i in started} == {f"{YEAR}-12"}


def test_a_process_without_a_prefix_still_starts(four_step):
    inst = four_step.post("/api/process-definitions/four_step/instances", "counter_staff",
                          json={"data": {}}).get_json()
    assert inst["status"] == "running" and inst["reference"] is None and inst["business_key"] is None


@pytest.mark.parametrize(("prop", "value", "message"), [
    ("businessKeyPrefix", "gh", "1 to 8 capital letters"),
    ("businessKeyPrefix", "GH-1", "1 to 8 capital letters"),
    ("listFields", "Retailer", "not a data key"),
    ("listFields", "a,a", "listed twice"),
    ("listFields", "a=", "title after = is missing"),
])
def test_bad_properties_are_refused_at_deploy(api, prop, value, message):
    deploy(api, "supply_approval")
    xml = process_xml("supply_approval")
    xml = re.sub(rf'name="{prop}" value="[^"]*"', f'name="{prop}" value="{value}"', xml)
    r = api.deploy_xml(xml)
    assert r.status_code == 422, r.get_json()
    errors = r.get_json()["details"]["errors"]
    assert any(e["element_id"] == "supply_approval" and message in e["message"] for e in errors), errors
