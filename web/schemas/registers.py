"""Schemas of the register endpoints (web/api/registers.py)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from web.schemas.common import NO_NUL

PERIOD = validate.Regexp(r"^\d{4}(-\d{2}(-\d{2})?)?$", error="period must be YYYY, YYYY-MM or YYYY-MM-DD")


class RegisterColumnSchema(Schema):
    key = fields.Str(metadata={"description": "the instance data key shown in the column"})
    zh = fields.Str()
    en = fields.Str()


class RegisterInfoSchema(Schema):
    key = fields.Str(metadata={"description": "the process key"})
    name = fields.Str()
    version = fields.Int()
    columns = fields.List(fields.Nested(RegisterColumnSchema))
    may_add = fields.Bool(metadata={"description": "whether the caller may make entries (start the process)"})
    start_form = fields.Str(allow_none=True)
    signed = fields.Bool(metadata={"description": "whether entries are signed by a second person"})


class RegisterListSchema(Schema):
    items = fields.List(fields.Nested(RegisterInfoSchema))


class RegisterQuery(Schema):
    period = fields.Str(validate=[PERIOD],
                        metadata={"description": "China-time day, month or year of the entries: 2026-12-05, 2026-12, 2026"})
    unit = fields.Str(validate=[validate.Length(min=1, max=64), NO_NUL], metadata={"description": "org unit key"})
    page = fields.Int(load_default=1, validate=validate.Range(min=1, max=100000))


class RegisterExportQuery(Schema):
    period = fields.Str(validate=[PERIOD])
    unit = fields.Str(validate=[validate.Length(min=1, max=64), NO_NUL])
    format = fields.Str(load_default="csv", validate=validate.OneOf(("csv",)),
                        metadata={"description": "csv (UTF-8 with BOM, Chinese headers, China time)"})


class RegisterSignatureSchema(Schema):
    element_id = fields.Str()
    step = fields.Str()
    by = fields.Str(metadata={"description": "username of the signer"})
    by_name = fields.Str(allow_none=True)
    at = fields.DateTime()


class RegisterEntrySchema(Schema):
    id = fields.Str(metadata={"description": "the instance id"})
    business_key = fields.Str(allow_none=True)
    status = fields.Str(metadata={"description": "running (awaiting a signature) | completed | cancelled ..."})
    started_at = fields.DateTime()
    ended_at = fields.DateTime(allow_none=True)
    started_by = fields.Str(allow_none=True)
    started_by_name = fields.Str(allow_none=True)
    org_unit = fields.Str(allow_none=True)
    org_unit_name = fields.Str(allow_none=True)
    values = fields.Dict(metadata={"description": "column key -> value (select values as their labels)"})
    signatures = fields.List(fields.Nested(RegisterSignatureSchema))


class RegisterUnitSchema(Schema):
    key = fields.Str()
    name = fields.Str(allow_none=True)


class RegisterEntriesSchema(Schema):
    key = fields.Str()
    name = fields.Str()
    columns = fields.List(fields.Nested(RegisterColumnSchema))
    signed = fields.Bool()
    may_add = fields.Bool()
    period = fields.Str(allow_none=True)
    unit = fields.Str(allow_none=True)
    units = fields.List(fields.Nested(RegisterUnitSchema), metadata={"description": "units the caller may filter by"})
    page = fields.Int()
    per_page = fields.Int()
    total = fields.Int()
    items = fields.List(fields.Nested(RegisterEntrySchema))
