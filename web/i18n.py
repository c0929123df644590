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
    "nav_tasks": {"zh-CN": "待办任务", "en": "Tasks"},
    "nav_start": {"zh-CN": "发起流程", "en": "Start a process"},
    "my_tasks": {"zh-CN": "我的任务", "en": "My tasks"},
    "group_tasks": {"zh-CN": "可认领任务", "en": "Claimable tasks"},
    "no_tasks": {"zh-CN": "暂无任务", "en": "No tasks"},
    "process": {"zh-CN": "流程", "en": "Process"},
    "all_processes": {"zh-CN": "全部流程", "en": "All processes"},
    "filter": {"zh-CN": "筛选", "en": "Filter"},
    "task": {"zh-CN": "任务", "en": "Task"},
    "due": {"zh-CN": "截止时间", "en": "Due"},
    "created": {"zh-CN": "创建时间", "en": "Created"},
    "claim": {"zh-CN": "认领", "en": "Claim"},
    "unclaim": {"zh-CN": "退回", "en": "Release"},
    "open_task": {"zh-CN": "办理", "en": "Open"},
    "claimed": {"zh-CN": "已认领任务", "en": "Task claimed"},
    "unclaimed": {"zh-CN": "已退回任务", "en": "Task released"},
    "completed": {"zh-CN": "任务已提交", "en": "Task completed"},
    "started": {"zh-CN": "流程已发起", "en": "Process started"},
    "start": {"zh-CN": "发起", "en": "Start"},
    "fill_start_form": {"zh-CN": "填写并发起", "en": "Fill in and start"},
    "no_startable": {"zh-CN": "您没有可发起的流程", "en": "There is no process you may start"},
    "submit": {"zh-CN": "提交", "en": "Submit"},
    "back": {"zh-CN": "返回待办", "en": "Back to tasks"},
    "fix_errors": {"zh-CN": "请更正以下字段：", "en": "Please correct these fields:"},
    "uploading": {"zh-CN": "正在上传附件…", "en": "Uploading files…"},
    "submitting": {"zh-CN": "正在提交…", "en": "Submitting…"},
    "failed": {"zh-CN": "提交失败", "en": "Submission failed"},
    "assignee": {"zh-CN": "办理人", "en": "Assignee"},
    "unassigned": {"zh-CN": "未认领", "en": "Unclaimed"},
    "sla_on_time": {"zh-CN": "按时", "en": "On time"},
    "sla_warning": {"zh-CN": "即将超时", "en": "Due soon"},
    "sla_breached": {"zh-CN": "已超时", "en": "Overdue"},
    "sla_escalated": {"zh-CN": "超时升级", "en": "Escalated"},
    "sla_met": {"zh-CN": "按时完成", "en": "Met"},
    "sla_missed": {"zh-CN": "超时完成", "en": "Missed"},
    "signed_out": {"zh-CN": "请先登录", "en": "Please sign in"},
    "bad_request": {"zh-CN": "请求格式错误", "en": "Malformed request"},
    "no_file": {"zh-CN": "未选择文件", "en": "No file chosen"},
    "forbidden": {"zh-CN": "您无权执行此操作", "en": "You may not do this"},
    "error": {"zh-CN": "出错了", "en": "Error"},
    "home": {"zh-CN": "首页", "en": "Home"},
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
