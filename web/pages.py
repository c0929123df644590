"""Browser pages: session sign-in with CSRF protection, the tasklist, task forms and the start page.

A browser session cookie holds only the id of a server-side session (``bpm_api_token`` rows of
kind ``session``, never accepted as an API bearer token), so revocation (logout, admin,
password change) ends browser sessions exactly like API tokens. Pages call the engine
services directly (never the HTTP API); every POST carries the CSRF token, as a form
field or, for ``fetch`` calls, in the ``X-CSRFToken`` header.
"""

from __future__ import annotations

import copy
import logging
from datetime import UTC, datetime
from functools import wraps

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from sqlalchemy import select

from engine.clock import utcnow
from engine.errors import EngineError, Forbidden, ServiceUnavailable, ValidationFailed
from engine.forms import definitions as formdefs
from engine.identity import auth as identity
from engine.identity.roles import ROLES
from engine.runtime import definitions, documents, instances, tasks
from engine.seals.errors import SealRefused
from engine.store.models import OrgUnit
from web.downloads import file_response
from web.i18n import LANGUAGES, current_language, t
from web.ratelimits import client_address, per_address, per_user

bp = Blueprint("pages", __name__)
log = logging.getLogger(__name__)


def _engine():
    return current_app.extensions["bpm"]


SESSION_KEY = "sid"  # the cookie holds only the id of a server-side session (never an API bearer token)


def session_actor():
    """The signed-in user of this browser session, or None."""
    sid = session.get(SESSION_KEY)
    if not sid:
        return None
    try:
        with _engine().read() as db:
            return identity.authenticate(db, sid, kind="session")
    except ServiceUnavailable:
        raise  # the database is away: keep the session, show the 503 page
    except EngineError:
        session.clear()
        return None


def _who(actor) -> dict | None:
    """The signed-in user's roles and unit as people read them (names in the page language,
    not keys); the keys stay available to the template through ``me``."""
    if actor is None:
        return None
    zh = current_language().startswith("zh")
    roles = [ROLES[r][0 if zh else 1] if r in ROLES else r for r in sorted(actor.roles)]
    unit = actor.org_unit
    if unit and not g.get("database_unavailable"):
        try:
            with _engine().read() as db:
                name = db.scalar(select(OrgUnit.name).where(OrgUnit.key == unit))
            unit = name or unit
        except EngineError:  # the database is away: the error page still shows who is signed in
            pass
    return {"roles": ("、" if zh else ", ").join(roles), "unit": unit}


@bp.app_context_processor
def inject():
    me = getattr(g, "page_actor", None)
    return {"t": t, "lang": current_language(), "me": me, "who": _who(me)}


@bp.get("/")
def home():
    g.page_actor = session_actor()
    if g.page_actor is None:
        return redirect(url_for("pages.login"))
    return render_template("home.html")


@bp.route("/login", methods=["GET", "POST"])
@per_address("logins")
@per_address("failed_logins", failures_only=True)
def login():
    error = None
    if request.method == "POST":
        engine = _engine()
        result = identity.login(engine, request.form.get("username", "")[:64], request.form.get("password", ""),
                                engine.settings.token_ttl_seconds, address=client_address(), kind="session")
        if result.error is None:
            lang = session.get("lang")
            session.clear()  # no session fixation: a fresh session after sign-in
            session[SESSION_KEY] = result.token
            if lang:
                session["lang"] = lang
            return redirect(url_for("pages.home"))
        error = t("throttled") if result.error.status == 429 else t("bad_login")
    return render_template("login.html", error=error), (401 if error else 200)


@bp.post("/logout")
def logout():
    sid = session.get(SESSION_KEY)
    if sid:
        with _engine().uow(identity.SYSTEM) as uow:
            identity.revoke_token(uow.session, sid)
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    return redirect(url_for("pages.login"))


@bp.get("/lang/<code>")
def set_language(code: str):
    if code in LANGUAGES:
        session["lang"] = code
    target = request.referrer or url_for("pages.home")
    return redirect(target if target.startswith(request.host_url) else url_for("pages.home"))


# --------------------------------------------------------------------------- helpers

LIST_SIZE = 200  # tasks shown per section (the API pages further; a counter never has more open)


def signed_in(json_endpoint: bool = False):
    """Require a browser session: pages redirect to sign-in, JSON endpoints answer 401."""

    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            g.page_actor = session_actor()
            if g.page_actor is None:
                if json_endpoint:
                    return jsonify({"message": t("signed_out")}), 401
                return redirect(url_for("pages.login"))
            return view(*args, **kwargs)

        return wrapper

    return decorate


PAGE_MESSAGES = {403: "forbidden", 404: "not_found"}  # said in the page's language; the engine's words below


