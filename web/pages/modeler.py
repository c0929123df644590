"""Modeler pages for process owners and administrators: the bpmn-js process modeler and the
form-js form editor. Save = deploy: the page POSTs the XML / form JSON (session cookie +
``X-CSRFToken`` header) to an endpoint here, which deploys it through the engine services
(``deploy_process`` / ``deploy_form``) as the signed-in user; 422 answers carry the errors.

The application exempts every blueprint but ``pages`` from the global CSRF check, so this
blueprint checks the token itself on every POST.
"""

from __future__ import annotations

from functools import wraps

from flask import Blueprint, g, jsonify, render_template, request, url_for
from flask_wtf.csrf import ValidationError, generate_csrf, validate_csrf

from engine.errors import EngineError
from engine.forms import definitions as formdefs
from engine.identity import policy
from engine.identity.names import local_name
from engine.identity.roles import ROLES
from engine.runtime import decisions, definitions
from web.context import current_engine
from web.i18n import current_language, t
from web.pages.common import _error_page, _json_error, signed_in

bp = Blueprint("modeler", __name__)

MAX_XML_BYTES = 2 * 1024 * 1024

NEW_DIAGRAM = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" \
xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" \
xmlns:di="http://www.omg.org/spec/DD/20100524/DI" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" \
id="defs_new_process" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="new_process" name="新流程" isExecutable="true">
    <bpmn:extensionElements>
      <camunda:properties>
        <camunda:property name="name.en" value="New process" />
      </camunda:properties>
    </bpmn:extensionElements>
    <bpmn:startEvent id="start" name="开始">
      <bpmn:extensionElements>
        <camunda:properties>
          <camunda:property name="name.en" value="Start" />
        </camunda:properties>
      </bpmn:extensionElements>
    </bpmn:startEvent>
  </bpmn:process>
  <bpmndi:BPMNDiagram id="diagram_new_process">
    <bpmndi:BPMNPlane id="plane_new_process" bpmnElement="new_process">
      <bpmndi:BPMNShape id="start_di" bpmnElement="start">
        <dc:Bounds x="180" y="160" width="36" height="36" />
      </bpmndi:BPMNShape>
    </bpmndi:BPMNPlane>
  </bpmndi:BPMNDiagram>
