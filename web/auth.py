"""Bearer-token authentication for the API."""

from __future__ import annotations

import time

from flask import g, request

from engine.errors import Unauthorized
from engine.identity import auth as identity
from web.context import current_engine

# A token is re-checked against the database at most every few seconds per process, so
# a revocation made by another process takes effect within TOKEN_CACHE_SECONDS.
TOKEN_CACHE_SECONDS = 5.0
_cache: dict[str, tuple] = {}


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def require_actor():
    """Set ``g.actor`` from the bearer token or raise 401."""
    if getattr(g, "actor", None) is not None:
        return g.actor
    token = bearer_token()
    if token is None:
        raise Unauthorized("missing bearer token: send 'Authorization: Bearer <token>'")
    engine = current_engine()
    cached = _cache.get(token)
    now = time.monotonic()
    if cached is not None and cached[1] > now:
        g.actor = cached[0]
        return g.actor
    with engine.read() as session:
        g.actor = identity.authenticate(session, token)
    if len(_cache) > 10_000:
        _cache.clear()
    _cache[token] = (g.actor, now + TOKEN_CACHE_SECONDS)
    return g.actor


def forget_token(token: str | None) -> None:
    """Drop a token from this process's cache (logout, revocation)."""
    if token:
        _cache.pop(token, None)
