"""The sealed supply approval reads like the paper 审批表, and the head seals what they saw.

* a normal request gives a one-page A4 form: title, reference, request and lines, attachments,
  then the signer grid (申请人 / 审核意见 / 审批意见 / 系统维护) with the seal's signature widget
  inside the 审批意见 box, on the page with the content;
* the seal task's preview is exactly the document that is signed: the sealed file's first
  revision is the previewed bytes, and the audit records their SHA-256;
* a document that changed between the preview and the PIN is refused and nothing is sealed;
* a long request flows to a second page, and the signer grid goes with the end of the content.
"""

from __future__ import annotations

import hashlib
import io

from tests.engine.seals.conftest import PIN
from tests.engine.seals.test_seal_flow import audit_events, reviewed, supply_request
from tests.support.business import deploy, instance, open_task, start, try_complete, work


def _preview(engine, task_id: str, username: str = "service_center_head") -> dict:
    from engine.identity.auth import actor_by_name
    from engine.seals.service import seal_preview

    with engine.read() as session:
        return seal_preview(engine, session, actor_by_name(session, username), task_id)


def _widgets(pdf: bytes) -> dict[str, tuple[int, list[float]]]:
    """``{field name: (page index, rect)}`` of the signature widgets."""
    from pyhanko.pdf_utils.reader import PdfFileReader

    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    out = {}
    for index in range(int(reader.root["/Pages"]["/Count"])):
        page = reader.root["/Pages"]["/Kids"][index]
        for annot in page.get("/Annots", []):
            annot = annot.get_object()
            if annot.get("/FT") == "/Sig" or "/T" in annot:
                out[str(annot["/T"])] = (index, [float(v) for v in annot["/Rect"]])
    return out


def _label_boxes(pdf: bytes, labels) -> dict[str, tuple[int, tuple[float, float, float, float]]]:
    """Where each label's text is drawn: ``{label: (page index, (left, bottom, right, top))}`` in PDF points
    (its first page, topmost occurrence: the running footer repeats the title at the bottom)."""
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(pdf)
    found = {}
    try:
        for index in range(len(doc)):
            text = doc[index].get_textpage()
            for label in labels:
                if label in found:
                    continue
                searcher = text.search(label)
                hits = []
                while (hit := searcher.get_next()) is not None:
                    start, count = hit
                    boxes = [text.get_charbox(i) for i in range(start, start + count)]
                    hits.append((min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes),
                                 max(b[3] for b in boxes)))
                if hits:
                    found[label] = (index, max(hits, key=lambda b: b[3]))
    finally:
        doc.close()
    return found


def test_the_sealed_form_is_one_page_with_the_seal_in_the_approval_box(api, engine, seals_ready):
    iid, _ = reviewed(api, "GH-2026-301")
    task = open_task(api, iid, "seal")
    preview = _preview(engine, task["id"])
    assert preview["pages"] == 1
    inst = work(api, "service_center_head", iid, "seal",
                {"seal_confirm": True, "seal_pin": PIN, "seal_document_sha256": preview["sha256"]})
    assert "seal_document_sha256" not in inst["data"]
    sealed = api.get(f"/api/documents/{inst['data']['sealed_document']}", "auditor").data

    from engine.seals.service import pdf_page_count

    assert pdf_page_count(sealed) == 1
    widgets = _widgets(sealed)
    assert set(widgets) == {"seal", "clerk_confirmation"}
    page, (x0, y0, x1, y1) = widgets["seal"]
    assert page == 0
    labels = _label_boxes(sealed, ("卷烟供货审批表", "业务编号：GH-2026-301", "供货明细", "申请人", "审核意见", "审批意见",
                                   "系统维护", "附件清单（1）"))
    assert all(p == 0 for p, _ in labels.values()), labels
    approval = labels["审批意见"][1]
    # the seal sits in the 审批意见 row: level with its label, right of it, below 审核意见 and above 系统维护
    assert y0 < (approval[1] + approval[3]) / 2 < y1
    assert x0 > approval[2]
    assert y1 < labels["审核意见"][1][1] and y0 > labels["系统维护"][1][3]
    # ... and after the content: below the request's lines and the attachment list, under the title
    assert y1 < labels["附件清单（1）"][1][1] < labels["供货明细"][1][1] < labels["卷烟供货审批表"][1][1]
    assert x1 - x0 >= 100 and y1 - y0 >= 100, "a 40 mm seal fits the box"
    # the clerk's box is the next row down, on the same page
    clerk_page, clerk = widgets["clerk_confirmation"]
    assert clerk_page == 0 and clerk[3] < y0


