"""Applying, extending and verifying seals; the documents of an instance.

* :func:`seal_task` — completing a task marked ``seal=<template>``: re-authenticate the
  head with the seal PIN, render the instance as the template's PDF, sign it (certification
  signature with the visible seal, empty fields for the later signers), store the bytes
  content-addressed and immutable, link them to the instance and audit ``seal_applied``
  with the SHA-256. Any refusal raises :class:`SealRefused` before anything is written.
* :func:`later_signature` — completing a later slot's task (e.g. the clerk's ``maintain``):
  an incremental signature by the system signer into the pre-created field, stored as a
  new document (the sealed one is never rewritten), audited ``seal_countersigned``.
* :func:`verify_bytes` — every signature's integrity, trust, coverage and modifications,
  plus whether these exact bytes are a document sealed here (SHA-256 in the audit trail:
  bytes appended after ``%%EOF`` still pass a PDF validator, but not this check).
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.clock import LOCAL_TZ, utcnow
from engine.errors import Conflict, Forbidden, NotFound
from engine.forms import definitions as formdefs
from engine.forms import lists as option_lists
from engine.forms.model import form_fields
from engine.identity.actor import Actor
from engine.identity.names import split_name
from engine.identity.policy import may_see_task
from engine.runtime import definitions, documents
from engine.seals import credentials, images
from engine.seals.errors import SealRefused
from engine.seals.fonts import cjk_ttf
from engine.seals.keys import fingerprint
from engine.seals.provider import Appearance, SignatureField, Signer, get_provider
from engine.seals.render import DocumentContent, Section, SignerBox, render
from engine.seals.templates import Box, Slot, Template, template
from engine.store.models import AuditEvent, Document, DocumentLink, OrgUnit, ProcessInstance, Task, User

LOCAL = LOCAL_TZ
SEAL_ACTIONS = ("seal_applied", "seal_countersigned")
PIN_FIELD = "seal_pin"
FINGERPRINT_FIELD = "seal_document_sha256"  # the SHA-256 of the previewed document, sent with the PIN


# --------------------------------------------------------------------------- helpers


def _local(value: datetime | None) -> str:
    if value is None:
        return "—"
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo("UTC"))
    return value.astimezone(LOCAL).strftime("%Y-%m-%d %H:%M")


def _display(session: Session, username: str | None) -> str:
    if not username:
        return "—"
    name = session.execute(select(User.display_name).where(User.username == username)).scalar_one_or_none()
    # a Chinese form: the Chinese part of a two-language name (engine/identity/names.py), no login name
    return split_name(name)[0] if name and name != username else username


def _unit_name(session: Session, key: str | None) -> str | None:
    if not key:
        return None
    unit = session.get(OrgUnit, key)
    return split_name(unit.name)[0] if unit is not None else key


def document_font(engine):
    """The CJK font sealed documents are set in (an uploaded one in ``<var_dir>/fonts`` first)."""
    return cjk_ttf(engine.settings.var_dir / "fonts")


def store_pdf(uow, content: bytes, filename: str, doc_id: str, instance_id: str) -> Document:
    """Store a (signed) PDF as a document of ``instance_id``."""
    sha = documents.store_blob(uow.session, content)
    doc = Document(id=doc_id, sha256=sha, filename=filename, size=len(content), content_type="application/pdf",
                   created_at=utcnow(), created_by=uow.actor.username)
    uow.session.add(doc)
    uow.session.add(DocumentLink(document_id=doc_id, instance_id=instance_id))
    return doc


def _filename(tpl: Template, inst, suffix: str) -> str:
    ref = inst.business_key or inst.id[:8]
    return f"{tpl.filename}-{ref}-{suffix}.pdf"


# --------------------------------------------------------------------------- the document's content


def _form_fields(form: dict) -> dict[str, dict]:
    """``{path: {label, type, options, columns}}`` of a form-js form, dynamic lists with their
    columns (the compiled form's fields)."""
    out: dict[str, dict] = {}
    for f in form_fields(form):
        if "[]" in f.path:
            continue  # a dynamic list's column: shown in its list's table
        spec = {"label": f.label or f.key, "type": f.type, "options": f.options}
        if f.type == "dynamiclist":
            spec["columns"] = [(c.key, c.label or c.key, c.options) for c in f.columns]
        out[f.path] = spec
    return out


def _fmt(value, spec: dict | None) -> object:
    options = (spec or {}).get("options") or {}
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, bool):
        return "是" if value else "否"
    if spec and spec.get("type") == "filepicker":
        return f"见附件清单（{len(value) if isinstance(value, list) else 1} 份）"
    if spec and spec.get("type") == "dynamiclist" and isinstance(value, list):
        cols = spec.get("columns") or []
        rows = [[label for _, label, _ in cols]]
        for item in value:
            item = item if isinstance(item, dict) else {}
            rows.append([str(_fmt(item.get(key), {"options": opts})) for key, _, opts in cols])
        return rows if cols else ", ".join(map(str, value))
    if isinstance(value, list):
        return "、".join(str(options.get(str(v), v)) for v in value)
    if isinstance(value, dict):
        return "；".join(f"{k}: {_fmt(v, None)}" for k, v in value.items())
    return str(options.get(str(value), value)) if options else str(value)


