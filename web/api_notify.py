"""API: the signed-in user's notifications, and the controlled clock for acceptance tests."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, current_app
from marshmallow import Schema, fields, validate

from engine.clock import clock
from engine.errors import Forbidden
from engine.scheduling import notifications
from engine.scheduling.timers import fire_due
from web.routing import actor, api_route

bp = Blueprint("notify", __name__, url_prefix="/api")
testing_bp = Blueprint("testing", __name__, url_prefix="/api/testing")


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


def _engine():
    return current_app.extensions["bpm"]


@api_route(bp, "/notifications", summary="My notifications (SLA warnings, breaches, escalations ...)",
           query=NotificationQuery, response=NotificationPage)
def list_notifications(args):
    with _engine().read() as session:
        return notifications.list_for(session, actor(), args["unread"], args["page"], args["per_page"])


@api_route(bp, "/notifications/<int:notification_id>/read", "POST", summary="Mark one of my notifications as read",
           response=NotificationSchema, errors=(404,))
def read_notification(notification_id):
    with _engine().uow(actor()) as uow:
        return notifications.mark_read(uow, notification_id)


def _require_admin():
    if not actor().is_admin:
        raise Forbidden("only an administrator may move the controlled clock")


@api_route(testing_bp, "/clock", "POST", summary="Pin the engine clock (BPM_CONTROLLED_CLOCK=1 only); due timers fire at once",
           body=ClockRequest, response=ClockResponse, errors=(403,))
def set_clock(body):
    _require_admin()
    clock.set(body["now"])
    fired = fire_due(_engine())
    return {"now": clock.now(), "controlled": True, "timers_fired": fired}


@api_route(testing_bp, "/clock/reset", "POST", summary="Return the engine clock to real time", response=ClockResponse,
           errors=(403,))
def reset_clock():
    _require_admin()
    clock.reset()
    return {"now": clock.now(), "controlled": False, "timers_fired": fire_due(_engine())}


__all__ = ["bp", "testing_bp", "datetime"]
