"""Every kind of report row a job writes has a heading in both languages on the dashboards page
(a missing one showed the code, e.g. "retailer", as a Chinese page's heading)."""

from __future__ import annotations

import re

from tests.conftest import ROOT
from web.presentation.reports import SUBJECT_TYPES


def test_every_subject_type_the_jobs_write_has_a_chinese_and_english_heading():
    written = set()
    for path in (ROOT / "engine" / "jobs").glob("*.py"):
        written |= set(re.findall(r'"subject_type": "([a-z_]+)"', path.read_text(encoding="utf-8")))
    assert written, "no subject types found: the jobs' row format changed"
    missing = sorted(written - set(SUBJECT_TYPES))
    assert not missing, f"no heading for {missing}: add them to web/presentation/reports.py SUBJECT_TYPES"
    for kind in written:
        zh, en = SUBJECT_TYPES[kind]
        assert re.search(r"[\u4e00-\u9fff]", zh) and re.search(r"[A-Za-z]", en), kind