def _error_page(exc: EngineError):
    key = PAGE_MESSAGES.get(exc.status)
    message, detail = (t(key), exc.message) if key else (exc.message, None)
    return render_template("error.html", status=exc.status, message=message, detail=detail), exc.status


def _json_error(exc: EngineError):
    body = {"message": exc.message}
    if isinstance(exc, ValidationFailed):
        body["errors"] = exc.errors
    return jsonify(body), exc.status


def _aware(value):
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value is not None and value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value


def _badge(task: dict, now: datetime) -> dict | None:
    """Due badge of a task: its SLA state, or overdue once the due time has passed."""
    due = _aware(task.get("due_at"))
    if due is None:
        return None
    state = task.get("sla_state") or "on_time"
    if state in ("on_time", "warning") and due <= now:
        state = "breached"
    return {"state": state, "label": t(f"sla_{state}"), "due": due}


def _process_names(session) -> dict[str, str]:
    return {row.key: row.name or row.key for row in definitions.list_latest(session)}


# --------------------------------------------------------------------------- tasklist


@bp.app_template_filter("local_time")
def local_time(value) -> str:
    """Date and time in China Standard Time, the time of the halls."""
    from datetime import timedelta, timezone

    value = _aware(value)
    return value.astimezone(timezone(timedelta(hours=8))).strftime("%Y-%m-%d %H:%M") if value else ""


@bp.get("/tasks")
@signed_in()
def tasklist():
    actor = g.page_actor
    process = request.args.get("process") or None
    now = utcnow()
    with _engine().read() as db:
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
    due, unit = request.args.get("due") or "", request.args.get("unit") or ""
    keep = _task_filter(process, due if due in DUE_FILTERS else "", unit, now)
    sections = {scope: [task for task in items if keep(task)] for scope, items in sections.items()}
    return render_template("tasks.html", sections=sections, processes=[(k, names.get(k, k)) for k in keys],
                           process=process, due=due, unit=unit, units=units, due_filters=DUE_FILTERS)


DUE_FILTERS = ("overdue", "today", "with_due")


def _task_filter(process: str | None, due: str, unit: str, now: datetime):
    """Tasklist filters: process, due (overdue / due today in China time / has a due date), unit."""
    from datetime import timedelta, timezone

    local = timezone(timedelta(hours=8))
    end_of_today = datetime.combine(now.astimezone(local).date() + timedelta(days=1), datetime.min.time(), local)

    def keep(task: dict) -> bool:
        if process and task["process_key"] != process:
            return False
        if unit and task.get("org_unit") != unit:
            return False
        deadline = _aware(task.get("due_at"))
        if due == "with_due" and deadline is None:
            return False
        if due == "overdue" and not (task.get("badge") and task["badge"]["state"] in ("breached", "escalated")):
            return False
        if due == "today" and (deadline is None or deadline >= end_of_today):
            return False
        return True

    return keep


def _back_to_list():
    process = request.form.get("process")
    return redirect(url_for("pages.tasklist", process=process) if process else url_for("pages.tasklist"))


def _task_action(action, task_id: str, done_message: str):
    """Claim or release from the tasklist: flash the outcome and go back to the list."""
    try:
        with _engine().uow(g.page_actor) as uow:
            action(uow, task_id)
        flash(t(done_message), "ok")
    except EngineError as exc:
        if exc.status == 404:
            return _error_page(exc)
        flash(exc.message, "error")
    return _back_to_list()


@bp.post("/tasks/<task_id>/claim")
@signed_in()
def claim(task_id: str):
    return _task_action(tasks.claim, task_id, "claimed")


@bp.post("/tasks/<task_id>/unclaim")
@signed_in()
def unclaim(task_id: str):
    return _task_action(tasks.unclaim, task_id, "unclaimed")


PIN_KEY = "seal_pin"  # the seal PIN: a password input of the page, never part of the rendered form


def _without(schema: dict | None, key: str) -> dict | None:
    """The form without the component ``key`` (the PIN is asked for by the page's own password input)."""
    if not schema:
        return schema
    schema = copy.deepcopy(schema)

    def prune(components):
        return [dict(c, components=prune(c["components"])) if c.get("components") else c
                for c in components or [] if c.get("key") != key]

    schema["components"] = prune(schema.get("components"))
    return schema


