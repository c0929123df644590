"""Browser sign-in: session cookie flags, CSRF on every form, revocation on sign-out, zh-CN first."""

from __future__ import annotations

from tests.support.pages import csrf as _csrf


def _login_page(client):
    r = client.get("/login", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert r.status_code == 200
    return r.get_data(as_text=True)


def test_sign_in_and_out_with_csrf(app):
    client = app.test_client()
    assert client.get("/").status_code == 302  # not signed in: to the login page
    page = _login_page(client)
    assert "登录" in page and "用户名" in page
    # no CSRF token: refused
    assert client.post("/login", data={"username": "counter_staff", "password": "demo"}).status_code == 400
    token = _csrf(page)
    r = client.post("/login", data={"username": "counter_staff", "password": "wrong", "csrf_token": token})
    assert r.status_code == 401 and "用户名或密码错误" in r.get_data(as_text=True)
    r = client.post("/login", data={"username": "counter_staff", "password": "demo", "csrf_token": token})
    assert r.status_code == 302
    cookie = r.headers["Set-Cookie"]
    assert "bpm_session=" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    home = client.get("/").get_data(as_text=True)
    assert "counter_staff" in home and "hall-1" in home and "退出" in home
    # sign-out needs the CSRF token too, and revokes the session's token
    assert client.post("/logout").status_code == 400
    assert client.get("/").status_code == 200
    r = client.post("/logout", data={"csrf_token": _csrf(home)})
    assert r.status_code == 302
    assert client.get("/").status_code == 302


def test_english_is_available(app):
    client = app.test_client()
    _login_page(client)
    client.get("/lang/en")
    page = client.get("/login").get_data(as_text=True)
    assert "Sign in" in page and "Username" in page and 'lang="en"' in page


def test_api_is_not_subject_to_csrf(api):
    # bearer-token API calls need no CSRF token
    assert api.post("/api/auth/token", json={"username": "auditor", "password": "demo"}).status_code == 200


def test_every_browser_form_route_requires_a_csrf_token(app):
    import re as _re

    client = app.test_client()
    page = _login_page(client)
    r = client.post("/login", data={"username": "admin", "password": "demo", "csrf_token": _csrf(page)})
    assert r.status_code == 302
    checked = []
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api") or rule.rule.startswith("/static") or "POST" not in rule.methods:
            continue
        path = _re.sub(r"<int:[^>]+>", "1", rule.rule)
        path = _re.sub(r"<(?:[^:>]+:)?[^>]+>", "x", path)
        r = client.post(path, data={"x": "1"})
        assert r.status_code == 400, (rule.rule, r.status_code)
        checked.append(rule.rule)
    assert "/logout" in checked and len(checked) >= 3
