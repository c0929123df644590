"""API: authentication, health, process definitions, forms and documents."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request
from sqlalchemy import text

from engine.errors import BadRequest, NotInitialised, ValidationFailed
from engine.forms import definitions as formdefs
from engine.forms import lists as option_lists
from engine.identity import auth as identity
from engine.runtime import definitions, documents
from engine.store.migrate import head_revision, known_revision
from web.auth import bearer_token, forget_token
from web.context import current_engine
from web.downloads import file_response
from web.ratelimits import client_address, per_address, per_user
from web.routing import actor, api_route, openapi_document
from web.schemas.catalog import (
    DefinitionList,
    DefinitionSchema,
    DefinitionVersions,
    DocumentSchema,
    FormBody,
    FormList,
    FormQuery,
    FormSchema,
    HealthSchema,
    MeSchema,
    TokenRequest,
    TokenResponse,
)
from web.schemas.common import VersionQuery

bp = Blueprint("catalog", __name__, url_prefix="/api")


@api_route(bp, "/health", summary="Liveness, database and schema check", response=HealthSchema, auth=False,
           errors=(503,))
def health():
    """503 while the database is away, never set up, or at another schema revision than this
    code needs (a load balancer should not send users to it)."""
    with current_engine().read() as session:
        revision = session.execute(text("SELECT version_num FROM alembic_version")).scalar()
    if revision and revision != head_revision() and not known_revision(revision):
        raise NotInitialised(f"the database schema is at {revision}, newer than this version of the code "
                             f"({head_revision()}): upgrade this server")
    if revision != head_revision():
        raise NotInitialised(f"the database schema is at {revision or 'no revision'}, this version needs "
                             f"{head_revision()}: run `bpm init` (it applies the migrations)")
    return {"status": "ok", "database": "ok", "schema": revision}


@api_route(bp, "/openapi.json", summary="This OpenAPI 3 description of the API", auth=False)
def openapi():
    return jsonify(openapi_document())


@api_route(bp, "/auth/token", "POST", summary="Exchange username and password for a bearer token",
           body=TokenRequest, response=TokenResponse, auth=False, errors=(401, 429))
@per_address("logins")
@per_address("failed_logins", failures_only=True)
def token(body):
    engine = current_engine()
    result = identity.login(engine, body["username"], body["password"], engine.settings.token_ttl_seconds,
                            address=client_address())
    if result.error is not None:
        raise result.error
    who = result.actor
    return {"token": result.token, "expires_in": engine.settings.token_ttl_seconds, "username": who.username,
            "roles": sorted(who.roles)}


@api_route(bp, "/auth/logout", "POST", summary="Revoke the bearer token used for this request", status=204)
def logout():
    token = bearer_token()
    with current_engine().uow(actor()) as uow:
        identity.revoke_token(uow.session, token)
    forget_token(token)
    return Response(status=204)


@api_route(bp, "/me", summary="The authenticated user", response=MeSchema)
def me():
    who = actor()
    return {"username": who.username, "display_name": who.display_name, "roles": sorted(who.roles), "org_unit": who.org_unit}


def _read_xml() -> bytes:
    if "file" in request.files:
        return request.files["file"].read()
    data = request.get_data(cache=False)
    if not data:
        raise BadRequest("send the BPMN XML as the request body (Content-Type: application/xml) or as multipart field 'file'")
    return data


@api_route(bp, "/process-definitions", summary="Latest version of every process definition", response=DefinitionList)
def list_definitions():
    with current_engine().read() as session:
        return {"items": [definitions.definition_to_dict(r) for r in definitions.list_latest(session)]}


@api_route(bp, "/process-definitions", "POST", summary="Deploy BPMN XML (new version unless identical)",
           response=DefinitionSchema, status=201, alt_status=(200,), content=("application/xml", "multipart/form-data"),
           errors=(400, 403, 413, 422))
def deploy_definition():
    xml = _read_xml()
    with current_engine().uow(actor()) as uow:
        stored = definitions.deploy_document(uow, xml)
        row, created = stored[0]
        out = definitions.definition_to_dict(row)
        out["deployed"] = [{"key": r.key, "version": r.version, "created": c} for r, c in stored]
    out["created"] = created
    return jsonify(DefinitionSchema().dump(out)), (201 if created else 200)


@api_route(bp, "/process-definitions/<key>", summary="All versions of one process definition",
           response=DefinitionVersions, errors=(404,))
def definition_versions(key):
    with current_engine().read() as session:
        return {"key": key, "versions": [definitions.definition_to_dict(r) for r in definitions.versions(session, key)]}


@api_route(bp, "/process-definitions/<key>/xml", summary="BPMN XML of a version (latest by default)",
           query=VersionQuery, errors=(404,))
def definition_xml(key, args):
    with current_engine().read() as session:
        row = definitions.get_version(session, key, args.get("version"))
        return Response(row.xml, mimetype="application/xml")


@api_route(bp, "/forms", summary="Latest version of every form", response=FormList)
def list_forms():
    with current_engine().read() as session:
        return {"items": formdefs.list_forms(session)}


@api_route(bp, "/forms", "POST", summary="Deploy a form-js form (new version unless identical)",
           body=FormBody, response=FormSchema, status=201, alt_status=(200,), errors=(403,))
def deploy_form(body):
    with current_engine().uow(actor()) as uow:
        row, created = formdefs.deploy_form(uow, request.get_json())
        out = formdefs.form_to_dict(row)
    out["created"] = created
    return jsonify(FormSchema().dump(out)), (201 if created else 200)


@api_route(bp, "/forms/<form_id>", summary="A form (latest version unless ?version=N; ?lists=current fills managed "
           "option lists)", query=FormQuery, response=FormSchema, errors=(404,))
def get_form(form_id, args):
    with current_engine().read() as session:
        out = formdefs.form_to_dict(formdefs.get_form(session, form_id, args.get("version")))
    if args["lists"] == "current":
        out["content"] = option_lists.resolve(out["content"])
    return out


@api_route(bp, "/documents", "POST", summary="Upload a file (multipart field 'file')", response=DocumentSchema,
           status=201, content="multipart/form-data", errors=(400, 413, 422, 429))
@per_user("uploads")
def upload_document():
    engine = current_engine()
    upload = request.files.get("file")
    if upload is None:
        raise ValidationFailed("no file", {"file": ["send the file as multipart/form-data field 'file'"]})
    content = upload.read(engine.settings.max_upload_bytes + 1)
    with engine.uow(actor()) as uow:
        doc = documents.upload(uow, engine.settings, upload.filename, upload.mimetype, content)
        return documents.document_to_dict(doc)


@api_route(bp, "/documents/<doc_id>", summary="Download a document's bytes", errors=(403, 404))
def download_document(doc_id):
    with current_engine().read() as session:
        doc = documents.read(session, actor(), doc_id)
    return file_response(doc.body, doc.filename, doc.content_type, doc.sha256)
