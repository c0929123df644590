"""Process definitions through the REST API: deploy, versions, XML, and validation.

Every rejected document must be a 422 naming the element at fault (or a 4xx for bodies
that are not documents at all) and must store nothing: the tests compare the version
list before and after. No input may ever produce a 500.
"""

from __future__ import annotations

import io
import json
import random
import re

import pytest
from lxml import etree

from tests.conftest import deploy_fixture_forms, fixture_text

# --------------------------------------------------------------------------- helpers

DEFS_OPEN = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"'
    ' xmlns:camunda="http://camunda.org/schema/1.0/bpmn"'
    ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
    ' id="defs" targetNamespace="http://bpmn.io/schema/bpmn">\n'
)
DEFS_CLOSE = "</bpmn:definitions>\n"


def _properties(*pairs: tuple[str, str]) -> str:
    props = "".join(f'<camunda:property name="{k}" value="{v}" />' for k, v in pairs)
    return f"<bpmn:extensionElements><camunda:properties>{props}</camunda:properties></bpmn:extensionElements>"


def process_xml(*nodes: tuple[str, str], pid="p", starters="counter_staff", name=None, extra="",
                process_properties: tuple[str, str] | None = None) -> str:
    """A process ``start -> nodes... -> end``; each node is ``(id, xml)``; ``extra`` is raw XML."""
    attrs = f' name="{name}"' if name is not None else ""
    if starters is not None:
        attrs += f' camunda:candidateStarterGroups="{starters}"'
    ids = ["start", *(node_id for node_id, _ in nodes), "end"]
    body = ['  <bpmn:startEvent id="start" />', *(f"  {xml}" for _, xml in nodes), '  <bpmn:endEvent id="end" />']
    if process_properties:
        body.insert(0, "  " + _properties(process_properties))
    body += [f'  <bpmn:sequenceFlow id="f{i}" sourceRef="{a}" targetRef="{b}" />' for i, (a, b) in enumerate(zip(ids[:-1], ids[1:], strict=True))]
    if extra:
        body.append(f"  {extra}")
    return DEFS_OPEN + f'<bpmn:process id="{pid}" isExecutable="true"{attrs}>\n' + "\n".join(body) + "\n</bpmn:process>\n" + DEFS_CLOSE


def user_task(tid="t1", form="simple_note", groups="counter_staff", name=None) -> tuple[str, str]:
    attrs = f' camunda:formKey="{form}"' if form is not None else ""
    if groups is not None:
        attrs += f' camunda:candidateGroups="{groups}"'
    if name is not None:
        attrs += f' name="{name}"'
    return tid, f'<bpmn:userTask id="{tid}"{attrs} />'


def _task_with(*pairs: tuple[str, str]) -> tuple[str, str]:
    """A user task ``t1`` carrying the ``camunda:properties`` ``pairs``."""
    return "t1", ('<bpmn:userTask id="t1" camunda:formKey="simple_note" camunda:candidateGroups="counter_staff">'
                  f"{_properties(*pairs)}</bpmn:userTask>")


def script_task(script: str, tid="s1") -> tuple[str, str]:
    return tid, f'<bpmn:scriptTask id="{tid}" scriptFormat="python"><bpmn:script>{script}</bpmn:script></bpmn:scriptTask>'


def timer_wait(duration: str, tid="wait") -> tuple[str, str]:
    return tid, (
        f'<bpmn:intermediateCatchEvent id="{tid}"><bpmn:timerEventDefinition id="{tid}_def">'
        f'<bpmn:timeDuration xsi:type="bpmn:tFormalExpression">{duration}</bpmn:timeDuration>'
        "</bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>"
    )


def gateway_process(condition: str) -> str:
    """start -> gw -(condition: f_cond | default: f_def)-> end."""
    return (
        DEFS_OPEN
        + '<bpmn:process id="p" isExecutable="true" camunda:candidateStarterGroups="counter_staff">\n'
        '  <bpmn:startEvent id="start" />\n'
        '  <bpmn:exclusiveGateway id="gw" default="f_def" />\n'
        '  <bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="gw" />\n'
        '  <bpmn:sequenceFlow id="f_cond" sourceRef="gw" targetRef="end">'
        f'<bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">{condition}</bpmn:conditionExpression>'
        "</bpmn:sequenceFlow>\n"
        '  <bpmn:sequenceFlow id="f_def" sourceRef="gw" targetRef="end" />\n'
        '  <bpmn:endEvent id="end" />\n'
        "</bpmn:process>\n" + DEFS_CLOSE
    )


