"""Browser pages for records: an instance with its diagram and timeline, my instances, the audit log.

Like ``web.pages`` these pages call the engine services directly with the browser session's
actor. They only read (GET), except that exports and downloads are audited as the API does.
Seal badges on the timeline come from verifying each sealed document's bytes with the seal
service (cached per request).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from flask import Blueprint, Response, flash, g, redirect, render_template, request, url_for
from sqlalchemy import select

from engine.audit import checkpoint as audit_checkpoint
from engine.audit import query as audit_views
from engine.audit.query import EventFilter
from engine.clock import utcnow
from engine.errors import EngineError, Forbidden
from engine.identity import policy
from engine.identity.policy import require_audit_reader
from engine.runtime import documents, instances, references
from engine.store.models import ProcessDefinition, ProcessInstance, Task
from web.context import current_engine
from web.downloads import file_response
from web.i18n import current_language, t
from web.messages import page_message
from web.pages.common import _aware, _badge, _error_page, _process_names, signed_in
from web.presentation import audit as audit_labels
from web.presentation import cases as case_lists
from web.presentation.diagram import localized_xml
from web.presentation.summary import case_sections

bp = Blueprint("records", __name__)

CST = timezone(timedelta(hours=8))  # Asia/Shanghai (no daylight saving)
INSTANCES_PER_PAGE = 20
EVENTS_PER_PAGE = 50
OVERDUE_STATES = ("breached", "escalated")


def _forbidden():
    return render_template("error.html", status=403, message=t("forbidden")), 403


def _page_arg() -> int:
    try:
        return max(1, min(int(request.args.get("page", 1)), 100000))
    except ValueError:
        return 1


# --------------------------------------------------------------------------- seal verification


class SealChecker:
    """Verifies sealed documents once per request: ``{valid, signer, at, problems}`` per document id."""

    def __init__(self, session, actor) -> None:
        self.session, self.actor = session, actor
        self.cache: dict[str, dict] = {}

    def check(self, doc_id: str | None) -> dict:
        if not doc_id:
            return {"valid": False, "problems": ["no document"]}
        if doc_id not in self.cache:
            self.cache[doc_id] = self._verify(doc_id)
        return self.cache[doc_id]

    def _verify(self, doc_id: str) -> dict:
        from engine.seals.service import verify_bytes

        try:
            doc = documents.read(self.session, self.actor, doc_id)
            report = verify_bytes(self.session, doc.body)
        except Forbidden:
            return {"valid": False, "problems": ["forbidden"]}
        except EngineError as exc:
            return {"valid": False, "problems": [page_message(exc)]}
        except Exception as exc:  # noqa: BLE001 - a broken document shows as invalid, never a 500
            return {"valid": False, "problems": [str(exc)[:200]]}
        return {"valid": bool(report.get("valid")), "problems": report.get("problems") or [],
                "signatures": report.get("signatures") or [], "filename": doc.filename}


# --------------------------------------------------------------------------- instances


@bp.get("/instances")
@signed_in()
def instance_list():
    actor = g.page_actor
    process = request.args.get("process") or None
    status = request.args.get("status") or None
    if status not in instances.STATUSES:
        status = None
    page = _page_arg()
    q = " ".join(request.args.get("q", "").split())[:100] or None
    engine = current_engine()
    with engine.read() as db:
        names = _process_names(db)
        result = instances.list_instances(db, actor, process, status, page, INSTANCES_PER_PAGE, q)
        cases = references.cases(engine, db, [item["id"] for item in result["items"]])
    for item in result["items"]:
        item["process_name"] = item.get("name") or names.get(item["process_key"], item["process_key"])
        item["case"] = case_lists.describe(cases.get(item["id"]), item["id"], current_language())
    pages = max(1, -(-result["total"] // INSTANCES_PER_PAGE))
    return render_template("instances.html", result=result, processes=sorted(names.items(), key=lambda kv: kv[1]),
                           process=process, status=status, statuses=instances.STATUSES, page=page, pages=pages,
                           q=q, page_window=case_lists.page_window, is_admin=policy.may_retry(actor))


@bp.post("/incidents/retry")
@signed_in()
def retry_incidents():
    """The instance list's bulk retry of incidents (administrators; each in a transaction of its own)."""
    from engine.runtime import admin_ops

    if not policy.may_retry(g.page_actor):
        return _forbidden()
    picked = request.form.getlist("instance_id")[:100]
    results = admin_ops.retry_many(current_engine(), g.page_actor, picked) if picked else []
    ok = sum(1 for r in results if r["ok"])
    flash(t("retried_many").replace("{ok}", str(ok)).replace("{failed}", str(len(results) - ok)),
          "ok" if ok == len(results) else "error")
    return redirect(url_for("records.instance_list", status="incident"))


