"""Small BPMN models for the conformance tests, written the way the modeler writes them."""

from __future__ import annotations

HEADER = ('<?xml version="1.0" encoding="UTF-8"?>\n'
          '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
          'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
          'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="defs_{key}" '
          'targetNamespace="http://bpmn.io/schema/bpmn">\n')


def process(key: str, body: str, starters: str = "counter_staff") -> str:
    """A one-process document; ``body`` holds the elements and flows."""
    return (HEADER.format(key=key)
            + f'<bpmn:process id="{key}" name="{key}" isExecutable="true" camunda:candidateStarterGroups="{starters}">\n'
            + body + "\n</bpmn:process>\n</bpmn:definitions>\n")


def flow(fid: str, source: str, target: str, condition: str | None = None) -> str:
    if condition is None:
        return f'<bpmn:sequenceFlow id="{fid}" sourceRef="{source}" targetRef="{target}" />'
    return (f'<bpmn:sequenceFlow id="{fid}" sourceRef="{source}" targetRef="{target}">'
            f'<bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">{condition}</bpmn:conditionExpression>'
            '</bpmn:sequenceFlow>')


def script(sid: str, code: str) -> str:
    return f'<bpmn:scriptTask id="{sid}" name="{sid}" scriptFormat="python"><bpmn:script>{code}</bpmn:script></bpmn:scriptTask>'


def user_task(tid: str, groups: str = "counter_staff") -> str:
    return f'<bpmn:userTask id="{tid}" name="{tid}" camunda:formKey="simple_note" camunda:candidateGroups="{groups}" />'


def counting_loop(key: str, turns: int | None) -> str:
    """start -> counter = 0 -> (counter = counter + 1 -> gateway) x turns -> user task ``after`` -> end.
    With ``turns`` None the loop never ends."""
    until = "False" if turns is None else f"counter &gt;= {turns}"
    return process(key, "\n".join([
        '<bpmn:startEvent id="start" />',
        script("init", "counter = 0"),
        script("step", "counter = counter + 1"),
        '<bpmn:exclusiveGateway id="more" default="again" />',
        user_task("after"),
        '<bpmn:endEvent id="end" />',
        flow("f0", "start", "init"), flow("f1", "init", "step"), flow("f2", "step", "more"),
        flow("again", "more", "step"), flow("done", "more", "after", until), flow("f3", "after", "end"),
    ]))


def tasks_without_behaviour(key: str) -> str:
    """start -> bpmn:task -> bpmn:manualTask -> user task ``after`` -> end."""
    return process(key, "\n".join([
        '<bpmn:startEvent id="start" />',
        '<bpmn:task id="plain" name="说明 Note" />',
        '<bpmn:manualTask id="manual" name="线下签字 Sign on paper" />',
        user_task("after"),
        '<bpmn:endEvent id="end" />',
        flow("f0", "start", "plain"), flow("f1", "plain", "manual"), flow("f2", "manual", "after"),
        flow("f3", "after", "end"),
    ]))


def document(key: str, body: str, definitions: str = "", starters: str = "counter_staff") -> str:
    """A one-process document with root-level ``definitions`` (messages, signals, errors ...)."""
    return process(key, body, starters).replace("</bpmn:definitions>", definitions + "</bpmn:definitions>")


def message(name: str, senders: str | None = "counter_staff") -> str:
    """A message; ``senders`` may send it from outside (the API), None: only the engine."""
    props = ("" if senders is None else
             '<bpmn:extensionElements><camunda:properties>'
             f'<camunda:property name="sendableBy" value="{senders}" />'
             '</camunda:properties></bpmn:extensionElements>')
    return f'<bpmn:message id="msg_{name}" name="{name}">{props}</bpmn:message>'


def signal(name: str) -> str:
    return f'<bpmn:signal id="sig_{name}" name="{name}" />'


def catch(eid: str, definition: str, tag: str = "intermediateCatchEvent", attrs: str = "") -> str:
    return f'<bpmn:{tag} id="{eid}" name="{eid}" {attrs}>{definition}</bpmn:{tag}>'


def throw(eid: str, definition: str, tag: str = "intermediateThrowEvent") -> str:
    return f'<bpmn:{tag} id="{eid}" name="{eid}">{definition}</bpmn:{tag}>'


def on_message(name: str) -> str:
    return f'<bpmn:messageEventDefinition id="def_m_{name}" messageRef="msg_{name}" />'


def on_signal(name: str, n: int = 0) -> str:
    return f'<bpmn:signalEventDefinition id="def_s_{name}_{n}" signalRef="sig_{name}" />'


def after(duration: str, n: int = 0) -> str:
    return (f'<bpmn:timerEventDefinition id="def_t_{n}"><bpmn:timeDuration xsi:type="bpmn:tFormalExpression">'
            f'"{duration}"</bpmn:timeDuration></bpmn:timerEventDefinition>')


def when(condition: str, n: int = 0) -> str:
    return (f'<bpmn:conditionalEventDefinition id="def_c_{n}"><bpmn:condition xsi:type="bpmn:tFormalExpression">'
            f'{condition}</bpmn:condition></bpmn:conditionalEventDefinition>')


def link(name: str, n: int = 0) -> str:
    return f'<bpmn:linkEventDefinition id="def_l_{name}_{n}" name="{name}" />'


def boundary(eid: str, attached: str, definition: str, interrupting: bool = True) -> str:
    flag = "" if interrupting else ' cancelActivity="false"'
    return f'<bpmn:boundaryEvent id="{eid}" name="{eid}" attachedToRef="{attached}"{flag}>{definition}</bpmn:boundaryEvent>'


def chain(*ids: str, prefix: str = "c") -> str:
    """Sequence flows a -> b -> c ..."""
    return "".join(flow(f"{prefix}{i}_{a}_{b}", a, b) for i, (a, b) in enumerate(zip(ids, ids[1:], strict=False)))
