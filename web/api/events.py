"""API: signals broadcast and messages correlated to whoever waits for them (Camunda's /signal
and /message); who may send what is declared in the models."""

from __future__ import annotations

from flask import Blueprint

from engine.runtime import events
from web.context import current_engine
from web.routing import actor, api_route
from web.schemas.events import DeliveryResult, MessageRequest, SignalRequest

bp = Blueprint("events", __name__, url_prefix="/api")


@api_route(bp, "/signals", "POST", summary="Broadcast a signal: every waiting instance catches it, every process it "
           "starts starts", body=SignalRequest, response=DeliveryResult, errors=(403, 422))
def send_signal(body):
    with current_engine().uow(actor()) as uow:
        return events.broadcast(uow, body["name"], body["data"], external=True)


@api_route(bp, "/messages", "POST", summary="Correlate a message to the one instance waiting for it, or start the "
           "process it starts (409 ambiguous, 404 none)", body=MessageRequest, response=DeliveryResult,
           errors=(403, 404, 409, 422))
def send_message(body):
    with current_engine().uow(actor()) as uow:
        return events.correlate(uow, body["name"], body["data"], business_key=body.get("business_key"),
                                correlation=body.get("correlation"), external=True)
