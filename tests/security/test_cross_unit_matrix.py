"""The cross-unit matrix: for every user task of every shipped process, a user holding the
task's role in another unit is refused, through the API and the pages.

Generated from the deployed models: the explorer (tests/security/explorer.py) walks every
path of each process and, at every user task it reaches, the probes below run before the
right user completes the task. A new process, or a new task in one, is covered without
changing this file; a task the explorer cannot reach fails the test.
"""

from __future__ import annotations

import pytest

from tests.security.conftest import ROOM, ROOM_STAFF
from tests.security.explorer import Explorer, ok


def start_kpi_review(world) -> str:
    """kpi_review is started by the monthly KPI job, not by a person: one review per hall and
    month, so each run of the explorer scores a month of its own."""
    from engine.identity.actor import SYSTEM
    from engine.jobs.kpi import compute_customer_manager_kpi
    from engine.jobs.periods import Period

    world.kpi_months = getattr(world, "kpi_months", 0) + 1
    month = f"{2026 - world.kpi_months // 12}-{world.kpi_months % 12 + 1:02d}"
    with world.engine.uow(SYSTEM) as uow:
        compute_customer_manager_kpi(uow, Period.parse(month))
    reviews = ok(world.api.get("/api/process-instances?key=kpi_review&status=running&per_page=200", "admin"))["items"]
    return next(i["id"] for i in reviews if i["org_unit"] == "hall-1" and i["business_key"].endswith(f"{month}:hall-1"))


def start_retailer_anomaly(world) -> str:
    """retailer_anomaly is started by the nightly job retailer_anomalies, not by a person: one alert
    per (month, retailer, kind), in the retailer's unit (辖区) and for its customer manager. Each
    run imports a breaching POS-scan rate of a hall-1 retailer for a month of its own and runs the job."""
    from engine.identity.actor import SYSTEM
    from engine.jobs import retailers
    from engine.jobs.facts import import_facts
    from engine.jobs.periods import Period
    from engine.jobs.tobacco_jobs import business_key, compute_retailer_anomalies

    licence = next((r["licence_no"] for r in retailers.all_retailers().values()
                    if r.get("unit") == "hall-1" and r.get("customer_manager") == "tobacco_customer_manager"), None)
    assert licence, "the retailer file has no retailer of hall-1 served by tobacco_customer_manager"
    world.anomaly_months = getattr(world, "anomaly_months", 0) + 1
    month = f"{2026 - world.anomaly_months // 12}-{world.anomaly_months % 12 + 1:02d}"
    with world.engine.uow(SYSTEM) as uow:
        import_facts(uow, "anomalies.csv", f"period,subject,metric,value\n{month},{licence},pos_scan_rate,50\n".encode())
        compute_retailer_anomalies(uow, Period.parse(month))
    key = business_key(month, licence, "pos_scan")
    alerts = ok(world.api.get("/api/process-instances?key=retailer_anomaly&status=running&per_page=200", "admin"))["items"]
    return next(i["id"] for i in alerts if i["business_key"] == key)


def start_room_kpi_review(world) -> str:
    """room_kpi_review is started by the monthly job key_account_room_kpi, not by a person: one
    review per room and month, in the room (whose department checks it). Each run opens the
    score sheet of a month of its own for the world's room, as the job does for a new sheet."""
    from engine.identity.actor import SYSTEM
    from engine.jobs import room_kpi
    from engine.jobs.periods import Period
    from engine.jobs.scoring import load_rules
    from engine.jobs.sheets import tier_table

    world.room_months = getattr(world, "room_months", 0) + 1
    period = Period.parse(f"{2026 - world.room_months // 12}-{world.room_months % 12 + 1:02d}")
    with world.engine.uow(SYSTEM) as uow:
        section = load_rules()["key_account_room_kpi"]
        table = tier_table(uow.session, section["tiers"].get("decision"))
        head = {"unit_key": ROOM, "subject_type": "user", "subject_key": ROOM_STAFF["key_account_manager"],
                "subject_label": "重要室经理", "metrics": room_kpi.score_room(section, {}, table), "rank": 1}
        room_kpi._review(uow, period, section, ROOM, "重要室", [head], None)
    key = f"{room_kpi.JOB}:{period.key}:{ROOM}"
    reviews = ok(world.api.get("/api/process-instances?key=room_kpi_review&status=running&per_page=200", "admin"))["items"]
    return next(i["id"] for i in reviews if i["business_key"] == key)


ENGINE_STARTS = {"kpi_review": start_kpi_review, "retailer_anomaly": start_retailer_anomaly,
                 "room_kpi_review": start_room_kpi_review}
