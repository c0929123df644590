"""Issue 17, done-when: no English visible on a zh-CN page except proper names.

Signs in as each demo role that has pages, walks every page reachable from its pages' links
(home, tasks, a task form page of each task, the start page and each start form, the cases list
and a case, notifications, registers, dashboards, audit, the modeler pages), reads the visible
text (``document.body.innerText``: form-js's rendered labels too, the date picker opened once)
and fails listing each Latin word outside the allow-list of proper names, units and
abbreviations. Every visited page is kept as a screenshot at 1366x768 and 390x844.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from urllib.parse import urlsplit

import pytest

from tests.browser.conftest import ARTIFACTS, shot, sign_in

pytestmark = pytest.mark.browser

# the demo roles that have pages of their own (engine/ops/setup.py, engine/identity/roles.py)
ROLES = ("counter_staff", "duty_manager", "hall_manager", "customer_manager", "key_account_manager", "info_clerk",
         "enforcement_officer", "service_center_head", "tobacco_customer_manager", "marketing_back_office",
         "data_analyst", "department_manager", "vice_president", "auditor", "admin", "process_owner")

# Latin words a Chinese page may show: proper names, units, abbreviations people use in Chinese text
ALLOWED = {
    "bpmn.io",  # form-js's and bpmn-js's watermark: their licence says it must stay visible (not removed)
    "English",  # the language switch names the other language in that language
    "PDF", "ID", "BPMN", "DMN", "KPI", "SLA", "CSV", "API", "JSON", "PIN", "CA", "SIM", "VIP", "QR", "Excel",
    "FEEL", "URL", "IP", "SMS", "4G", "5G", "GB", "MB", "KB", "kg", "km", "min", "v", "POS",
    "A", "B", "C", "D",  # grades and tiers (A 档)
}

# The editors show a model as its owner works on it: besides its names (Chinese on the diagram, the
# English ones kept apart as camunda:properties name.en), a model has identifiers. Allowed on the
# editor pages only: the ids of the shipped processes, forms and decisions (how the modeler lists and
# links them, like file names), and on the decision editor the FEEL text of the rules (the codes a
# rule compares and returns, e.g. "payment", "duty_manager", and durations such as PT3M).
def _model_identifiers() -> dict[str, set[str]]:
    from pathlib import Path

    from lxml import etree

    root = Path(__file__).resolve().parents[2]
    ids = {json.loads(f.read_text(encoding="utf-8"))["id"] for f in (root / "forms").glob("*.form")}
    feel: set[str] = set()
    for f in (root / "processes").glob("*.bpmn"):
        ids.update(p.get("id") for p in etree.parse(str(f)).iter("{*}process"))
    for f in (root / "processes").glob("*.dmn"):
        tree = etree.parse(str(f))
        ids.update(d.get("id") for d in tree.iter("{*}decision"))
        for text in tree.iter("{*}text"):
            feel.update(LATIN.findall(text.text or ""))
    return {"/modeler": ids, "/forms-editor": ids, "/decisions-editor": ids | feel}



LATIN = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[._'’-][A-Za-z0-9]+)*")
SKIP = re.compile(r"^/(api|static|lang|logout|live)\b|\.(csv|pdf|png|xlsx|json)$|/export|/documents/|/seal-preview/"
                  r"|/timeline|/migration$")
REFERENCE = re.compile(r"[A-Z]{1,4}-\d{4}-\d{3,}")  # a case's reference number: FP-2026-000001
HASH = re.compile(r"(?=.*\d)[0-9a-f]{4,}")  # a shortened digest (the audit chain)
IDISH = re.compile(r"^(?=.*\d)[0-9a-f-]{6,}$|^\d+$", re.I)
MAX_PAGES_PER_ROLE = 45


def kind(path: str, label: str) -> str:
    """Pages of one kind are walked once: ids become '*', a task page is known by its task's name."""
    parts = ["*" if IDISH.match(p) else p for p in path.strip("/").split("/")]
    if parts and parts[0] == "tasks" and len(parts) == 2:
        return f"/tasks/*:{label.strip()}"
    return "/" + "/".join(parts)


def area_of(page_kind: str) -> str:
    """The area a page kind belongs to (what the allowed model identifiers are keyed by): its first path segment, "/" for home."""
    return "/" + page_kind.split(":")[0].strip("/").split("/")[0]


def offending(text: str, allowed: set[str]) -> list[str]:
    words = []
    for word in LATIN.findall(text):
        if word in ALLOWED or word.lower() in {a.lower() for a in ALLOWED} or word in allowed:
            continue
        if re.fullmatch(r"v\d+", word) or REFERENCE.fullmatch(word) or HASH.fullmatch(word):  # v3, a reference, a hash
            continue
        words.append(word)
    return words