def _section(title: str, data: dict, fields: dict[str, dict], seen: set[str], note: str | None = None) -> Section:
    rows = []
    for path, spec in fields.items():
        if "[]" in path or "." in path and path.split(".")[0] in fields:
            continue
        value = _lookup(data, path)
        if value is _MISSING:
            continue
        seen.add(path.split(".")[0])
        rows.append((spec["label"], _fmt(value, spec)))
    return Section(title, rows, note)


_MISSING = object()


def _lookup(data: dict, path: str):
    current = data
    for part in path.split("."):
        if not isinstance(current, dict) or part not in current:
            return _MISSING
        current = current[part]
    return current


def _doc_ids(value, spec) -> list[str]:
    if spec.get("type") == "filepicker" and isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


def _history(session: Session, inst) -> list[tuple]:
    """``(element_id, name, who, when, submitted, form_key, form_version)`` of every completed step."""
    steps = session.execute(
        select(Task).where(Task.instance_id == inst.id, Task.status == "completed").order_by(Task.completed_at, Task.id)
    ).scalars().all()
    return [(t.element_id, t.name or t.element_id, t.completed_by, t.completed_at, t.submitted or {}, t.form_key,
             t.form_version) for t in steps]


def _summary(submitted: dict, fields: dict[str, dict], skip: set[str]) -> str:
    """A step's submission on one line: ``label：value；...`` (tables as ``n 行``)."""
    parts = []
    for key, value in submitted.items():
        if key in skip or key.startswith("_"):
            continue
        spec = fields.get(key)
        shown = _fmt(value, spec)
        if isinstance(shown, list):
            shown = f"{max(len(shown) - 1, 0)} 行"
        parts.append(f"{(spec or {}).get('label') or key}：{shown}")
    return "；".join(parts)


def _opinion(submitted: dict, fields: dict[str, dict], keys: tuple[str, ...]) -> str:
    parts = []
    for key in keys:
        value = submitted.get(key)
        if value in (None, "", []):
            continue
        shown = _fmt(value, fields.get(key))
        parts.append(shown if isinstance(shown, str) else str(shown))
    return "；".join(parts)


