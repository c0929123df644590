"""Browser pages: session login/logout with CSRF protection (the web app grows from here).

A browser session holds a server-issued bearer token, so revocation (logout, admin,
password change) ends browser sessions exactly like API tokens.
"""

from __future__ import annotations

from flask import Blueprint, current_app, g, redirect, render_template, request, session, url_for

from engine import identity
from engine.errors import EngineError
from web.i18n import LANGUAGES, current_language, t

bp = Blueprint("pages", __name__)


def _engine():
    return current_app.extensions["bpm"]


def session_actor():
    """The signed-in user of this browser session, or None."""
    token = session.get("token")
    if not token:
        return None
    try:
        with _engine().read() as db:
            return identity.authenticate(db, token)
    except EngineError:
        session.clear()
        return None


@bp.app_context_processor
def inject():
    return {"t": t, "lang": current_language(), "me": getattr(g, "page_actor", None)}


@bp.get("/")
def home():
    g.page_actor = session_actor()
    if g.page_actor is None:
        return redirect(url_for("pages.login"))
    return render_template("home.html")


@bp.route("/login", methods=["GET", "POST"])
def login():
    error = None
    if request.method == "POST":
        engine = _engine()
        with engine.uow(identity.SYSTEM) as uow:
            result = identity.login(uow, request.form.get("username", "")[:64], request.form.get("password", ""),
                                    engine.settings.token_ttl_seconds)
        if result.error is None:
            lang = session.get("lang")
            session.clear()  # no session fixation: a fresh session after sign-in
            session["token"] = result.token
            if lang:
                session["lang"] = lang
            return redirect(url_for("pages.home"))
        error = t("throttled") if result.error.status == 429 else t("bad_login")
    return render_template("login.html", error=error), (401 if error else 200)


@bp.post("/logout")
def logout():
    token = session.get("token")
    if token:
        with _engine().uow(identity.SYSTEM) as uow:
            identity.revoke_token(uow.session, token)
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    return redirect(url_for("pages.login"))


@bp.get("/lang/<code>")
def set_language(code: str):
    if code in LANGUAGES:
        session["lang"] = code
    target = request.referrer or url_for("pages.home")
    return redirect(target if target.startswith(request.host_url) else url_for("pages.home"))
