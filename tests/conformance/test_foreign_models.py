"""Models drawn with other tools deploy: a Camunda Modeler export (lanes, annotations, groups,
data objects and stores, documentation, diagram interchange) and Signavio-style collaborations
(a documentation pool with elements this engine would refuse, a black-box participant, message
flows). A document with several executable pools deploys each as a definition of its own, and
their message flows correlate their instances."""

from __future__ import annotations

from tests.conftest import FIXTURES


def _xml(name):
    return (FIXTURES / "foreign" / name).read_text(encoding="utf-8")


def test_a_camunda_modeler_export_deploys_and_runs(api):
    r = api.deploy_xml(_xml("camunda_modeler_supply.bpmn"))
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert body["key"] == "Process_supply_foreign" and [t["lane"] for t in body["user_tasks"]] == ["专卖管理员", "服务中心主任"]
    r = api.post("/api/process-definitions/Process_supply_foreign/instances", "enforcement_officer", json={"data": {}})
    assert r.status_code == 201, r.get_json()
    assert [t["element_id"] for t in r.get_json()["open_tasks"]] == ["Activity_fill"]


def test_a_signavio_collaboration_deploys_its_executable_pool_only(api):
    r = api.deploy_xml(_xml("signavio_collaboration.bpmn"))
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    # the customer's pool (isExecutable="false", with a service task) and the black box are documentation
    assert [d["key"] for d in body["deployed"]] == ["hall_order"]
    assert body["startable_by_users"] is False  # no candidateStarterGroups: it starts on its message
    r = api.post("/api/messages", "counter_staff", json={"name": "order_placed", "business_key": "ORD-9"})
    assert r.status_code == 200, r.get_json()
    started = api.get(f"/api/process-instances/{r.get_json()['started'][0]}", "admin").get_json()
    assert started["business_key"] == "ORD-9" and [t["element_id"] for t in started["open_tasks"]] == ["sid-hall-pick"]


def test_two_executable_pools_deploy_as_two_definitions_and_talk_by_message(api):
    r = api.deploy_xml(_xml("two_executable_pools.bpmn"))
    assert r.status_code == 201, r.get_json()
    assert [(d["key"], d["version"]) for d in r.get_json()["deployed"]] == [("hall_request", 1), ("dept_answer", 1)]
    hall = api.post("/api/process-definitions/hall_request/instances", "counter_staff",
                    json={"data": {}, "business_key": "Q-1"}).get_json()
    dept = api.post("/api/process-definitions/dept_answer/instances", "counter_staff",
                    json={"data": {}, "business_key": "Q-1"}).get_json()
    for inst, element in ((hall, "ask"), (dept, "answer")):
        task = inst["open_tasks"][0]
        assert task["element_id"] == element
        r = api.post(f"/api/tasks/{task['id']}/complete", "counter_staff", json={"data": {"note": "ok"}})
        assert r.status_code == 200, r.get_json()
    after = api.get(f"/api/process-instances/{hall['id']}", "admin").get_json()
    assert [t["element_id"] for t in after["open_tasks"]] == ["close"]
    # deploying the same document again changes nothing
    r = api.deploy_xml(_xml("two_executable_pools.bpmn"))
    assert r.status_code == 200 and [d["created"] for d in r.get_json()["deployed"]] == [False, False]


def test_a_task_that_writes_a_data_store_is_refused_cleanly(api):
    xml = _xml("camunda_modeler_supply.bpmn").replace(
        "<bpmn:targetRef>DataObjectReference_0o1</bpmn:targetRef>", "<bpmn:targetRef>DataStoreReference_0s1</bpmn:targetRef>")
    r = api.deploy_xml(xml)
    assert r.status_code == 422
    errors = r.get_json()["details"]["errors"]
    assert [e["element_id"] for e in errors] == ["Activity_fill"] and "data store" in errors[0]["message"]