VALID = process_xml(user_task())


def versions(api, key="p"):
    r = api.get(f"/api/process-definitions/{key}", "auditor")
    if r.status_code == 404:
        return []
    assert r.status_code == 200, r.get_json()
    return [v["version"] for v in r.get_json()["versions"]]


def catalog(api):
    """``{key: latest version}`` of every deployed process."""
    r = api.get("/api/process-definitions", "auditor")
    assert r.status_code == 200
    return {d["key"]: d["version"] for d in r.get_json()["items"]}


def assert_rejected(r, element_id, fragment):
    """A 422 whose errors name ``element_id`` with a message containing ``fragment``."""
    assert r.status_code == 422, (r.status_code, r.get_data(as_text=True)[:500])
    body = r.get_json()
    assert body["error"] == "validation_failed" and body["message"]
    errors = body["details"]["errors"]
    assert errors and all(set(e) - {"message_zh", "code"} == {"element_id", "message"} for e in errors), errors
    hits = [e for e in errors if e["element_id"] == element_id and fragment.lower() in e["message"].lower()]
    assert hits, errors


@pytest.fixture
def deployed(api):
    """simple_note form + version 1 of process ``p``; returns the api."""
    deploy_fixture_forms(api)
    r = api.deploy_xml(VALID)
    assert r.status_code == 201, r.get_json()
    return api


# --------------------------------------------------------------------------- deploy and versions


def test_deploy_creates_versions_and_identical_xml_is_a_no_op(deployed):
    api = deployed
    again = api.deploy_xml(VALID)
    assert again.status_code == 200
    assert again.get_json()["created"] is False and again.get_json()["version"] == 1
    changed = process_xml(user_task(name="第二版 second"))
    r = api.deploy_xml(changed)
    assert r.status_code == 201
    assert r.get_json()["created"] is True and r.get_json()["version"] == 2 and r.get_json()["key"] == "p"
    assert api.deploy_xml(changed).status_code == 200  # identical to the new latest
    assert versions(api) == [2, 1]
    assert catalog(api) == {"p": 2}
    old = api.get("/api/process-definitions/p/xml?version=1", "counter_staff")
    assert old.status_code == 200 and old.mimetype == "application/xml"
    assert old.get_data(as_text=True) == VALID
    assert api.get("/api/process-definitions/p/xml", "counter_staff").get_data(as_text=True) == changed
    # going back to the old XML is a change relative to the latest: version 3
    assert api.deploy_xml(VALID).get_json()["version"] == 3


def test_definition_json_describes_the_process(api):
    deploy_fixture_forms(api)
    api.deploy_form(json.loads(fixture_text("evidence.form")))
    r = api.deploy_xml(fixture_text("review_gateway.bpmn"))
    assert r.status_code == 201, r.get_json()
    d = r.get_json()
    assert d["key"] == "review_gateway" and d["name"] == "审核网关"
    assert d["candidate_starter_groups"] == ["counter_staff"] and d["start_form"] is None
    assert d["deployed_by"] == "process_owner" and len(d["sha256"]) == 64
    tasks = {t["element_id"]: t for t in d["user_tasks"]}
    assert set(tasks) == {"fill", "review", "approve"}
    assert tasks["approve"]["candidate_groups"] == ["hall_manager", "duty_manager"]
    assert tasks["fill"]["lane"] == "营业厅"
    assert tasks["fill"]["properties"] == {"sla.kind": "calendar", "sla.amount": "PT4H"}
    assert tasks["fill"]["scope"] == "instance_unit"
    r = api.deploy_xml(fixture_text("evidence_intake.bpmn"), user="admin")
    assert r.status_code == 201 and r.get_json()["start_form"] == "evidence"
    listed = {d["key"]: d for d in api.get("/api/process-definitions", "nobody").get_json()["items"]}
    assert listed["evidence_intake"]["start_form"] == "evidence"
    assert listed["review_gateway"]["candidate_starter_groups"] == ["counter_staff"]


