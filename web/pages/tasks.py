"""The tasklist, a task's page with its form (and the seal step), completing it, documents and uploads."""

from __future__ import annotations

from datetime import datetime

from flask import (
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)

from engine.clock import utcnow
from engine.errors import EngineError
from engine.forms.model import form_fields, without_component
from engine.runtime import documents, references, tasks, worklist
from engine.seals.errors import SealRefused
from web.context import current_engine
from web.downloads import file_response
from web.i18n import current_language, t
from web.messages import page_message
from web.pages.common import (
    LIST_SIZE,
    _aware,
    _badge,
    _error_page,
    _json_error,
    _process_names,
    bp,
    log,
    signed_in,
)
from web.presentation import cases as case_lists
from web.presentation.summary import case_sections
from web.ratelimits import per_user


@bp.get("/tasks")
@signed_in()
def tasklist():
    actor = g.page_actor
    process = request.args.get("process") or None
    now = utcnow()
    with current_engine().read() as db:
        names = _process_names(db)
        sections = {}
        for scope in ("mine", "candidate"):
            items = tasks.list_tasks(db, actor, scope, None, 1, LIST_SIZE)["items"]
            sections[scope] = items
    keys = sorted({task["process_key"] for items in sections.values() for task in items} | ({process} if process else set()))
    for items in sections.values():
        for task in items:
            task["badge"] = _badge(task, now)
            task["process_name"] = names.get(task["process_key"], task["process_key"])
    units = sorted({task["org_unit"] for items in sections.values() for task in items if task.get("org_unit")})
    known = sorted(task["id"] for items in sections.values() for task in items)  # what the page's polling compares
    due, unit = request.args.get("due") or "", request.args.get("unit") or ""
    keep = _task_filter(process, due if due in DUE_FILTERS else "", unit, now)
    sections = {scope: [task for task in items if keep(task)] for scope, items in sections.items()}
    q = " ".join(request.args.get("q", "").split())[:100] or None
    sections, paging = _search_and_page(sections, q)
    return render_template("tasks.html", sections=sections, processes=[(k, names.get(k, k)) for k in keys],
                           process=process, due=due, unit=unit, units=units, due_filters=DUE_FILTERS, known=known,
                           q=q, paging=paging, page_window=case_lists.page_window)


TASKS_PER_PAGE = 20


def _search_and_page(sections: dict, q: str | None) -> tuple[dict, dict]:
    """The sections' tasks whose case matches ``q`` (reference, list fields: engine/runtime/references.py),
    each section paged by its own ``page_<scope>``; every task shown carries its case's reference and
    list fields. ``{scope: {page, pages, total}}`` is the paging."""
    engine = current_engine()
    ids = [task["instance_id"] for items in sections.values() for task in items]
    with engine.read() as db:
        found = references.matching(db, ids, q)
        if found is not None:
            sections = {scope: [task for task in items if task["instance_id"] in found] for scope, items in sections.items()}
        paging, shown = {}, {}
        for scope, items in sections.items():
            try:
                wanted = int(request.args.get(f"page_{scope}", 1))
            except ValueError:
                wanted = 1
            shown[scope], page, pages = case_lists.page_slice(items, wanted, TASKS_PER_PAGE)
            paging[scope] = {"page": page, "pages": pages, "total": len(items)}
        cases = references.cases(engine, db, [task["instance_id"] for items in shown.values() for task in items])
    language = current_language()
    for items in shown.values():
        for task in items:
            task["case"] = case_lists.describe(cases.get(task["instance_id"]), task["instance_id"], language)
    return shown, paging


DUE_FILTERS = ("overdue", "today", "with_due")


def _task_filter(process: str | None, due: str, unit: str, now: datetime):
    """Tasklist filters: process, due (overdue / due today in China time / has a due date), unit."""

    def keep(task: dict) -> bool:
        if process and task["process_key"] != process:
            return False
        if unit and task.get("org_unit") != unit:
            return False
        deadline = _aware(task.get("due_at"))
        if due == "with_due" and deadline is None:
            return False
        if due == "overdue" and not worklist.is_overdue(task, now):
            return False
        if due == "today" and not worklist.is_due_today(task, now):
            return False
        return True

    return keep


