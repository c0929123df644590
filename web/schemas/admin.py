"""Schemas of the admin endpoints (web/api/admin.py)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from engine.identity import users
from engine.identity.roles import ROLES

_ROLE = fields.Str(validate=validate.OneOf(list(ROLES)))


class UserSchema(Schema):
    username = fields.Str()
    display_name = fields.Str(allow_none=True)
    roles = fields.List(fields.Str())
    org_unit = fields.Str(allow_none=True)
    email = fields.Str(allow_none=True)
    is_active = fields.Bool()
    locked = fields.Bool()
    created_at = fields.DateTime()


class UserList(Schema):
    items = fields.List(fields.Nested(UserSchema))


class CreateUserRequest(Schema):
    username = fields.Str(required=True, validate=validate.Regexp(r"^[A-Za-z0-9_.@-]{1,64}$"))
    password = fields.Str(required=True, validate=validate.Length(min=8, max=256))
    roles = fields.List(_ROLE, required=True)
    display_name = fields.Str(validate=validate.Length(max=128))
    org_unit = fields.Str(allow_none=True, validate=validate.Length(max=64))
    email = fields.Email(allow_none=True)


class UpdateUserRequest(Schema):
    roles = fields.List(_ROLE)
    display_name = fields.Str(validate=validate.Length(max=128))
    org_unit = fields.Str(allow_none=True, validate=validate.Length(max=64))
    email = fields.Email(allow_none=True)
    is_active = fields.Bool()
    password = fields.Str(validate=validate.Length(min=8, max=256))


class RevokeResponse(Schema):
    revoked = fields.Int()


class UnitSchema(Schema):
    key = fields.Str()
    name = fields.Str()
    kind = fields.Str()
    parent_key = fields.Str(allow_none=True)


class UnitList(Schema):
    items = fields.List(fields.Nested(UnitSchema))


class CreateUnitRequest(Schema):
    key = fields.Str(required=True, validate=validate.Regexp(r"^[A-Za-z0-9_.-]{1,64}$"))
    name = fields.Str(required=True, validate=validate.Length(min=1, max=128))
    kind = fields.Str(required=True, validate=validate.OneOf(list(users.UNIT_KINDS)))
    parent_key = fields.Str(allow_none=True)
