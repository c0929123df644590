"""API: BPMN messages to instances, and hall queue snapshots for the congestion evaluator."""

from __future__ import annotations

from flask import Blueprint, current_app
from marshmallow import Schema, fields, validate

from engine.halls import congestion
from engine.runtime import instances, messages
from web import schemas as s
from web.routing import actor, api_route

bp = Blueprint("halls", __name__, url_prefix="/api")


class MessageRequest(Schema):
    name = fields.Str(required=True, validate=validate.Length(min=1, max=128))
    data = fields.Dict(keys=fields.Str(), load_default=dict)


class SnapshotRequest(Schema):
    waiting = fields.Int(required=True, validate=validate.Range(min=0, max=100_000))
    open_counters = fields.Int(required=True, validate=validate.Range(min=0, max=1_000))


class Alert(Schema):
    instance_id = fields.Str()
    level = fields.Int()


class HallStateSchema(Schema):
    hall = fields.Str()
    level = fields.Int(metadata={"description": "0 none, 1 level 1 (>= 2.5x), 2 level 2 (>= 3.5x or no open counter)"})
    raw_level = fields.Int(metadata={"description": "level of this snapshot alone, before debounce and hysteresis"})
    changed = fields.Bool()
    pending_level = fields.Int(allow_none=True)
    pending_since = fields.DateTime(allow_none=True)
    alerts = fields.List(fields.Nested(Alert))
    updated_at = fields.DateTime(allow_none=True)


def _engine():
    return current_app.extensions["bpm"]


@api_route(bp, "/process-instances/<instance_id>/messages", "POST", summary="Deliver a BPMN message to the instance",
           body=MessageRequest, response=s.InstanceSchema, errors=(403, 404, 409))
def send_message(instance_id, body):
    with _engine().uow(actor()) as uow:
        inst = messages.deliver(uow, instance_id, body["name"], body["data"])
        return instances.instance_to_dict(uow.session, inst)


@api_route(bp, "/halls/<hall>/queue-snapshots", "POST", summary="Report a hall's queue (waiting, open counters)",
           body=SnapshotRequest, response=HallStateSchema, status=201, errors=(403, 404))
def queue_snapshot(hall, body):
    with _engine().uow(actor()) as uow:
        return congestion.record_snapshot(uow, hall, body["waiting"], body["open_counters"])


@api_route(bp, "/halls/<hall>/congestion", summary="A hall's congestion level and open alerts", response=HallStateSchema,
           errors=(404,))
def hall_congestion(hall):
    with _engine().read() as session:
        return congestion.hall_state(session, hall)
