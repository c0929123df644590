"""API: electronic seal — verification, documents of instances and tasks, seal images, certificates."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, request
from marshmallow import Schema, fields

from engine.errors import Forbidden, ValidationFailed
from web.routing import actor, api_route
from web.schemas import DocumentSchema

bp = Blueprint("seals", __name__, url_prefix="/api")


def _engine():
    return current_app.extensions["bpm"]


# --------------------------------------------------------------------------- schemas


class SignatureReportSchema(Schema):
    field = fields.Str()
    signer = fields.Str(allow_none=True)
    signer_subject = fields.Str(allow_none=True)
    certificate_serial = fields.Str(allow_none=True)
    certificate_fingerprint = fields.Str(allow_none=True)
    issuer = fields.Str(allow_none=True)
    signing_time = fields.Str(allow_none=True, metadata={"description": "time the signer declared (ISO 8601)"})
    timestamp = fields.Str(allow_none=True, metadata={"description": "trusted time of a TSA token (PAdES B-T)"})
    intact = fields.Bool(metadata={"description": "the signed bytes are unchanged"})
    valid = fields.Bool(metadata={"description": "the cryptographic signature is correct"})
    trusted = fields.Bool(metadata={"description": "the certificate chains to a trusted seal CA"})
    coverage = fields.Str(metadata={"description": "ENTIRE_FILE, ENTIRE_REVISION, CONTIGUOUS_BLOCK_FROM_START or UNCLEAR"})
    modifications = fields.Str(allow_none=True, metadata={"description": "NONE, LTA_UPDATES, FORM_FILLING, ANNOTATIONS, OTHER"})
    docmdp_ok = fields.Bool(allow_none=True, metadata={"description": "later changes are permitted by the certification"})
    certification = fields.Str(allow_none=True, metadata={"description": "DocMDP level of a certification signature"})
    ok = fields.Bool()
    problems = fields.List(fields.Str())


class RecordSchema(Schema):
    document_id = fields.Str()
    instance_id = fields.Str(allow_none=True)
    action = fields.Str()
    audit_seq = fields.Int()
    at = fields.DateTime()
    actor = fields.Str(allow_none=True)
    field = fields.Str(allow_none=True)


class VerificationSchema(Schema):
    document_id = fields.Str()
    filename = fields.Str()
    sha256 = fields.Str()
    size = fields.Int()
    readable = fields.Bool()
    valid = fields.Bool(metadata={"description": "every signature ok, the last covers the whole file, and these "
                                                 "exact bytes were recorded when sealed"})
    signatures_ok = fields.Bool()
    matches_record = fields.Bool()
    recorded = fields.Nested(RecordSchema, allow_none=True)
    signatures = fields.List(fields.Nested(SignatureReportSchema))
    empty_fields = fields.List(fields.Str(), metadata={"description": "signature fields still waiting for a signer"})
    problems = fields.List(fields.Str())


class LinkedDocumentSchema(DocumentSchema):
    kind = fields.Str(metadata={"description": "sealed, countersigned or attachment"})
    field = fields.Str(allow_none=True)
    signed_by = fields.Str(allow_none=True)
    signed_at = fields.DateTime(allow_none=True)
    task_id = fields.Str(allow_none=True)
    from_this_task = fields.Bool()
    download = fields.Str()
    verification = fields.Str()


class LinkedDocuments(Schema):
    instance_id = fields.Str()
    task_id = fields.Str()
    items = fields.List(fields.Nested(LinkedDocumentSchema))


class SealImageSchema(Schema):
    org_unit = fields.Str()
    sha256 = fields.Str()
    size = fields.Int()
    source = fields.Str()
    updated_at = fields.DateTime()
    updated_by = fields.Str(allow_none=True)


class CredentialSchema(Schema):
    id = fields.Int()
    kind = fields.Str(metadata={"description": "ca, system or seal"})
    username = fields.Str(allow_none=True)
    org_unit = fields.Str(allow_none=True)
    serial = fields.Str()
    subject = fields.Str()
    issuer = fields.Str()
    fingerprint = fields.Str()
    not_before = fields.DateTime()
    not_after = fields.DateTime()
    source = fields.Str()
    active = fields.Bool()
    created_at = fields.DateTime()
    created_by = fields.Str(allow_none=True)
    locked = fields.Bool()
    failed_attempts = fields.Int()


class CredentialList(Schema):
    items = fields.List(fields.Nested(CredentialSchema))


# --------------------------------------------------------------------------- endpoints


@api_route(bp, "/documents/<doc_id>/verification", summary="Verify every signature of a document (audited)",
           response=VerificationSchema, errors=(403, 404))
def verify_document(doc_id):
    from engine.seals.service import verify_document as verify

    engine = _engine()
    with engine.uow(actor()) as uow:
        return verify(engine, uow, doc_id)


@api_route(bp, "/process-instances/<instance_id>/documents",
           summary="Documents of an instance: attachments and sealed/countersigned versions", response=LinkedDocuments,
           errors=(403, 404))
def instance_documents(instance_id):
    from engine.seals.service import instance_documents as listing

    with _engine().read() as session:
        return listing(session, actor(), instance_id)


@api_route(bp, "/tasks/<task_id>/documents", summary="Documents of a task's instance (flags those this task signed)",
           response=LinkedDocuments, errors=(403, 404))
def task_documents(task_id):
    from engine.seals.service import task_documents as listing

    with _engine().read() as session:
        return listing(session, actor(), task_id)


@api_route(bp, "/org-units/<key>/seal-image", summary="The unit's seal image (PNG)", errors=(404,))
def get_seal_image(key):
    from engine.seals.images import get_image

    with _engine().read() as session:
        png, source = get_image(session, key)
    response = Response(png, mimetype="image/png")
    response.headers["X-Seal-Image-Source"] = source
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@api_route(bp, "/org-units/<key>/seal-image", "PUT", summary="Replace the unit's seal image with a PNG (admin)",
           response=SealImageSchema, content=("image/png", "multipart/form-data"), errors=(403, 404, 413, 422))
def put_seal_image(key):
    from engine.seals.images import MAX_UPLOAD_BYTES, set_image

    if not actor().is_admin:  # before reading the body
        raise Forbidden("only an administrator may replace a seal image")
    upload = request.files.get("file")
    content = upload.read(MAX_UPLOAD_BYTES + 1) if upload is not None else request.get_data(cache=False)
    if not content:
        raise ValidationFailed("no image", {"file": ["send the PNG as the body (image/png) or multipart field 'file'"]})
    with _engine().uow(actor()) as uow:
        return set_image(uow, key, content)


@api_route(bp, "/seals", summary="Seal certificates: CA, system signer, heads' seals (admin, auditor)",
           response=CredentialList, errors=(403,))
def list_seals():
    from engine.identity.policy import reads_everything
    from engine.seals.credentials import list_credentials

    if not reads_everything(actor()):
        raise Forbidden("only administrators and auditors may list seal certificates")
    with _engine().read() as session:
        return {"items": list_credentials(session)}


@api_route(bp, "/seals/ca-certificates", summary="The trusted seal CA certificates (PEM), for external verifiers")
def ca_certificates():
    from engine.seals.credentials import trust_roots
    from engine.seals.keys import pem

    with _engine().read() as session:
        body = "".join(pem(c) for c in trust_roots(session))
    return Response(body, mimetype="application/x-pem-file")
