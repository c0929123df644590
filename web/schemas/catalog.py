"""Schemas of the catalogue: sign-in, health, process definitions, forms, documents."""

from __future__ import annotations

from marshmallow import INCLUDE, Schema, fields, validate

from web.schemas.common import NO_NUL, Name


class TokenRequest(Schema):
    username = fields.Str(required=True, validate=[validate.Length(min=1, max=64), NO_NUL])
    password = fields.Str(required=True, validate=[validate.Length(min=1, max=256), NO_NUL])


class TokenResponse(Schema):
    token = fields.Str(required=True)
    expires_in = fields.Int()
    username = fields.Str()
    roles = fields.List(fields.Str())


class MeSchema(Schema):
    username = fields.Str()
    display_name = fields.Str(allow_none=True)
    roles = fields.List(fields.Str())
    org_unit = fields.Str(allow_none=True)


class HealthSchema(Schema):
    status = fields.Str()
    database = fields.Str()
    schema = fields.Str(metadata={"description": "the Alembic revision of the database schema"})


class UserTaskInfo(Schema):
    element_id = fields.Str()
    name = Name(allow_none=True)
    candidate_groups = fields.List(fields.Str())
    scope = fields.Str(metadata={"description": "who among the candidate roles may work on it (candidateScope): "
                                                "instance_unit (default), parent_unit, any_unit or starter"})
    form_key = fields.Str(allow_none=True)
    lane = Name(allow_none=True)
    properties = fields.Dict()


class DefinitionSchema(Schema):
    id = fields.Int()
    key = fields.Str()
    version = fields.Int()
    name = Name(allow_none=True)
    sha256 = fields.Str()
    deployed_at = fields.DateTime()
    deployed_by = fields.Str(allow_none=True)
    candidate_starter_groups = fields.List(fields.Str())
    startable_by_users = fields.Bool(metadata={"description": "false: no candidateStarterGroups; only administrators "
                                                              "(and the engine) start it"})
    start_form = fields.Str(allow_none=True)
    user_tasks = fields.List(fields.Nested(UserTaskInfo))
    created = fields.Bool(metadata={"description": "false when the XML equals the latest version (no-op)"})
    deployed = fields.List(fields.Dict(), metadata={"description": "every executable process of the document "
                                                                   "(a collaboration may hold several): key, version, "
                                                                   "created"})


class DefinitionVersions(Schema):
    key = fields.Str()
    versions = fields.List(fields.Nested(DefinitionSchema))


class DefinitionList(Schema):
    items = fields.List(fields.Nested(DefinitionSchema))


class FormBody(Schema):
    """A form-js form; the full content is checked by the engine (422 with errors)."""

    class Meta:
        unknown = INCLUDE

    id = fields.Str(required=True)
    type = fields.Str(required=True)
    components = fields.List(fields.Dict(), required=True)


class FormSchema(Schema):
    id = fields.Str()
    version = fields.Int()
    sha256 = fields.Str()
    deployed_at = fields.DateTime()
    deployed_by = fields.Str(allow_none=True)
    content = fields.Dict()
    created = fields.Bool()


class FormList(Schema):
    items = fields.List(fields.Nested(FormSchema))


class DocumentSchema(Schema):
    id = fields.Str()
    sha256 = fields.Str()
    filename = fields.Str()
    size = fields.Int()
    content_type = fields.Str()
    created_at = fields.DateTime()
    created_by = fields.Str(allow_none=True)


class FormQuery(Schema):
    """``?version=N``; ``?lists=current`` fills a select's managed option list (``optionsList``)
    with its entries as they are now, as the task and start pages show it; by default the form
    comes back exactly as deployed."""

    version = fields.Int(validate=validate.Range(min=1, max=2**31 - 1))
    lists = fields.Str(load_default="deployed", validate=validate.OneOf(["deployed", "current"]))
