"""Signals and messages sent to whoever waits for them (engine/runtime/events.py)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from web.schemas.common import NO_NUL


class SignalRequest(Schema):
    name = fields.Str(required=True, validate=[validate.Length(min=1, max=256), NO_NUL])
    data = fields.Dict(keys=fields.Str(), load_default=dict)


class MessageRequest(Schema):
    name = fields.Str(required=True, validate=[validate.Length(min=1, max=256), NO_NUL])
    business_key = fields.Str(validate=[validate.Length(min=1, max=128), NO_NUL],
                              metadata={"description": "only the instance with this business key"})
    correlation = fields.Dict(keys=fields.Str(validate=validate.Length(min=1, max=128)),
                              metadata={"description": "only the instance whose data has these values"})
    data = fields.Dict(keys=fields.Str(), load_default=dict)


class DeliveryResult(Schema):
    delivered = fields.List(fields.Str(), metadata={"description": "instances that caught it"})
    started = fields.List(fields.Str(), metadata={"description": "instances it started"})