def _timeline_row(row: dict, seals: SealChecker) -> dict:
    lang = current_language()
    row["label"] = audit_labels.label(row["action"], lang)
    action = row["action"]
    if action.startswith("sla_"):
        row["sla"] = action[4:]
    if action in ("seal_applied", "seal_countersigned"):
        details = row.get("details") or {}
        doc_id = details.get("document_id")
        result = seals.check(doc_id)
        row["seal"] = {"document_id": doc_id, "valid": result["valid"], "problems": result.get("problems", []),
                       "signer": row.get("actor_name") or details.get("signer") or row.get("actor"),
                       "at": row["at"], "field": details.get("field")}
    return row


@bp.get("/instances/<instance_id>")
@signed_in()
def instance_page(instance_id: str):
    from engine.seals.service import instance_documents

    actor = g.page_actor
    now = utcnow()
    with current_engine().read() as db:
        try:
            inst = instances.get_readable(db, actor, instance_id)
        except Forbidden:
            return _forbidden()
        except EngineError as exc:
            return _error_page(exc)
        info = instances.instance_to_dict(db, inst)
        definition = db.get(ProcessDefinition, inst.definition_id)
        xml = localized_xml(definition.xml, current_language())
        process_name = definition.name or definition.key
        sla = dict(db.execute(select(Task.id, Task.sla_state).where(
            Task.instance_id == instance_id, Task.status == "open")).all())
        docs = instance_documents(db, actor, instance_id)["items"]
        seals = SealChecker(db, actor)
        timeline = [_timeline_row(row, seals) for row in audit_views.timeline(db, instance_id)]
        migration = _migration_offer(db, actor, inst)
        case_summary = case_sections(current_engine(), db, instance_id, current_language())
    active, overdue = [], []
    for task in info["open_tasks"]:
        task["sla_state"] = sla.get(task["id"])
        task["badge"] = _badge(task, now)
        late = (task["sla_state"] in OVERDUE_STATES) or (task["due_at"] is not None and _aware(task["due_at"]) <= now)
        (overdue if late else active).append(task["element_id"])
    # waiting for a message, a signal, a called instance or a timer: active on the diagram too
    waiting = set(info.get("waiting_at") or ()) | {t["element_id"] for t in info["pending_timers"] if t["kind"] == "bpmn"}
    active += sorted(e for e in waiting if e not in active and e not in overdue)
    for doc in docs:
        doc["page_download"] = url_for("records.download", instance_id=instance_id, doc_id=doc["id"])
    diagram = {"completed": [e for e in (info.get("completed_elements") or []) if e not in active and e not in overdue],
               "active": active, "overdue": overdue,
               "labels": {"zoom_in": t("zoom_in"), "zoom_out": t("zoom_out"), "fit": t("zoom_fit"),
                          "failed": t("diagram_failed")}}
    movable = sorted((eid, el.get("name") or eid) for eid, el in ((definition.meta or {}).get("elements") or {}).items()
                     if el.get("type") in MOVABLE)
    return render_template("instance.html", inst=info, process_name=process_name, xml=xml, diagram=diagram,
                           timeline=timeline, docs=docs, migration=migration, movable=movable,
                           active=sorted(set(active) | set(overdue)),
                           is_admin=policy.may_cancel_instance(actor), case_summary=case_summary, case_id=instance_id,
                           raw_data=_raw_json(info.get("data")) if actor.is_admin else None)


def _raw_json(data) -> str:
    """The instance data as it is stored, for the administrators' 技术详情 (technical details)."""
    import json

    return json.dumps(data or {}, ensure_ascii=False, indent=1, sort_keys=True, default=str)


# elements an administrator may move a token to (engine/runtime/admin_ops.modify)
MOVABLE = ("userTask", "scriptTask", "task", "manualTask", "receiveTask", "callActivity", "subProcess", "exclusiveGateway",
           "parallelGateway", "inclusiveGateway", "eventBasedGateway", "intermediateCatchEvent", "intermediateThrowEvent",
           "endEvent")


