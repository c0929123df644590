"""DMN decisions deployed and versioned over the API, evaluated by business rule tasks: result
mappings, binding to a version, the audit of each evaluation, a UNIQUE conflict as an incident."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from tests.conformance.models import flow, process, script, user_task
from tests.conformance.runner import Run

DMN_NS = "https://www.omg.org/spec/DMN/20191111/MODEL/"


def dmn(key: str, rules: list[tuple[str, str]], hit: str = "UNIQUE", output: str = "limit") -> str:
    """One input (``category``), one output; rules as (input entry, output entry)."""
    rows = "".join(f'<rule id="r{i}"><inputEntry id="r{i}i"><text>{cond}</text></inputEntry>'
                   f'<outputEntry id="r{i}o"><text>{out}</text></outputEntry></rule>'
                   for i, (cond, out) in enumerate(rules, 1))
    return (f'<?xml version="1.0" encoding="UTF-8"?><definitions xmlns="{DMN_NS}" id="defs_{key}" name="d" '
            f'namespace="http://camunda.org/schema/1.0/dmn"><decision id="{key}" name="{key}">'
            f'<decisionTable id="t_{key}" hitPolicy="{hit}"><input id="in1" label="业务类别">'
            '<inputExpression id="ie1" typeRef="string"><text>category</text></inputExpression></input>'
            f'<output id="out1" label="时限" name="{output}" typeRef="integer" />{rows}</decisionTable></decision>'
            "</definitions>")


def deploy_dmn(api, xml: str, user: str = "process_owner"):
    return api.call("POST", "/api/decision-definitions", user, data=xml.encode(), content_type="application/xml")


def rule_task(key: str, decision: str, mapping: str = "singleEntry", extra: str = "") -> str:
    return process(key, "\n".join([
        '<bpmn:startEvent id="start" />', script("setup", "category = 'payment'"),
        f'<bpmn:businessRuleTask id="decide" name="decide" camunda:decisionRef="{decision}" '
        f'camunda:resultVariable="limit" camunda:mapDecisionResult="{mapping}" {extra} />',
        user_task("after"), '<bpmn:endEvent id="end" />', flow("f0", "start", "setup"), flow("f1", "setup", "decide"),
        flow("f2", "decide", "after"), flow("f3", "after", "end")]))


LIMITS = [('"payment"', "3"), ('"transfer"', "10"), ('"payment","query"', "2")]


def test_a_business_rule_task_stores_the_decision_and_the_timeline_shows_inputs_rules_and_output(api, engine):
    r = deploy_dmn(api, dmn("time_limit", LIMITS[:2]))
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["items"][0]["version"] == 1
    run = Run(api, engine, rule_task("dmn_use", "time_limit"), "dmn_use")
    assert run.open == ["after"] and run.data["limit"] == 3
    [record] = run.actions("decision_evaluated")
    details = record["details"]
    assert details["decision"] == "time_limit" and details["matched_rules"] == [1]
    assert details["inputs"] == {"业务类别": "payment"} and details["output"] == 3


@pytest.mark.parametrize(("mapping", "expected"), [
    ("singleEntry", 3), ("singleResult", {"limit": 3}), ("collectEntries", [3]), ("resultList", [{"limit": 3}])])
def test_map_decision_result(api, engine, mapping, expected):
    deploy_dmn(api, dmn("time_limit", LIMITS[:2]))
    run = Run(api, engine, rule_task(f"dmn_map_{mapping}", "time_limit", mapping), f"dmn_map_{mapping}")
    assert run.data["limit"] == expected


def test_a_unique_table_with_two_matching_rules_is_an_incident_naming_them(api, engine):
    deploy_dmn(api, dmn("time_limit", LIMITS))
    run = Run(api, engine, rule_task("dmn_conflict", "time_limit"), "dmn_conflict")
    assert run.status == "incident"
    message = run.instance["incident"]["message"]
    assert "UNIQUE" in message and "rules 1 and 3" in message
    assert run.instance["incident"]["element_id"] == "decide"


def test_latest_binding_takes_a_new_version_and_version_binding_keeps_its_own(api, engine):
    deploy_dmn(api, dmn("time_limit", LIMITS[:2]))
    r = deploy_dmn(api, dmn("time_limit", [('"payment"', "5")]))
    assert r.status_code == 201 and r.get_json()["items"][0]["version"] == 2
    assert deploy_dmn(api, dmn("time_limit", [('"payment"', "5")])).status_code == 200  # unchanged: no version
    latest = Run(api, engine, rule_task("dmn_latest", "time_limit"), "dmn_latest")
    pinned = Run(api, engine, rule_task("dmn_pinned", "time_limit", extra='camunda:decisionRefBinding="version" '
                                                                           'camunda:decisionRefVersion="1"'),
                 "dmn_pinned")
    assert latest.data["limit"] == 5 and pinned.data["limit"] == 3
    listed = api.get("/api/decision-definitions/time_limit", "counter_staff").get_json()
    assert [v["version"] for v in listed["versions"]] == [2, 1]


def test_the_evaluate_endpoint_tests_a_table_and_only_deployers_may_use_it(api):
    deploy_dmn(api, dmn("time_limit", LIMITS, hit="COLLECT"))
    r = api.post("/api/decision-definitions/time_limit/evaluate", "process_owner",
                 json={"variables": {"category": "payment"}})
    assert r.status_code == 200
    assert r.get_json()["matched_rules"] == [1, 3] and r.get_json()["result_list"] == [{"limit": 3}, {"limit": 2}]
    assert api.post("/api/decision-definitions/time_limit/evaluate", "counter_staff",
                    json={"variables": {}}).status_code == 403
    assert deploy_dmn(api, dmn("x", LIMITS), user="counter_staff").status_code == 403


def test_deploy_refuses_a_bad_cell_naming_the_rule_and_column_and_a_task_naming_no_deployed_decision(api):
    r = deploy_dmn(api, dmn("bad", [('"payment"', "3"), (">>> 5", "1")]))
    assert r.status_code == 422
    [error] = r.get_json()["details"]["errors"]
    assert "rule 2" in error["message"] and "业务类别" in error["message"]
    assert error["element_id"] == "r2i"  # the cell itself: the decision-table editor marks it
    r = api.deploy_xml(rule_task("dmn_missing", "nowhere"))
    assert r.status_code == 422
    assert any(e["element_id"] == "decide" and "'nowhere'" in e["message"] for e in r.get_json()["details"]["errors"])
    r = api.deploy_xml(rule_task("dmn_novar", "nowhere").replace('camunda:resultVariable="limit" ', ""))
    assert any("resultVariable" in e["message"] for e in r.get_json()["details"]["errors"])


def test_a_decided_time_limit_sets_the_due_time_of_the_next_task(api, engine):
    """``sla.amountVariable``: the duration a decision gave (e.g. per business category) times the task."""
    deploy_dmn(api, dmn("limits", [('"payment"', '"PT3M"'), ('"transfer"', '"PT10M"')], output="time_limit"))
    timed = ('<bpmn:userTask id="after" name="after" camunda:formKey="simple_note" camunda:candidateGroups="counter_staff">'
             '<bpmn:extensionElements><camunda:properties><camunda:property name="sla.kind" value="calendar" />'
             '<camunda:property name="sla.amount" value="PT1H" /><camunda:property name="sla.amountVariable" '
             'value="time_limit" /></camunda:properties></bpmn:extensionElements></bpmn:userTask>')
    xml = rule_task("dmn_sla", "limits").replace('camunda:resultVariable="limit"', 'camunda:resultVariable="time_limit"')
    xml = xml.replace(user_task("after"), timed)
    run = Run(api, engine, xml, "dmn_sla")

    def timed_task(r):
        return api.get(f"/api/tasks/{r.task('after')['id']}", "counter_staff").get_json()

    task = timed_task(run)
    assert run.data["time_limit"] == "PT3M" and task["sla"]["amount"] == "PT3M"
    assert datetime.fromisoformat(task["due_at"]) - datetime.fromisoformat(task["created_at"]) == timedelta(minutes=3)
    other = Run(api, engine, xml.replace("category = 'payment'", "category = 'transfer'"), "dmn_sla")
    assert timed_task(other)["sla"]["amount"] == "PT10M"
    unknown = Run(api, engine, xml.replace("category = 'payment'", "category = 'query'"), "dmn_sla")
    assert unknown.data["time_limit"] is None and timed_task(unknown)["sla"]["amount"] == "PT1H"  # the fallback
