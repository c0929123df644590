"""API: the audit log for auditors: event search, exports, chain and checkpoint verification.

``GET /api/audit/events`` and ``GET /api/process-instances/{id}/timeline`` answer JSON;
with ``?format=csv`` (or ``Accept: text/csv``) or ``?format=json`` they stream a download
of every matching event instead of a page, and the export is itself audited.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

from flask import Blueprint, Response, current_app, request
from marshmallow import Schema, ValidationError, fields, post_load, validate, validates_schema

from engine.audit import checkpoint as audit_checkpoint
from engine.audit import query as audit_views
from engine.audit.query import EventFilter
from engine.errors import Forbidden
from engine.identity.policy import READ_ALL_ROLES
from engine.runtime import instances
from web.routing import actor, api_route, schema
from web.schemas import MAX_PAGE, NO_NUL

bp = Blueprint("audit", __name__, url_prefix="/api/audit")

FORMAT_HELP = "omit for JSON; 'csv' or 'json' to download every matching event (Accept: text/csv also selects csv)"


# --------------------------------------------------------------------------- schemas


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
    element_name = fields.Str(allow_none=True, metadata={"description": "the BPMN element's name"})
    details = fields.Dict()
    before = fields.Raw(allow_none=True)
    after = fields.Raw(allow_none=True)
    reason = fields.Str(allow_none=True)
    hash = fields.Str()


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


def _utc(value: datetime | None) -> datetime | None:
    """Datetimes without an offset are taken as UTC."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


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


# --------------------------------------------------------------------------- helpers


def _engine():
    return current_app.extensions["bpm"]


def _require_auditor() -> None:
    if not actor().has_any(READ_ALL_ROLES):
        raise Forbidden("only auditors and administrators may read the audit log")


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
    engine = _engine()
    bounded = audit_views.record_export(engine, actor(), scope, fmt, flt)
    if fmt == "csv":
        body, mimetype = audit_views.csv_stream(_rows(engine, bounded)), "text/csv; charset=utf-8"
    else:
        body, mimetype = audit_views.json_stream(_rows(engine, bounded)), "application/json; charset=utf-8"
    response = Response(body, content_type=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}.{fmt}"'
    response.headers["Cache-Control"] = "no-store"
    return response


def instance_timeline(instance_id: str, args: dict):
    """The body of ``GET /api/process-instances/{id}/timeline`` (view in ``web.api_runtime``)."""
    engine = _engine()
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
    _require_auditor()
    flt = EventFilter(args.get("actor"), args.get("action"), args.get("instance"), args.get("start"), args.get("end"))
    fmt = export_format(args)
    if fmt is not None:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        return export_response("events", fmt, flt, f"audit-events-{stamp}")
    with _engine().read() as session:
        return audit_views.search(session, flt, args["page"], args["per_page"])


@api_route(bp, "/verify", summary="Verify the hash chain and a signed checkpoint (auditors, admins)",
           query=AuditVerifyQuery, response=AuditVerifyResponse, errors=(403, 404))
def verify_audit(args):
    _require_auditor()
    engine = _engine()
    name = args.get("checkpoint")
    path = audit_checkpoint.named_checkpoint(engine.settings, name) if name else None
    return audit_checkpoint.verify(engine, path)
