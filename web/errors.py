"""Every error leaves as JSON ``{error, message, details}`` with the right status."""

from __future__ import annotations

import logging

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from engine.errors import EngineError

log = logging.getLogger(__name__)


def _json(status: int, code: str, message: str, details=None):
    response = jsonify({"error": code, "message": message, "details": details})
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="bpm"'
    return response


def register(app: Flask) -> None:
    @app.errorhandler(EngineError)
    def engine_error(exc: EngineError):
        return _json(exc.status, exc.code, exc.message, exc.details)

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(exc):
        return _json(413, "payload_too_large", "request body is too large")

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        code = (exc.name or "error").lower().replace(" ", "_")
        return _json(exc.code or 500, code, exc.description or exc.name)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        log.exception("unhandled error")
        return _json(500, "internal_error", "an unexpected error occurred; it has been logged")
