"""Errors raised by engine services; the web layer maps ``status`` to HTTP."""

from __future__ import annotations

from typing import Any


class EngineError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_dict(self) -> dict:
        return {"error": self.code, "message": self.message, "details": self.details}


class BadRequest(EngineError):
    status, code = 400, "bad_request"


class Unauthorized(EngineError):
    status, code = 401, "unauthorized"


class Forbidden(EngineError):
    status, code = 403, "forbidden"


class AuditedRefusal(Forbidden):
    """A refusal whose audit event must outlive the refused unit of work (a refused seal ...):
    ``BpmEngine.uow`` calls :meth:`record` in a transaction of its own after the rollback, so
    every entrypoint (API, pages, CLI, tests) leaves the same trace."""

    recorded = False

    def record(self, uow) -> None:
        raise NotImplementedError


class NotFound(EngineError):
    status, code = 404, "not_found"


class Conflict(EngineError):
    status, code = 409, "conflict"


class StaleInstance(Conflict):
    """The instance was changed by another transaction between load and save (its version moved):
    a caller acting for a machine (an external task's worker) may simply try again."""


class PayloadTooLarge(EngineError):
    status, code = 413, "payload_too_large"


class ValidationFailed(EngineError):
    """422: ``details`` is ``{"errors": ...}`` in the shape the caller documents."""

    status, code = 422, "validation_failed"

    def __init__(self, message: str, errors: Any) -> None:
        super().__init__(message, {"errors": errors})
        self.errors = errors


class TooManyRequests(EngineError):
    status, code = 429, "too_many_requests"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message, {"retry_after": retry_after})
        self.retry_after = retry_after


class ServiceUnavailable(EngineError):
    status, code = 503, "unavailable"
    retry_after = 5


class NotInitialised(ServiceUnavailable):
    """The database answers but has none of our tables: nobody ran `bpm init` against it."""

    code = "not_initialised"
    retry_after = 30
