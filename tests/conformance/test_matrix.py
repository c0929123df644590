"""The support matrix, walked: every flow element of the BPMN 2.0 XSD and every event definition
in every position either deploys and runs (no incident, no server error) or is refused at deploy
with a 422 naming the element and saying why, as ``engine.bpmn.coverage`` says. Nothing else.

The README's "BPMN coverage" tables are generated from the same data and checked here.

What deploys and what is refused does not depend on the database, so the matrix runs on SQLite;
every construct's run is tested on both databases by the other conformance modules."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import SpiffWorkflow
from lxml import etree

from engine.bpmn import coverage
from tests.conformance.models import after, chain, document, flow, message, signal, user_task

ERRORS = ('<bpmn:error id="err_x" name="x" errorCode="X" /><bpmn:escalation id="esc_x" name="x" escalationCode="X" />')
DEFS = message("go") + signal("ping") + ERRORS

BODIES = {
    "none": "",
    "message": '<bpmn:messageEventDefinition id="d_{n}" messageRef="msg_go" />',
    "timer": after("PT1H").replace('id="def_t_0"', 'id="d_{n}"'),
    "signal": '<bpmn:signalEventDefinition id="d_{n}" signalRef="sig_ping" />',
    "conditional": ('<bpmn:conditionalEventDefinition id="d_{n}"><bpmn:condition xsi:type="bpmn:tFormalExpression">'
                    'note == "x"</bpmn:condition></bpmn:conditionalEventDefinition>'),
    "error": '<bpmn:errorEventDefinition id="d_{n}" errorRef="err_x" />',
    "escalation": '<bpmn:escalationEventDefinition id="d_{n}" escalationRef="esc_x" />',
    "link": '<bpmn:linkEventDefinition id="d_{n}" name="L" />',
    "terminate": '<bpmn:terminateEventDefinition id="d_{n}" />',
    "compensate": '<bpmn:compensateEventDefinition id="d_{n}" />',
    "cancel": '<bpmn:cancelEventDefinition id="d_{n}" />',
}
# several definitions: what each position could combine
MULTIPLE = {"catch": ("message", "timer"), "throw": ("signal", "escalation")}
START, END = '<bpmn:startEvent id="start" />', '<bpmn:endEvent id="end" />'


def _definition(definition: str, throwing: bool, n: int = 0) -> str:
    if definition == "multiple":
        return "".join(BODIES[d].format(n=f"{n}{i}") for i, d in enumerate(MULTIPLE["throw" if throwing else "catch"]))
    return BODIES[definition].format(n=n)


def _event_model(key: str, position: str, definition: str) -> str:
    """A model with event ``ev`` carrying ``definition`` in ``position``."""
    catching = position not in (coverage.THROW, coverage.END)
    ev = _definition(definition, not catching)
    after_task, end2 = user_task("after"), '<bpmn:endEvent id="end2" />'
    if position == coverage.START:
        body = [f'<bpmn:startEvent id="ev">{ev}</bpmn:startEvent>', after_task, END, chain("ev", "after", "end")]
    elif position == coverage.SUB_START:
        body = [START, f'<bpmn:subProcess id="sub"><bpmn:startEvent id="ev">{ev}</bpmn:startEvent>'
                       f'<bpmn:endEvent id="s_end" />{flow("s0", "ev", "s_end")}</bpmn:subProcess>',
                after_task, END, chain("start", "sub", "after", "end")]
    elif position in (coverage.EVENT_SUB_START, coverage.EVENT_SUB_START_NI):
        flag = "true" if position == coverage.EVENT_SUB_START else "false"
        body = [START, user_task("work"), END, chain("start", "work", "end"),
                f'<bpmn:subProcess id="evs" triggeredByEvent="true"><bpmn:startEvent id="ev" isInterrupting="{flag}">'
                f'{ev}</bpmn:startEvent>{user_task("handle")}<bpmn:endEvent id="e_end" />'
                f'{chain("ev", "handle", "e_end", prefix="e")}</bpmn:subProcess>']
    elif position == coverage.CATCH:
        body = [START, f'<bpmn:intermediateCatchEvent id="ev">{ev}</bpmn:intermediateCatchEvent>', after_task, END,
                chain("ev", "after", "end")]
        if definition == "link":
            body.append(f'<bpmn:intermediateThrowEvent id="to_ev">{_definition("link", True, 1)}</bpmn:intermediateThrowEvent>'
                        + flow("s0", "start", "to_ev"))
        else:
            body.append(flow("s0", "start", "ev"))
    elif position == coverage.THROW:
        body = [START, f'<bpmn:intermediateThrowEvent id="ev">{ev}</bpmn:intermediateThrowEvent>', after_task, END]
        if definition == "link":
            body += [f'<bpmn:intermediateCatchEvent id="from_ev">{_definition("link", False, 1)}</bpmn:intermediateCatchEvent>',
                     flow("s0", "start", "ev"), chain("from_ev", "after", "end", prefix="l")]
        else:
            body.append(chain("start", "ev", "after", "end"))
    elif position in (coverage.BOUNDARY, coverage.BOUNDARY_NI):
        flag = "" if position == coverage.BOUNDARY else ' cancelActivity="false"'
        body = [START, user_task("work"), END, chain("start", "work", "end"),
                f'<bpmn:boundaryEvent id="ev" attachedToRef="work"{flag}>{ev}</bpmn:boundaryEvent>']
        if definition == "compensate":  # a compensation handler, associated (no sequence flow)
            body.append('<bpmn:scriptTask id="undo" isForCompensation="true"><bpmn:script>undone = True</bpmn:script>'
                        '</bpmn:scriptTask><bpmn:association id="as" sourceRef="ev" targetRef="undo" />')
        else:
            body += [user_task("handled"), end2, chain("ev", "handled", "end2", prefix="b")]
    elif definition == "compensate":  # END: at the top level, where compensation runs
        body = [START, user_task("work"), f'<bpmn:endEvent id="ev">{ev}</bpmn:endEvent>', chain("start", "work", "ev")]
    else:  # END: inside a subprocess, so that an error or escalation has a boundary to reach
        body = [START, f'<bpmn:subProcess id="sub"><bpmn:startEvent id="s_start" />{user_task("work")}'
                       f'<bpmn:endEvent id="ev">{ev}</bpmn:endEvent>{chain("s_start", "work", "ev", prefix="s")}'
                       "</bpmn:subProcess>", after_task, END, chain("start", "sub", "after", "end")]
        if definition in ("error", "escalation"):
            catch_def = _definition(definition, False, 2)
            body += [f'<bpmn:boundaryEvent id="caught" attachedToRef="sub">{catch_def}</bpmn:boundaryEvent>',
                     user_task("handled"), end2, chain("caught", "handled", "end2", prefix="b")]
    return document(key, "\n".join(body), DEFS)


CASES = [(p, d) for p in coverage.POSITIONS for d in coverage.DEFINITIONS]
ON_SQLITE = pytest.mark.parametrize("db", ["sqlite"], indirect=True)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z]+", "_", text.lower()).strip("_")


@ON_SQLITE
@pytest.mark.parametrize(("position", "definition"), CASES, ids=[f"{_slug(p)}-{d}" for p, d in CASES])
def test_every_event_in_every_position_runs_or_is_refused_cleanly(api, position, definition):
    key = f"m_{_slug(position)}_{definition}"
    rule = coverage.event_rule(position, definition)
    r = api.deploy_xml(_event_model(key, position, definition))
    if rule.status == coverage.REFUSED:
        assert r.status_code == 422, r.get_json()
        errors = r.get_json()["details"]["errors"]
        mine = [e for e in errors if e["element_id"] == "ev"]
        assert mine, errors
        assert rule.en in mine[0]["message"] and rule.zh in mine[0]["message_zh"]
        _plain(errors)
        return
    assert r.status_code == 201, r.get_json()
    r = api.post(f"/api/process-definitions/{key}/instances", "counter_staff", json={"data": {}})
    if position == coverage.START and definition != "none":
        # started by its event, not by hand (tests/conformance/test_signals_messages.py, test_timer_starts.py)
        assert r.status_code == 409 and "no plain start event" in r.get_json()["message"], r.get_json()
        if definition == "message":
            r = api.post("/api/messages", "counter_staff", json={"name": "go"})
            assert r.status_code == 200 and len(r.get_json()["started"]) == 1, r.get_json()
        return
    if definition == "message" and position == coverage.THROW:
        # a message nobody receives refuses the step that throws it: nothing is lost
        assert r.status_code == 409 and "no instance waits for message 'go'" in r.get_json()["message"], r.get_json()
        return
    assert r.status_code == 201, r.get_json()
    inst = r.get_json()
    assert inst["status"] in ("running", "completed") and inst["incident"] is None, inst


def _xsd_elements() -> dict[str, str | None]:
    path = Path(os.path.dirname(SpiffWorkflow.__file__)) / "bpmn/parser/schema/Semantic.xsd"
    xs = "{http://www.w3.org/2001/XMLSchema}"
    return {e.get("name"): e.get("substitutionGroup") for e in etree.parse(str(path)).getroot().findall(xs + "element")}


FLOW_ELEMENTS = sorted(name for name, group in _xsd_elements().items()
                       if group == "flowElement" and name not in ("event", "dataObject"))
SIMPLE_ACTIVITIES = {"task", "manualTask", "userTask", "scriptTask", "serviceTask", "sendTask", "businessRuleTask",
                     "receiveTask", "callActivity", "subProcess", "adHocSubProcess", "transaction", "callChoreography",
                     "choreographyTask", "subChoreography"}


ANY_DECISION = ('<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="dd" name="d" namespace="x">'
                '<decision id="d_any" name="any"><decisionTable id="t" hitPolicy="FIRST"><input id="i" label="x">'
                '<inputExpression id="ie"><text>x</text></inputExpression></input><output id="o" name="r" />'
                '<rule id="r1"><inputEntry id="e1"><text>-</text></inputEntry><outputEntry id="o1"><text>1</text>'
                "</outputEntry></rule></decisionTable></decision></definitions>")


def _flow_element_model(key: str, name: str) -> str:
    attrs = {"userTask": ' camunda:formKey="simple_note" camunda:candidateGroups="counter_staff"',
             "receiveTask": ' messageRef="msg_go"', "callActivity": ' calledElement="other"',
             # external tasks wait for a worker of a configured topic (processes/connectors.toml); a decision
             # must be deployed (the test deploys it)
             "serviceTask": ' camunda:type="external" camunda:topic="supply_sync"',
             "businessRuleTask": ' camunda:decisionRef="d_any" camunda:resultVariable="r"'}.get(name, "")
    inner = {"scriptTask": "<bpmn:script>x = 1</bpmn:script>",
             "subProcess": '<bpmn:startEvent id="s1" /><bpmn:endEvent id="s2" />' + flow("sf", "s1", "s2"),
             "transaction": '<bpmn:startEvent id="s1" /><bpmn:endEvent id="s2" />' + flow("sf", "s1", "s2"),
             "adHocSubProcess": user_task("inner")}.get(name, "")
    if name in ("choreographyTask", "callChoreography", "subChoreography"):
        attrs += ' initiatingParticipantRef="p1"'
        inner = "<bpmn:participantRef>p1</bpmn:participantRef><bpmn:participantRef>p2</bpmn:participantRef>" + inner
    if name in SIMPLE_ACTIVITIES or name.endswith("Gateway") or name in ("intermediateThrowEvent", "intermediateCatchEvent",
                                                                          "implicitThrowEvent"):
        element = f'<bpmn:{name} id="el" name="元素 el"{attrs}>{inner}</bpmn:{name}>'
        if name == "intermediateCatchEvent":
            element = f'<bpmn:{name} id="el">{_definition("timer", False)}</bpmn:{name}>'
        if name == "eventBasedGateway":
            return document(key, "\n".join([START, element, f'<bpmn:intermediateCatchEvent id="c1">{_definition("timer", False)}'
                                            "</bpmn:intermediateCatchEvent>", END, chain("start", "el", "c1", "end")]), DEFS)
        return document(key, "\n".join([START, element, END, chain("start", "el", "end")]), DEFS)
    if name == "sequenceFlow":
        return document(key, START + END + flow("el", "start", "end"), DEFS)
    if name == "boundaryEvent":
        return document(key, "\n".join([START, user_task("work"), END, chain("start", "work", "end"),
                                        f'<bpmn:boundaryEvent id="el" attachedToRef="work">{_definition("timer", False)}'
                                        "</bpmn:boundaryEvent>", '<bpmn:endEvent id="e2" />', flow("b", "el", "e2")]), DEFS)
    if name in ("startEvent", "endEvent"):
        return document(key, f'<bpmn:startEvent id="{"el" if name == "startEvent" else "start"}" />'
                             f'<bpmn:endEvent id="{"el" if name == "endEvent" else "end"}" />'
                        + flow("f", "el" if name == "startEvent" else "start", "el" if name == "endEvent" else "end"), DEFS)
    if name == "dataObjectReference":
        return document(key, START + END + flow("f", "start", "end") + '<bpmn:dataObject id="obj" />'
                        '<bpmn:dataObjectReference id="el" dataObjectRef="obj" />', DEFS)
    if name == "dataStoreReference":
        return document(key, START + END + flow("f", "start", "end") + '<bpmn:dataStoreReference id="el" />', DEFS)
    raise AssertionError(f"no model for {name}")


def test_the_xsd_flow_elements_are_all_classified():
    assert set(FLOW_ELEMENTS) - set(coverage.ELEMENTS) == set()


@ON_SQLITE
@pytest.mark.parametrize("name", FLOW_ELEMENTS)
def test_every_flow_element_of_the_xsd_runs_or_is_refused_cleanly(api, name):
    key = f"e_{name}"
    rule = coverage.element_rule(name)
    if name == "callActivity":  # the process it calls
        called = document("other", START + END + flow("f", "start", "end"), DEFS, starters="")
        assert api.deploy_xml(called.replace(' camunda:candidateStarterGroups=""', "")).status_code == 201
    if name == "businessRuleTask":
        r = api.call("POST", "/api/decision-definitions", "process_owner", data=ANY_DECISION.encode(),
                     content_type="application/xml")
        assert r.status_code == 201, r.get_json()
    r = api.deploy_xml(_flow_element_model(key, name))
    if rule.status == coverage.REFUSED:
        assert r.status_code == 422, r.get_json()
        errors = r.get_json()["details"]["errors"]
        assert [e["element_id"] for e in errors] == ["el"], errors
        if "BPMN schema" not in errors[0]["message"]:  # choreographies cannot even be drawn in a process
            assert rule.en in errors[0]["message"] and rule.zh in errors[0]["message_zh"]
        _plain(errors)
        return
    assert r.status_code == 201, r.get_json()
    r = api.post(f"/api/process-definitions/{key}/instances", "counter_staff", json={"data": {}})
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["incident"] is None


def _plain(errors: list[dict]) -> None:
    """A deploy message is for a process owner: no Python repr, no memory address, no raw XML."""
    for e in errors:
        for text in (e["message"], e.get("message_zh") or ""):
            assert not re.search(r"0x[0-9a-f]{6,}|<Element |<bpmn:|b'<|Traceback", text), text


def test_readme_coverage_tables_are_the_generated_ones():
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    start, end = "<!-- coverage:start (bpm coverage) -->\n", "<!-- coverage:end -->"
    assert start in readme and end in readme
    assert readme.split(start)[1].split(end)[0] == coverage.markdown()
