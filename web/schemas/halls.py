"""Schemas of the halls endpoints (web/api/halls.py)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from web.schemas.common import NO_NUL


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


class CoverageQuery(Schema):
    day = fields.Str(validate=[validate.Length(min=1, max=10), NO_NUL],
                     metadata={"description": "local date YYYY-MM-DD; default: today"})
    unit = fields.Str(validate=[validate.Length(min=1, max=64), NO_NUL], metadata={"description": "hall (org unit key)"})


class CoverageClerk(Schema):
    username = fields.Str()
    display_name = fields.Str()


class CoverageStaff(CoverageClerk):
    checks = fields.Int(metadata={"description": "checks recorded for this clerk on the day"})


class CoverageHall(Schema):
    hall = fields.Str()
    hall_name = fields.Str()
    clerks = fields.Int(metadata={"description": "active counter clerks of the hall"})
    checked = fields.Int(metadata={"description": "clerks with at least one check on the day"})
    unchecked = fields.List(fields.Nested(CoverageClerk), metadata={"description": "clerks not yet checked on the day"})
    staff = fields.List(fields.Nested(CoverageStaff))


class CoverageSchema(Schema):
    day = fields.Str()
    halls = fields.List(fields.Nested(CoverageHall))