def _back_to_list():
    process = request.form.get("process")
    return redirect(url_for("pages.tasklist", process=process) if process else url_for("pages.tasklist"))


def _task_action(action, task_id: str, done_message: str, then_open: bool = False):
    """Claim or release from the tasklist: flash the outcome and go back to the list (``then_open``:
    a claim by 办理 opens the claimed task's page instead)."""
    try:
        with current_engine().uow(g.page_actor) as uow:
            action(uow, task_id)
    except EngineError as exc:
        if exc.status == 404:
            return _error_page(exc)
        flash(page_message(exc), "error")
        return _back_to_list()
    if then_open:
        return redirect(url_for("pages.task_page", task_id=task_id))
    flash(t(done_message), "ok")
    return _back_to_list()


@bp.post("/tasks/<task_id>/claim")
@signed_in()
def claim(task_id: str):
    """认领; with ``open=1`` (the tasklist's one 办理 button of a claimable task) the task opens."""
    return _task_action(tasks.claim, task_id, "claimed", then_open=request.form.get("open") == "1")


@bp.post("/tasks/<task_id>/unclaim")
@signed_in()
def unclaim(task_id: str):
    return _task_action(tasks.unclaim, task_id, "unclaimed")


PIN_KEY = "seal_pin"  # the seal PIN: a password input of the page, never part of the rendered form


def _seal_step(db, task: dict, actor) -> dict | None:
    """What the seal section of a task marked ``seal=<template>`` shows: who seals what."""
    from engine.seals.templates import template
    from engine.store.models import ProcessInstance

    key = (task.get("properties") or {}).get("seal")
    if not key or task["status"] != "open":
        return None
    try:
        tpl = template(key)
    except EngineError:
        return None
    inst = db.get(ProcessInstance, task["instance_id"])
    return {"title": tpl.title, "subtitle": tpl.subtitle, "slot": tpl.seal.label, "reason": tpl.seal.reason,
            "signer": actor.display_name or actor.username, "username": actor.username, "unit": actor.org_unit,
            "reference": (inst.business_key if inst is not None else None) or task["instance_id"][:8],
            "pin_in_form": bool(task.get("form")) and any(f.path == PIN_KEY for f in form_fields(task["form"])),
            "preview": _seal_preview(db, task["id"], actor)}


_PREVIEWS: dict[tuple[str, str, str], bytes] = {}  # (task, user, sha256) -> the unsigned PDF shown on the page


def _seal_preview(db, task_id: str, actor) -> dict | None:
    """The exact PDF the seal step signs, drawn as page images, with its SHA-256 (the page
    sends it back with the PIN; the engine refuses to seal a document that has changed)."""
    from engine.seals.service import seal_preview

    try:
        preview = seal_preview(current_engine(), db, actor, task_id)
    except EngineError:
        return None
    if preview is None:
        return None
    sha = preview["sha256"]
    if len(_PREVIEWS) > 64:
        _PREVIEWS.clear()
    _PREVIEWS[(task_id, actor.username, sha)] = preview["pdf"]
    return {"sha256": sha, "document_id": preview["document_id"], "pages": [
        url_for("pages.seal_preview_page", task_id=task_id, sha=sha, page=n) for n in range(1, preview["pages"] + 1)],
        "pdf": url_for("pages.seal_preview_pdf", task_id=task_id, sha=sha)}


def _previewed_pdf(task_id: str, sha: str) -> bytes:
    """The previewed PDF with this SHA-256 (generated again when this process has not kept it);
    404 when the document has changed since (the page must be reloaded)."""
    from engine.errors import NotFound
    from engine.seals.service import seal_preview

    actor = g.page_actor
    pdf = _PREVIEWS.get((task_id, actor.username, sha))
    if pdf is None:
        with current_engine().read() as db:
            preview = seal_preview(current_engine(), db, actor, task_id)
        if preview is None or preview["sha256"] != sha:
            raise NotFound(t("seal_preview_changed"))
        pdf = _PREVIEWS[(task_id, actor.username, sha)] = preview["pdf"]
    return pdf