class InFlight:
    """The page's requests still open (what Playwright's "networkidle" waits out with a fixed
    half-second quiet window on every page)."""

    def __init__(self, page) -> None:
        self.open = 0
        page.on("request", self._started)
        page.on("requestfinished", self._ended)
        page.on("requestfailed", self._ended)

    def _started(self, _request) -> None:
        self.open += 1

    def _ended(self, _request) -> None:
        self.open = max(0, self.open - 1)


def _settle(page, inflight: InFlight) -> None:
    """Loaded, and no request open across two short looks (a script that fetches after load
    has then had its answer); a page whose requests never end is read after 5 s."""
    page.wait_for_load_state("load")
    quiet = 0
    for _ in range(100):  # 100 x 50 ms
        quiet = quiet + 1 if inflight.open == 0 else 0
        if quiet >= 2:
            break
        page.wait_for_timeout(50)
    if page.locator("#form").count():
        page.locator("#form .fjs-form, #form-errors:not([hidden])").first.wait_for(timeout=15000)


def _open_date_picker(page) -> bool:
    box = page.locator("#form .fjs-datetime-subsection input.fjs-input").first
    if not box.count() or not box.is_enabled():
        return False
    box.click()
    page.locator(".flatpickr-calendar.open").wait_for(timeout=5000)
    return True


def _both_sizes(page, name: str) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    shot(page, f"{name}-phone")
    page.set_viewport_size({"width": 1366, "height": 768})
    shot(page, f"{name}-desktop")


def _links(page, base: str) -> list[tuple[str, str]]:
    found = page.eval_on_selector_all(
        "a[href]", "els => els.map(a => [a.href, (a.innerText || a.getAttribute('aria-label') || '').trim()])")
    out = []
    for href, label in found:
        parts = urlsplit(href)
        if f"{parts.scheme}://{parts.netloc}" != base or SKIP.search(parts.path):
            continue
        out.append((parts.path + (f"?{parts.query}" if parts.query and parts.path == "/dashboards" else ""), label))
    return out


def test_no_english_on_chinese_pages(server, browser_page):
    page, errors = browser_page
    inflight = InFlight(page)
    page.set_viewport_size({"width": 1366, "height": 768})
    page.set_default_timeout(60000)  # a long walk on a shared machine: a slow page is not a failure here
    identifiers = _model_identifiers()
    found: dict[str, list[str]] = defaultdict(list)
    by_area: dict[str, set[str]] = defaultdict(set)
    seen_kinds: set[str] = set()
    date_picker_seen = False
    visited = 0
    for role in ROLES:
        sign_in(page, server, role)
        queue = [("/", "home"), ("/tasks", ""), ("/start", ""), ("/instances", ""), ("/notifications", "")]
        own = set()
        count = 0
        while queue and count < MAX_PAGES_PER_ROLE:
            path, label = queue.pop(0)
            if path in own:
                continue
            own.add(path)
            k = kind(path, label)
            per_role = k in ("/", "/tasks", "/start", "/instances", "/notifications")
            if not per_role and k in seen_kinds:
                continue
            seen_kinds.add(k)
            response = page.goto(server + path, wait_until="domcontentloaded")
            if response is None or response.status >= 400:
                continue
            _settle(page, inflight)
            count += 1
            visited += 1
            text = page.evaluate("document.body.innerText")
            if not date_picker_seen and _open_date_picker(page):
                date_picker_seen = True
                text += "\n" + page.locator(".flatpickr-calendar.open").inner_text()
            area = area_of(k)
            words = offending(text, identifiers.get(area, set()))
            if words:
                found[f"{role} {path}"] = sorted(set(words))
                by_area[area].update(words)
            slug = re.sub(r"[^a-z0-9]+", "-", f"{role}-{k.split(':')[0]}-{count}".lower()).strip("-")
            (ARTIFACTS / "zh-pages").mkdir(parents=True, exist_ok=True)
            (ARTIFACTS / "zh-pages" / f"{slug}.txt").write_text(f"{server}{path}\n\n{text}", encoding="utf-8")
            _both_sizes(page, f"zh-{slug}")
            queue.extend(_links(page, server))
    assert visited > 40 and date_picker_seen
    assert not found, ("Latin words on zh-CN pages:\n" + "\n".join(f"{where}: {', '.join(w)}" for where, w in found.items())
                       + "\n\nby area:\n" + "\n".join(f"{a!r}: {sorted(w)!r}," for a, w in sorted(by_area.items())))
    assert not errors, errors