def _sections(engine, session: Session, tpl: Template, inst, data: dict,
              steps: list[tuple]) -> tuple[list[Section], list[str], dict[str, tuple]]:
    """The request, the steps that have no box of their own and the other data; the attachments'
    ids; and ``{element id: (step, fields)}`` of the last completion of each boxed step."""
    skip = {s.data_key for s in tpl.slots} | {PIN_FIELD, FINGERPRINT_FIELD}
    seen: set[str] = set(skip)
    attachments: list[str] = []
    sections: list[Section] = []
    start_form = (definitions.by_id(engine, session, inst.definition_id).meta or {}).get("start_form")
    if start_form:
        row = formdefs.latest(session, start_form)
        fields = _form_fields(option_lists.resolve(row.content)) if row is not None else {}  # brands: a managed list
        sections.append(_section("申请内容", data, fields, seen))
        attachments += [d for p, s in fields.items() for d in _doc_ids(_lookup(data, p), s)]
    boxed = {b.source for b in tpl.boxes}
    last = {step[0]: i for i, step in enumerate(steps) if step[0] in boxed}
    in_boxes: dict[str, tuple] = {}
    history: list[tuple[str, str]] = []
    for i, step in enumerate(steps):
        element, name, who, when, submitted, form_key, version = step
        fields = _form_fields(formdefs.form_content(engine, session, form_key, version)) if form_key and version else {}
        seen.update(submitted)
        attachments += [d for p, s in fields.items() for d in _doc_ids(_lookup(submitted, p), s)]
        if last.get(element) == i:
            in_boxes[element] = (step, fields)
        else:
            text = _summary(submitted, fields, skip) or "（无填写内容）"
            history.append((name, f"{_display(session, who)} · {_local(when)}\n{text}"))
    if history:
        sections.append(Section("办理记录", history))
    rest = [(k, _fmt(v, None)) for k, v in data.items() if k not in seen and not k.startswith("_")]
    if rest:
        sections.append(Section("其他数据", rest))
    return sections, list(dict.fromkeys(attachments)), in_boxes


def _attachments(session: Session, ids: list[str]) -> list[dict]:
    rows = session.execute(select(Document).where(Document.id.in_(ids))).scalars().all() if ids else []
    by_id = {d.id: d for d in rows}
    return [{"id": d, "filename": by_id[d].filename if d in by_id else d, "size": by_id[d].size if d in by_id else "—",
             "sha256": by_id[d].sha256 if d in by_id else None} for d in ids]


LATER_SLOT_SIZE = (118.0, 59.0)  # the blue confirmation stamp is twice as wide as high


def _boxes(session: Session, tpl: Template, inst, actor: Actor, today: str, in_boxes: dict[str, tuple]) -> list[SignerBox]:
    """The signer grid: the template's boxes (every slot in one of them) with signer, opinion and date."""
    slots = {s.name: s for s in tpl.slots}
    specs = list(tpl.boxes) or [Box("经办人", "start"), Box(tpl.seal.label, "seal")]
    placed = {b.slot for b in specs if b.slot} | {tpl.seal.name for b in specs if b.source == "seal"}
    specs += [Box(s.label, s.element or s.name, slot=s.name) for s in tpl.slots[1:] if s.name not in placed]
    out = []
    for spec in specs:
        if spec.source == "seal":
            out.append(SignerBox(spec.label, spec.opinion or tpl.seal.reason, _person(session, actor.username), today,
                                 slot=tpl.seal.name, slot_label="电子公章"))
            continue
        if spec.source == "start":
            signer, date, opinion = _person(session, inst.started_by), _local(inst.started_at)[:10], spec.opinion
            if spec.opinion_keys:
                opinion = _opinion(inst.data or {}, {}, spec.opinion_keys) or opinion
        elif spec.source in in_boxes:
            (_, _, who, when, submitted, _, _), fields = in_boxes[spec.source]
            signer, date = _person(session, who), _local(when)[:10]
            opinion = _opinion(submitted, fields, spec.opinion_keys) or spec.opinion
        else:
            signer, date, opinion = "", "", spec.opinion
        slot = slots.get(spec.slot) if spec.slot else None
        out.append(SignerBox(spec.label, opinion, signer, date, slot=slot.name if slot else None,
                             slot_label=slot.label if slot else "", size=LATER_SLOT_SIZE))
    return out


def _person(session: Session, username: str | None) -> str:
    """The name a signer box shows: the user's display name (the username when there is none)."""
    if not username:
        return ""
    name = session.execute(select(User.display_name).where(User.username == username)).scalar_one_or_none()
    return split_name(name)[0] if name else username


