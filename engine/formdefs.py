"""Deployed form versions (form-js JSON) and their lookup."""

from __future__ import annotations

import hashlib
import re
import re._constants as sre_c
import re._parser as sre_parse

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.audit import canonical
from engine.clock import utcnow
from engine.errors import Forbidden, NotFound, ValidationFailed
from engine.forms import _js_regex, check_form
from engine.roles import DEPLOYER_ROLES
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
        out["content"] = row.content
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
    return content


def list_forms(session: Session) -> list[dict]:
    sub = select(FormDefinition.form_key, func.max(FormDefinition.version).label("v")).group_by(FormDefinition.form_key).subquery()
    rows = session.execute(
        select(FormDefinition)
        .join(sub, (sub.c.form_key == FormDefinition.form_key) & (sub.c.v == FormDefinition.version))
        .order_by(FormDefinition.form_key)
    ).scalars()
    return [form_to_dict(r, with_content=False) for r in rows]


# A repeat that can match more than this many times counts as "unbounded" below.
_BIG_REPEAT = 16
_REPEATS = (sre_c.MAX_REPEAT, sre_c.MIN_REPEAT)
_ZERO_WIDTH = (sre_c.AT, sre_c.ASSERT, sre_c.ASSERT_NOT)


def _nullable(items) -> bool:
    """Can this parsed sequence match the empty string?"""
    for op, av in items:
        if op in _REPEATS:
            if av[0] > 0 and not _nullable(av[2]):
                return False
        elif op == sre_c.SUBPATTERN:
            if not _nullable(av[3]):
                return False
        elif op == sre_c.BRANCH:
            if not any(_nullable(branch) for branch in av[1]):
                return False
        elif op not in _ZERO_WIDTH:
            return False
    return True


def _ambiguous_repeat(items, inside: bool = False, tail_nullable: bool = True) -> bool:
    """True if, inside an unbounded repeat, an unbounded repeat is followed only by optional
    items (``(a+)+``, ``(\\w+\\s?)*``): each input then splits across iterations in
    exponentially many ways. ``([\\w-]+\\.)+`` is fine: every iteration ends with a dot."""
    for i, (op, av) in enumerate(items):
        rest_nullable = tail_nullable and _nullable(items[i + 1:])
        if op in _REPEATS:
            big = av[1] == sre_c.MAXREPEAT or av[1] > _BIG_REPEAT
            if big and inside and rest_nullable:
                return True
            if _ambiguous_repeat(av[2], inside or big, True if big else rest_nullable):
                return True
        elif op == sre_c.SUBPATTERN and _ambiguous_repeat(av[3], inside, rest_nullable):
            return True
        elif op == sre_c.BRANCH and any(_ambiguous_repeat(b, inside, rest_nullable) for b in av[1]):
            return True
    return False


def backtracking_patterns(form: dict) -> list[dict]:
    """``{component, message}`` for every validate.pattern that can backtrack catastrophically.

    Python's ``re`` backtracks: such a pattern takes exponential time on a short crafted
    input (``^(a+)+$`` and 30 characters is ~20 s), so one form submission could hold a
    worker. Call only after :func:`check_form` passed (every pattern compiles).
    """
    errors: list[dict] = []

    def walk(components) -> None:
        for comp in components if isinstance(components, list) else []:
            if not isinstance(comp, dict):
                continue
            rules = comp.get("validate")
            pattern = rules.get("pattern") if isinstance(rules, dict) else None
            if isinstance(pattern, str) and pattern:
                try:
                    risky = _ambiguous_repeat(sre_parse.parse(_js_regex(pattern).pattern, re.ASCII))
                except (re.error, RecursionError, OverflowError):
                    risky = True
                if risky:
                    errors.append({
                        "component": comp.get("key") or comp.get("id") or comp.get("path") or "?",
                        "message": f"validate.pattern {pattern!r} repeats an open-ended repeat (like (a+)+), which can "
                                   "take exponential time on some inputs; make each repetition end with a "
                                   "required separator or drop the outer repeat.",
                    })
            walk(comp.get("components"))

    walk(form.get("components"))
    return errors


def deploy_form(uow, content) -> tuple[FormDefinition, bool]:
    """Store a new version unless the latest one is identical; return (row, created)."""
    if not (uow.actor.has_any(DEPLOYER_ROLES) or uow.actor.username == "system"):
        raise Forbidden("only a process owner or an administrator may deploy forms")
    errors = check_form(content) or backtracking_patterns(content)
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
