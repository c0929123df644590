"""Bearer-token authentication for the API."""

from __future__ import annotations

from flask import current_app, g, request

from engine import identity
from engine.errors import Unauthorized


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
    engine = current_app.extensions["bpm"]
    with engine.read() as session:
        g.actor = identity.authenticate(session, token)
    return g.actor
