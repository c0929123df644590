"""``camunda:inputOutput`` on user and script tasks: input parameters are the activity's own
variables (the task view shows them; a script sees them, and they end with it), output
parameters go into the instance's data."""

from __future__ import annotations

from tests.conformance.models import chain, document, script

START, END = '<bpmn:startEvent id="start" />', '<bpmn:endEvent id="end" />'
IO = ('<bpmn:extensionElements><camunda:inputOutput>{0}</camunda:inputOutput></bpmn:extensionElements>')


def _param(kind, name, value):
    return f'<camunda:{kind}Parameter name="{name}">{value}</camunda:{kind}Parameter>'


def test_user_task_inputs_are_its_own_and_outputs_reach_the_instance(api):
    review = ('<bpmn:userTask id="review" name="复核" camunda:formKey="simple_note" camunda:candidateGroups="counter_staff">'
              + IO.format(_param("input", "limit", "${amount * 2}") + _param("input", "greeting", "您好")
                          + _param("output", "reviewed_note", "${note}")) + "</bpmn:userTask>")
    xml = document("io_user", "\n".join([START, script("set", "amount = 150"), review, END,
                                         chain("start", "set", "review", "end")]))
    r = api.deploy_xml(xml)
    assert r.status_code == 201, r.get_json()
    inst = api.post("/api/process-definitions/io_user/instances", "counter_staff", json={"data": {}}).get_json()
    task = api.get(f"/api/tasks/{inst['open_tasks'][0]['id']}", "counter_staff").get_json()
    assert task["data"]["limit"] == 300 and task["data"]["greeting"] == "您好"
    assert "limit" not in api.get(f"/api/process-instances/{inst['id']}", "admin").get_json()["data"]
    r = api.post(f"/api/tasks/{task['id']}/complete", "counter_staff", json={"data": {"note": "核对无误"}})
    assert r.status_code == 200, r.get_json()
    data = api.get(f"/api/process-instances/{inst['id']}", "admin").get_json()["data"]
    assert data["reviewed_note"] == "核对无误" and "limit" not in data


def test_script_task_inputs_shadow_and_end_with_it(api):
    calc = ('<bpmn:scriptTask id="calc" scriptFormat="python">'
            + IO.format(_param("input", "rate", "${0.1}") + _param("input", "amount", "${amount + 1}")
                        + _param("output", "fee", "${result}"))
            + "<bpmn:script>result = amount * rate</bpmn:script></bpmn:scriptTask>")
    xml = document("io_script", "\n".join([START, script("set", "amount = 99"), calc,
                                           '<bpmn:userTask id="after" camunda:formKey="simple_note" '
                                           'camunda:candidateGroups="counter_staff" />', END,
                                           chain("start", "set", "calc", "after", "end")]))
    assert api.deploy_xml(xml).status_code == 201
    inst = api.post("/api/process-definitions/io_script/instances", "counter_staff", json={"data": {}}).get_json()
    data = inst["data"]
    assert data["fee"] == 10.0 and data["amount"] == 99 and "rate" not in data


def test_input_output_elsewhere_is_refused(api):
    gateway = '<bpmn:exclusiveGateway id="g">' + IO.format(_param("input", "x", "1")) + "</bpmn:exclusiveGateway>"
    r = api.deploy_xml(document("io_bad", "\n".join([START, gateway, END, chain("start", "g", "end")])))
    assert r.status_code == 422
    assert [e["element_id"] for e in r.get_json()["details"]["errors"]] == ["g"]