def test_deploy_as_multipart_file(deployed):
    api = deployed
    xml = process_xml(user_task(), pid="uploaded")
    r = api.post("/api/process-definitions", "process_owner", json=None,
                 data={"file": (io.BytesIO(xml.encode()), "uploaded.bpmn")}, content_type="multipart/form-data")
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["key"] == "uploaded"
    assert api.get("/api/process-definitions/uploaded/xml", "auditor").get_data(as_text=True) == xml
    wrong_field = api.post("/api/process-definitions", "process_owner", json=None,
                           data={"document": (io.BytesIO(xml.encode()), "x.bpmn")}, content_type="multipart/form-data")
    assert wrong_field.status_code == 400 and wrong_field.get_json()["error"] == "bad_request"


@pytest.mark.parametrize("user", ["counter_staff", "auditor", "hall_manager", "nobody"])
def test_only_process_owner_or_admin_may_deploy(deployed, user):
    api = deployed
    r = api.deploy_xml(process_xml(user_task(), pid="forbidden"), user=user)
    assert r.status_code == 403 and r.get_json()["error"] == "forbidden"
    assert "forbidden" not in catalog(api)
    assert api.deploy_xml(process_xml(user_task(), pid="by_admin"), user="admin").status_code == 201


def test_unknown_definitions_and_versions_are_404(deployed):
    api = deployed
    for path in ["/api/process-definitions/nope", "/api/process-definitions/nope/xml",
                 "/api/process-definitions/p/xml?version=9"]:
        r = api.get(path, "admin")
        assert r.status_code == 404 and r.get_json()["error"] == "not_found", path
    for bad in ["abc", "0", "-1", "99999999999"]:
        r = api.get(f"/api/process-definitions/p/xml?version={bad}", "admin")
        assert r.status_code == 422 and "version" in r.get_json()["details"]["errors"], bad


# --------------------------------------------------------------------------- validation: nothing stored


def _single_line(xml: str) -> str:
    return xml.replace("\n", "")


BILLION_LAUGHS = (
    '<?xml version="1.0"?>\n<!DOCTYPE lolz [\n <!ENTITY lol "lol">\n'
    + "".join(f' <!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">\n' for i in range(1, 10))
    + "]>\n"
)

