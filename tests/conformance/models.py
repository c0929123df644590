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
