"""API: user, role and org-unit administration (admin only)."""

from __future__ import annotations

from flask import Blueprint, current_app
from marshmallow import Schema, fields, validate

from engine.identity import users
from engine.identity.roles import ROLES
from web.routing import actor, api_route

bp = Blueprint("admin", __name__, url_prefix="/api")

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


def _engine():
    return current_app.extensions["bpm"]


@api_route(bp, "/users", summary="All users (admin)", response=UserList, errors=(403,))
def list_users():
    with _engine().read() as session:
        return {"items": users.list_users(session, actor())}


@api_route(bp, "/users", "POST", summary="Create a user (admin)", body=CreateUserRequest, response=UserSchema,
           status=201, errors=(403, 409))
def create_user(body):
    with _engine().uow(actor()) as uow:
        return users.create_user(uow, body["username"], body["password"], body["roles"], body.get("display_name"),
                                 body.get("org_unit"), body.get("email"))


@api_route(bp, "/users/<username>", summary="One user (admin, or the user themself)", response=UserSchema,
           errors=(403, 404))
def get_user(username):
    with _engine().read() as session:
        return users.get_user(session, actor(), username)


@api_route(bp, "/users/<username>", "PATCH", summary="Change roles, unit, name, e-mail, active flag or password (admin)",
           body=UpdateUserRequest, response=UserSchema, errors=(403, 404, 409))
def update_user(username, body):
    with _engine().uow(actor()) as uow:
        return users.update_user(uow, username, body)


@api_route(bp, "/users/<username>/revoke-tokens", "POST", summary="Revoke every token of a user (admin)",
           response=RevokeResponse, errors=(403, 404))
def revoke_tokens(username):
    with _engine().uow(actor()) as uow:
        return {"revoked": users.revoke_tokens(uow, username)}


@api_route(bp, "/users/<username>/unlock", "POST", summary="Lift a login lockout (admin)", response=UserSchema,
           errors=(403, 404))
def unlock_user(username):
    with _engine().uow(actor()) as uow:
        users.unlock(uow, username)
    with _engine().read() as session:
        return users.get_user(session, actor(), username)


@api_route(bp, "/org-units", summary="Org units (halls, departments)", response=UnitList)
def list_units():
    with _engine().read() as session:
        return {"items": users.list_units(session)}


@api_route(bp, "/org-units", "POST", summary="Create an org unit (admin)", body=CreateUnitRequest, response=UnitSchema,
           status=201, errors=(403, 409))
def create_unit(body):
    with _engine().uow(actor()) as uow:
        return users.create_unit(uow, body["key"], body["name"], body["kind"], body.get("parent_key"))
