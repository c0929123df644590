"""API: the audit log for auditors: event search, exports, chain and checkpoint verification.

``GET /api/audit/events`` and ``GET /api/process-instances/{id}/timeline`` answer JSON;
with ``?format=csv`` (or ``Accept: text/csv``) or ``?format=json`` they stream a download
of every matching event instead of a page, and the export is itself audited.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

from flask import Blueprint, Response, request

from engine.audit import checkpoint as audit_checkpoint
from engine.audit import query as audit_views
from engine.audit.query import EventFilter
from engine.identity.policy import require_audit_reader
from engine.runtime import instances
from web.context import current_engine
from web.presentation.audit import csv_stream, json_stream
from web.routing import actor, api_route, schema
from web.schemas.audit import (
    AuditEventPage,
    AuditEventQuery,
    AuditEventSchema,
    AuditVerifyQuery,
    AuditVerifyResponse,
)

bp = Blueprint("audit", __name__, url_prefix="/api/audit")


def export_format(args: dict) -> str | None:
    """``"csv"`` / ``"json"`` for a download, ``None`` for the JSON page."""
    if args.get("format"):
        return args["format"]
    return "csv" if request.accept_mimetypes.best_match(["application/json", "text/csv"]) == "text/csv" else None


def _rows(engine, flt: EventFilter) -> Iterator[dict]:
    """Matching events as API dicts, read in batches by a session of their own."""
    dump = schema(AuditEventSchema).dump
    with engine.read() as session:
        for row in audit_views.iter_events(session, flt):
            yield dump(row)


def export_response(scope: str, fmt: str, flt: EventFilter, filename: str) -> Response:
    """Audit the export, then stream it as an attachment."""
    engine = current_engine()
    bounded = audit_views.record_export(engine, actor(), scope, fmt, flt)
    if fmt == "csv":
        body, mimetype = csv_stream(_rows(engine, bounded)), "text/csv; charset=utf-8"
    else:
        body, mimetype = json_stream(_rows(engine, bounded)), "application/json; charset=utf-8"
    response = Response(body, content_type=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}.{fmt}"'
    response.headers["Cache-Control"] = "no-store"
    return response


def instance_timeline(instance_id: str, args: dict):
    """The body of ``GET /api/process-instances/{id}/timeline`` (view in ``web.api.runtime``)."""
    engine = current_engine()
    fmt = export_format(args)
    with engine.read() as session:
        if fmt is None:
            return {"instance_id": instance_id, "events": instances.timeline(session, actor(), instance_id)}
        instances.get_readable(session, actor(), instance_id)
    return export_response("timeline", fmt, EventFilter(instance=instance_id), f"timeline-{instance_id}")


# --------------------------------------------------------------------------- views


@api_route(bp, "/events", summary="Search the audit log (auditors, admins); ?format=csv|json downloads",
           query=AuditEventQuery, response=AuditEventPage, errors=(403,), download=AuditEventSchema)
def list_events(args):
    require_audit_reader(actor())  # before a download starts streaming
    flt = EventFilter(args.get("actor"), args.get("action"), args.get("instance"), args.get("start"), args.get("end"))
    fmt = export_format(args)
    if fmt is not None:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        return export_response("events", fmt, flt, f"audit-events-{stamp}")
    with current_engine().read() as session:
        return audit_views.search(session, actor(), flt, args["page"], args["per_page"])


@api_route(bp, "/verify", summary="Verify the hash chain and a signed checkpoint (auditors, admins)",
           query=AuditVerifyQuery, response=AuditVerifyResponse, errors=(403, 404))
def verify_audit(args):
    require_audit_reader(actor())
    engine = current_engine()
    name = args.get("checkpoint")
    path = audit_checkpoint.named_checkpoint(engine.settings, name) if name else None
    return audit_checkpoint.verify(engine, path)