# the unit an instance of the process lives in (the matrix's outsiders are of another one): hall-1
# unless the process belongs to a key-account room (starterUnit room, or its job starts it there)
HOME_UNITS = {"room_kpi_review": ROOM, "study_day": ROOM, "target_plan": ROOM}


def outsiders(task: dict) -> list[tuple[str, bool]]:
    """``(user, other_unit)``: holders of the task's roles who must be refused: in another unit
    (for any unit-bounded scope: they may not even see the case) and, for a starter's own step,
    a colleague of the same role and unit (who may read the case, but not do the owner's step)."""
    scope = task["properties"].get("candidateScope", "instance_unit")
    if scope == "any_unit":
        return []
    names = []
    for role in task["candidate_groups"]:
        names.append((f"{role}_d2" if scope == "parent_unit" else f"{role}_h2", True))
        if scope == "starter":
            names.append((f"{role}_b", False))
    return names


def probe(world, task: dict, inst: dict) -> None:
    api = world.api
    assert inst["org_unit"] == HOME_UNITS.get(task["process_key"], "hall-1"), inst
    for user, other_unit in outsiders(task):
        assert user in api.tokens, f"no user {user} in the world"
        where = f"{task['process_key']}.{task['element_id']} as {user}"
        for action in ("claim", "complete"):
            r = api.post(f"/api/tasks/{task['id']}/{action}", user, json={"data": {}})
            assert r.status_code == 403, (where, action, r.get_json())
        client, csrf = world.page(user)
        r = client.post(f"/tasks/{task['id']}/complete", json={"data": {}}, headers={"X-CSRFToken": csrf})
        assert r.status_code == 403, (where, "page complete", r.get_json())
        if other_unit:
            assert api.get(f"/api/tasks/{task['id']}", user).status_code == 403, where
            assert task["id"] not in [t["id"] for t in ok(api.get("/api/tasks?scope=all&per_page=200", user))["items"]]
            assert client.get(f"/tasks/{task['id']}").status_code == 403, where
            assert client.get(f"/instances/{inst['id']}").status_code == 403, where


def test_every_user_task_refuses_the_role_of_another_unit(world):
    explorer = Explorer(world, ENGINE_STARTS, HOME_UNITS)
    keys = [d["key"] for d in ok(world.api.get("/api/process-definitions", "admin"))["items"]]
    assert len(keys) >= 8
    seen = {}
    for key in keys:
        definition = explorer.definition(key)
        tasks = {t["element_id"] for t in definition["user_tasks"]}
        try:
            reached = explorer.explore(key, lambda task, inst: probe(world, task, inst), wanted=tasks)
        except Exception as exc:
            exc.add_note(f"while exploring {key}")
            raise
        assert reached == tasks, f"{key}: the explorer did not reach {sorted(tasks - reached)}"
        seen[key] = sorted(reached)
    assert sum(len(v) for v in seen.values()) >= 25, seen


def test_every_task_of_the_shipped_models_says_its_scope(world):
    """The deploy check lists each task's scope; unit-bounded is the default, any other is explicit."""
    for definition in ok(world.api.get("/api/process-definitions", "admin"))["items"]:
        for task in definition["user_tasks"]:
            assert task["scope"] in ("instance_unit", "parent_unit", "any_unit", "starter"), task
            if task["scope"] != "instance_unit":
                assert task["properties"]["candidateScope"] == task["scope"], task


@pytest.mark.parametrize("scope", ["instance_unit", "starter_unit", None])
def test_a_model_without_a_scope_is_bounded_to_the_instances_unit(two_units, scope):
    """The default boundary applies to models that name no scope (and to the old name starter_unit)."""
    from tests.conftest import deploy_fixture_forms, fixture_text

    api = two_units.api
    deploy_fixture_forms(api)
    xml = fixture_text("four_step.bpmn")
    if scope:
        xml = xml.replace('camunda:candidateGroups="counter_staff" />',
                          'camunda:candidateGroups="counter_staff"><bpmn:extensionElements><camunda:properties>'
                          f'<camunda:property name="candidateScope" value="{scope}" /></camunda:properties>'
                          '</bpmn:extensionElements></bpmn:userTask>', 1)
    assert api.deploy_xml(xml).status_code in (200, 201)
    inst = ok(api.post("/api/process-definitions/four_step/instances", "counter_staff", json={"data": {}}))
    task = inst["open_tasks"][0]["id"]
    assert ok(api.get(f"/api/tasks/{task}", "counter_staff"))["org_unit"] == "hall-1"
    assert api.post(f"/api/tasks/{task}/claim", "counter_staff_h2").status_code == 403
    assert api.post(f"/api/tasks/{task}/claim", "counter_staff_b").status_code == 200