INVALID = {
    # name: (document, element_id named by the error, message fragment)
    "malformed_xml": (VALID[:-40], None, "not well-formed"),
    "not_bpmn": ("<html/>", None, "not a BPMN 2.0 document"),
    # one line, so only the XPath of the error (not its line number) can name the element
    "schema_violation": (_single_line(VALID.replace('<bpmn:startEvent id="start" />',
                                                    '<bpmn:startEvent id="start"><bpmn:oops /></bpmn:startEvent>')),
                         "start", "BPMN schema"),
    "schema_bad_process_id": (_single_line(process_xml(user_task(), pid="1p")), "1p", "BPMN schema"),
    "unknown_form": (process_xml(user_task(form="no_such_form")), "t1", "form 'no_such_form' does not exist"),
    "unknown_role": (process_xml(user_task(groups="counter_staff,wizard")), "t1", "unknown role 'wizard'"),
    "no_candidate_groups": (process_xml(user_task(groups=None)), "t1", "candidateGroups"),
    # a misspelt scope would silently open the task to every holder of the role in every unit
    "unknown_candidate_scope": (process_xml(("t1", '<bpmn:userTask id="t1" camunda:formKey="simple_note" '
                                                   'camunda:candidateGroups="counter_staff"><bpmn:extensionElements>'
                                                   '<camunda:properties><camunda:property name="candidateScope" '
                                                   'value="starter-unit" /></camunda:properties>'
                                                   '</bpmn:extensionElements></bpmn:userTask>')),
                                "t1", "candidateScope 'starter-unit' is not one of instance_unit, parent_unit, any_unit, starter"),
    # a property nobody owns (or a typo in one's value) deploys no longer: it would silently do nothing
    "unknown_property": (process_xml(_task_with(("seall", "supply_approval"))), "t1",
                         "unknown property 'seall' on a userTask; known: candidateScope, notBeforeStart, options.*"),
    "seal_template_typo": (process_xml(_task_with(("seal", "supply_aproval"))), "t1",
                           "unknown seal template 'supply_aproval'"),
    "score_review_typo": (process_xml(_task_with(("score_review", "customer_manager_kp"))), "t1",
                          "score_review 'customer_manager_kp' names no reviewed job"),
    "record_typo": (process_xml(_task_with(("record", "inspections"))), "t1", "record 'inspections' is not one of"),
    "sla_key_typo": (process_xml(_task_with(("sla.kind", "calendar"), ("sla.amout", "PT1H"))), "t1",
                     "unknown property 'sla.amout'"),
    "property_on_the_wrong_element": (process_xml(user_task(), process_properties=("seal", "supply_approval")), "p",
                                      "property 'seal' does not belong on a process"),
    # a misspelt unit kind would refuse every start (or, left out, open the steps to every unit)
    "starter_unit_typo": (process_xml(user_task(), process_properties=("starterUnit", "halls")), "p",
                          "starterUnit 'halls' is not one of required, hall, room, department, branch"),
    "no_form_key": (process_xml(user_task(form=None)), "t1", "formKey"),
    "unknown_starter_role": (process_xml(user_task(), starters="emperor"), "p", "unknown role 'emperor'"),
    "condition_syntax": (gateway_process("amount &gt;"), "f_cond", "syntax error"),
    "script_import": (process_xml(script_task("import os")), "s1", "import"),
    "script_dunder": (process_xml(script_task("x = ().__class__")), "s1", "__class__"),
    "timer_unquoted": (process_xml(timer_wait("PT24H")), "wait", "quoted"),
    "timer_not_iso": (process_xml(timer_wait('"P1X"')), "wait", "not a valid ISO 8601"),
    "service_task": (process_xml(("svc", '<bpmn:serviceTask id="svc" />')), "svc", "no implementation"),
    "java_service_task": (process_xml(("svc", '<bpmn:serviceTask id="svc" camunda:class="a.B" />')), "svc",
                          "camunda:class is not supported"),
    "dangling_flow": (VALID.replace('sourceRef="start"', 'sourceRef="ghost"'), "f0", "'ghost'"),
    "element_id_too_long": (process_xml(user_task(tid="t" * 129)), "t" * 129, "longer than 128"),
    "task_name_too_long": (process_xml(user_task(name="名" * 257)), "t1", "longer than 256"),
    "process_name_too_long": (process_xml(user_task(), name="n" * 300), "p", "longer than 256"),
    "two_processes_without_id": (
        DEFS_OPEN + '<bpmn:process isExecutable="true" /><bpmn:process isExecutable="true" />' + DEFS_CLOSE,
        None, "id of its own"),
    # entities would let the text we check differ from what the runtime parser reads
    "doctype_entity": (
        '<?xml version="1.0"?>\n<!DOCTYPE d [<!ENTITY e "&#10;import os">]>\n'
        + process_xml(script_task("x = 1&e;")).split("\n", 1)[1],
        None, "DOCTYPE"),
    "billion_laughs": (BILLION_LAUGHS + process_xml(user_task(), name="&lol9;").split("\n", 1)[1], None, ""),
    "utf16": (VALID.replace('encoding="UTF-8"', 'encoding="UTF-16"').encode("utf-16"), None, "UTF-8"),
    "binary_garbage": (bytes(random.Random(7).randrange(256) for _ in range(4096)), None, ""),
}


@pytest.mark.parametrize("case", list(INVALID))
def test_invalid_document_is_422_naming_the_element_and_stores_nothing(deployed, case):
    api = deployed
    document, element_id, fragment = INVALID[case]
    r = api.deploy_xml(document)
    assert_rejected(r, element_id, fragment)
    assert versions(api) == [1]
    assert catalog(api) == {"p": 1}
    assert api.get("/api/process-definitions/p/xml", "auditor").get_data(as_text=True) == VALID


def test_billion_laughs_is_not_expanded(deployed):
    r = deployed.deploy_xml(INVALID["billion_laughs"][0])
    assert r.status_code == 422
    # the error is about the entity limit or the DTD, not a giant attribute value
    assert len(r.get_data()) < 10_000
    assert "lollollol" not in r.get_data(as_text=True)


def test_condition_that_would_run_a_command_is_rejected_and_never_runs(deployed, tmp_path):
    api = deployed
    marker = tmp_path / "pwned"
    r = api.deploy_xml(gateway_process(f"__import__('os').system('touch {marker}')"))
    assert_rejected(r, "f_cond", "__import__")
    assert not marker.exists()
    assert versions(api) == [1]
    # nor does an instance of the valid version evaluate anything of it
    started = api.post("/api/process-definitions/p/instances", "counter_staff", json={"data": {}})
    assert started.status_code == 201
    assert not marker.exists()


