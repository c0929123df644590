"""Schemas of the seals endpoints (web/api/seals.py)."""

from __future__ import annotations

from marshmallow import Schema, fields

from web.schemas.catalog import DocumentSchema


class LinkedDocumentSchema(DocumentSchema):
    kind = fields.Str(metadata={"description": "sealed, countersigned or attachment"})
    field = fields.Str(allow_none=True)
    signed_by = fields.Str(allow_none=True)
    signed_at = fields.DateTime(allow_none=True)
    task_id = fields.Str(allow_none=True)
    from_this_task = fields.Bool()
    download = fields.Str()
    verification = fields.Str()


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
