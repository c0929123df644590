"""HTTP hardening shared by every route: body size limits, security headers and the CSP.

* **Bodies** (``body_limit``): each request may send at most what its route needs, checked
  before anything is read: file uploads the upload limit, process and form definitions
  2 MiB, everything else the instance data limit (``BPM_MAX_DATA_BYTES``) plus 64 KiB.
* **Headers**: every response is ``nosniff`` with ``Referrer-Policy: same-origin``; HTML pages
  also carry a Content-Security-Policy with a fresh nonce per response (the pages' ``<style>``
  blocks carry it; scripts are only our own files), ``frame-ancestors 'none'`` with
  ``X-Frame-Options: DENY``, and no plug-ins, foreign origins or inline event handlers.
  bpmn-js, form-js and ECharts run under it unchanged: no ``unsafe-eval``; styles *attributes*
  are allowed (``style-src-attr 'unsafe-inline'``) because bpmn-js writes the colours of
  diagram elements as SVG ``style`` attributes, which a nonce cannot cover.
"""

from __future__ import annotations

import secrets

from flask import g, request

from engine.bpmn.model import MAX_XML_BYTES
from web.context import current_engine

UPLOADS = frozenset({"catalog.upload_document", "pages.upload", "seals.put_seal_image"})
DEFINITIONS = frozenset({"catalog.deploy_definition", "catalog.deploy_form", "modeler.deploy_process",
                         "modeler.deploy_form", "modeler.deploy_decision", "integration.deploy_decisions"})
MARGIN = 64 * 1024


def body_limit(endpoint: str | None, settings) -> int:
    if endpoint in UPLOADS:
        return settings.max_upload_bytes + MARGIN
    if endpoint in DEFINITIONS:
        return MAX_XML_BYTES + MARGIN
    return settings.max_data_bytes + MARGIN


def csp_nonce() -> str:
    nonce = getattr(g, "csp_nonce", None)
    if nonce is None:
        nonce = g.csp_nonce = secrets.token_urlsafe(16)
    return nonce


def content_security_policy(nonce: str) -> str:
    return "; ".join([
        "default-src 'self'",
        f"script-src 'self' 'nonce-{nonce}'",
        f"style-src 'self' 'nonce-{nonce}'",
        "style-src-attr 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "frame-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ])


def init_app(app) -> None:
    @app.before_request
    def limit_body():
        request.max_content_length = body_limit(request.endpoint, current_engine().settings)

    @app.context_processor
    def nonce():
        return {"csp_nonce": csp_nonce()}

    @app.after_request
    def headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if response.mimetype == "text/html":
            response.headers["Content-Security-Policy"] = content_security_policy(csp_nonce())
            response.headers.setdefault("X-Frame-Options", "DENY")
        return response
