"""Signals and messages between instances: a signal reaches every instance waiting for it and
starts the processes it starts; a message reaches exactly one receiver (by business key or
correlation values), 409 when ambiguous, 404 when nobody; throws inside a model do the same.
From outside only what a model declares sendable, by the declared roles, with the declared
payload form."""

from __future__ import annotations

from tests.conformance.models import catch, chain, document, script, throw, user_task
from tests.conformance.runner import deploy, start
from tests.conformance.runner import instance as _inst
from tests.conformance.runner import open_elements as _open

START, END = '<bpmn:startEvent id="start" />', '<bpmn:endEvent id="end" />'


def _sendable(tag: str, name: str, senders: str | None = "counter_staff", form: str | None = None) -> str:
    props = ""
    if senders:
        props = f'<camunda:property name="sendableBy" value="{senders}" />'
        if form:
            props += f'<camunda:property name="payloadForm" value="{form}" />'
        props = f"<bpmn:extensionElements><camunda:properties>{props}</camunda:properties></bpmn:extensionElements>"
    return f'<bpmn:{tag} id="{tag}_{name}" name="{name}">{props}</bpmn:{tag}>'


def _sig(name: str, n: int = 0) -> str:
    return f'<bpmn:signalEventDefinition id="sd_{name}_{n}" signalRef="signal_{name}" />'


def _msg(name: str, n: int = 0) -> str:
    return f'<bpmn:messageEventDefinition id="md_{name}_{n}" messageRef="message_{name}" />'


def _deploy(api, xml):
    deploy(api, xml)


def _start(api, key, business_key=None, user="counter_staff"):
    return start(api, key, business_key, user=user)


def _waiter(key="waiter", signals="", messages=""):
    """start -> catch signal ping -> user task after -> end."""
    return document(key, "\n".join([START, catch("wait", _sig("ping")), user_task("after"), END,
                                    chain("start", "wait", "after", "end")]), signals or _sendable("signal", "ping"))


def test_a_signal_thrown_by_one_instance_reaches_every_waiting_instance(api):
    _deploy(api, _waiter())
    _deploy(api, document("shouter", "\n".join([START, user_task("decide"), throw("shout", _sig("ping", 1), tag="endEvent"),
                                                 chain("start", "decide", "shout")]), _sendable("signal", "ping", None)))
    waiting = [_start(api, "waiter"), _start(api, "waiter")]
    assert all(_open(api, w) == [] for w in waiting)
    shouter = _start(api, "shouter")
    task = _inst(api, shouter)["open_tasks"][0]["id"]
    r = api.post(f"/api/tasks/{task}/complete", "counter_staff", json={"data": {"note": "go"}})
    assert r.status_code == 200, r.get_json()
    for w in waiting:
        assert _open(api, w) == ["after"]
        events = api.get(f"/api/process-instances/{w}/timeline", "auditor").get_json()["events"]
        received = [e for e in events if e["action"] == "signal_received"]
        assert len(received) == 1 and received[0]["details"]["from_instance"] == shouter
    assert _inst(api, shouter)["status"] == "completed"


def test_signal_api_broadcasts_and_starts_only_what_the_sender_may_send(api):
    _deploy(api, _waiter())
    _deploy(api, document("on_ping", "\n".join([f'<bpmn:startEvent id="s">{_sig("ping", 2)}</bpmn:startEvent>',
                                                user_task("handle"), END, chain("s", "handle", "end")]),
                          _sendable("signal", "ping"), starters=""))
    w = _start(api, "waiter")
    assert api.post("/api/signals", "auditor", json={"name": "ping"}).status_code == 403
    assert api.post("/api/signals", "counter_staff", json={"name": "secret"}).status_code == 403
    r = api.post("/api/signals", "counter_staff", json={"name": "ping"})
    assert r.status_code == 200, r.get_json()
    out = r.get_json()
    assert out["delivered"] == [w] and len(out["started"]) == 1
    assert _open(api, w) == ["after"]
    started = _inst(api, out["started"][0])
    assert started["process_key"] == "on_ping" and [t["element_id"] for t in started["open_tasks"]] == ["handle"]
    # nobody waits any more: a second signal reaches no instance and starts another on_ping
    again = api.post("/api/signals", "counter_staff", json={"name": "ping"}).get_json()
    assert again["delivered"] == [] and len(again["started"]) == 1
    # a process that starts on a signal only cannot be started by hand
    assert api.post("/api/process-definitions/on_ping/instances", "admin", json={"data": {}}).status_code == 409


def _receiver(key="receiver"):
    return document(key, "\n".join([START, '<bpmn:receiveTask id="rt" name="等回复" messageRef="message_reply" />',
                                    user_task("after"), END, chain("start", "rt", "after", "end")]),
                    _sendable("message", "reply", form="simple_note"))


def test_message_api_correlates_by_business_key_and_refuses_ambiguity(api):
    _deploy(api, _receiver())
    a, b = _start(api, "receiver", "BK-1"), _start(api, "receiver", "BK-2")
    r = api.post("/api/messages", "counter_staff", json={"name": "reply", "data": {"note": "好的"}})
    assert r.status_code == 409 and "ambiguous" in r.get_json()["message"]
    r = api.post("/api/messages", "counter_staff", json={"name": "reply", "business_key": "BK-2", "data": {"note": "好的"}})
    assert r.status_code == 200, r.get_json()
    assert r.get_json() == {"delivered": [b], "started": []}
    assert _open(api, b) == ["after"] and _open(api, a) == []
    assert _inst(api, b)["data"]["note"] == "好的"
    # the payload is checked against the declared form
    r = api.post("/api/messages", "counter_staff", json={"name": "reply", "business_key": "BK-1", "data": {"x": 1}})
    assert r.status_code == 422
    assert api.post("/api/messages", "counter_staff", json={"name": "reply", "business_key": "BK-9"}).status_code == 404
    assert api.post("/api/messages", "auditor", json={"name": "reply", "business_key": "BK-1"}).status_code == 403


