"""API: the signed-in user's notifications, and the controlled clock for acceptance tests."""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint

from engine.clock import clock
from engine.identity import policy
from engine.scheduling import notifications
from engine.scheduling.timers import fire_due
from web.context import current_engine
from web.routing import actor, api_route
from web.schemas.notify import ClockRequest, ClockResponse, NotificationPage, NotificationQuery, NotificationSchema

bp = Blueprint("notify", __name__, url_prefix="/api")
testing_bp = Blueprint("testing", __name__, url_prefix="/api/testing")


@api_route(bp, "/notifications", summary="My notifications (SLA warnings, breaches, escalations ...)",
           query=NotificationQuery, response=NotificationPage)
def list_notifications(args):
    with current_engine().read() as session:
        return notifications.list_for(session, actor(), args["unread"], args["page"], args["per_page"])


@api_route(bp, "/notifications/<int:notification_id>/read", "POST", summary="Mark one of my notifications as read",
           response=NotificationSchema, errors=(404,))
def read_notification(notification_id):
    with current_engine().uow(actor()) as uow:
        return notifications.mark_read(uow, notification_id)


def _require_admin():
    policy.require_admin(actor(), "move the controlled clock")


@api_route(testing_bp, "/clock", "POST", summary="Pin the engine clock (BPM_CONTROLLED_CLOCK=1 only); due timers fire at once",
           body=ClockRequest, response=ClockResponse, errors=(403,))
def set_clock(body):
    _require_admin()
    clock.set(body["now"])
    fired = fire_due(current_engine())
    return {"now": clock.now(), "controlled": True, "timers_fired": fired}


@api_route(testing_bp, "/clock/reset", "POST", summary="Return the engine clock to real time", response=ClockResponse,
           errors=(403,))
def reset_clock():
    _require_admin()
    clock.reset()
    return {"now": clock.now(), "controlled": False, "timers_fired": fire_due(current_engine())}


__all__ = ["bp", "testing_bp", "datetime"]