@bp.get("/tasks/<task_id>/seal-preview/<sha>/page-<int:page>.png")
@signed_in()
def seal_preview_page(task_id: str, sha: str, page: int):
    """Page ``page`` (1-based) of the document the seal step will sign, as a PNG."""
    from engine.errors import NotFound
    from engine.seals.raster import page_png

    try:
        pdf = _previewed_pdf(task_id, sha)
        try:
            image = page_png(pdf, page - 1)
        except IndexError:
            raise NotFound(f"the document has no page {page}") from None
    except EngineError as exc:
        return _error_page(exc)
    response = file_response(image, f"page-{page}.png", "image/png", f"{sha}-{page}", "inline")
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/tasks/<task_id>/seal-preview/<sha>.pdf")
@signed_in()
def seal_preview_pdf(task_id: str, sha: str):
    """The unsigned PDF the seal step will sign (the same bytes as the page images)."""
    try:
        pdf = _previewed_pdf(task_id, sha)
    except EngineError as exc:
        return _error_page(exc)
    response = file_response(pdf, f"preview-{sha[:12]}.pdf", "application/pdf", sha, "inline")
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _signed_documents(engine, actor, task_id: str) -> dict | None:
    """The sealed (and countersigned) PDFs of the task's instance, the latest one verified."""
    from engine.seals.service import task_documents, verify_document

    with engine.read() as db:
        listing = task_documents(db, actor, task_id)
    signed = [d for d in listing["items"] if d.get("kind") in ("sealed", "countersigned")]
    if not signed:
        return None
    latest = signed[-1]
    report = None
    try:
        with engine.uow(actor) as uow:  # the same audited verification as GET /api/documents/<id>/verification
            report = verify_document(engine, uow, latest["id"])
    except EngineError as exc:
        log.warning("verification of %s failed: %s", latest["id"], exc.message)
    except Exception:  # noqa: BLE001 - a broken document must not break the task page
        log.exception("verification of %s failed", latest["id"])
    signers = [{"signer": s.get("signer") or s.get("signer_subject") or "—", "field": s.get("field"),
                "time": s.get("timestamp") or s.get("signing_time"), "ok": s.get("ok")}
               for s in (report or {}).get("signatures") or []]
    return {"items": signed, "latest": latest, "report": report, "signers": signers}


@bp.get("/tasks/<task_id>")
@signed_in()
def task_page(task_id: str):
    engine = current_engine()
    try:
        with engine.read() as db:
            task = tasks.get_task(engine, db, g.page_actor, task_id)
            process_name = _process_names(db).get(task["process_key"], task["process_key"])
            seal = _seal_step(db, task, g.page_actor)
            # the case so far, read-only above the form (its earlier rounds of this step are shown apart)
            case_summary = case_sections(engine, db, task["instance_id"], current_language(),
                                         skip_element=task["element_id"] if task.get("history") else None)
            case_ref = case_lists.describe(references.cases(engine, db, [task["instance_id"]]).get(task["instance_id"]),
                                           task["instance_id"], current_language())
        signed = _signed_documents(engine, g.page_actor, task_id)
    except EngineError as exc:
        return _error_page(exc)
    task["badge"] = _badge(task, utcnow())
    schema = without_component(task["form"], PIN_KEY) if seal else task["form"]
    return render_template("task.html", task=task, process_name=process_name, form_schema=schema,
                           form_data=task["data"], submit_url=url_for("pages.complete", task_id=task_id),
                           seal=seal, signed=signed, case_summary=case_summary, case_id=task["instance_id"],
                           case_link=True, case_collapse_phone=True, case_ref=case_ref)


def _refusal(exc: SealRefused) -> str:
    """The Chinese/English message of a refused seal (never the PIN itself)."""
    details = exc.details if isinstance(exc.details, dict) else {}
    if exc.reason == "wrong_pin":
        left = details.get("attempts_left")
        return t("seal_wrong_pin") + (t("seal_attempts_left").format(n=left) if left is not None else "")
    if exc.reason in ("no_pin", "locked", "no_seal", "role", "expired", "unit", "seal_unit", "changed"):
        return t(f"seal_refused_{exc.reason}")
    return f"{t('seal_refused')}：{page_message(exc)}"


