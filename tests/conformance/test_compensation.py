"""Compensation (BPMN 2.0 §10.6), which SpiffWorkflow lacks: a compensation throw or end event
runs the handlers of the activities that completed, in reverse order of completion (or only the
one its activityRef names), once each; activities that did not complete are not compensated."""

from __future__ import annotations

from tests.conformance.models import chain, document, flow, script, user_task
from tests.conformance.runner import Run

START, END = '<bpmn:startEvent id="start" />', '<bpmn:endEvent id="end" />'


def _compensable(activity: str, handler: str, handler_xml: str) -> tuple[str, str]:
    """The compensation boundary event with its handler, and the association between them (which
    the schema wants after every flow element)."""
    return (f'<bpmn:boundaryEvent id="{activity}_comp" attachedToRef="{activity}">'
            f'<bpmn:compensateEventDefinition id="{activity}_comp_def" /></bpmn:boundaryEvent>'
            + handler_xml.replace(f'id="{handler}"', f'id="{handler}" isForCompensation="true"', 1),
            f'<bpmn:association id="{activity}_assoc" associationDirection="One" sourceRef="{activity}_comp" '
            f'targetRef="{handler}" />')


UNBOOK = _compensable("book", "unbook", script("unbook", "booked = False"))
REFUND = _compensable("charge", "refund", user_task("refund"))


def _booking(key: str, throw_xml: str, tail: list[str], skip_charge: bool = False) -> str:
    """start -> book (script) -> charge (unless skip_charge) -> decide -> the compensation throw ...;
    book is undone by a script (unbook), charge by a person (refund)."""
    xml = document(key, "\n".join([
        START, script("book", f"booked = True\nskip_charge = {skip_charge}"),
        '<bpmn:exclusiveGateway id="maybe" default="to_charge" />', user_task("charge"), '<bpmn:exclusiveGateway id="join" />',
        user_task("decide"), throw_xml, *tail, UNBOOK[0], REFUND[0],
        flow("f0", "start", "book"), flow("f1", "book", "maybe"), flow("to_charge", "maybe", "charge"),
        flow("no_charge", "maybe", "join", "skip_charge == True"), flow("f2", "charge", "join"), flow("f3", "join", "decide"),
    ]))
    return xml.replace("</bpmn:process>", UNBOOK[1] + REFUND[1] + "</bpmn:process>")


def test_a_compensation_end_event_undoes_completed_work_in_reverse_order(api, engine):
    xml = _booking("cancel_order", '<bpmn:endEvent id="cancelled"><bpmn:compensateEventDefinition id="c1" />'
                                   "</bpmn:endEvent>", [flow("f4", "decide", "cancelled")])
    run = Run(api, engine, xml, "cancel_order", data={})
    run.complete("charge")
    run.complete("decide")
    # the last completed activity is undone first: the refund (a person's step), then the booking
    assert run.open == ["refund"] and run.status == "running" and run.data["booked"] is True
    run.complete("refund")
    assert run.status == "completed" and run.data["booked"] is False
    created = [e["element_id"] for e in run.actions("task_created")]
    assert created == ["charge", "decide", "refund"]


def test_only_completed_activities_are_compensated(api, engine):
    xml = _booking("skip_charge", '<bpmn:endEvent id="cancelled"><bpmn:compensateEventDefinition id="c1" />'
                                  "</bpmn:endEvent>", [flow("f4", "decide", "cancelled")], skip_charge=True)
    run = Run(api, engine, xml, "skip_charge")
    assert run.open == ["decide"]
    run.complete("decide")
    assert run.status == "completed" and run.data["booked"] is False  # no refund: charge never ran


def test_a_compensation_throw_with_activity_ref_undoes_that_activity_and_goes_on(api, engine):
    xml = _booking("partial_undo", '<bpmn:intermediateThrowEvent id="undo_booking"><bpmn:compensateEventDefinition '
                                   'id="c1" activityRef="book" /></bpmn:intermediateThrowEvent>',
                   [user_task("after"), END, chain("decide", "undo_booking", "after", "end", prefix="t")])
    run = Run(api, engine, xml, "partial_undo")
    run.complete("charge")
    run.complete("decide")
    assert run.open == ["after"] and run.data["booked"] is False  # no refund task
    run.complete("after")
    assert run.status == "completed"


def test_a_compensation_boundary_without_a_handler_is_refused(api):
    xml = document("no_handler", "\n".join([
        START, user_task("charge"), END, chain("start", "charge", "end"),
        '<bpmn:boundaryEvent id="charge_comp" attachedToRef="charge"><bpmn:compensateEventDefinition id="d" />'
        "</bpmn:boundaryEvent>"]))
    r = api.deploy_xml(xml)
    assert r.status_code == 422
    assert [e["element_id"] for e in r.get_json()["details"]["errors"]] == ["charge_comp"]


def test_two_compensation_events_each_run_the_handlers(api, engine):
    ends = ('<bpmn:exclusiveGateway id="which" default="to_b" />'
            '<bpmn:endEvent id="cancel_a"><bpmn:compensateEventDefinition id="ca" /></bpmn:endEvent>'
            '<bpmn:endEvent id="cancel_b"><bpmn:compensateEventDefinition id="cb" /></bpmn:endEvent>')
    xml = _booking("two_ways", ends, [flow("f4", "decide", "which"), flow("to_a", "which", "cancel_a", 'note == "a"'),
                                      flow("to_b", "which", "cancel_b")])
    run = Run(api, engine, xml, "two_ways")
    run.complete("charge")
    run.complete("decide", {"note": "a"})
    task = run.instance["open_tasks"][0]
    # each compensation event has its own copy of the handler, with the handler's roles and form
    assert task["element_id"] == "refund__cancel_a" and task["candidate_groups"] == ["counter_staff"]
    run.complete("refund__cancel_a")
    assert run.status == "completed" and run.data["booked"] is False
