"""What every browser page shares: the blueprint, the signed-in user, errors and badges.

A browser session cookie holds only the id of a server-side session (``bpm_api_token`` rows of
kind ``session``, never accepted as an API bearer token), so revocation (logout, admin,
password change) ends browser sessions exactly like API tokens. Pages call the engine
services directly (never the HTTP API); every POST carries the CSRF token, as a form
field or, for ``fetch`` calls, in the ``X-CSRFToken`` header.
"""

from __future__ import annotations

import logging
from datetime import datetime
from functools import wraps

from flask import (
    Blueprint,
    g,
    jsonify,
    redirect,
    render_template,
    session,
    url_for,
)
from sqlalchemy import select

from engine.errors import EngineError, ServiceUnavailable, ValidationFailed
from engine.identity import auth as identity
from engine.identity.names import local_name, person_name
from engine.identity.roles import ROLES
from engine.runtime import definitions
from engine.runtime.worklist import aware as _aware
from engine.store.models import OrgUnit
from web.context import current_engine
from web.i18n import current_language, t

bp = Blueprint("pages", __name__)
log = logging.getLogger(__name__)


SESSION_KEY = "sid"  # the cookie holds only the id of a server-side session (never an API bearer token)


def session_actor():
    """The signed-in user of this browser session, or None."""
    sid = session.get(SESSION_KEY)
    if not sid:
        return None
    try:
        with current_engine().read() as db:
            return identity.authenticate(db, sid, kind="session")
    except ServiceUnavailable:
        raise  # the database is away: keep the session, show the 503 page
    except EngineError:
        session.clear()
        return None


def _who(actor) -> dict | None:
    """The signed-in user's roles and unit as people read them (names in the page language,
    not keys); the keys stay available to the template through ``me``."""
    if actor is None:
        return None
    zh = current_language().startswith("zh")
    roles = [ROLES[r][0 if zh else 1] if r in ROLES else r for r in sorted(actor.roles)]
    unit = actor.org_unit
    if unit and not g.get("database_unavailable"):
        try:
            with current_engine().read() as db:
                name = db.scalar(select(OrgUnit.name).where(OrgUnit.key == unit))
            unit = name or unit
        except EngineError:  # the database is away: the error page still shows who is signed in
            pass
    return {"roles": ("、" if zh else ", ").join(roles), "unit": local_name(unit, current_language()),
            "name": person_name(actor.display_name, actor.username, actor.roles, current_language())}


@bp.app_context_processor
def inject():
    me = getattr(g, "page_actor", None)
    return {"t": t, "lang": current_language(), "me": me, "who": _who(me)}

# --------------------------------------------------------------------------- helpers

LIST_SIZE = 200  # tasks shown per section (the API pages further; a counter never has more open)


def signed_in(json_endpoint: bool = False):
    """Require a browser session: pages redirect to sign-in, JSON endpoints answer 401."""

    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            g.page_actor = session_actor()
            if g.page_actor is None:
                if json_endpoint:
                    return jsonify({"message": t("signed_out")}), 401
                return redirect(url_for("pages.login"))
            return view(*args, **kwargs)

        return wrapper

    return decorate


PAGE_MESSAGES = {403: "forbidden", 404: "not_found"}  # said in the page's language; the engine's words below


def _error_page(exc: EngineError):
    from web.messages import page_message

    key = PAGE_MESSAGES.get(exc.status)
    said = page_message(exc)  # the engine's words in the page's language (web/messages.py)
    message, detail = (t(key), said) if key else (said, None)
    if detail == message:
        detail = None
    return render_template("error.html", status=exc.status, message=message, detail=detail), exc.status


def _json_error(exc: EngineError):
    from web.messages import page_message

    body = {"message": page_message(exc)}
    if isinstance(exc, ValidationFailed):
        body["errors"] = _localised(exc.errors)
    return jsonify(body), exc.status


def _localised(errors):
    """Deploy errors in the page's language: an error that has a Chinese wording (``message_zh``,
    e.g. what the engine does not run) says it in Chinese on a zh-CN page."""
    if not isinstance(errors, list) or current_language() != "zh-CN":
        return errors
    return [{**e, "message": e.get("message_zh") or e.get("message")} if isinstance(e, dict) else e for e in errors]


def _badge(task: dict, now: datetime) -> dict | None:
    """Due badge of a task: its SLA state, or overdue once the due time has passed."""
    from engine.runtime.worklist import due_state

    state = due_state(task, now)
    if state is None:
        return None
    return {"state": state, "label": t(f"sla_{state}"), "due": _aware(task.get("due_at"))}


def _process_names(session) -> dict[str, str]:
    return {row.key: local_name(row.name, current_language()) or row.key for row in definitions.list_latest(session)}


# --------------------------------------------------------------------------- tasklist


@bp.app_template_filter("lname")
def lname(value, english: str | None = None) -> str:
    """A stored two-language name (unit, user, process, task) in the page's language only
    (engine/identity/names.py): "中心营业厅 Central service hall" -> "中心营业厅" on a zh-CN page."""
    return local_name(value, current_language(), english)


@bp.app_template_filter("local_form")
def local_form(schema):
    """A form-js schema with its words in the page's language only (web/presentation/form_words.py)."""
    from web.presentation.form_words import localize_schema

    return localize_schema(schema, current_language())


@bp.app_template_filter("unit")
def unit_label(key) -> str:
    """An org unit's name in the page's language, by its key ("hall-1" -> "中心营业厅")."""
    if not key:
        return ""
    names = g.get("unit_names")
    if names is None:
        try:
            with current_engine().read() as db:
                names = dict(db.execute(select(OrgUnit.key, OrgUnit.name)).all())
        except EngineError:
            names = {}
        g.unit_names = names
    return local_name(names.get(key), current_language()) or key


@bp.app_template_filter("role")
def role_label(key) -> str:
    """A role as people read it, in the page's language ("counter_staff" -> "营业员"; the engine's
    own ``system`` role as 系统)."""
    if key == "system":
        return t("msg_system_actor")
    names = ROLES.get(key)
    return (names[1] if current_language() == "en" else names[0]) if names else str(key or "")


@bp.app_template_filter("person")
def person_label(username) -> str:
    """A user as people read them (display name in the page's language, else their roles), by username."""
    from web.messages import person_name as named

    if not username:
        return ""
    cache = g.setdefault("person_names", {})
    if username not in cache:
        cache[username] = named(username)
    return cache[username]


@bp.app_template_filter("local_time")
def local_time(value) -> str:
    """Date and time in China Standard Time, the time of the halls."""
    from datetime import timedelta, timezone

    value = _aware(value)
    return value.astimezone(timezone(timedelta(hours=8))).strftime("%Y-%m-%d %H:%M") if value else ""


@bp.errorhandler(403)
def forbidden_page(exc):
    return render_template("error.html", status=403, message=t("forbidden")), 403
