"""Shared pieces of the REST schemas: limits of values, the error body, a version query."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

# Limits that keep values inside what the database columns can hold: PostgreSQL text
# cannot contain NUL characters, and its INTEGER is 32-bit.
NO_NUL = validate.Regexp(r"^[^\x00]*$", error="must not contain NUL characters")
MAX_INT32 = 2**31 - 1
MAX_PAGE = 1_000_000


class ErrorSchema(Schema):
    error = fields.Str(required=True, metadata={"description": "machine-readable code"})
    message = fields.Str(required=True)
    details = fields.Raw(allow_none=True)


class VersionQuery(Schema):
    version = fields.Int(validate=validate.Range(min=1, max=MAX_INT32))


class Empty(Schema):
    pass