def document_id(tpl: Template, task_id: str) -> str:
    """The id of the document a seal task produces: derived from the task, so that the document
    previewed on the task's page and the one signed are the same bytes."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"bpm-seal:{tpl.key}:{task_id}"))


def build_content(engine, session: Session, tpl: Template, inst, data: dict, actor: Actor, doc_id: str,
                  current: dict | None = None, today: str | None = None) -> DocumentContent:
    """Everything the document shows: reference, header, request, the steps, attachments, signer grid.

    Only stored facts and the date (China time) go in, so the same case gives the same
    document all day: what the head previews is what is signed. The seal step's own submission
    (the confirmation, the PIN) is not part of the document; ``current`` is accepted for
    compatibility and ignored.
    """
    definition = definitions.by_id(engine, session, inst.definition_id)
    today = today or _local(utcnow())[:10]
    sections, attachments, in_boxes = _sections(engine, session, tpl, inst, data, _history(session, inst))
    ca = credentials.trust_roots(session)
    ca_print = fingerprint(ca[-1]) if ca else "—"
    # the case's reference, and a business key given at start (an outside system's number) beside it
    numbers = [("业务编号", inst.reference)] if inst.reference else []
    if inst.business_key and inst.business_key != inst.reference:
        numbers.append(("外部编号" if inst.reference else "业务编号", inst.business_key))
    reference = numbers + [
        ("文件编号", doc_id[:8].upper()), ("制表日期", today)]
    header = [
        ("申请单位", _unit_name(session, inst.org_unit) or "—"),
        ("申请人", _display(session, inst.started_by)),
        ("申请时间", _local(inst.started_at)),
        ("流程", f"{split_name(definition.name or definition.key)[0]}（第 {definition.version} 版）"),
    ]
    provider = get_provider()
    organisation = engine.settings.seals.organisation
    footer = (f"本文件由{organisation}业务流程平台生成（文件编号 {doc_id}，实例编号 {inst.id}），以 {provider.level} "
              f"数字签名加盖电子公章；签章后对文件的任何改动都会使签章失效。"
              f"核验：PDF 阅读器、`bpm seal verify 文件` 或 GET /api/documents/{doc_id}/verification。"
              f"电子印章 CA 证书指纹（SHA-256）：{ca_print}")
    return DocumentContent(title=tpl.title, subtitle=tpl.subtitle, intro=tpl.intro, header=header, sections=sections,
                           attachments=_attachments(session, attachments),
                           boxes=_boxes(session, tpl, inst, actor, today, in_boxes),
                           footer=footer, author=organisation, reference=reference)


# --------------------------------------------------------------------------- sealing


def _where(task, inst) -> dict:
    return {"instance_id": inst.id, "task_id": task.id, "element_id": task.element_id}


UNLOCKED = "seal_unlocked"  # uow.secrets key of the seal opened before the transaction (reauthenticate)


def reauthenticate(engine, actor: Actor, task_id: str, data: dict) -> dict:
    """Before a seal step's transaction: the submission is checked against the form, then the
    head's PIN opens their seal (counted and audited by :func:`credentials.open_seal`). Returns
    the secrets the transaction uses (the opened seal, and the SHA-256 of the document the
    head previewed when the page sent it)."""
    from engine.runtime.instances import validate_form_data

    expected = data.get(FINGERPRINT_FIELD)
    data = without_fingerprint(data)
    with engine.read() as session:
        task = session.get(Task, task_id)
        if task is None:
            raise NotFound(f"task {task_id!r} not found")
        inst = session.get(ProcessInstance, task.instance_id)
        if task.form_key:
            validate_form_data(session, engine, task.form_key, task.form_version, data)
        unit = inst.org_unit if inst is not None else None
        where = {"instance_id": task.instance_id, "task_id": task.id, "element_id": task.element_id}
    pin = data.get(PIN_FIELD)
    unlocked = credentials.open_seal(engine, actor, pin if isinstance(pin, str) else None, unit, where)
    return {UNLOCKED: unlocked, EXPECTED: expected if isinstance(expected, str) else None}


EXPECTED = "seal_expected_sha256"  # uow.secrets key: the previewed document's SHA-256


def without_fingerprint(data: dict) -> dict:
    """The submission without the previewed document's SHA-256 (not a form field, never stored)."""
    if isinstance(data, dict) and FINGERPRINT_FIELD in data:
        return {k: v for k, v in data.items() if k != FINGERPRINT_FIELD}
    return data