@bp.post("/tasks/<task_id>/complete")
@signed_in(json_endpoint=True)
@per_user("completions")
def complete(task_id: str):
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("data"), dict):
        return jsonify({"message": t("bad_request")}), 400
    engine = current_engine()
    since = utcnow()
    try:
        done, inst, linked = tasks.complete_task(engine, g.page_actor, task_id, body["data"],
                                                 describe=lambda session, inst: _linked_starts(session, inst, since))
        marked = (done.get("properties") or {}).get("seal")
        sealed = (getattr(inst, "data", None) or {}).get("sealed_document") if marked else None
    except SealRefused as exc:  # rolled back: nothing sealed, the task stays open; the unit of work audited it
        message = _refusal(exc)
        return jsonify({"error": exc.code, "reason": exc.reason, "message": message, "details": exc.details,
                        "errors": {PIN_KEY: [message]}}), exc.status
    except EngineError as exc:
        return _json_error(exc)
    if sealed:
        flash(t("sealed_ok"), "ok")
        return jsonify({"ok": True, "sealed_document": sealed,
                        "redirect": url_for("pages.task_page", task_id=task_id)})
    flash(t("completed"), "ok")
    answer = {"ok": True, "redirect": url_for("pages.tasklist")}
    if linked:  # e.g. a technical problem at the counter became a technical complaint: the clerk is told
        for message in linked:
            flash(message, "ok")
        answer["linked"] = linked
    return jsonify(answer)


def _linked_starts(session, inst, since) -> list[dict]:
    """The flashes of the instances this completion started through a linked start (``startProcess``
    throw events, engine/runtime/linked.py): their name, reference and link."""
    from sqlalchemy import select

    from engine.store.models import ProcessDefinition, ProcessInstance
    from web.pages.start import started_message

    session.flush()
    rows = session.execute(
        select(ProcessInstance, ProcessDefinition.name)
        .join(ProcessDefinition, ProcessDefinition.id == ProcessInstance.definition_id)
        .where(ProcessInstance.started_at >= since, ProcessInstance.started_by == g.page_actor.username,
               ProcessInstance.id != inst.id)
        .order_by(ProcessInstance.started_at, ProcessInstance.id)
    ).all()
    return [started_message(child, name, "linked_started") for child, name in rows
            if ((child.data or {}).get("linked_from") or {}).get("instance_id") == inst.id]


@bp.get("/documents/<doc_id>")
@signed_in()
def document(doc_id: str):
    """A document's bytes for the signed-in user, inline (PDF preview) or ``?download=1`` as an attachment.

    Readable by the uploader, administrators and auditors, and whoever may read an instance
    using it: the rule of ``GET /api/documents/<id>``.
    """
    try:
        with current_engine().read() as db:
            doc = documents.read(db, g.page_actor, doc_id)
    except EngineError as exc:
        return _error_page(exc)
    body, filename, content_type, sha = doc.body, doc.filename, doc.content_type, doc.sha256
    inline = request.args.get("download") != "1" and content_type == "application/pdf"
    response = file_response(body, filename, content_type if inline else (content_type or "application/octet-stream"),
                             sha, "inline" if inline else "attachment")
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.post("/uploads")
@signed_in(json_endpoint=True)
@per_user("uploads")
def upload():
    """A file for a filepicker field: stored as a document, its id becomes the field's value."""
    engine = current_engine()
    file = request.files.get("file")
    if file is None:
        return jsonify({"message": t("no_file"), "errors": {"file": [t("no_file")]}}), 400
    content = file.read(engine.settings.max_upload_bytes + 1)
    try:
        with engine.uow(g.page_actor) as uow:
            doc = documents.upload(uow, engine.settings, file.filename, file.mimetype, content)
            out = documents.document_to_dict(doc)
    except EngineError as exc:
        return _json_error(exc)
    return jsonify({"id": out["id"], "filename": out.get("filename")}), 201


