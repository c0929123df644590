"""Deployed form versions (form-js JSON) and their lookup."""

from __future__ import annotations

import hashlib

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.audit.chain import canonical
from engine.clock import utcnow
from engine.errors import NotFound, ValidationFailed
from engine.forms import lists as option_lists
from engine.forms.model import check_form
from engine.identity.policy import require_deployer
from engine.store.models import FormDefinition
from engine.store.records import LATEST_FORM_VERSION


def form_to_dict(row: FormDefinition, with_content: bool = True) -> dict:
    out = {
        "id": row.form_key,
        "version": row.version,
        "sha256": row.sha256,
        "deployed_at": row.deployed_at,
        "deployed_by": row.deployed_by,
    }
    if with_content:
        out["content"] = row.content  # as deployed: a managed list's options are filled in when rendered
    return out


def latest(session: Session, form_key: str) -> FormDefinition | None:
    return session.execute(
        select(FormDefinition).where(FormDefinition.form_key == form_key).order_by(FormDefinition.version.desc()).limit(1)
    ).scalar_one_or_none()


def latest_version(session: Session, form_key: str) -> int | None:
    return session.connection().execute(LATEST_FORM_VERSION, {"b_key": form_key}).scalar_one_or_none()


def exists(session: Session, form_key: str) -> bool:
    return session.execute(select(FormDefinition.id).where(FormDefinition.form_key == form_key).limit(1)).first() is not None


def get_form(session: Session, form_key: str, version: int | None = None) -> FormDefinition:
    if version is None:
        row = latest(session, form_key)
    else:
        row = session.execute(
            select(FormDefinition).where(FormDefinition.form_key == form_key, FormDefinition.version == version)
        ).scalar_one_or_none()
    if row is None:
        raise NotFound(f"form {form_key!r}" + (f" version {version}" if version else "") + " not found")
    return row


def form_content(engine, session: Session, form_key: str, version: int) -> dict:
    """Form JSON of one version, cached in-process (a deployed version never changes)."""
    key = (form_key, version)
    content = engine.form_cache.get(key)
    if content is None:
        content = engine.form_cache[key] = get_form(session, form_key, version).content
    return option_lists.resolve(content)  # a select's managed list (optionsList) as it is now


def list_forms(session: Session) -> list[dict]:
    sub = select(FormDefinition.form_key, func.max(FormDefinition.version).label("v")).group_by(FormDefinition.form_key).subquery()
    rows = session.execute(
        select(FormDefinition)
        .join(sub, (sub.c.form_key == FormDefinition.form_key) & (sub.c.v == FormDefinition.version))
        .order_by(FormDefinition.form_key)
    ).scalars()
    return [form_to_dict(r, with_content=False) for r in rows]


def deploy_form(uow, content) -> tuple[FormDefinition, bool]:
    """Store a new version unless the latest one is identical; return (row, created)."""
    require_deployer(uow.actor, "forms")
    errors = check_form(content)
    if errors:
        raise ValidationFailed("form definition is invalid", errors)
    body = canonical(content)
    sha = hashlib.sha256(body.encode("utf-8")).hexdigest()
    current = latest(uow.session, content["id"])
    if current is not None and current.sha256 == sha:
        return current, False
    row = FormDefinition(
        form_key=content["id"],
        version=(current.version + 1) if current else 1,
        sha256=sha,
        content=content,
        deployed_at=utcnow(),
        deployed_by=uow.actor.username,
    )
    uow.session.add(row)
    uow.audit("form_deployed", form=row.form_key, version=row.version, sha256=sha)
    return row, True
