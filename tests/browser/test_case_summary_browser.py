"""The case summary in a real browser (issue 17 items 1 and 5).

officer files a supply request with two lines and two attachments (a scan as PNG, the form as
PDF) -> the head's review page shows the application above the form: labels, the brand /
specification / quantity lines, the scan previewed, the PDF as a link that opens in a new tab,
and 查看案件 -> the case page shows the same labels (no ``licence_no``, no ``True``, no document
id) and no 技术详情 for the head; the administrator sees the 技术详情 toggle with the raw data.
Screenshots at 1366x768 and 390x844 (where the summary starts folded above the form).
"""

from __future__ import annotations

import re
import struct
import zlib

import pytest

from tests.browser.conftest import shot, sign_in
from tests.browser.forms import api_headers, open_task

pytestmark = pytest.mark.browser

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n"
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
DESKTOP, PHONE = {"width": 1366, "height": 768}, {"width": 390, "height": 844}


def _png(width: int = 40, height: int = 24) -> bytes:
    """A small red PNG (a stand-in for a scanned page)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
    rows = b"".join(b"\x00" + b"\xc0\x20\x20" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def _upload(page, base: str, headers: dict, name: str, body: bytes, mime: str) -> str:
    r = page.request.post(f"{base}/api/documents", headers=headers,
                          multipart={"file": {"name": name, "mimeType": mime, "buffer": body}})
    assert r.status == 201, r.text()
    return r.json()["id"]


def _both_sizes(page, name: str) -> None:
    page.set_viewport_size(DESKTOP)
    shot(page, f"{name}-1366x768")
    page.set_viewport_size(PHONE)
    page.reload()
    page.locator("[data-testid=case-summary]").wait_for(state="attached")
    shot(page, f"{name}-390x844")
    page.set_viewport_size(DESKTOP)


def test_the_head_reviews_with_the_application_in_view_and_the_case_page_speaks_labels(server, browser_page):
    page, errors = browser_page
    base = server
    officer = api_headers(page, base, "enforcement_officer")
    scan = _upload(page, base, officer, "零售户门头照.png", _png(), "image/png")
    form = _upload(page, base, officer, "供货审批表.pdf", PDF, "application/pdf")
    r = page.request.post(f"{base}/api/process-definitions/supply_approval/instances", headers=officer, data={"data": {
        "licence_no": "420100123456", "retailer_name": "城关便民烟酒店", "reason": "春节前备货",
        "lines": [{"brand": "furongwang", "specification": "硬1916", "quantity": 5},
                  {"brand": "huanghelou", "specification": "软蓝", "quantity": 12}],
        "attachments": [scan, form]}})
    assert r.status == 201, r.text()
    instance_id = r.json()["id"]

    # ---- the head's review: the application above the form
    sign_in(page, base, "service_center_head")
    page.set_viewport_size(DESKTOP)
    open_task(page, base, "supply_approval", "审核")
    summary = page.locator("[data-testid=case-summary]")
    assert summary.is_visible() and "案件摘要" in summary.inner_text()
    box, form_box = summary.bounding_box(), page.locator("#form").bounding_box()
    assert box["y"] < form_box["y"]  # read first, then decide
    application = summary.locator("[data-testid=case-step][data-kind=start]")
    assert "申请内容" in application.inner_text() and "零售户许可证号" in application.inner_text()
    table = application.locator("[data-testid=case-table]")
    assert table.locator("thead th").all_inner_texts() == ["品牌", "规格", "数量（条）"]
    rows = [row.locator("td").all_inner_texts() for row in table.locator("tbody tr").all()]
    assert rows == [["芙蓉王", "硬1916", "5"], ["黄鹤楼", "软蓝", "12"]]
    docs = application.locator("[data-testid=case-doc]")
    assert docs.count() == 2
    thumb = docs.nth(0).locator("img")
    thumb.wait_for()
    assert page.evaluate("img => img.complete && img.naturalWidth === 40", thumb.element_handle())
    pdf_link = docs.nth(1).locator("a", has_text="供货审批表.pdf")
    assert pdf_link.get_attribute("target") == "_blank"
    opened = page.request.get(base + pdf_link.get_attribute("href"))
    assert opened.status == 200 and opened.headers["content-disposition"].startswith("inline")
    assert opened.body().startswith(b"%PDF")
    shown = summary.inner_text()
    assert "furongwang" not in shown and not UUID.search(shown)
    case_link = page.locator("[data-testid=case-link]")
    assert case_link.inner_text() == "查看案件"
    _both_sizes(page, "case-summary-review")
    # on a phone the summary starts folded, the form first; a tap opens it
    page.set_viewport_size(PHONE)
    page.reload()
    assert not summary.evaluate("d => d.open")
    summary.locator("summary").click()
    assert summary.evaluate("d => d.open") and table.is_visible()
    page.set_viewport_size(DESKTOP)

    # ---- the case page: labels, option labels, named documents; no raw data for the head
    page.locator("[data-testid=case-link]").click()
    page.wait_for_url(f"{base}/instances/{instance_id}")
    main = page.locator("main").inner_text()
    assert "零售户许可证号" in main and "芙蓉王" in main and "供货审批表.pdf" in main and "零售户门头照.png" in main
    for raw in ("licence_no", "furongwang", "True", scan, form):
        assert raw not in main, raw
    assert not UUID.search(page.locator("[data-testid=case-summary]").inner_text())
    assert page.locator("[data-testid=tech-details]").count() == 0 and "技术详情" not in main
    _both_sizes(page, "case-summary-case-page")

    # ---- the administrator: the same, and the raw data behind 技术详情
    sign_in(page, base, "admin")
    page.goto(f"{base}/instances/{instance_id}")
    details = page.locator("[data-testid=tech-details]")
    assert details.is_visible() and details.locator("summary").inner_text() == "技术详情"
    raw = details.locator("[data-testid=instance-data]")
    assert not raw.is_visible()
    details.locator("summary").click()
    assert raw.is_visible() and '"licence_no": "420100123456"' in raw.inner_text()
    shot(page, "case-summary-admin-tech-details-1366x768")
    assert not errors, errors
