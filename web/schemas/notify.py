"""Schemas of the notify endpoints (web/api/notify.py)."""

from __future__ import annotations

from datetime import UTC

from marshmallow import Schema, fields, validate


class NotificationSchema(Schema):
    id = fields.Int()
    kind = fields.Str()
    title = fields.Str()
    body = fields.Str(allow_none=True)
    instance_id = fields.Str(allow_none=True)
    task_id = fields.Str(allow_none=True)
    created_at = fields.DateTime()
    read_at = fields.DateTime(allow_none=True)


class NotificationPage(Schema):
    items = fields.List(fields.Nested(NotificationSchema))
    page = fields.Int()
    per_page = fields.Int()
    total = fields.Int()
    unread = fields.Int()


class NotificationQuery(Schema):
    unread = fields.Bool(load_default=False)
    page = fields.Int(load_default=1, validate=validate.Range(min=1, max=1_000_000))
    per_page = fields.Int(load_default=50, validate=validate.Range(min=1, max=200))


class ClockRequest(Schema):
    now = fields.AwareDateTime(required=True, default_timezone=UTC)


class ClockResponse(Schema):
    now = fields.DateTime()
    controlled = fields.Bool()
    timers_fired = fields.Int()