def test_the_preview_is_exactly_the_signed_documents_first_revision(api, engine, seals_ready):
    from pyhanko.pdf_utils.reader import PdfFileReader

    iid, _ = reviewed(api, "GH-2026-302")
    task = open_task(api, iid, "seal")
    first, again = _preview(engine, task["id"]), _preview(engine, task["id"])
    assert first["pdf"] == again["pdf"] and first["sha256"] == hashlib.sha256(first["pdf"]).hexdigest()
    assert first["field"].page == 0
    # the preview is for the head who seals: a reader who may not see the task gets none
    from engine.errors import Forbidden

    try:
        _preview(engine, task["id"], "counter_staff")
        raise AssertionError("counter_staff saw the seal preview")
    except Forbidden:
        pass
    inst = work(api, "service_center_head", iid, "seal",
                {"seal_confirm": True, "seal_pin": PIN, "seal_document_sha256": first["sha256"]})
    sealed_id = inst["data"]["sealed_document"]
    assert sealed_id == first["document_id"]
    sealed = api.get(f"/api/documents/{sealed_id}", "auditor").data
    assert sealed.startswith(first["pdf"]), "the signature is an incremental update of the previewed bytes"
    reader = PdfFileReader(io.BytesIO(sealed), strict=False)
    assert reader.xrefs.total_revisions == 2
    (signature,) = reader.embedded_signatures
    assert signature.field_name == "seal" and signature.signed_revision == 1
    report = api.get(f"/api/documents/{sealed_id}/verification", "auditor").get_json()
    assert report["valid"] and report["signatures"][0]["intact"]
    (applied,) = audit_events(api, "seal_applied", iid)
    assert applied["details"]["unsigned_sha256"] == first["sha256"] and applied["details"]["previewed"] is True


def test_a_document_changed_after_the_preview_is_not_sealed(api, engine, seals_ready):
    iid, _ = reviewed(api, "GH-2026-303")
    task = open_task(api, iid, "seal")
    shown = _preview(engine, task["id"])
    # an administrator corrects the retailer's name while the head looks at the preview
    r = api.post(f"/api/process-instances/{iid}/variables", "admin",
                 json={"data": {"retailer_name": "城关便民烟酒店（更正）"}, "reason": "更正零售户名称"})
    assert r.status_code == 200, r.get_json()
    changed = _preview(engine, task["id"])
    assert changed["sha256"] != shown["sha256"]
    r = try_complete(api, "service_center_head", task["id"],
                     {"seal_confirm": True, "seal_pin": PIN, "seal_document_sha256": shown["sha256"]})
    assert r.status_code == 403, r.get_json()
    assert r.get_json()["details"]["reason"] == "changed"
    inst = instance(api, iid)
    assert "sealed_document" not in inst["data"] and [t["element_id"] for t in inst["open_tasks"]] == ["seal"]
    failed = audit_events(api, "seal_failed", iid)
    assert failed[-1]["reason"] == "changed"
    assert failed[-1]["details"]["previewed_sha256"] == shown["sha256"]
    # looked at again, the new document is sealed
    inst = work(api, "service_center_head", iid, "seal",
                {"seal_confirm": True, "seal_pin": PIN, "seal_document_sha256": changed["sha256"]})
    sealed = api.get(f"/api/documents/{inst['data']['sealed_document']}", "auditor").data
    assert sealed.startswith(changed["pdf"])


def test_a_long_request_keeps_the_signer_grid_with_the_end_of_the_content(api, engine, seals_ready):
    from engine.seals.service import pdf_page_count

    deploy(api, "supply_approval")
    lines = [{"brand": "huanghelou", "specification": f"规格{i:02d}", "quantity": i + 1} for i in range(40)]
    iid = start(api, "enforcement_officer", "supply_approval", supply_request(api, lines=lines),
                business_key="GH-2026-304")["id"]
    work(api, "service_center_head", iid, "review", {"decision": "approve", "review_comment": "同意"})
    task = open_task(api, iid, "seal")
    preview = _preview(engine, task["id"])
    assert preview["pages"] == 2
    inst = work(api, "service_center_head", iid, "seal",
                {"seal_confirm": True, "seal_pin": PIN, "seal_document_sha256": preview["sha256"]})
    sealed = api.get(f"/api/documents/{inst['data']['sealed_document']}", "auditor").data
    assert pdf_page_count(sealed) == 2
    page, _ = _widgets(sealed)["seal"]
    labels = _label_boxes(sealed, ("规格00", "规格39", "附件清单（1）", "审批意见"))
    assert page == 1 and labels["审批意见"][0] == 1
    # the page with the seal also carries the end of the content, never the grid alone
    assert labels["附件清单（1）"][0] == 1 and labels["规格00"][0] == 0
