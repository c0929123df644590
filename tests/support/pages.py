"""Helpers for testing browser pages with Flask's test client."""

from __future__ import annotations

import re


def csrf(html: str) -> str:
    """The CSRF token a page embeds in its forms."""
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, html
    return match.group(1)


def sign_in(app, username: str):
    """A test client signed in as ``username`` (password ``demo``) and a CSRF token for its forms."""
    client = app.test_client()
    page = client.get("/login", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    r = client.post("/login", data={"username": username, "password": "demo", "csrf_token": csrf(page)})
    assert r.status_code == 302
    return client, csrf(client.get("/").get_data(as_text=True))
