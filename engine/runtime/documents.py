"""Uploaded documents: content-addressed bytes with size and type limits."""

from __future__ import annotations

import hashlib
import mimetypes
import re
import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from engine.clock import utcnow
from engine.errors import Forbidden, NotFound, PayloadTooLarge, ValidationFailed
from engine.identity.policy import may_read_document
from engine.store.models import Blob, Document, DocumentLink

# Control characters (NUL included: PostgreSQL text cannot hold it) never belong in a file name.
_UNSAFE_NAME_CHARS = re.compile(r"[\x00-\x1f\x7f]")

_MAGIC = {
    "application/pdf": (b"%PDF-",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
}


def document_to_dict(doc: Document) -> dict:
    return {
        "id": doc.id,
        "sha256": doc.sha256,
        "filename": doc.filename,
        "size": doc.size,
        "content_type": doc.content_type,
        "created_at": doc.created_at,
        "created_by": doc.created_by,
    }


def _content_type(filename: str, declared: str | None, content: bytes, allowed: tuple[str, ...]) -> str:
    declared = (declared or "").split(";")[0].strip().lower()
    if not declared or declared == "application/octet-stream":
        declared = mimetypes.guess_type(filename)[0] or "application/octet-stream"
    if declared not in allowed:
        raise ValidationFailed("file type not allowed", {"file": [f"type {declared!r} is not allowed; allowed: {', '.join(allowed)}"]})
    magic = _MAGIC.get(declared)
    if magic and not content.startswith(magic):
        raise ValidationFailed("file content does not match its type", {"file": [f"content is not {declared}"]})
    return declared


def store_blob(session: Session, content: bytes) -> str:
    """Insert the bytes once under their sha256 (a second identical upload stores nothing)."""
    sha = hashlib.sha256(content).hexdigest()
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    session.execute(insert(Blob).values(sha256=sha, size=len(content), content=content).on_conflict_do_nothing())
    return sha


def upload(uow, settings, filename: str, declared_type: str | None, content: bytes) -> Document:
    if len(content) > settings.max_upload_bytes:
        raise PayloadTooLarge(f"file is larger than {settings.max_upload_bytes} bytes")
    if not content:
        raise ValidationFailed("empty file", {"file": ["file is empty"]})
    name = _UNSAFE_NAME_CHARS.sub("", (filename or "upload").replace("\\", "/").rsplit("/", 1)[-1])[:255].strip() or "upload"
    ctype = _content_type(name, declared_type, content, settings.allowed_upload_types)
    sha = store_blob(uow.session, content)
    doc = Document(
        id=str(uuid.uuid4()),
        sha256=sha,
        filename=name,
        size=len(content),
        content_type=ctype,
        created_at=utcnow(),
        created_by=uow.actor.username,
    )
    uow.session.add(doc)
    uow.audit("document_uploaded", document_id=doc.id, sha256=sha, filename=name, size=len(content))
    return doc


@dataclass(frozen=True)
class Download:
    """A document's bytes and what a response needs to send them."""

    id: str
    filename: str
    content_type: str | None
    sha256: str
    body: bytes


def read(session: Session, actor, doc_id: str, instance_id: str | None = None) -> Download:
    """A document's bytes for ``actor`` (the rule: ``policy.may_read_document``); with
    ``instance_id`` only as a document of that instance."""
    doc = get(session, doc_id)
    if instance_id is not None and instance_id not in linked_instances(session, doc_id):
        raise Forbidden("this document does not belong to this process instance")
    if not may_read_document(session, actor, doc):
        raise Forbidden("you may not read this document")
    return Download(doc.id, doc.filename, doc.content_type, doc.sha256, content(session, doc))


def link(uow, field_errors_key: str, doc_ids: list[str], instance_id: str) -> None:
    """Attach documents named in form data to an instance; unknown ids are a 422.

    Only documents the actor may read can be attached: otherwise naming someone else's
    document id in a filepicker field would grant read access to it through the instance.
    """
    if not doc_ids:
        return
    found = {
        d.id: d for d in uow.session.execute(select(Document).where(Document.id.in_(doc_ids))).scalars()
    }
    existing = set(
        uow.session.execute(
            select(DocumentLink.document_id).where(DocumentLink.instance_id == instance_id, DocumentLink.document_id.in_(doc_ids))
        ).scalars()
    )
    missing = [
        d for d in doc_ids
        if d not in found or (d not in existing and not may_read_document(uow.session, uow.actor, found[d]))
    ]
    if missing:
        raise ValidationFailed(
            "unknown documents",
            {field_errors_key: [f"document {d!r} does not exist or you may not use it" for d in dict.fromkeys(missing)]},
        )
    for doc_id in dict.fromkeys(doc_ids):
        if doc_id not in existing:
            uow.session.add(DocumentLink(document_id=doc_id, instance_id=instance_id))


def get(session: Session, doc_id: str) -> Document:
    doc = session.get(Document, doc_id)
    if doc is None:
        raise NotFound(f"document {doc_id!r} not found")
    return doc


def content(session: Session, doc: Document) -> bytes:
    return session.get(Blob, doc.sha256).content


def linked_instances(session: Session, doc_id: str) -> list[str]:
    return list(session.execute(select(DocumentLink.instance_id).where(DocumentLink.document_id == doc_id)).scalars())