def _admin_action(instance_id: str, action, done: str):
    """POST (CSRF) of an administrator's way out of an instance; back to the instance page."""
    engine = current_engine()
    try:
        with engine.uow(g.page_actor) as uow:
            action(engine, uow)
    except Forbidden:
        return _forbidden()
    except EngineError as exc:
        if exc.status == 404:
            return _error_page(exc)
        flash(page_message(exc), "error")
    else:
        flash(t(done), "ok")
    return redirect(url_for("records.instance_page", instance_id=instance_id))


@bp.post("/instances/<instance_id>/cancel")
@signed_in()
def cancel_instance(instance_id: str):
    reason = (request.form.get("reason") or "").strip()[:500]
    return _admin_action(instance_id, lambda engine, uow: instances.cancel(engine, uow, instance_id, reason),
                         "cancelled_done")


@bp.post("/instances/<instance_id>/retry")
@signed_in()
def retry_instance(instance_id: str):
    return _admin_action(instance_id, lambda engine, uow: instances.retry(engine, uow, instance_id), "retried_done")


@bp.post("/instances/<instance_id>/modify")
@signed_in()
def modify_instance(instance_id: str):
    """Move a token: cancel an active element and/or start before or after another, in one step."""
    from engine.runtime import admin_ops

    reason = (request.form.get("reason") or "").strip()[:500]
    steps = []
    if request.form.get("cancel_element"):
        steps.append({"type": "cancel", "element_id": request.form["cancel_element"][:128]})
    if request.form.get("start_element"):
        mode = "start_after" if request.form.get("start_mode") == "after" else "start_before"
        steps.append({"type": mode, "element_id": request.form["start_element"][:128]})
    return _admin_action(instance_id, lambda engine, uow: admin_ops.modify(uow, instance_id, steps, reason),
                         "modified_done")


@bp.post("/instances/<instance_id>/suspend")
@signed_in()
def suspend_instance(instance_id: str):
    from engine.runtime import admin_ops

    reason = (request.form.get("reason") or "").strip()[:500]
    return _admin_action(instance_id, lambda engine, uow: admin_ops.suspend(uow, instance_id, reason), "suspended_done")


@bp.post("/instances/<instance_id>/resume")
@signed_in()
def resume_instance(instance_id: str):
    from engine.runtime import admin_ops

    reason = (request.form.get("reason") or "").strip()[:500]
    return _admin_action(instance_id, lambda engine, uow: admin_ops.resume(uow, instance_id, reason), "resumed_done")


def _migration_offer(db, actor, inst) -> dict | None:
    """The newer version a process owner or admin may migrate this running instance to."""
    from engine.runtime import migration as mig

    if not policy.may_migrate(actor) or inst.status not in mig.MIGRATABLE:
        return None
    version = mig.newer_version(db, inst)
    return {"version": version} if version else None


@bp.route("/instances/<instance_id>/migration", methods=["GET", "POST"])
@signed_in()
def migration_page(instance_id: str):
    """GET: the dry-run report of moving to the latest version; POST (CSRF): migrate, back to the instance."""
    from engine.runtime import migration as mig

    actor = g.page_actor
    if not policy.may_migrate(actor):
        return _forbidden()
    engine = current_engine()
    if request.method == "POST":
        try:
            target = int(request.form.get("target_version", ""))
        except ValueError:
            target = None
        try:
            with engine.uow(actor) as uow:
                report = mig.migrate(uow, instance_id, target)
        except mig.MigrationRefused as exc:
            flash(page_message(exc), "error")
            return redirect(url_for("records.migration_page", instance_id=instance_id))
        except EngineError as exc:
            if exc.status in (403, 404):
                return _error_page(exc)
            flash(page_message(exc), "error")
            return redirect(url_for("records.migration_page", instance_id=instance_id))
        flash(t("mig_done").replace("{n}", str(report["to_version"])), "ok")
        return redirect(url_for("records.instance_page", instance_id=instance_id))
    try:
        with engine.uow(actor) as uow:  # a dry run: nothing is written
            report = mig.plan(uow, instance_id, request.args.get("to", type=int))
            newer = mig.newer_versions(uow.session, report["process_key"], report["from_version"])
    except EngineError as exc:
        return _error_page(exc)
    return render_template("instance_migration.html", report=report, newer=newer)


