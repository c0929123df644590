"""The supply approval with its electronic seal in a real browser (Playwright + Debian chromium
against `bpm serve` with `bpm init --demo`, whose head has the seal PIN 123456).

officer starts 供货审核 on the start page (a line from the brand select, an attachment uploaded
with progress) -> head approves the review -> head opens the seal task: a wrong PIN is refused
(PIN 错误，未盖章) and the task stays open -> PIN 123456 seals -> the sealed PDF is previewed and
valid -> clerk confirms the maintenance -> officer records the supply -> the instance is completed.
Screenshots go to test-artifacts/; console errors fail the test, except the 403 of the wrong PIN.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import time

import pytest

from tests.browser.conftest import ARTIFACTS, sign_in
from tests.browser.conftest import shot as _shot
from tests.browser.forms import api_headers as _api
from tests.browser.forms import choose as _choose
from tests.browser.forms import fill as _fill
from tests.browser.forms import open_task, wait_until
from tests.browser.forms import settled as _settled
from tests.browser.forms import submit_task as _submit

# a wrong PIN, entered on purpose
EXPECTED_REFUSALS = ((403, "/complete"),)

pytestmark = pytest.mark.browser

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n"


def _open_task(page, base: str, name: str) -> str:
    return open_task(page, base, "supply_approval", name)


DESKTOP, PHONE = {"width": 1366, "height": 768}, {"width": 390, "height": 844}


def _seal_preview(page, base: str) -> bytes:
    """The seal step shows the exact document to be sealed, as page images, above the PIN, with its
    SHA-256; returns the previewed PDF's bytes."""
    preview = page.locator("[data-testid=seal-preview]")
    assert preview.is_visible() and "待盖章文件（共 1 页）" in preview.inner_text()
    images = page.locator("[data-testid=seal-preview-page]")
    assert images.count() == 1
    images.first.scroll_into_view_if_needed()
    wait_until(page, """[...document.querySelectorAll('[data-testid=seal-preview-page]')]
        .every(img => img.complete && img.naturalWidth > 600 && img.naturalHeight > 800)""")
    # the pictures come before the PIN field in the page
    assert page.evaluate("""() => !!(document.querySelector('[data-testid=seal-preview]')
        .compareDocumentPosition(document.getElementById('seal-pin')) & Node.DOCUMENT_POSITION_FOLLOWING)""")
    box = images.first.bounding_box()
    assert box["width"] > 500 and box["height"] > box["width"] * 1.3, box  # an A4 page, readable
    line = page.locator("[data-testid=seal-fingerprint]").inner_text()
    sha = preview.get_attribute("data-sha256")
    assert line.startswith("文件指纹 SHA-256") and sha in line and re.fullmatch(r"[0-9a-f]{64}", sha)
    href = page.locator("[data-testid=seal-preview-pdf]").get_attribute("href")
    pdf = page.request.get(f"{base}{href}")
    assert pdf.status == 200 and pdf.headers["content-type"] == "application/pdf"
    assert hashlib.sha256(pdf.body()).hexdigest() == sha
    image = page.request.get(f"{base}{images.first.get_attribute('src')}")
    assert image.status == 200 and image.headers["content-type"] == "image/png"
    for name, size in (("04a-seal-preview-1366", DESKTOP), ("04b-seal-preview-390", PHONE)):
        page.set_viewport_size(size)
        preview.scroll_into_view_if_needed()
        _shot(page, name)
        if size is PHONE:
            assert images.first.bounding_box()["width"] <= 390  # the page fits the phone's width
    page.set_viewport_size(DESKTOP)
    return pdf.body()


def _sealed_png(sealed: bytes) -> None:
    """The sealed PDF drawn by poppler (pdftoppm) into test-artifacts/, to look at: one A4 page."""
    if shutil.which("pdftoppm") is None:
        return
    ARTIFACTS.mkdir(exist_ok=True)
    target = ARTIFACTS / "supply-sealed-approval-form"
    for old in ARTIFACTS.glob("supply-sealed-approval-form*.png"):
        old.unlink()
    subprocess.run(["pdftoppm", "-r", "110", "-png", "-", str(target)], input=sealed, check=True)
    pages = sorted(ARTIFACTS.glob("supply-sealed-approval-form*.png"))
    assert [p.name for p in pages] == ["supply-sealed-approval-form-1.png"], pages


