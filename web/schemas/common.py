"""Shared pieces of the REST schemas: limits of values, the error body, a version query."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from engine.identity.names import local_name
from web.i18n import accepted_language

# Limits that keep values inside what the database columns can hold: PostgreSQL text
# cannot contain NUL characters, and its INTEGER is 32-bit.
NO_NUL = validate.Regexp(r"^[^\x00]*$", error="must not contain NUL characters")
MAX_INT32 = 2**31 - 1
MAX_PAGE = 1_000_000


class Name(fields.Str):
    """A model's name (a process, a step, a lane) in the request's language: models carry a Chinese
    name and an English one (``camunda:properties`` ``name.en``, stored together, see
    engine/identity/names.py); the API answers with the Chinese one, or the English one for a
    request with ``Accept-Language: en``, never both glued together."""

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else local_name(str(value), accepted_language())


class ErrorSchema(Schema):
    error = fields.Str(required=True, metadata={"description": "machine-readable code"})
    message = fields.Str(required=True)
    details = fields.Raw(allow_none=True)


class VersionQuery(Schema):
    version = fields.Int(validate=validate.Range(min=1, max=MAX_INT32))


class Empty(Schema):
    pass
