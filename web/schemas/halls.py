"""Schemas of the halls endpoints (web/api/halls.py)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate


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
