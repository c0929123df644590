"""Every audit action the code writes is listed in ``engine.audit.actions`` and has a Chinese and an
English label (``web/presentation/audit.py``), so the audit page's action filter offers it by name."""

from __future__ import annotations

import re

from engine.audit.actions import ACTION_GROUPS, ACTIONS
from tests.conftest import ROOT
from web.presentation.audit import ACTION_LABELS, GROUP_LABELS, action_groups

CJK = re.compile(r"[\u4e00-\u9fff]")
# uow.audit("x", ...), audit(session, "x"), action="x", "x" if ... else "y"
WRITTEN = (re.compile(r'audit\(\s*(?:[a-z_.]+,\s*)?"([a-z_]+)"'), re.compile(r'\baction\s*=\s*"([a-z_]+)"'),
           re.compile(r'audit\(\s*"([a-z_]+)"\s+if\s+[^"]+else\s+"([a-z_]+)"'),
           re.compile(r'action\s*=\s*"([a-z_]+)"\s+if\s+[^"]+else\s+'))


def written_actions() -> set[str]:
    found: set[str] = set()
    for folder in ("engine", "web", "bpm_cli"):
        for path in (ROOT / folder).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            for pattern in WRITTEN:
                for match in pattern.finditer(text):
                    found.update(g for g in match.groups() if g)
    return found


def test_every_action_written_is_listed():
    found = written_actions()
    assert len(found) > 60  # the scan finds the engine's actions
    assert sorted(found - set(ACTIONS)) == []


def test_every_listed_action_has_a_chinese_and_an_english_label():
    assert len(ACTIONS) == len(set(ACTIONS))
    missing = [a for a in ACTIONS if a not in ACTION_LABELS]
    assert missing == []
    for action in ACTIONS:
        zh, en = ACTION_LABELS[action]
        assert CJK.search(zh) and not CJK.search(en) and en, action
    assert set(GROUP_LABELS) == set(ACTION_GROUPS)


def test_the_filter_groups_offer_every_action_once_by_its_label():
    groups = action_groups("zh-CN")
    offered = [a["code"] for g in groups for a in g["actions"]]
    assert sorted(offered) == sorted(ACTIONS)
    assert all(CJK.search(a["label"]) for g in groups for a in g["actions"])
    assert [g["label"] for g in groups][:2] == ["流程实例", "任务"]
    english = action_groups("en")
    assert english[0]["label"] == "Process instances"
    assert not any(CJK.search(a["label"]) for g in english for a in g["actions"])
