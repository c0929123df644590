"""Every error leaves as JSON ``{error, message, details}`` with the right status."""

from __future__ import annotations

import logging

from flask import Flask, g, jsonify, make_response, render_template, request
from flask_limiter.errors import RateLimitExceeded
from sqlalchemy.exc import DataError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from engine.errors import EngineError

log = logging.getLogger(__name__)


def _json(status: int, code: str, message: str, details=None):
    response = jsonify({"error": code, "message": message, "details": details})
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="bpm"'
    return response


def _unavailable_page(exc: EngineError):
    """Browser pages get a 503 page (zh-CN first), not JSON, while e.g. the database is away."""
    from web.i18n import t

    log.warning("503 on a page: %s (%s)", exc.message, exc.details)
    g.database_unavailable = True  # the page header must not try the database again
    key = "not_initialised" if exc.code == "not_initialised" else "unavailable"
    return make_response(render_template("error.html", status=503, message=t(key)), 503)


def register(app: Flask) -> None:
    @app.errorhandler(EngineError)
    def engine_error(exc: EngineError):
        if exc.status == 503 and not request.path.startswith("/api"):
            response = _unavailable_page(exc)
        else:
            response = _json(exc.status, exc.code, exc.message, exc.details)
        if getattr(exc, "retry_after", None):
            response.headers["Retry-After"] = str(exc.retry_after)
        return response

    @app.errorhandler(RateLimitExceeded)
    def rate_limited(exc: RateLimitExceeded):
        """429 (Retry-After and X-RateLimit-* headers are added by Flask-Limiter): JSON for the API and
        for the pages' fetch calls, the sign-in page or the error page for a browser."""
        from web.i18n import t

        message = f"too many requests ({exc.description}): try again later"
        if request.path.startswith("/api") or request.is_json or request.accept_mimetypes.best == "application/json":
            return _json(429, "too_many_requests", message)
        if request.endpoint == "pages.login":
            return make_response(render_template("login.html", error=t("throttled")), 429)
        return make_response(render_template("error.html", status=429, message=t("too_many_requests")), 429)

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(exc):
        limit = request.max_content_length
        return _json(413, "payload_too_large", "request body is too large" + (f": at most {limit} bytes here" if limit else ""))

    @app.errorhandler(DataError)
    def data_error(exc: DataError):
        # Last line of defence: the database refused a value (too long for its column, out of
        # range, a NUL character in text). That is bad input, not a server fault.
        log.warning("database rejected a value: %s", str(exc.orig)[:300])
        message = "a value was rejected by the database (too long, out of range or not storable)"
        return _json(422, "validation_failed", message, {"errors": {"request": [message]}})

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        code = (exc.name or "error").lower().replace(" ", "_")
        response = _json(exc.code or 500, code, exc.description or exc.name)
        for name, value in exc.get_headers():  # e.g. the Allow header a 405 must carry
            if name.lower() != "content-type":
                response.headers[name] = value
        return response

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        log.exception("unhandled error")
        return _json(500, "internal_error", "an unexpected error occurred; it has been logged")
