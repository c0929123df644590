"""The audit log for auditors (SQLite and PostgreSQL): search by a person's Chinese name or
username, newest first, an action filter in Chinese grouped by topic, and a CSV with Chinese
(or English) headers, China time and a BOM."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta

import pytest

from engine.clock import clock
from engine.identity.actor import SYSTEM
from tests.support.pages import sign_in

ROW = re.compile(r'<tr data-action="([a-z_]+)" data-actor="([^"]*)" data-seq="(\d+)">\s*<td>\d+</td>\s*'
                 r'<td><time datetime="[^"]*">([^<]*)</time>')
NOW = datetime(2026, 12, 6, 6, 5, 9, tzinfo=UTC)  # 14:05:09 in China


@pytest.fixture
def people(engine):
    from sqlalchemy import select

    from engine.identity import auth as identity
    from engine.store.models import User

    with engine.uow(SYSTEM) as uow:  # PostgreSQL keeps the users of earlier tests
        known = set(uow.session.execute(select(User.username)).scalars())
        for username, name, unit in (("wangfang", "王芳", "hall-1"), ("lina", "李娜", "hall-1"),
                                     ("wangqiang", "王强", "hall-2")):
            if username not in known:
                identity.add_user(uow.session, username, "demo", ["counter_staff"], display_name=name, org_unit=unit)


def _rows(html: str) -> list[tuple[str, str, int, str]]:
    return [(action, actor, int(seq), at) for action, actor, seq, at in ROW.findall(html)]


def test_search_by_chinese_name_newest_first(app, people):
    clock.set(NOW)
    sign_in(app, "lina")  # now
    clock.set(NOW - timedelta(days=1))
    sign_in(app, "wangfang")  # recorded later, but a day earlier (a backdated import, a moved clock)
    clock.set(NOW - timedelta(hours=2))
    sign_in(app, "wangqiang")
    clock.reset()
    auditor = sign_in(app, "auditor")[0]
    rows = _rows(auditor.get("/audit?action=login").get_data(as_text=True))
    logins = [(actor, at) for _, actor, _, at in rows if actor in ("lina", "wangfang", "wangqiang")]
    assert logins == [("lina", "2026-12-06 14:05"), ("wangqiang", "2026-12-06 12:05"), ("wangfang", "2026-12-05 14:05")]
    times = [at for *_, at in rows]
    assert times == sorted(times, reverse=True)  # newest first, by time
    # a part of the Chinese name finds both 王芳 and 王强, the whole name one, the username the same person
    rows = _rows(auditor.get("/audit?actor=王&action=login").get_data(as_text=True))
    assert [actor for _, actor, _, _ in rows] == ["wangqiang", "wangfang"]
    page = auditor.get("/audit?actor=王芳").get_data(as_text=True)
    assert {actor for _, actor, _, _ in _rows(page)} == {"wangfang"} and "共 1 条" in page
    assert {actor for _, actor, _, _ in _rows(auditor.get("/audit?actor=wangfang").get_data(as_text=True))} == {
        "wangfang"}
    # LIKE wildcards are searched as text
    assert "共 0 条" in auditor.get("/audit?actor=%25").get_data(as_text=True)
    assert "共 0 条" in auditor.get("/audit?actor=王_").get_data(as_text=True)


def test_the_action_filter_is_in_chinese_and_grouped(app):
    from engine.audit.actions import ACTIONS

    page = sign_in(app, "auditor")[0].get("/audit?action=seal_applied").get_data(as_text=True)
    select = page[page.index('<select id="f-action"'):]
    select = select[:select.index("</select>")]
    groups = re.findall(r'<optgroup label="([^"]+)"', select)
    assert groups[:3] == ["流程实例", "任务", "外部系统"] and "电子印章" in groups
    options = dict(re.findall(r'<option value="([a-z_]+)"[^>]*>([^<]+)</option>', select))
    assert sorted(options) == sorted(ACTIONS)
    assert all(re.search(r"[\u4e00-\u9fff]", label) for label in options.values()), options
    assert options["seal_applied"] == "加盖印章"
    assert re.search(r'<option value="seal_applied" selected>加盖印章</option>', select)


def _csv(response) -> list[list[str]]:
    assert response.status_code == 200 and response.data.startswith("\ufeff".encode())
    return list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))


def test_the_csv_has_chinese_headers_and_china_time(app, people):
    clock.set(NOW)
    sign_in(app, "wangfang")
    clock.reset()
    auditor = sign_in(app, "auditor")[0]
    lines = _csv(auditor.get("/audit/export.csv?actor=王芳"))
    assert lines[0][:8] == ["序号", "时间（北京时间）", "姓名", "用户名", "角色", "单位", "操作", "操作代码"]
    (login,) = [line for line in lines[1:] if line[7] == "login"]
    assert login[1:8] == ["2026-12-06 14:05:09", "王芳", "wangfang", "营业员", "hall-1", "登录", "login"]
    # in English when the page is in English
    auditor.get("/lang/en")
    lines = _csv(auditor.get("/audit/export.csv?actor=wangfang&action=login"))
    assert lines[0][:8] == ["No.", "Time (China)", "Name", "Username", "Roles", "Unit", "Action", "Action code"]
    assert lines[1][1:8] == ["2026-12-06 14:05:09", "王芳", "wangfang", "Counter staff", "hall-1", "Signed in", "login"]
