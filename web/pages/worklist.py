"""The home page's work list, the notifications page with the header's bell, and the small JSON
the pages poll (every page: the bell's count; the tasklist: new tasks without a reload)."""

from __future__ import annotations

from flask import (
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)

from engine.errors import EngineError, NotFound
from engine.identity import policy
from engine.runtime import worklist
from engine.scheduling import notifications
from web.context import current_engine
from web.i18n import current_language, t
from web.messages import page_message
from web.pages.common import _error_page, _process_names, bp, log, session_actor, signed_in
from web.presentation.feedback import case_reference, process_label

NOTIFICATIONS_PER_PAGE = 20
POLL_SECONDS = 30  # how often an open page asks for the bell's count and the tasklist's tasks


@bp.app_context_processor
def _bell():
    """``unread_notifications()``: the signed-in user's unread count, read only by the header."""

    def unread_notifications() -> int:
        actor = getattr(g, "page_actor", None)
        if actor is None or g.get("database_unavailable"):
            return 0
        try:
            with current_engine().read() as db:
                return notifications.unread_count(db, actor)
        except EngineError:  # the database is away: the error page still renders
            return 0

    return {"unread_notifications": unread_notifications, "poll_seconds": POLL_SECONDS}


def _label(name: str | None, key: str) -> str:
    return process_label(name, key, current_language())


def home_context(actor) -> dict:
    """What the home page shows: :func:`engine.runtime.worklist.summary` in the page's language."""
    with current_engine().read() as db:
        summary = worklist.summary(db, actor)
        names = _process_names(db)
        unread = notifications.unread_count(db, actor)
    for task in summary["tasks"]:
        task["label"] = _label(task["name"], task["element_id"])
        task["process_name"] = _label(names.get(task["process_key"]), task["process_key"])
        task["badge"] = ({"state": task["due_state"], "label": t(f"sla_{task['due_state']}"), "due": task["due_at"]}
                         if task["due_state"] else None)
    for case in summary["recent_cases"]:
        case["process_name"] = _label(case.get("name") or names.get(case["process_key"]), case["process_key"])
        case["reference"] = case_reference(case.get("business_key"), case["id"], case.get("reference"))
    for info in summary["startable"]:
        info["label"] = _label(info.get("name"), info["key"])
    return {**summary, "unread": unread, "api_docs": policy.may_deploy(actor) or actor.is_admin}


# --------------------------------------------------------------------------- notifications


@bp.get("/notifications")
@signed_in()
def notification_list():
    actor = g.page_actor
    try:
        page = max(1, int(request.args.get("page", "1")))
    except ValueError:
        page = 1
    with current_engine().read() as db:
        box = notifications.inbox(db, actor, page, NOTIFICATIONS_PER_PAGE)
        names = _process_names(db)
    for note in box["items"]:
        note["label"] = t(f"notify_{note['kind']}") if f"notify_{note['kind']}" in _KINDS else note["title"]
        note["task_label"] = _label(note["task_name"], "") if note["task_name"] else None
        note["process_name"] = _label(names.get(note["process_key"]), note["process_key"]) if note["process_key"] else None
        note["reference"] = case_reference(note["business_key"], note["instance_id"], note.get("reference")) if note["instance_id"] else None
        if note["task_id"] and note["task_status"] == "open":
            note["link"], note["link_text"] = url_for("pages.task_page", task_id=note["task_id"]), t("notify_open_task")
        elif note["instance_id"]:
            note["link"] = url_for("records.instance_page", instance_id=note["instance_id"])
            note["link_text"] = t("view_case")
    pages = max(1, -(-box["total"] // NOTIFICATIONS_PER_PAGE))
    return render_template("notifications.html", box=box, page=page, pages=pages)


_KINDS = {"notify_sla_warning", "notify_sla_breached", "notify_sla_escalated"}


def _back():
    target = request.form.get("next") or ""
    # only a path of this site (never //host or a scheme): back to the list, or to the linked task
    if not target.startswith("/") or target.startswith("//"):
        target = url_for("pages.notification_list")
    return redirect(target)


@bp.post("/notifications/<int:notification_id>/read")
@signed_in()
def notification_read(notification_id: int):
    try:
        with current_engine().uow(g.page_actor) as uow:
            notifications.mark_read(uow, notification_id)
    except NotFound as exc:
        return _error_page(exc)
    return _back()


@bp.post("/notifications/read-all")
@signed_in()
def notification_read_all():
    with current_engine().uow(g.page_actor) as uow:
        count = notifications.mark_all_read(uow)
    flash(t("notify_all_read").format(n=count), "ok")
    return _back()


@bp.get("/live")
def live():
    """What an open page polls: the unread count (the bell) and the ids of the open tasks on the
    user's tasklist (a tasklist refreshes itself when one is new or gone). Signed out, it says so
    (200, ``signed_in`` false: the page stops polling) rather than failing each poll."""
    g.page_actor = session_actor()
    if g.page_actor is None:
        return jsonify({"signed_in": False})
    try:
        with current_engine().read() as db:
            return jsonify({"signed_in": True, "unread": notifications.unread_count(db, g.page_actor),
                            "tasks": worklist.open_task_ids(db, g.page_actor)})
    except EngineError as exc:
        log.warning("live update failed: %s", exc.message)
        return jsonify({"message": page_message(exc)}), exc.status