def seal_task(engine, uow, task, inst, spiff_task, cleaned: dict, template_key: str) -> dict:
    """Seal the instance's document while completing ``task``; returns the data to store.

    Only a head of the unit that owns the instance, with that unit's seal, opened with their
    PIN by :func:`reauthenticate` before this transaction began. When the page sent the SHA-256
    of the document it showed, the document signed must have exactly that SHA-256."""
    tpl = template(template_key)
    slot = tpl.seal
    actor = uow.actor
    where = _where(task, inst)
    if not actor.has_any(slot.roles):
        raise SealRefused(f"only {', '.join(slot.roles)} may apply this seal", actor=actor, reason="role", **where)
    unlocked = uow.secrets[UNLOCKED]
    if unlocked.row.username != actor.username:
        raise SealRefused("the seal was opened by someone else", actor=actor, reason="role", **where)
    if inst.org_unit is not None and (actor.org_unit != inst.org_unit or unlocked.row.org_unit != inst.org_unit):
        raise SealRefused(f"only a head of org unit {inst.org_unit} may seal its cases, with its seal", actor=actor,
                          reason="unit", **where)
    doc = seal_document(engine, uow, tpl, inst, task, dict(inst.data or {}), unlocked,
                        expected_sha256=uow.secrets.get(EXPECTED))
    return {**cleaned, slot.data_key: doc.id}


def unsigned_document(engine, session: Session, tpl: Template, inst, task_id: str, actor: Actor,
                      data: dict | None = None) -> tuple[bytes, dict[str, SignatureField], str]:
    """``(pdf, signature boxes, document id)``: the document the seal task ``task_id`` signs,
    before it is signed. Deterministic for a case, a signer and a day."""
    doc_id = document_id(tpl, task_id)
    content = build_content(engine, session, tpl, inst, dict(inst.data or {}) if data is None else data, actor, doc_id)
    pdf, positions = render(content, document_font(engine))
    return pdf, positions, doc_id


def seal_document(engine, uow, tpl: Template, inst, task, data: dict, unlocked, current: dict | None = None,
                  expected_sha256: str | None = None) -> Document:
    """Render, sign, store and audit; the building block of :func:`seal_task` (and the benchmark)."""
    actor, session = uow.actor, uow.session
    slot = tpl.seal
    pdf, positions, doc_id = unsigned_document(engine, session, tpl, inst, task.id, actor, data)
    sha = hashlib.sha256(pdf).hexdigest()
    if expected_sha256 and sha != expected_sha256.strip().lower():
        raise SealRefused("the document changed after it was shown: review it again before sealing", actor=actor,
                          reason="changed", details={"previewed_sha256": expected_sha256[:64], "sha256": sha},
                          **_where(task, inst))
    unit = inst.org_unit or actor.org_unit  # the seal of the unit that owns the case
    png, _ = images.unit_seal(session, unit, engine.settings.seals.organisation)
    signer = Signer(unlocked.key, unlocked.certificate, unlocked.chain, name=_display(session, actor.username),
                    reason=slot.reason, location=_unit_name(session, unit))
    provider = get_provider()
    later = [positions[s.name] for s in tpl.slots[1:]]
    sealed = provider.sign(pdf, signer, positions[slot.name], Appearance(png), certify=True, prepare=later)
    doc = store_pdf(uow, sealed, _filename(tpl, inst, "sealed"), doc_id, inst.id)
    cert = unlocked.certificate
    uow.audit("seal_applied", instance_id=inst.id, task_id=task.id, element_id=task.element_id,
              document_id=doc.id, sha256=doc.sha256, size=doc.size, template=tpl.key, field=slot.name,
              signer=actor.username, certificate_serial=unlocked.row.serial, certificate_fingerprint=unlocked.row.fingerprint,
              certificate_subject=cert.subject.rfc4514_string(), provider=provider.name, level=provider.level,
              empty_fields=[f.name for f in later], unsigned_sha256=sha, previewed=bool(expected_sha256))
    return doc


