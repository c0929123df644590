"""Schemas of the reports endpoints (web/api/reports.py)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from engine.jobs import reports
from web.schemas.common import NO_NUL, Name


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
    format = fields.Str(load_default="csv", validate=validate.OneOf(reports.EXPORT_FORMATS),
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
    subject_type = fields.Str(metadata={"description": "process | category | hall | complaint_type | waiting_hall | waiting_hour | user | unit | step | kpi"})
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
    step = Name(allow_none=True, metadata={"description": "the open step of a sheet in review (its task name)"})


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
