"""API: results of the scheduled scoring and reporting jobs, filtered to what the caller may see.

``GET /api/reports/jobs`` lists the jobs with their periods and last run;
``GET /api/reports/{job}`` answers the rows of one period (default: the newest) and unit;
``GET /api/reports/{job}/export`` downloads them as CSV or XLSX (audited as ``report_exported``).
Open to every signed-in user: a staff member sees their own rows, a manager their unit's,
auditors and admins everything (see ``engine.jobs.dashboards``).
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app
from marshmallow import Schema, fields, validate

from engine.jobs import dashboards
from web.i18n import current_language
from web.routing import actor, api_route
from web.schemas import NO_NUL

bp = Blueprint("reports", __name__, url_prefix="/api/reports")


# --------------------------------------------------------------------------- schemas


class JobRunSchema(Schema):
    period = fields.Str()
    status = fields.Str(metadata={"description": "running | completed | failed"})
    started_at = fields.DateTime()
    finished_at = fields.DateTime(allow_none=True)
    rows = fields.Int(metadata={"description": "result rows written (all of them, not only the visible ones)"})
    triggered_by = fields.Str(metadata={"description": "username or 'schedule'"})
    error = fields.Str(allow_none=True, metadata={"description": "failure message (auditors and admins only)"})


class JobInfoSchema(Schema):
    name = fields.Str()
    title_zh = fields.Str()
    title_en = fields.Str()
    period_kinds = fields.List(fields.Str(), metadata={"description": "day | week | month | year"})
    periods = fields.List(fields.Str(), metadata={"description": "periods with results, newest first"})
    last_run = fields.Nested(JobRunSchema, allow_none=True)
    sees_all = fields.Bool(metadata={"description": "whether the caller sees every row of this job"})


class JobListSchema(Schema):
    items = fields.List(fields.Nested(JobInfoSchema))


class ReportQuery(Schema):
    period = fields.Str(validate=[validate.Length(min=1, max=16), NO_NUL],
                        metadata={"description": "'2026-10-05', '2026-W41', '2026-10' or '2026'; default: the newest"})
    unit = fields.Str(validate=[validate.Length(min=1, max=64), NO_NUL], metadata={"description": "org unit key"})


class ReportExportQuery(ReportQuery):
    format = fields.Str(load_default="csv", validate=validate.OneOf(dashboards.EXPORT_FORMATS),
                        metadata={"description": "csv (UTF-8 with BOM) or xlsx"})


class ReportColumnSchema(Schema):
    key = fields.Str(metadata={"description": "metric key; nested metrics are dotted"})
    zh = fields.Str()
    en = fields.Str()
    unit = fields.Str(allow_none=True, metadata={"description": "'s' for durations in seconds"})


class ReportGroupSchema(Schema):
    subject_type = fields.Str()
    zh = fields.Str()
    en = fields.Str()
    columns = fields.List(fields.Nested(ReportColumnSchema))
    count = fields.Int()


class ReportRowSchema(Schema):
    id = fields.Int()
    period = fields.Str()
    unit_key = fields.Str(allow_none=True)
    unit_name = fields.Str(allow_none=True)
    subject_type = fields.Str(metadata={"description": "process | category | hall | user | unit | step | kpi"})
    subject_key = fields.Str()
    subject_label = fields.Str(allow_none=True)
    metrics = fields.Dict()
    rank = fields.Int(allow_none=True)
    status = fields.Str(metadata={"description": "draft (awaiting review) or final"})
    created_at = fields.DateTime()


class ReportUnitSchema(Schema):
    key = fields.Str()
    name = fields.Str(allow_none=True)


class ScoreSheetSchema(Schema):
    unit_key = fields.Str()
    status = fields.Str(metadata={"description": "in_review | final | rejected"})
    instance_id = fields.Str(allow_none=True)
    created_at = fields.DateTime()
    decided_at = fields.DateTime(allow_none=True)
    decided_by = fields.Str(allow_none=True)
    step = fields.Str(allow_none=True, metadata={"description": "the open step of a sheet in review (its task name)"})


class ReportSchema(Schema):
    job = fields.Str()
    title_zh = fields.Str()
    title_en = fields.Str()
    period = fields.Str(allow_none=True, metadata={"description": "null when the job has no results yet"})
    unit = fields.Str(allow_none=True)
    period_kinds = fields.List(fields.Str())
    units = fields.List(fields.Nested(ReportUnitSchema), metadata={"description": "units of the visible rows"})
    total = fields.Int()
    truncated = fields.Bool()
    groups = fields.List(fields.Nested(ReportGroupSchema))
    rows = fields.List(fields.Nested(ReportRowSchema))
    sheets = fields.List(fields.Nested(ScoreSheetSchema))
    run = fields.Nested(JobRunSchema, allow_none=True)
    sees_all = fields.Bool()


# --------------------------------------------------------------------------- views


def _engine():
    return current_app.extensions["bpm"]


def download(exported: dashboards.Export) -> Response:
    response = Response(exported.body, content_type=exported.content_type)
    response.headers["Content-Disposition"] = f'attachment; filename="{exported.filename}"'
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@api_route(bp, "/jobs", summary="Report jobs with their titles, periods with results and last run", response=JobListSchema)
def list_report_jobs():
    with _engine().read() as session:
        return {"items": dashboards.list_jobs(session, actor())}


@api_route(bp, "/<job>", summary="Result rows of a job for a period and unit (only the rows the caller may see)",
           query=ReportQuery, response=ReportSchema, errors=(404,))
def get_report(job, args):
    with _engine().read() as session:
        return dashboards.report(session, actor(), job, args.get("period"), args.get("unit"))


@api_route(bp, "/<job>/export", summary="Download the visible rows as CSV or XLSX (audited)", query=ReportExportQuery,
           errors=(404,))
def export_report(job, args):
    exported = dashboards.export(_engine(), actor(), job, args.get("period"), args.get("unit"), args["format"],
                                 "en" if current_language() == "en" else "zh-CN")
    return download(exported)
