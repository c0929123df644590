"""Signing in and out, and the page language."""

from __future__ import annotations

from flask import (
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from engine.identity import auth as identity
from web.context import current_engine
from web.i18n import LANGUAGES, t
from web.pages.common import SESSION_KEY, bp, session_actor
from web.pages.worklist import home_context
from web.ratelimits import client_address, per_address


@bp.get("/")
def home():
    g.page_actor = session_actor()
    if g.page_actor is None:
        return redirect(url_for("pages.login"))
    return render_template("home.html", **home_context(g.page_actor))


@bp.route("/login", methods=["GET", "POST"])
@per_address("logins")
@per_address("failed_logins", failures_only=True)
def login():
    error = None
    if request.method == "POST":
        engine = current_engine()
        result = identity.login(engine, request.form.get("username", "")[:64], request.form.get("password", ""),
                                engine.settings.token_ttl_seconds, address=client_address(), kind="session")
        if result.error is None:
            lang = session.get("lang")
            session.clear()  # no session fixation: a fresh session after sign-in
            session[SESSION_KEY] = result.token
            if lang:
                session["lang"] = lang
            return redirect(url_for("pages.home"))
        error = t("throttled") if result.error.status == 429 else t("bad_login")
    return render_template("login.html", error=error), (401 if error else 200)


@bp.post("/logout")
def logout():
    sid = session.get(SESSION_KEY)
    if sid:
        with current_engine().uow(identity.SYSTEM) as uow:
            identity.revoke_token(uow.session, sid)
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


