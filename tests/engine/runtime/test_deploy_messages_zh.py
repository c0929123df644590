"""Deploy refusals a process owner can act on (issue 17 item 9): each error keeps its element id
and a machine-readable code; its Chinese wording names the element by its kind and name
(``人工任务「值班处理」``), by kind and id only when the element has no name, with no Camunda
attribute names; a Chinese role name typed instead of the role key says which role to pick.
The modeler page answers in the page's language and lists the changes against the deployed
version before a deploy (``/modeler/diff``)."""

from __future__ import annotations

import pytest

from tests.conftest import deploy_fixture_forms
from tests.engine.runtime.test_definitions_api import _task_with, process_xml, user_task
from tests.support.business import deploy
from tests.support.business import process_xml as demo_xml
from tests.support.pages import sign_in


def _errors(api, document: str) -> list[dict]:
    r = api.deploy_xml(document)
    assert r.status_code == 422, r.get_json()
    return r.get_json()["details"]["errors"]


def _only(errors: list[dict], element_id: str) -> list[dict]:
    return [e for e in errors if e["element_id"] == element_id]


@pytest.fixture
def forms(api):
    deploy_fixture_forms(api)
    return api


def test_a_task_without_form_is_named_by_its_name_in_chinese(forms):
    errors = _only(_errors(forms, process_xml(user_task("Activity_0x1f3a", form=None, name="值班处理"))),
                   "Activity_0x1f3a")
    assert [(e["code"], e["message_zh"]) for e in errors] == [
        ("no_form", "人工任务「值班处理」没有选择表单：请在“表单”中选择办理时显示的表单")]
    assert "camunda:formKey" in errors[0]["message"]  # the English message keeps its technical words


def test_an_unnamed_element_falls_back_to_its_kind_and_id(forms):
    errors = _only(_errors(forms, process_xml(user_task("Activity_0x1f3a", groups=None))), "Activity_0x1f3a")
    assert [(e["code"], e["message_zh"]) for e in errors] == [
        ("no_candidate_groups", "人工任务 Activity_0x1f3a没有指定办理角色：请在“办理角色”中选择可以办理的角色")]


def test_a_chinese_role_name_typed_as_a_role_says_which_role_to_pick(forms):
    errors = _errors(forms, process_xml(user_task("t1", groups="值班经理", name="值班处理"), starters="厅经理"))
    task, process = _only(errors, "t1"), _only(errors, "p")
    assert [(e["code"], e["message_zh"]) for e in task] == [
        ("unknown_role", "人工任务「值班处理」的办理角色有误：“值班经理”是角色名称，请在角色列表中选择“值班经理”（duty_manager）")]
    assert [(e["code"], e["message_zh"]) for e in process] == [
        ("unknown_role", "流程 p的可发起角色有误：“厅经理”是角色名称，请在角色列表中选择“厅经理”（hall_manager）")]
    wizard = _only(_errors(forms, process_xml(user_task("t1", groups="wizard", name="值班处理"))), "t1")
    assert wizard[0]["message_zh"] == "人工任务「值班处理」的办理角色有误：没有名为“wizard”的角色，请在角色列表中选择"


def test_a_missing_form_and_a_wrong_time_limit_are_said_in_chinese(forms):
    errors = _only(_errors(forms, process_xml(user_task("t1", form="nope", name="受理"))), "t1")
    assert [(e["code"], e["message_zh"]) for e in errors] == [
        ("form_missing", "人工任务「受理」使用的表单“nope”不存在：请先部署该表单")]
    errors = _only(_errors(forms, process_xml(_task_with(("sla.kind", "working_days"), ("sla.amount", "PT4H")))), "t1")
    assert [(e["code"], e["message_zh"]) for e in errors] == [
        ("sla_invalid", "人工任务 t1的时限（SLA）设置有误：按工作日计时的时限须为整数天")]
    errors = _only(_errors(forms, process_xml(_task_with(("sla.kind", "calendar"), ("sla.amount", "PT1H"),
                                                          ("sla.escalate", "1.0:janitor")))), "t1")
    assert errors[0]["message_zh"] == "人工任务 t1的时限（SLA）设置有误：升级对象中有未知角色，请在角色列表中选择"
    errors = _only(_errors(forms, process_xml(_task_with(("colour", "red")))), "t1")
    assert [(e["code"], e["message_zh"]) for e in errors] == [
        ("unknown_property", "人工任务 t1有无法识别的扩展属性“colour”：请删除或改正")]


