"""The seal task's page shows the exact PDF it will sign (page images and the SHA-256), and a seal
on a document that changed after it was shown is refused with a Chinese message."""

from __future__ import annotations

import hashlib
import json
import re

from tests.support.business import open_task
from tests.support.pages import sign_in as _sign_in
from tests.web.pages.test_pages import SEAL_PIN, _reviewed_supply


def _preview(page: str) -> tuple[str, list[str], str]:
    """``(sha256, page image urls, pdf url)`` of the seal preview in the page's HTML."""
    block = re.search(r'data-testid="seal-preview" data-sha256="([0-9a-f]{64})"(.*?)data-testid="seal-fingerprint"', page,
                      re.S)
    assert block, "no seal preview on the page"
    images = re.findall(r'<img src="([^"]+)"', block.group(2))
    pdf = re.search(r'href="([^"]+\.pdf)"[^>]*data-testid="seal-preview-pdf"', page).group(1)
    return block.group(1), images, pdf


def test_the_seal_page_shows_the_pdf_to_be_signed_before_the_pin(app, api, engine):
    iid, task = _reviewed_supply(api, engine)
    client, csrf = _sign_in(app, "service_center_head")
    page = client.get(f"/tasks/{task['id']}").get_data(as_text=True)
    sha, images, pdf_url = _preview(page)
    assert page.index('data-testid="seal-preview"') < page.index('id="seal-pin"')
    assert "待盖章文件（共 1 页）" in page and f"文件指纹 SHA-256：<code>{sha}</code>" in page
    assert len(images) == 1
    config = json.loads(re.search(r'id="form-config">(.*?)</script>', page, re.S).group(1))
    assert config["sealSha256"] == sha  # sent back with the PIN
    image = client.get(images[0])
    assert image.status_code == 200 and image.mimetype == "image/png" and image.data.startswith(b"\x89PNG")
    pdf = client.get(pdf_url)
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert hashlib.sha256(pdf.data).hexdigest() == sha
    # someone else may not see it; a stale fingerprint finds nothing
    other, _ = _sign_in(app, "counter_staff")
    assert other.get(images[0]).status_code in (403, 404) and other.get(pdf_url).status_code in (403, 404)
    assert client.get(pdf_url.replace(sha, "0" * 64)).status_code == 404

    r = client.post(f"/tasks/{task['id']}/complete", headers={"X-CSRFToken": csrf},
                    json={"data": {"seal_confirm": True, "seal_pin": SEAL_PIN, "seal_document_sha256": sha}})
    assert r.status_code == 200, r.get_json()
    sealed = api.get(f"/api/documents/{r.get_json()['sealed_document']}", "auditor").data
    assert sealed.startswith(pdf.data)


def test_a_changed_document_is_refused_in_chinese(app, api, engine):
    iid, task = _reviewed_supply(api, engine)
    client, csrf = _sign_in(app, "service_center_head")
    sha, _, _ = _preview(client.get(f"/tasks/{task['id']}").get_data(as_text=True))
    r = api.post(f"/api/process-instances/{iid}/variables", "admin",
                 json={"data": {"reason": "春节前备货（数量已核减）"}, "reason": "更正申请事由"})
    assert r.status_code == 200, r.get_json()
    r = client.post(f"/tasks/{task['id']}/complete", headers={"X-CSRFToken": csrf},
                    json={"data": {"seal_confirm": True, "seal_pin": SEAL_PIN, "seal_document_sha256": sha}})
    assert r.status_code == 403
    body = r.get_json()
    assert body["reason"] == "changed" and "已变化" in body["message"] and "未盖章" in body["message"]
    assert body["errors"]["seal_pin"] == [body["message"]]
    assert open_task(api, iid, "seal")["status"] == "open"
    page = client.get(f"/tasks/{task['id']}").get_data(as_text=True)
    assert _preview(page)[0] != sha  # the page now shows the changed document