</bpmn:definitions>
"""


def _deployer(json_endpoint: bool = False):
    """Signed in (via ``signed_in``) and a process owner or administrator; POSTs carry CSRF."""

    def decorate(view):
        @signed_in(json_endpoint=json_endpoint)
        @wraps(view)
        def wrapper(*args, **kwargs):
            if request.method == "POST":
                try:
                    validate_csrf(request.headers.get("X-CSRFToken") or request.form.get("csrf_token"))
                except ValidationError:
                    return jsonify({"message": t("csrf")}), 400
            if not policy.may_deploy(g.page_actor):
                if json_endpoint:
                    return jsonify({"message": t("forbidden")}), 403
                return render_template("error.html", status=403, message=t("forbidden")), 403
            return view(*args, **kwargs)

        return wrapper

    return decorate


@bp.get("/modeler")
@_deployer()
def modeler_list():
    with current_engine().read() as db:
        processes = [
            {"key": row.key, "name": row.name or row.key, "version": row.version,
             "deployed_at": row.deployed_at, "deployed_by": row.deployed_by}
            for row in definitions.list_latest(db)
        ]
        forms = formdefs.list_forms(db)
        tables = [{"key": row.key, "name": row.name or row.key, "version": row.version}
                  for row in decisions.list_latest(db)]
    return render_template("modeler.html", processes=processes, forms=forms, decisions=tables, diagram=None)


def _pickers() -> dict:
    """What the modeler's pickers offer: the roles (key, Chinese and English name) and the deployed
    forms with the tasks that show them (a form id alone says little to a process owner)."""
    with current_engine().read() as db:
        forms = formdefs.list_forms(db)
        used: dict[str, list[str]] = {}
        language = current_language()
        for row in definitions.list_latest(db):
            for info in ((row.meta or {}).get("elements") or {}).values():
                form_key, name = info.get("form_key"), local_name(info.get("name"), language)
                if form_key and name and name not in used.setdefault(form_key, []):
                    used[form_key].append(name)
    roles = [{"key": key, "zh": zh, "en": en} for key, (zh, en) in ROLES.items() if key != "integration"]
    return {"roles": roles, "forms": [{"id": f["id"], "usedBy": used.get(f["id"], [])[:3]} for f in forms]}


def _modeler_page(xml: str, key: str | None, version: int | None, versions: list[int]):
    config = {
        "xml": xml,
        "key": key,
        "version": version,
        "lang": current_language(),
        "deployUrl": url_for("modeler.deploy_process"),
        "diffUrl": url_for("modeler.diff_process"),
        "csrfToken": generate_csrf(),
        **_pickers(),
        "text": {
            "saving": t("modeler_saving"), "deployed": t("modeler_deployed"), "unchanged": t("modeler_unchanged"),
            "invalid": t("modeler_invalid"), "failed": t("failed"), "importFailed": t("modeler_import_failed"),
            "importWarnings": t("modeler_import_warnings"),
        },
    }
    diagram = {"key": key, "version": version, "versions": versions}
    return render_template("modeler.html", diagram=diagram, config=config)


@bp.get("/modeler/new")
@_deployer()
def modeler_new():
    return _modeler_page(NEW_DIAGRAM, None, None, [])


@bp.get("/modeler/<key>")
@_deployer()
def modeler_open(key: str):
    version = request.args.get("version", type=int)
    try:
        with current_engine().read() as db:
            row = definitions.get_version(db, key, version)
            all_versions = [r.version for r in definitions.versions(db, key)]
            xml, version = row.xml, row.version
    except EngineError as exc:
        return _error_page(exc)
    return _modeler_page(xml, key, version, all_versions)


def _posted_xml():
    """The XML an editor page posts (``{"xml": ...}``), or the 400/413 answer to give."""
    body = request.get_json(silent=True)
    xml = body.get("xml") if isinstance(body, dict) else None
    if not isinstance(xml, str) or not xml.strip():
        return None, (jsonify({"message": t("bad_request")}), 400)
    data = xml.encode("utf-8")
    if len(data) > MAX_XML_BYTES:
        return None, (jsonify({"message": t("bad_request")}), 413)
    return data, None


@bp.post("/modeler/deploy")
@_deployer(json_endpoint=True)
def deploy_process():
    data, refused = _posted_xml()
    if refused:
        return refused
    try:
        with current_engine().uow(g.page_actor) as uow:
            row, created = definitions.deploy_process(uow, data)
            key, version = row.key, row.version
            startable = bool((row.meta or {}).get("candidate_starter_groups"))
    except EngineError as exc:
        return _json_error(exc)
    return jsonify({
        "key": key, "version": version, "created": created, "startable_by_users": startable,
        "note": None if startable else t("modeler_not_startable"),
        "url": url_for("modeler.modeler_open", key=key, version=version),
    }), (201 if created else 200)


@bp.post("/modeler/diff")
@_deployer(json_endpoint=True)
def diff_process():
    """What deploying the posted XML would change against the deployed version (confirmed on the page)."""
    data, refused = _posted_xml()
    if refused:
        return refused
    try:
        with current_engine().read() as db:
            return jsonify(definitions.diff_against_deployed(db, data))
    except EngineError as exc:
        return _json_error(exc)


@bp.get("/forms-editor/<form_id>")
@_deployer()
def form_editor(form_id: str):
    version = request.args.get("version", type=int)
    try:
        with current_engine().read() as db:
            row = formdefs.get_form(db, form_id, version)
            schema, version = row.content, row.version
    except EngineError as exc:
        return _error_page(exc)
    config = {
        "schema": schema,
        "formId": form_id,
        "version": version,
        "deployUrl": url_for("modeler.deploy_form", form_id=form_id),
        "csrfToken": generate_csrf(),
        "text": {
            "saving": t("modeler_saving"), "deployed": t("modeler_deployed"), "unchanged": t("modeler_unchanged"),
            "invalid": t("modeler_invalid"), "failed": t("failed"),
        },
    }
    return render_template("form_editor.html", form_id=form_id, version=version, config=config)


@bp.post("/forms-editor/<form_id>/deploy")
@_deployer(json_endpoint=True)
def deploy_form(form_id: str):
    body = request.get_json(silent=True)
    schema = body.get("schema") if isinstance(body, dict) else None
    if not isinstance(schema, dict):
        return jsonify({"message": t("bad_request")}), 400
    if schema.get("id") != form_id:
        return jsonify({"message": t("form_id_mismatch"),
                        "errors": [{"component": "id", "message": t("form_id_mismatch")}]}), 422
    try:
        with current_engine().uow(g.page_actor) as uow:
            row, created = formdefs.deploy_form(uow, schema)
            version = row.version
    except EngineError as exc:
        return _json_error(exc)
    return jsonify({"form_id": form_id, "version": version, "created": created}), (201 if created else 200)


@bp.get("/decisions-editor/<key>")
@_deployer()
def decision_editor(key: str):
    """The dmn-js decision-table editor on a deployed decision (its whole .dmn file)."""
    version = request.args.get("version", type=int)
    try:
        with current_engine().read() as db:
            row = decisions.get(db, key, version)
            xml, version, name = row.xml, row.version, row.name
    except EngineError as exc:
        return _error_page(exc)
    config = {
        "xml": xml,
        "key": key,
        "version": version,
        "deployUrl": url_for("modeler.deploy_decision"),
        "csrfToken": generate_csrf(),
        "text": {
            "saving": t("modeler_saving"), "deployed": t("modeler_deployed"), "unchanged": t("modeler_unchanged"),
            "invalid": t("modeler_invalid"), "failed": t("failed"), "importFailed": t("modeler_import_failed"),
            "cells": t("decision_cell_errors"),
        },
    }
    return render_template("decision_editor.html", key=key, name=name, version=version, config=config)


@bp.post("/decisions-editor/deploy")
@_deployer(json_endpoint=True)
def deploy_decision():
    data, refused = _posted_xml()
    if refused:
        return refused
    try:
        with current_engine().uow(g.page_actor) as uow:
            stored = decisions.deploy(uow, data)
            deployed = [{"key": r.key, "version": r.version, "created": c} for r, c in stored]
    except EngineError as exc:
        return _json_error(exc)
    created = any(d["created"] for d in deployed)
    return jsonify({"deployed": deployed, "created": created,
                    "version": deployed[0]["version"] if deployed else None}), (201 if created else 200)