def seal_preview(engine, session: Session, actor: Actor, task_id: str) -> dict | None:
    """What the seal task ``task_id`` will sign if ``actor`` seals it now: ``{pdf, sha256,
    document_id, pages, template, field}``; ``None`` when the task is no open seal step. Only
    who may see the task sees it."""
    from engine.store.records import load_instance

    task = session.get(Task, task_id)
    if task is None:
        raise NotFound(f"task {task_id!r} not found")
    if not may_see_task(session, actor, task):
        raise Forbidden("you may not see this task")
    key = (task.properties or {}).get("seal") if task.status == "open" else None
    if not key:
        return None
    tpl = template(key)
    inst = load_instance(session, task.instance_id)
    pdf, positions, doc_id = unsigned_document(engine, session, tpl, inst, task.id, actor)
    return {"pdf": pdf, "sha256": hashlib.sha256(pdf).hexdigest(), "document_id": doc_id, "template": tpl.key,
            "field": positions[tpl.seal.name], "pages": pdf_page_count(pdf)}


def pdf_page_count(pdf: bytes) -> int:
    import io

    from pyhanko.pdf_utils.reader import PdfFileReader

    return int(PdfFileReader(io.BytesIO(pdf), strict=False).root["/Pages"]["/Count"])


def _template_of(engine, session: Session, inst) -> Template | None:
    definition = definitions.by_id(engine, session, inst.definition_id)
    for info in ((definition.meta or {}).get("elements") or {}).values():
        key = (info.get("properties") or {}).get("seal")
        if key:
            return template(key)
    return None


def later_signature(engine, uow, task, inst, spiff_task, cleaned: dict) -> dict:
    """If ``task`` is a later slot of the instance's sealed document, sign it incrementally."""
    tpl = _template_of(engine, uow.session, inst)
    slot = tpl.later(task.element_id) if tpl is not None else None
    if slot is None:
        return cleaned
    data = inst.data or {}
    index = tpl.slots.index(slot)
    prior_id = next((data[s.data_key] for s in reversed(tpl.slots[:index]) if data.get(s.data_key)), None)
    if prior_id is None:
        return cleaned
    doc = countersign(engine, uow, tpl, slot, inst, task, prior_id)
    return {**cleaned, slot.data_key: doc.id}


def countersign(engine, uow, tpl: Template, slot: Slot, inst, task, prior_id: str) -> Document:
    actor, session = uow.actor, uow.session
    if not actor.has_any(slot.roles):
        raise Forbidden(f"only {', '.join(slot.roles)} may sign {slot.label}")
    prior = documents.get(session, prior_id)
    content = documents.content(session, prior)
    if hashlib.sha256(content).hexdigest() != prior.sha256:  # pragma: no cover - blobs are content-addressed
        raise Conflict("the stored sealed document does not match its SHA-256")
    system = credentials.unlock_system(session, engine.settings)
    now_local = _local(utcnow())[:10]
    name = _display(session, actor.username)
    person = actor.display_name or actor.username
    stamp = images.confirmation_stamp(("已确认", slot.label.split("（")[0], person.split(" (")[0][:16], now_local))
    signer = Signer(system.key, system.certificate, system.chain, name=name, reason=slot.reason,
                    location=_unit_name(session, inst.org_unit or actor.org_unit))
    provider = get_provider()
    signed = provider.sign(content, signer, SignatureField(slot.name, 0, (0, 0, 0, 0), slot.label), Appearance(stamp))
    doc = store_pdf(uow, signed, _filename(tpl, inst, slot.name), str(uuid.uuid4()), inst.id)
    uow.audit("seal_countersigned", instance_id=inst.id, task_id=task.id, element_id=task.element_id,
              document_id=doc.id, sha256=doc.sha256, size=doc.size, template=tpl.key, field=slot.name,
              signer=actor.username, previous_document_id=prior.id, previous_sha256=prior.sha256,
              certificate_serial=system.row.serial, certificate_fingerprint=system.row.fingerprint,
              provider=provider.name, level=provider.level)
    return doc


# --------------------------------------------------------------------------- verification