def _has_key(schema: dict | None, key: str) -> bool:
    def walk(components):
        return any(c.get("key") == key or walk(c.get("components")) for c in components or [])

    return bool(schema) and walk(schema.get("components"))


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
            "pin_in_form": _has_key(task.get("form"), PIN_KEY)}


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
    engine = _engine()
    try:
        with engine.read() as db:
            task = tasks.get_task(engine, db, g.page_actor, task_id)
            process_name = _process_names(db).get(task["process_key"], task["process_key"])
            seal = _seal_step(db, task, g.page_actor)
        signed = _signed_documents(engine, g.page_actor, task_id)
    except EngineError as exc:
        return _error_page(exc)
    task["badge"] = _badge(task, utcnow())
    schema = _without(task["form"], PIN_KEY) if seal else task["form"]
    return render_template("task.html", task=task, process_name=process_name, form_schema=schema,
                           form_data=task["data"], submit_url=url_for("pages.complete", task_id=task_id),
                           seal=seal, signed=signed)


def _refusal(exc: SealRefused) -> str:
    """The Chinese/English message of a refused seal (never the PIN itself)."""
    details = exc.details if isinstance(exc.details, dict) else {}
    if exc.reason == "wrong_pin":
        left = details.get("attempts_left")
        return t("seal_wrong_pin") + (t("seal_attempts_left").format(n=left) if left is not None else "")
    if exc.reason in ("no_pin", "locked", "no_seal", "role", "expired", "unit", "seal_unit"):
        return t(f"seal_refused_{exc.reason}")
    return f"{t('seal_refused')}：{exc.message}"


@bp.post("/tasks/<task_id>/complete")
@signed_in(json_endpoint=True)
@per_user("completions")
def complete(task_id: str):
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("data"), dict):
        return jsonify({"message": t("bad_request")}), 400
    engine = _engine()
    try:
        done, inst, _ = tasks.complete_task(engine, g.page_actor, task_id, body["data"])
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
    return jsonify({"ok": True, "redirect": url_for("pages.tasklist")})


@bp.get("/documents/<doc_id>")
@signed_in()
def document(doc_id: str):
    """A document's bytes for the signed-in user, inline (PDF preview) or ``?download=1`` as an attachment.

    Readable by the uploader, administrators and auditors, and whoever may read an instance
    using it: the rule of ``GET /api/documents/<id>``.
    """
    try:
        with _engine().read() as db:
            doc = documents.get(db, doc_id)
            if not documents.may_read(db, g.page_actor, doc):
                raise Forbidden(t("forbidden"))
            body = documents.content(db, doc)
            filename, content_type, sha = doc.filename, doc.content_type, doc.sha256
    except EngineError as exc:
        return _error_page(exc)
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
    engine = _engine()
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


# --------------------------------------------------------------------------- starting processes


def _startable(db, actor) -> list[dict]:
    out = []
    for row in definitions.list_latest(db):
        info = definitions.definition_to_dict(row)
        if actor.has_any(info["candidate_starter_groups"]):
            out.append(info)
    return out


@bp.get("/start")
@signed_in()
def start_list():
    with _engine().read() as db:
        startable = _startable(db, g.page_actor)
    return render_template("start.html", definitions=startable)


def _definition(db, key: str) -> dict:
    return definitions.definition_to_dict(definitions.get_version(db, key))


@bp.get("/start/<key>")
@signed_in()
def start_form(key: str):
    try:
        with _engine().read() as db:
            info = _definition(db, key)
            if not g.page_actor.has_any(info["candidate_starter_groups"]):
                abort(403)
            if not info["start_form"]:
                return redirect(url_for("pages.start_list"))
            schema = formdefs.get_form(db, info["start_form"]).content
    except EngineError as exc:
        return _error_page(exc)
    return render_template("start_form.html", definition=info, form_schema=schema, form_data={},
                           submit_url=url_for("pages.start_instance", key=key))


@bp.post("/start/<key>")
@signed_in()
@per_user("starts")
def start_instance(key: str):
    """JSON ``{data}`` from a start form (answers JSON), or a plain form post for a process without one."""
    engine = _engine()
    as_json = request.is_json
    data = {}
    if as_json:
        body = request.get_json(silent=True)
        if not isinstance(body, dict) or not isinstance(body.get("data"), dict):
            return jsonify({"message": t("bad_request")}), 400
        data = body["data"]
    try:
        with engine.uow(g.page_actor) as uow:
            inst = instances.start(engine, uow, key, data)
            name = inst.process_key
    except EngineError as exc:
        if as_json:
            return _json_error(exc)
        if exc.status in (403, 404):
            return _error_page(exc)
        flash(exc.message, "error")
        return redirect(url_for("pages.start_list"))
    flash(f"{t('started')}: {name}", "ok")
    if as_json:
        return jsonify({"ok": True, "redirect": url_for("pages.tasklist")}), 201
    return redirect(url_for("pages.tasklist"))


@bp.errorhandler(403)
def forbidden_page(exc):
    return render_template("error.html", status=403, message=t("forbidden")), 403