def test_message_api_correlates_by_data_values(api):
    _deploy(api, document("keyed", "\n".join([START, script("set", 'order = "A-7"'),
                                               '<bpmn:receiveTask id="rt" messageRef="message_reply" />',
                                               user_task("after"), END, chain("start", "set", "rt", "after", "end")]),
                          _sendable("message", "reply")))
    _deploy(api, _receiver())
    target, other = _start(api, "keyed"), _start(api, "receiver")
    r = api.post("/api/messages", "counter_staff", json={"name": "reply", "correlation": {"order": "A-7"}})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["delivered"] == [target] and _open(api, other) == []


def test_a_message_start_event_starts_the_process(api):
    _deploy(api, document("order", "\n".join([f'<bpmn:startEvent id="s">{_msg("order")}</bpmn:startEvent>',
                                               user_task("handle"), END, chain("s", "handle", "end")]),
                          _sendable("message", "order", form="simple_note"), starters=""))
    r = api.post("/api/messages", "counter_staff", json={"name": "order", "business_key": "ORD-1",
                                                           "data": {"note": "两箱"}})
    assert r.status_code == 200, r.get_json()
    started = _inst(api, r.get_json()["started"][0])
    assert started["business_key"] == "ORD-1" and started["data"]["note"] == "两箱"
    assert [t["element_id"] for t in started["open_tasks"]] == ["handle"]


def _thrower(key: str, tag: str = "intermediateThrowEvent"):
    """start -> user task decide -> message 'reply' thrown (a throw event or a send task) -> end."""
    if tag == "sendTask":
        sender = '<bpmn:sendTask id="send" name="发送回复" messageRef="message_reply" />'
    else:
        sender = throw("send", _msg("reply", 1), tag=tag)
    parts = [START, user_task("decide"), sender]
    parts += [END, chain("start", "decide", "send", "end")] if tag != "endEvent" else [chain("start", "decide", "send")]
    return document(key, "\n".join(parts), _sendable("message", "reply", None))


def test_a_message_thrown_by_an_instance_reaches_the_receiver_with_its_business_key(api):
    _deploy(api, _receiver())
    for key, tag in (("throw_it", "intermediateThrowEvent"), ("end_with_it", "endEvent"), ("send_it", "sendTask")):
        _deploy(api, _thrower(key, tag))
        receiver, decoy = _start(api, "receiver", f"BK-{key}"), _start(api, "receiver", f"other-{key}")
        sender = _start(api, key, f"BK-{key}")
        task = _inst(api, sender)["open_tasks"][0]["id"]
        r = api.post(f"/api/tasks/{task}/complete", "counter_staff", json={"data": {"note": "已处理"}})
        assert r.status_code == 200, (key, r.get_json())
        assert _open(api, receiver) == ["after"], key
        assert _inst(api, receiver)["data"]["note"] == "已处理"  # the fields of the declared payload form
        assert _open(api, decoy) == [], key
        assert _inst(api, sender)["status"] == "completed"


def test_a_thrown_message_nobody_receives_refuses_the_step_and_loses_nothing(api):
    _deploy(api, _receiver())
    _deploy(api, _thrower("lonely"))
    sender = _start(api, "lonely", "BK-none")
    task = _inst(api, sender)["open_tasks"][0]["id"]
    r = api.post(f"/api/tasks/{task}/complete", "counter_staff", json={"data": {"note": "x"}})
    assert r.status_code == 409 and "no instance waits for message 'reply'" in r.get_json()["message"]
    assert _open(api, sender) == ["decide"] and _inst(api, sender)["status"] == "running"


def test_boundary_and_event_subprocess_subscriptions_end_with_their_scope(api, engine):
    from sqlalchemy import select

    from engine.store.models import EventSubscription

    _deploy(api, document("scoped", "\n".join([
        START, user_task("work"), f'<bpmn:boundaryEvent id="b" attachedToRef="work">{_sig("ping")}</bpmn:boundaryEvent>',
        user_task("stopped"), END, '<bpmn:endEvent id="end2" />', chain("start", "work", "end"),
        chain("b", "stopped", "end2", prefix="b")]),
        _sendable("signal", "ping")))
    iid = _start(api, "scoped")

    def subs():
        with engine.read() as s:
            return sorted((r.kind, r.name, r.element_id) for r in s.execute(
                select(EventSubscription).where(EventSubscription.instance_id == iid)).scalars())

    assert subs() == [("signal", "ping", "b")]
    task = _inst(api, iid)["open_tasks"][0]["id"]
    assert api.post(f"/api/tasks/{task}/complete", "counter_staff", json={"data": {"note": "x"}}).status_code == 200
    assert subs() == [] and _inst(api, iid)["status"] == "completed"
    out = api.post("/api/signals", "counter_staff", json={"name": "ping"}).get_json()
    assert out == {"delivered": [], "started": []}
