"""API: BPMN messages to instances, hall queue snapshots for the congestion evaluator, and the
daily coverage of the counter-service checks (which counter clerks are not yet checked today)."""

from __future__ import annotations

from flask import Blueprint

from engine.halls import congestion
from engine.jobs import inspections
from engine.runtime import instances, messages
from web.context import current_engine
from web.routing import actor, api_route
from web.schemas.halls import CoverageQuery, CoverageSchema, HallStateSchema, MessageRequest, SnapshotRequest
from web.schemas.runtime import InstanceSchema

bp = Blueprint("halls", __name__, url_prefix="/api")


@api_route(bp, "/process-instances/<instance_id>/messages", "POST", summary="Deliver a BPMN message to the instance",
           body=MessageRequest, response=InstanceSchema, errors=(403, 404, 409))
def send_message(instance_id, body):
    with current_engine().uow(actor()) as uow:
        inst = messages.deliver(uow, instance_id, body["name"], body["data"])
        return instances.instance_to_dict(uow.session, inst)


@api_route(bp, "/halls/<hall>/queue-snapshots", "POST", summary="Report a hall's queue (waiting, open counters)",
           body=SnapshotRequest, response=HallStateSchema, status=201, errors=(403, 404))
def queue_snapshot(hall, body):
    with current_engine().uow(actor()) as uow:
        return congestion.record_snapshot(uow, hall, body["waiting"], body["open_counters"])


@api_route(bp, "/halls/<hall>/congestion", summary="A hall's congestion level and open alerts", response=HallStateSchema,
           errors=(404,))
def hall_congestion(hall):
    with current_engine().read() as session:
        return congestion.hall_state(session, hall)


@api_route(bp, "/halls/inspection-coverage",
           summary="Counter clerks per hall and those not yet checked on a day (附表四 daily checks)",
           query=CoverageQuery, response=CoverageSchema)
def inspection_coverage(args):
    with current_engine().read() as session:
        return inspections.coverage(session, actor(), args.get("day"), args.get("unit"))