def test_the_modeler_page_answers_in_the_page_language_with_ids_and_codes(app, api):
    deploy(api, "complaint_handling")
    xml = demo_xml("complaint_handling").replace('camunda:formKey="complaint_close" ', "", 1)
    assert 'camunda:formKey="complaint_close"' not in xml.split('id="close"')[1].split(">")[0]
    client, csrf = sign_in(app, "process_owner")
    r = client.post("/modeler/deploy", json={"xml": xml}, headers={"X-CSRFToken": csrf})
    assert r.status_code == 422
    [error] = r.get_json()["errors"]
    assert error["element_id"] == "close" and error["code"] == "no_form"
    assert error["message"] == "人工任务「结案回访」没有选择表单：请在“表单”中选择办理时显示的表单"
    client.get("/lang/en")
    r = client.post("/modeler/deploy", json={"xml": xml}, headers={"X-CSRFToken": csrf})
    assert "user task has no camunda:formKey" in r.get_json()["errors"][0]["message"]


def test_the_modeler_lists_the_changes_against_the_deployed_version(app, api):
    deploy(api, "complaint_handling")
    client, csrf = sign_in(app, "process_owner")
    config_page = client.get("/modeler/complaint_handling").get_data(as_text=True)
    assert '"diffUrl": "/modeler/diff"' in config_page and '"zh": "值班经理"' in config_page
    xml = demo_xml("complaint_handling")
    changed = (xml.replace('name="柜台处理"', 'name="柜台受理"')
               .replace('value="PT24H"', 'value="PT12H"')
               .replace('<bpmn:userTask id="answer_written"', '<bpmn:userTask id="answer_written" camunda:dueDate="x"'))
    assert client.post("/modeler/diff", json={"xml": changed}).status_code == 400  # CSRF
    r = client.post("/modeler/diff", json={"xml": changed}, headers={"X-CSRFToken": csrf})
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["key"] == "complaint_handling" and body["version"] == 1
    found = {c["element_id"]: (c["change"], c["name"], c["aspects_zh"]) for c in body["changes"]}
    assert found == {"resolve_counter": ("changed", "柜台受理", ["名称"]),
                     "resolve_technical": ("changed", "技术处理", ["时限"]),
                     "answer_written": ("changed", "书面答复", ["其他设置"])}
    # a removed task (and its flows) and a task added in its place; the layout alone changes nothing
    same = client.post("/modeler/diff", json={"xml": xml}, headers={"X-CSRFToken": csrf}).get_json()
    assert same["changes"] == []
    renamed = xml.replace('id="answer_written"', 'id="answer_in_writing"').replace(
        '"answer_written"', '"answer_in_writing"').replace(">answer_written<", ">answer_in_writing<")
    body = client.post("/modeler/diff", json={"xml": renamed}, headers={"X-CSRFToken": csrf}).get_json()
    kinds = {(c["element_id"], c["change"], c["type_zh"]) for c in body["changes"]}
    assert ("answer_in_writing", "added", "人工任务") in kinds and ("answer_written", "removed", "人工任务") in kinds
    # a process never deployed: nothing to compare with
    new = xml.replace('id="complaint_handling"', 'id="complaint_handling_b"').replace(
        'bpmnElement="complaint_handling"', 'bpmnElement="complaint_handling_b"')
    body = client.post("/modeler/diff", json={"xml": new}, headers={"X-CSRFToken": csrf}).get_json()
    assert body == {"key": "complaint_handling_b", "version": None, "changes": []}
    # only a deployer may ask
    other, other_csrf = sign_in(app, "counter_staff")
    assert other.post("/modeler/diff", json={"xml": xml}, headers={"X-CSRFToken": other_csrf}).status_code == 403
