"""Flask application factory: a thin adapter over the engine services."""

from __future__ import annotations

import logging

from flask import Flask

from engine.app import BpmEngine


def _configure(app: Flask, engine: BpmEngine) -> None:
    app.config["SECRET_KEY"] = engine.settings.secret_key
    # the largest body any route takes; each route's own, smaller limit: web/security.py
    app.config["MAX_CONTENT_LENGTH"] = engine.settings.max_upload_bytes + 1024 * 1024
    app.config["JSON_AS_ASCII"] = False
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=engine.settings.production,
        SESSION_COOKIE_NAME="bpm_session",
        PERMANENT_SESSION_LIFETIME=engine.settings.token_ttl_seconds,
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session
    )
    from web.routing import StrictJSONProvider

    app.json = StrictJSONProvider(app)
    app.json.ensure_ascii = False
    app.json.sort_keys = False
    app.extensions["bpm"] = engine


def _register_blueprints(app: Flask, engine: BpmEngine) -> None:
    from web.api import admin as api_admin
    from web.api import audit as api_audit
    from web.api import catalog as api_catalog
    from web.api import events as api_events
    from web.api import halls as api_halls
    from web.api import integration as api_integration
    from web.api import migration as api_migration
    from web.api import notify as api_notify
    from web.api import registers as api_registers
    from web.api import reports as api_reports
    from web.api import runtime as api_runtime
    from web.api import seals as api_seals
    from web.pages import common as pages
    from web.pages import dashboards as pages_dashboards
    from web.pages import modeler as pages_modeler
    from web.pages import records as pages_records
    from web.pages import registers as pages_registers
    from web.pages import session, start, tasks  # noqa: F401 - their routes are on the pages blueprint

    for module in (api_catalog, api_runtime, api_audit, api_admin, api_notify, api_halls, api_events, api_seals,
                   api_migration, api_reports, api_integration, api_registers):
        app.register_blueprint(module.bp)
    if engine.settings.controlled_clock:
        app.register_blueprint(api_notify.testing_bp)
    for module in (pages, pages_modeler, pages_records, pages_dashboards, pages_registers):
        app.register_blueprint(module.bp)


def _protect_forms(app: Flask) -> None:
    """Browser forms carry a CSRF token; the JSON API authenticates with bearer tokens (never
    cookies), so it is exempt."""
    from flask_wtf.csrf import CSRFError, CSRFProtect

    csrf = CSRFProtect(app)
    for blueprint in app.blueprints.values():
        if (blueprint.url_prefix or "").startswith("/api"):
            csrf.exempt(blueprint)

    @app.errorhandler(CSRFError)
    def csrf_failed(exc):
        from flask import render_template

        from web.i18n import t

        return render_template("login.html", error=t("csrf")), 400


def create_app(engine: BpmEngine | None = None) -> Flask:
    from web import errors, ratelimits, security

    engine = engine or BpmEngine()
    app = Flask(__name__)
    _configure(app, engine)
    _register_blueprints(app, engine)
    _protect_forms(app)
    errors.register(app)
    security.init_app(app)
    ratelimits.init_app(app, engine)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    return app
