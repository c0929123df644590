"""Schemas of the audit endpoints (web/api/audit.py)."""

from __future__ import annotations

from datetime import UTC, datetime

from marshmallow import Schema, ValidationError, fields, post_load, pre_dump, validate, validates_schema

from web.presentation.audit import action_label
from web.schemas.common import MAX_PAGE, NO_NUL, Name

FORMAT_HELP = "omit for JSON; 'csv' or 'json' to download every matching event (Accept: text/csv also selects csv)"


def _utc(value: datetime | None) -> datetime | None:
    """Datetimes without an offset are taken as UTC."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class ActionLabelSchema(Schema):
    zh = fields.Str()
    en = fields.Str()


class AuditEventSchema(Schema):
    seq = fields.Int()
    at = fields.DateTime()
    actor = fields.Str(allow_none=True, metadata={"description": "username"})
    actor_name = fields.Str(allow_none=True, metadata={"description": "display name"})
    actor_roles = fields.List(fields.Str())
    actor_unit = fields.Str(allow_none=True)
    action = fields.Str()
    action_label = fields.Nested(ActionLabelSchema)
    instance_id = fields.Str(allow_none=True)
    task_id = fields.Str(allow_none=True)
    element_id = fields.Str(allow_none=True)
    element_name = Name(allow_none=True, metadata={"description": "the BPMN element's name"})
    details = fields.Dict()
    before = fields.Raw(allow_none=True)
    after = fields.Raw(allow_none=True)
    reason = fields.Str(allow_none=True)
    hash = fields.Str()

    @pre_dump
    def _label(self, row: dict, **_kwargs) -> dict:
        return {**row, "action_label": action_label(row["action"])}


class AuditEventPage(Schema):
    items = fields.List(fields.Nested(AuditEventSchema))
    page = fields.Int()
    per_page = fields.Int()
    total = fields.Int()


class InstanceTimeline(Schema):
    instance_id = fields.Str()
    events = fields.List(fields.Nested(AuditEventSchema))


class ExportQuery(Schema):
    format = fields.Str(validate=validate.OneOf(["json", "csv"]), metadata={"description": FORMAT_HELP})


class AuditEventQuery(ExportQuery):
    actor = fields.Str(validate=[validate.Length(min=1, max=64), NO_NUL], metadata={"description": "username"})
    action = fields.Str(validate=[validate.Length(min=1, max=64), NO_NUL])
    instance = fields.Str(validate=[validate.Length(min=1, max=36), NO_NUL], metadata={"description": "instance id"})
    start = fields.DateTime(data_key="from", metadata={"description": "ISO 8601, inclusive (no offset = UTC)"})
    end = fields.DateTime(data_key="to", metadata={"description": "ISO 8601, exclusive (no offset = UTC)"})
    page = fields.Int(load_default=1, validate=validate.Range(min=1, max=MAX_PAGE))
    per_page = fields.Int(load_default=50, validate=validate.Range(min=1, max=500))

    @validates_schema
    def _ordered(self, data, **_):
        start, end = _utc(data.get("start")), _utc(data.get("end"))
        if start and end and start > end:
            raise ValidationError("must not be before 'from'", "to")

    @post_load
    def _normalise(self, data, **_):
        return {**data, "start": _utc(data.get("start")), "end": _utc(data.get("end"))}


class AuditVerifyQuery(Schema):
    checkpoint = fields.Str(
        validate=[validate.Length(min=1, max=255), NO_NUL],
        metadata={"description": "file name in <var_dir>/checkpoints; default: the newest there"},
    )


class CheckpointResult(Schema):
    file = fields.Str()
    seq = fields.Int(allow_none=True)
    ok = fields.Bool()
    reason = fields.Str(allow_none=True)
    key_id = fields.Str(allow_none=True)
    trusted_key = fields.Bool(metadata={"description": "whether a trusted audit key was there to check against"})


class AuditVerifyResponse(Schema):
    ok = fields.Bool()
    checked = fields.Int(metadata={"description": "events whose hash was recomputed"})
    first_bad_seq = fields.Int(allow_none=True)
    head_seq = fields.Int()
    head_hash = fields.Str()
    reason = fields.Str(allow_none=True)
    checkpoint = fields.Nested(CheckpointResult, allow_none=True)
