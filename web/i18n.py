"""Interface strings: Chinese (zh-CN) first, English available; the choice lives in the session."""

from __future__ import annotations

from flask import request, session

LANGUAGES = ("zh-CN", "en")

STRINGS: dict[str, dict[str, str]] = {
    "app_name": {"zh-CN": "流程服务平台", "en": "BPM service platform"},
    "login": {"zh-CN": "登录", "en": "Sign in"},
    "logout": {"zh-CN": "退出", "en": "Sign out"},
    "username": {"zh-CN": "用户名", "en": "Username"},
    "password": {"zh-CN": "密码", "en": "Password"},
    "welcome": {"zh-CN": "欢迎", "en": "Welcome"},
    "role": {"zh-CN": "角色", "en": "Role"},
    "unit": {"zh-CN": "单位", "en": "Unit"},
    "bad_login": {"zh-CN": "用户名或密码错误", "en": "Invalid username or password"},
    "throttled": {"zh-CN": "登录失败次数过多，请稍后再试", "en": "Too many failed sign-ins; try again later"},
    "csrf": {"zh-CN": "表单已过期，请重试", "en": "The form expired; please try again"},
    "api_docs": {"zh-CN": "接口文档", "en": "API description"},
    "language": {"zh-CN": "English", "en": "中文"},
}


def current_language() -> str:
    lang = session.get("lang")
    if lang in LANGUAGES:
        return lang
    best = request.accept_languages.best_match(["zh-CN", "zh", "en"]) if request else None
    return "en" if best == "en" else "zh-CN"


def t(key: str) -> str:
    entry = STRINGS.get(key)
    return entry.get(current_language(), entry["zh-CN"]) if entry else key