def test_officer_head_clerk_supply_with_seal(server, bpm_server, browser_page, tmp_path):
    page, errors = browser_page
    base = server
    log = bpm_server.var / "serve.log"

    # ---- officer: start 供货审核 with a line and an uploaded attachment
    sign_in(page, base, "enforcement_officer")
    page.goto(f"{base}/start")
    page.locator("li[data-process-key=supply_approval] a").click()
    page.wait_for_url(f"{base}/start/supply_approval")
    page.locator(".fjs-form").wait_for()
    _fill(page.get_by_label("零售户许可证号"), "420100123456")
    _fill(page.get_by_label("零售户名称"), "城关便民烟酒店")
    _choose(page, page.locator(".fjs-form-field-select").first, "黄鹤楼")
    _fill(page.get_by_label("规格").first, "硬1916")
    _fill(page.get_by_label("数量（条）").first, "5")
    _fill(page.get_by_label("申请事由"), "春节前备货")
    _settled(page, """d.licence_no === '420100123456' && d.retailer_name === '城关便民烟酒店' && d.reason === '春节前备货'
        && (d.lines || [])[0] && d.lines[0].brand === 'huanghelou' && d.lines[0].quantity === 5""")
    scan = tmp_path / "供货审批表.pdf"
    scan.write_bytes(PDF)
    page.locator(".fjs-form-field-filepicker input[type=file]").set_input_files(str(scan))
    _shot(page, "01-start-form")
    with page.expect_response(lambda r: r.url.endswith("/uploads")) as uploaded:
        page.locator("#form-submit").click()
    assert uploaded.value.status == 201
    page.wait_for_url(f"{base}/tasks")
    page.get_by_text("流程已发起").wait_for()
    _shot(page, "02-started")

    # ---- head: approve the review
    sign_in(page, base, "service_center_head")
    _open_task(page, base, "审核")
    assert "城关便民烟酒店" in page.locator("main").inner_text()
    page.locator(".fjs-form-field-radio label", has_text="通过").click()
    _shot(page, "03-review")
    _submit(page, base, "03-review", log, errors)

    # ---- head: the seal task; the PIN is a password input of the page
    seal_id = _open_task(page, base, "加盖电子公章")
    step = page.locator("[data-testid=seal-step]")
    assert step.is_visible() and "电子公章" in step.inner_text() and "卷烟供货审批表" in step.inner_text()
    pin = page.locator("#seal-pin")
    assert pin.get_attribute("type") == "password" and pin.get_attribute("inputmode") == "numeric"
    assert pin.get_attribute("autocomplete") == "off"
    assert page.locator(".fjs-form input[name*=seal_pin], .fjs-form [id*=seal_pin]").count() == 0
    preview_pdf = _seal_preview(page, base)
    page.locator(".fjs-form-field-checkbox input[type=checkbox]").check()
    pin.fill("654321")
    _shot(page, "04-seal-task")
    with page.expect_response(lambda r: r.url.endswith("/complete")) as refused:
        page.locator("#form-submit").click()
    assert refused.value.status == 403
    error = page.locator("[data-testid=seal-error]")
    error.wait_for(state="visible")
    assert "PIN 错误" in error.inner_text() and "未盖章" in error.inner_text()
    assert pin.input_value() == "" and "654321" not in page.content()
    assert page.url == f"{base}/tasks/{seal_id}"
    _shot(page, "05-seal-wrong-pin")
    headers = _api(page, base, "auditor")
    task = page.request.get(f"{base}/api/tasks/{seal_id}", headers=headers).json()
    assert task["status"] == "open"
    instance_id = task["instance_id"]

    pin.fill("123456")
    page.locator("#form-submit").click()
    page.wait_for_url(f"{base}/tasks/{seal_id}")
    page.locator("[data-testid=sealed-document]").wait_for()
    assert "已加盖电子公章" in page.locator("main").inner_text()
    status = page.locator("[data-testid=seal-status]")
    assert status.get_attribute("data-valid") == "true" and "有效" in status.inner_text()
    preview = page.locator("[data-testid=pdf-preview]")
    src = preview.get_attribute("src")
    assert src.startswith("/documents/")
    pdf = page.request.get(f"{base}{src}")
    assert pdf.status == 200 and pdf.headers["content-type"] == "application/pdf" and pdf.body().startswith(b"%PDF-")
    download = page.locator("[data-testid=download-pdf]").get_attribute("href")
    assert download == f"{src}?download=1"
    assert page.request.get(f"{base}{download}").headers["content-disposition"].startswith("attachment")
    _shot(page, "06-sealed")
    # what was sealed is exactly what the head saw: the signature is appended to the previewed bytes
    sealed = pdf.body()
    assert sealed.startswith(preview_pdf) and len(sealed) > len(preview_pdf)
    _sealed_png(sealed)

    # ---- the served demo worker records the sealed approval in the monopoly's system (topic supply_sync)
    deadline = time.monotonic() + 30
    while True:
        inst = page.request.get(f"{base}/api/process-instances/{instance_id}", headers=headers).json()
        if [t["element_id"] for t in inst["open_tasks"]] == ["maintain"] or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert re.fullmatch(r"YC-\d{8}-\d{5}", inst["data"]["supply_ref"]), inst
    ledger = (bpm_server.var / "integration" / "supply_ledger.jsonl").read_text(encoding="utf-8")
    assert inst["data"]["supply_ref"] in ledger

    # ---- clerk: confirms the maintenance, seeing the sealed PDF and the monopoly system's reference
    sign_in(page, base, "info_clerk")
    _open_task(page, base, "系统维护")
    assert f"专卖系统登记号：{inst['data']['supply_ref']}" in page.locator("main").inner_text()
    assert page.locator("[data-testid=pdf-preview]").get_attribute("src") == src
    assert page.locator("[data-testid=seal-status]").get_attribute("data-valid") == "true"
    _fill(page.get_by_label("系统单号"), "JYXT-2026-0001")
    _settled(page, "d.system_ref === 'JYXT-2026-0001'")
    _shot(page, "07-maintain")
    _submit(page, base, "07-maintain", log, errors)

    # ---- officer: records the supply, seeing the countersigned PDF
    sign_in(page, base, "enforcement_officer")
    _open_task(page, base, "执行供货")
    assert page.locator("[data-testid=seal-status]").get_attribute("data-valid") == "true"
    assert page.locator("[data-testid=pdf-preview]").get_attribute("src") != src  # the countersigned version
    date_input = page.locator(".fjs-form-field-datetime input").first
    date_input.fill("2026/11/25")  # the date picker's zh-CN input format
    date_input.press("Enter")
    page.locator("h1").click()  # closes the calendar
    _choose(page, page.locator(".fjs-form-field-select").first, "黄鹤楼")
    _fill(page.get_by_label("规格").first, "硬1916")
    _fill(page.get_by_label("实供数量（条）").first, "5")
    _settled(page, """d.supply_date && (d.delivered || [])[0] && d.delivered[0].brand === 'huanghelou'
        && d.delivered[0].specification === '硬1916' && d.delivered[0].delivered_qty === 5""")
    _shot(page, "08-supply")
    _submit(page, base, "08-supply", log, errors)
    _shot(page, "09-done")

    inst = page.request.get(f"{base}/api/process-instances/{instance_id}", headers=headers).json()
    assert inst["status"] == "completed", inst
    assert inst["data"]["sealed_document"] and inst["data"]["confirmed_document"]
    assert "seal_pin" not in inst["data"]
    assert not errors, errors


