"""Starting a process: the list of what the user may start, its start form, the start itself."""

from __future__ import annotations

from flask import (
    abort,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)

from engine.errors import EngineError
from engine.forms import definitions as formdefs
from engine.forms import lists as option_lists
from engine.identity import policy
from engine.registers import is_register
from engine.runtime import definitions, instances, worklist
from web.context import current_engine
from web.i18n import current_language, t
from web.messages import page_message
from web.pages.common import _error_page, _json_error, bp, signed_in
from web.presentation.feedback import case_reference, process_label
from web.ratelimits import per_user

# --------------------------------------------------------------------------- starting processes


def _startable(db, actor) -> list[dict]:
    return worklist.startable(db, actor)


@bp.get("/start")
@signed_in()
def start_list():
    with current_engine().read() as db:
        startable = _startable(db, g.page_actor)
    return render_template("start.html", definitions=startable)


def _definition(db, key: str) -> dict:
    return definitions.definition_to_dict(definitions.get_version(db, key))


@bp.get("/start/<key>")
@signed_in()
def start_form(key: str):
    try:
        with current_engine().read() as db:
            info = _definition(db, key)
            if not policy.may_start(g.page_actor, info["candidate_starter_groups"]):
                abort(403)
            if not info["start_form"]:
                return redirect(url_for("pages.start_list"))
            schema = option_lists.resolve(formdefs.get_form(db, info["start_form"]).content)
    except EngineError as exc:
        return _error_page(exc)
    return render_template("start_form.html", definition=info, form_schema=schema, form_data={},
                           submit_url=url_for("pages.start_instance", key=key))


def started_message(inst, name: str | None, key: str = "started") -> dict:
    """The flash of a start: which process (its name in the page's language), the case's
    reference (business key, else a short id) and a link to the case page."""
    label = process_label(name, inst.process_key, current_language())
    reference = case_reference(inst.business_key, inst.id, getattr(inst, "reference", None))
    return {"text": t(key).format(name=label, reference=reference),
            "link": url_for("records.instance_page", instance_id=inst.id), "link_text": t("view_case")}


def own_next_task(actor, rows) -> str | None:
    """The id of the open task of a just-started case that is the starter's own (assigned to
    them: a ``candidateScope=starter`` step), else None; a pool task stays on the tasklist."""
    for row in rows:
        if row.assignee == actor.username and row.status == "open":
            return row.id
    return None


@bp.post("/start/<key>")
@signed_in()
@per_user("starts")
def start_instance(key: str):
    """JSON ``{data}`` from a start form (answers JSON), or a plain form post for a process without one."""
    engine = current_engine()
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
            latest = definitions.latest(uow.session, key)
            # an entry of a register (台账) lands on its register, where the new entry is listed
            register = is_register((latest.meta or {}).get("properties"))
            started = started_message(inst, latest.name)
            uow.session.flush()
            own = own_next_task(g.page_actor, instances.open_task_rows(uow.session, inst.id))
    except EngineError as exc:
        if as_json:
            return _json_error(exc)
        if exc.status in (403, 404):
            return _error_page(exc)
        flash(page_message(exc), "error")
        return redirect(url_for("pages.start_list"))
    flash(started, "ok")
    if register:
        landing = url_for("register_pages.register_page", key=key)
    elif own is not None:  # the starter's own next step (e.g. the counter's handling): opened at once
        landing = url_for("pages.task_page", task_id=own)
    else:
        landing = url_for("pages.tasklist")
    if as_json:
        return jsonify({"ok": True, "redirect": landing}), 201
    return redirect(landing)


