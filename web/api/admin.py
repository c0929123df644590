"""API: user, role and org-unit administration (admin only)."""

from __future__ import annotations

from flask import Blueprint

from engine.identity import users
from web.context import current_engine
from web.routing import actor, api_route
from web.schemas.admin import (
    CreateUnitRequest,
    CreateUserRequest,
    RevokeResponse,
    UnitList,
    UnitSchema,
    UpdateUserRequest,
    UserList,
    UserSchema,
)

bp = Blueprint("admin", __name__, url_prefix="/api")


@api_route(bp, "/users", summary="All users (admin)", response=UserList, errors=(403,))
def list_users():
    with current_engine().read() as session:
        return {"items": users.list_users(session, actor())}


@api_route(bp, "/users", "POST", summary="Create a user (admin)", body=CreateUserRequest, response=UserSchema,
           status=201, errors=(403, 409))
def create_user(body):
    with current_engine().uow(actor()) as uow:
        return users.create_user(uow, body["username"], body["password"], body["roles"], body.get("display_name"),
                                 body.get("org_unit"), body.get("email"))


@api_route(bp, "/users/<username>", summary="One user (admin, or the user themself)", response=UserSchema,
           errors=(403, 404))
def get_user(username):
    with current_engine().read() as session:
        return users.get_user(session, actor(), username)


@api_route(bp, "/users/<username>", "PATCH", summary="Change roles, unit, name, e-mail, active flag or password (admin)",
           body=UpdateUserRequest, response=UserSchema, errors=(403, 404, 409))
def update_user(username, body):
    with current_engine().uow(actor()) as uow:
        return users.update_user(uow, username, body)


@api_route(bp, "/users/<username>/revoke-tokens", "POST", summary="Revoke every token of a user (admin)",
           response=RevokeResponse, errors=(403, 404))
def revoke_tokens(username):
    with current_engine().uow(actor()) as uow:
        return {"revoked": users.revoke_tokens(uow, username)}


@api_route(bp, "/users/<username>/unlock", "POST", summary="Lift a login lockout (admin)", response=UserSchema,
           errors=(403, 404))
def unlock_user(username):
    with current_engine().uow(actor()) as uow:
        users.unlock(uow, username)
    with current_engine().read() as session:
        return users.get_user(session, actor(), username)


@api_route(bp, "/org-units", summary="Org units (halls, departments)", response=UnitList)
def list_units():
    with current_engine().read() as session:
        return {"items": users.list_units(session)}


@api_route(bp, "/org-units", "POST", summary="Create an org unit (admin)", body=CreateUnitRequest, response=UnitSchema,
           status=201, errors=(403, 409))
def create_unit(body):
    with current_engine().uow(actor()) as uow:
        return users.create_unit(uow, body["key"], body["name"], body["kind"], body.get("parent_key"))