def test_a_head_of_another_hall_neither_reviews_nor_seals_it(server, bpm_server, browser_page):
    """The reported breach: a hall-2 service-center head reviewed and sealed, with hall-2's seal, a
    hall-1 supply approval. In the browser that head sees no such task, cannot open it, and a
    request forged from their page is refused; hall-1's head reviews and seals it."""
    page, errors = browser_page
    base = server
    from tests.browser.forms import bpm_cli

    bpm_cli(bpm_server.var, "users", "add", "head_east", "--password", "east-hall-2026", "--role",
            "service_center_head", "--unit", "hall-2", "--name", "城东客服中心负责人")
    bpm_cli(bpm_server.var, "seal", "issue", "head_east", input="246810\n246810\n")

    officer = _api(page, base, "enforcement_officer")
    doc = page.request.post(f"{base}/api/documents", headers=officer, multipart={
        "file": {"name": "供货审批表.pdf", "mimeType": "application/pdf", "buffer": PDF}}).json()["id"]
    inst = page.request.post(f"{base}/api/process-definitions/supply_approval/instances", headers=officer, data={
        "data": {"licence_no": "420100999999", "retailer_name": "城东越界测试店", "reason": "越界测试",
                 "attachments": [doc], "lines": [{"brand": "huanghelou", "specification": "硬1916", "quantity": 1}]}})
    assert inst.status == 201, inst.text()
    instance_id = inst.json()["id"]
    review_id = inst.json()["open_tasks"][0]["id"]

    def forged_complete(task_id: str, data: dict) -> int:
        """A completion posted from the signed-in page with its own CSRF token (what a crafted request does)."""
        return page.evaluate("""async ([url, data]) => {
            const token = document.querySelector('input[name=csrf_token]').value;
            const r = await fetch(url, {method: 'POST', credentials: 'same-origin',
              headers: {'Content-Type': 'application/json', 'X-CSRFToken': token, 'Accept': 'application/json'},
              body: JSON.stringify({data: data})});
            return r.status; }""", [f"{base}/tasks/{task_id}/complete", data])

    def as_east_head(task_id: str, data: dict, shot_name: str) -> None:
        sign_in(page, base, "head_east", "east-hall-2026")
        page.goto(f"{base}/tasks?process=supply_approval")
        assert "城东越界测试店" not in page.locator("main").inner_text()
        assert page.locator(f"li.task[data-task-id='{task_id}']").count() == 0
        response = page.goto(f"{base}/tasks/{task_id}")
        assert response.status == 403 and "城东越界测试店" not in page.content()
        _shot(page, shot_name)
        page.goto(f"{base}/tasks")
        assert forged_complete(task_id, data) == 403

    as_east_head(review_id, {"decision": "approve", "review_comment": "越界审批"}, "10-east-head-review-refused")

    sign_in(page, base, "service_center_head")  # hall-1's own head reviews
    _open_task(page, base, "审核")
    page.locator(".fjs-form-field-radio label", has_text="通过").click()
    _submit(page, base, "11-own-head-review", bpm_server.var / "serve.log", errors)
    auditor = _api(page, base, "auditor")
    seal_id = page.request.get(f"{base}/api/process-instances/{instance_id}", headers=auditor).json()["open_tasks"][0]["id"]

    as_east_head(seal_id, {"seal_confirm": True, "seal_pin": "246810"}, "12-east-head-seal-refused")
    docs = page.request.get(f"{base}/api/process-instances/{instance_id}/documents", headers=auditor).json()["items"]
    assert [d["kind"] for d in docs] == ["attachment"]  # nothing sealed
    inst = page.request.get(f"{base}/api/process-instances/{instance_id}", headers=auditor).json()
    assert [t["element_id"] for t in inst["open_tasks"]] == ["seal"] and "sealed_document" not in inst["data"]
    # the refusals are the only errors the browser saw
    errors[:] = [e for e in errors if not ("403" in e and (review_id in e or seal_id in e))]
    assert not errors, errors
