"""API: electronic seal — verification, documents of instances and tasks, seal images, certificates."""

from __future__ import annotations

from flask import Blueprint, Response, request

from engine.errors import ValidationFailed
from engine.identity import policy
from web.context import current_engine
from web.routing import actor, api_route
from web.schemas.seals import (
    CredentialList,
    LinkedDocuments,
    SealImageSchema,
    VerificationSchema,
)

bp = Blueprint("seals", __name__, url_prefix="/api")


# --------------------------------------------------------------------------- endpoints


@api_route(bp, "/documents/<doc_id>/verification", summary="Verify every signature of a document (audited)",
           response=VerificationSchema, errors=(403, 404))
def verify_document(doc_id):
    from engine.seals.service import verify_document as verify

    engine = current_engine()
    with engine.uow(actor()) as uow:
        return verify(engine, uow, doc_id)


@api_route(bp, "/process-instances/<instance_id>/documents",
           summary="Documents of an instance: attachments and sealed/countersigned versions", response=LinkedDocuments,
           errors=(403, 404))
def instance_documents(instance_id):
    from engine.seals.service import instance_documents as listing

    with current_engine().read() as session:
        return listing(session, actor(), instance_id)


@api_route(bp, "/tasks/<task_id>/documents", summary="Documents of a task's instance (flags those this task signed)",
           response=LinkedDocuments, errors=(403, 404))
def task_documents(task_id):
    from engine.seals.service import task_documents as listing

    with current_engine().read() as session:
        return listing(session, actor(), task_id)


@api_route(bp, "/org-units/<key>/seal-image", summary="The unit's seal image (PNG)", errors=(404,))
def get_seal_image(key):
    from engine.seals.images import get_image

    with current_engine().read() as session:
        png, source = get_image(session, key)
    response = Response(png, mimetype="image/png")
    response.headers["X-Seal-Image-Source"] = source
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@api_route(bp, "/org-units/<key>/seal-image", "PUT", summary="Replace the unit's seal image with a PNG (admin)",
           response=SealImageSchema, content=("image/png", "multipart/form-data"), errors=(403, 404, 413, 422))
def put_seal_image(key):
    from engine.seals.images import MAX_UPLOAD_BYTES, set_image

    policy.require_admin(actor(), "replace a seal image")  # before reading the body (the service checks again)
    upload = request.files.get("file")
    content = upload.read(MAX_UPLOAD_BYTES + 1) if upload is not None else request.get_data(cache=False)
    if not content:
        raise ValidationFailed("no image", {"file": ["send the PNG as the body (image/png) or multipart field 'file'"]})
    with current_engine().uow(actor()) as uow:
        return set_image(uow, key, content)


@api_route(bp, "/seals", summary="Seal certificates: CA, system signer, heads' seals (admin, auditor)",
           response=CredentialList, errors=(403,))
def list_seals():
    from engine.seals.credentials import list_credentials

    with current_engine().read() as session:
        return {"items": list_credentials(session, actor())}


@api_route(bp, "/seals/ca-certificates", summary="The trusted seal CA certificates (PEM), for external verifiers")
def ca_certificates():
    from engine.seals.credentials import trust_roots
    from engine.seals.keys import pem

    with current_engine().read() as session:
        body = "".join(pem(c) for c in trust_roots(session))
    return Response(body, mimetype="application/x-pem-file")
