"""Flask application factory: a thin adapter over the engine services."""

from __future__ import annotations

import logging

from flask import Flask

from engine.app import BpmEngine


def create_app(engine: BpmEngine | None = None) -> Flask:
    engine = engine or BpmEngine()
    app = Flask(__name__)
    app.config["SECRET_KEY"] = engine.settings.secret_key
    app.config["MAX_CONTENT_LENGTH"] = engine.settings.max_upload_bytes + 1024 * 1024
    app.config["JSON_AS_ASCII"] = False
    app.json.ensure_ascii = False
    app.json.sort_keys = False
    app.extensions["bpm"] = engine

    from web import api_admin, api_audit, api_catalog, api_runtime, errors

    app.register_blueprint(api_catalog.bp)
    app.register_blueprint(api_runtime.bp)
    app.register_blueprint(api_audit.bp)
    app.register_blueprint(api_admin.bp)
    errors.register(app)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    return app