@bp.get("/instances/<instance_id>/documents/<doc_id>")
@signed_in()
def download(instance_id: str, doc_id: str):
    """A document of the instance, for the browser session (the API's download needs a bearer token)."""
    actor = g.page_actor
    with current_engine().read() as db:
        try:
            instances.get_readable(db, actor, instance_id)
            doc = documents.read(db, actor, doc_id, instance_id=instance_id)
        except Forbidden:
            return _forbidden()
        except EngineError as exc:
            return _error_page(exc)
    # ``?inline=1``: a PDF opens in the browser's viewer, an image shows in the case summary
    inline = request.args.get("inline") == "1" and doc.content_type in INLINE_TYPES
    return file_response(doc.body, doc.filename, doc.content_type, doc.sha256, "inline" if inline else "attachment")


INLINE_TYPES = ("application/pdf", "image/png", "image/jpeg", "image/gif", "image/webp")


# --------------------------------------------------------------------------- audit


def _local_input(value: str | None) -> datetime | None:
    """A ``datetime-local`` input (China Standard Time, as shown on the pages) as UTC."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=CST)
    return parsed.astimezone(UTC)


def _filter_from_args() -> tuple[EventFilter, dict]:
    args = {k: (request.args.get(k) or "").strip()[:64] for k in ("actor", "action", "instance", "from", "to")}
    # the page's person field: a username or (part of) a display name, e.g. 营业员
    flt = EventFilter(person=args["actor"] or None, action=args["action"] or None, instance=args["instance"] or None,
                      start=_local_input(args["from"]), end=_local_input(args["to"]))
    return flt, args


def _events(engine, flt: EventFilter):
    with engine.read() as session:
        yield from audit_views.iter_events(session, flt)


def _csv_response(scope: str, flt: EventFilter, filename: str) -> Response:
    """The events as a CSV for people: headers in the page's language, times in China time, a BOM."""
    engine = current_engine()
    bounded = audit_views.record_export(engine, g.page_actor, scope, "csv", flt)
    rows = _events(engine, bounded)
    response = Response(audit_labels.csv_stream(rows, current_language()), content_type="text/csv; charset=utf-8")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/audit")
@signed_in()
def audit_page():
    flt, args = _filter_from_args()
    page = _page_arg()
    engine = current_engine()
    try:
        with engine.read() as db:
            result = audit_views.search(db, g.page_actor, flt, page, EVENTS_PER_PAGE, newest_first=True)
    except Forbidden:
        return _forbidden()
    lang = current_language()
    case_ids = {row["instance_id"] for row in result["items"] if row["instance_id"]}
    with engine.read() as db:
        case_refs = dict(db.execute(select(ProcessInstance.id, ProcessInstance.reference)
                                    .where(ProcessInstance.id.in_(case_ids))).all()) if case_ids else {}
    for row in result["items"]:
        row["reference"] = case_refs.get(row["instance_id"])
        row["label"] = audit_labels.label(row["action"], lang)
    try:
        verification = audit_checkpoint.verify(engine)
    except Exception as exc:  # noqa: BLE001 - show the failure instead of a 500
        verification = {"ok": False, "first_bad_seq": None, "reason": str(exc)[:300], "checkpoint": None,
                        "checked": 0, "head_seq": None}
    pages = max(1, -(-result["total"] // EVENTS_PER_PAGE))
    query = {k: v for k, v in args.items() if v}
    return render_template("audit.html", result=result, args=args, query=query, page=page, pages=pages,
                           verification=verification, groups=audit_labels.action_groups(lang),
                           known=set(audit_labels.ACTION_LABELS))


@bp.get("/audit/export.csv")
@signed_in()
def audit_export():
    try:
        require_audit_reader(g.page_actor)  # before the download starts streaming
    except Forbidden:
        return _forbidden()
    flt, _ = _filter_from_args()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return _csv_response("events", flt, f"audit-events-{stamp}")


@bp.get("/instances/<instance_id>/timeline.csv")
@signed_in()
def timeline_export(instance_id: str):
    with current_engine().read() as db:
        try:
            instances.get_readable(db, g.page_actor, instance_id)
        except Forbidden:
            return _forbidden()
        except EngineError as exc:
            return _error_page(exc)
    return _csv_response("timeline", EventFilter(instance=instance_id), f"timeline-{instance_id}")