def test_empty_body_is_400_and_stores_nothing(deployed):
    api = deployed
    r = api.deploy_xml(b"")
    assert r.status_code == 400 and r.get_json()["error"] == "bad_request"
    assert "application/xml" in r.get_json()["message"]
    assert catalog(api) == {"p": 1}


def test_document_over_2_mb_is_refused(deployed):
    api = deployed
    padding = "<!--" + "x" * (2 * 1024 * 1024) + "-->"
    r = api.deploy_xml(process_xml(user_task(name="big")).replace("</bpmn:definitions>", padding + "</bpmn:definitions>"))
    assert r.status_code in (413, 422), r.status_code
    assert r.is_json and r.get_json()["error"] in ("payload_too_large", "validation_failed")
    assert versions(api) == [1]


# --------------------------------------------------------------------------- fuzzing

_ATTR_VALUE = re.compile(r'[\w:]+="([^"]*)"')


def _mutate(rng: random.Random, text: str) -> str:
    kind = rng.choice(["truncate", "delete_lines", "swap_values", "drop_value", "duplicate_line"])
    lines = text.split("\n")
    if kind == "truncate":
        return text[: rng.randrange(len(text))]
    if kind == "delete_lines":
        for _ in range(rng.randint(1, 3)):
            del lines[rng.randrange(len(lines))]
        return "\n".join(lines)
    if kind == "duplicate_line":
        lines.insert(rng.randrange(len(lines)), rng.choice(lines))
        return "\n".join(lines)
    spans = [m.span(1) for m in _ATTR_VALUE.finditer(text)]
    if kind == "drop_value":
        a, b = rng.choice(spans)
        return text[:a] + text[b:]
    (a0, a1), (b0, b1) = sorted(rng.sample(spans, 2))
    return text[:a0] + text[b0:b1] + text[a1:b0] + text[a0:a1] + text[b1:]


def test_fuzzed_documents_never_cause_a_server_error(api):
    deploy_fixture_forms(api)
    seed = fixture_text("review_gateway.bpmn")
    assert api.deploy_xml(seed).status_code == 201
    rng = random.Random(20240611)
    statuses = {}
    for i in range(200):
        mutant = _mutate(rng, seed)
        r = api.deploy_xml(mutant)
        assert r.status_code < 500, (i, r.status_code, mutant)
        assert r.is_json, i
        statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
        if r.status_code == 422:
            errors = r.get_json()["details"]["errors"]
            assert errors and all(e["message"] for e in errors), (i, errors)
    assert statuses.get(422, 0) > 100  # the mutations really do break documents
    assert set(statuses) <= {200, 201, 400, 413, 422}, statuses


def test_a_process_without_starter_groups_deploys_as_not_startable_by_users(api):
    deploy_fixture_forms(api)
    r = api.deploy_xml(process_xml(user_task(), starters=None))
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["startable_by_users"] is False and r.get_json()["candidate_starter_groups"] == []
    r = api.post("/api/process-definitions/p/instances", "counter_staff", json={"data": {}})
    assert r.status_code == 403 and "not startable by users" in r.get_json()["message"]
    r = api.post("/api/process-definitions/p/instances", "admin", json={"data": {}})
    assert r.status_code == 201, r.get_json()


@pytest.mark.parametrize("case", [c for c, (_d, element, _f) in INVALID.items() if element])
def test_every_deploy_error_names_its_element_in_both_languages(deployed, case):
    document, element_id, _fragment = INVALID[case]
    errors = deployed.deploy_xml(document).get_json()["details"]["errors"]
    root = etree.fromstring(document if isinstance(document, bytes) else document.encode("utf-8"))
    named = root.xpath("//*[@id=$id]/@name", id=element_id)
    for e in [e for e in errors if e["element_id"] == element_id]:
        # English by id (and name); Chinese by name, by id only when the element has none
        assert repr(element_id) in e["message"] and (f"「{named[0]}」" if named else element_id) in e["message_zh"], e
        assert e["code"], e
        assert not re.search(r"0x[0-9a-f]{6,}|<Element |b'<", e["message"] + e["message_zh"]), e