def _recorded(session: Session, sha: str) -> dict | None:
    """The ``seal_applied``/``seal_countersigned`` event that recorded exactly these bytes."""
    doc_ids = list(session.execute(select(Document.id).where(Document.sha256 == sha)).scalars())
    if not doc_ids:
        return None
    instance_ids = list(session.execute(
        select(DocumentLink.instance_id).where(DocumentLink.document_id.in_(doc_ids))).scalars())
    if not instance_ids:
        return None
    events = session.execute(
        select(AuditEvent).where(AuditEvent.instance_id.in_(instance_ids), AuditEvent.action.in_(SEAL_ACTIONS))
        .order_by(AuditEvent.seq)
    ).scalars()
    for ev in events:
        details = ev.details or {}
        if details.get("sha256") == sha and details.get("document_id") in doc_ids:
            return {"document_id": details["document_id"], "instance_id": ev.instance_id, "action": ev.action,
                    "audit_seq": ev.seq, "at": ev.at, "actor": ev.actor, "field": details.get("field")}
    return None


def verify_bytes(session: Session, pdf: bytes, extra_roots=()) -> dict:
    report = get_provider().verify(pdf, credentials.trust_roots(session) + list(extra_roots))
    out = report.to_dict()
    record = _recorded(session, report.sha256)
    out["recorded"] = record
    out["matches_record"] = record is not None
    if record is None:
        out["problems"].append("these bytes are not a document sealed here: no seal_applied/seal_countersigned "
                               "audit event has this SHA-256 (changed, extended or from elsewhere)")
    out["valid"] = bool(report.signatures_ok and record is not None)
    return out


def verify_document(engine, uow, doc_id: str) -> dict:
    doc = documents.read(uow.session, uow.actor, doc_id)
    report = verify_bytes(uow.session, doc.body)
    report["document_id"] = doc.id
    report["filename"] = doc.filename
    uow.audit("seal_verified", document_id=doc.id, sha256=report["sha256"], valid=report["valid"],
              signatures=[s["field"] for s in report["signatures"]])
    return report


# --------------------------------------------------------------------------- documents of an instance


def _seal_events(session: Session, instance_id: str) -> dict[str, AuditEvent]:
    rows = session.execute(select(AuditEvent).where(AuditEvent.instance_id == instance_id,
                                                    AuditEvent.action.in_(SEAL_ACTIONS))).scalars()
    return {(ev.details or {}).get("document_id"): ev for ev in rows}


def _listing(session: Session, instance_id: str, task_id: str | None = None) -> dict:
    docs = session.execute(
        select(Document).join(DocumentLink, DocumentLink.document_id == Document.id)
        .where(DocumentLink.instance_id == instance_id).order_by(Document.created_at, Document.id)
    ).scalars().all()
    events = _seal_events(session, instance_id)
    items = []
    for doc in docs:
        item = documents.document_to_dict(doc)
        ev = events.get(doc.id)
        item.update(
            kind={"seal_applied": "sealed", "seal_countersigned": "countersigned"}.get(ev.action) if ev else "attachment",
            field=(ev.details or {}).get("field") if ev else None,
            signed_by=ev.actor if ev else None,
            signed_at=ev.at if ev else None,
            task_id=ev.task_id if ev else None,
            download=f"/api/documents/{doc.id}",
            verification=f"/api/documents/{doc.id}/verification",
        )
        if task_id is not None:
            item["from_this_task"] = bool(ev and ev.task_id == task_id)
        items.append(item)
    return {"instance_id": instance_id, "items": items}


def instance_documents(session: Session, actor: Actor, instance_id: str) -> dict:
    from engine.runtime.instances import get_readable

    get_readable(session, actor, instance_id)
    return _listing(session, instance_id)


def task_documents(session: Session, actor: Actor, task_id: str) -> dict:
    task = session.get(Task, task_id)
    if task is None:
        raise NotFound(f"task {task_id!r} not found")
    if not may_see_task(session, actor, task):
        raise Forbidden("you may not see this task")
    out = _listing(session, task.instance_id, task_id)
    out["task_id"] = task_id
    return out
