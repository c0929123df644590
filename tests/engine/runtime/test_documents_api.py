"""Documents through the REST API: upload limits, content addressing, download rights.

The test engine allows uploads of at most 1 MiB. A document is readable by its uploader,
admins and auditors, and by anyone who may read an instance whose start or task data
names it in a filepicker field (form ``evidence``, process ``evidence_intake``).
"""

from __future__ import annotations

import hashlib
import io
import json
from urllib.parse import unquote

import pytest
from sqlalchemy import func, select

from engine.store.models import Blob
from tests.conftest import fixture_text

MIB = 1024 * 1024
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n"

# --------------------------------------------------------------------------- helpers


def upload(api, user, content: bytes, filename: str, content_type: str | None = None):
    file = (io.BytesIO(content), filename, content_type) if content_type else (io.BytesIO(content), filename)
    return api.post("/api/documents", user, json=None, data={"file": file}, content_type="multipart/form-data")


def upload_ok(api, user, content: bytes, filename: str, content_type: str | None = None) -> dict:
    r = upload(api, user, content, filename, content_type)
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def download(api, doc_id, user):
    return api.get(f"/api/documents/{doc_id}", user)


def blob_count(engine, sha=None) -> int:
    with engine.read() as session:
        query = select(func.count()).select_from(Blob)
        if sha:
            query = query.where(Blob.sha256 == sha)
        return session.execute(query).scalar_one()


@pytest.fixture
def intake(api):
    """The evidence form and the evidence_intake process (start form with a filepicker)."""
    assert api.deploy_form(json.loads(fixture_text("evidence.form"))).status_code == 201
    r = api.deploy_xml(fixture_text("evidence_intake.bpmn"))
    assert r.status_code == 201, r.get_json()
    return api


def start_intake(api, user, attachments):
    return api.post("/api/process-definitions/evidence_intake/instances", user,
                    json={"data": {"title": "营业执照 licence", "attachments": attachments}})


# --------------------------------------------------------------------------- upload


def test_upload_returns_metadata_and_download_returns_the_bytes(api):
    doc = upload_ok(api, "counter_staff", PDF, "licence.pdf", "application/pdf")
    assert set(doc) >= {"id", "sha256", "filename", "size", "content_type"}
    assert doc["sha256"] == hashlib.sha256(PDF).hexdigest()
    assert doc["size"] == len(PDF) and doc["filename"] == "licence.pdf"
    assert doc["content_type"] == "application/pdf" and doc["created_by"] == "counter_staff"
    r = download(api, doc["id"], "counter_staff")
    assert r.status_code == 200, r.get_data(as_text=True)
    assert r.data == PDF and r.mimetype == "application/pdf"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Content-Disposition"].startswith("attachment;")


def test_same_bytes_are_stored_once(api, engine):
    a = upload_ok(api, "counter_staff", PDF, "a.pdf")
    b = upload_ok(api, "duty_manager", PDF, "b.pdf")
    assert a["id"] != b["id"] and a["sha256"] == b["sha256"]
    assert (a["filename"], b["filename"]) == ("a.pdf", "b.pdf")
    assert blob_count(engine, a["sha256"]) == 1 and blob_count(engine) == 1
    assert download(api, a["id"], "counter_staff").data == download(api, b["id"], "duty_manager").data == PDF
    upload_ok(api, "counter_staff", PDF + b"\n", "c.pdf")
    assert blob_count(engine) == 2


def test_size_limit(api, engine):
    assert upload_ok(api, "counter_staff", b"x" * MIB, "exactly.txt")["size"] == MIB
    r = upload(api, "counter_staff", b"x" * (MIB + 1), "over.txt")
    assert r.status_code == 413 and r.get_json()["error"] == "payload_too_large"
    r = upload(api, "counter_staff", b"x" * (3 * MIB), "way_over.txt")
    assert r.status_code == 413 and r.is_json
    assert blob_count(engine) == 1


@pytest.mark.parametrize(
    "content, filename, content_type",
    [
        (b"MZ\x90\x00\x03\x00\x00\x00", "setup.exe", None),
        (b"MZ\x90\x00\x03\x00\x00\x00", "setup.bin", "application/x-msdownload"),
        (b"MZ\x90\x00\x03\x00\x00\x00", "invoice.pdf", "application/pdf"),  # claims PDF, is not
        (b"MZ\x90\x00\x03\x00\x00\x00", "invoice.pdf", None),
        (b"GIF87a" + b"\x00" * 10, "photo.png", "image/png"),
        (b"<script>alert(1)</script>", "page.html", "text/html"),
        (b"", "empty.txt", None),
    ],
    ids=["exe_by_name", "msdownload", "fake_pdf_declared", "fake_pdf_by_name", "gif_as_png", "html", "empty"],
)
def test_disallowed_or_mislabelled_files_are_422(api, engine, content, filename, content_type):
    r = upload(api, "counter_staff", content, filename, content_type)
    assert r.status_code == 422, r.get_json()
    assert r.get_json()["error"] == "validation_failed" and r.get_json()["details"]["errors"]["file"]
    assert blob_count(engine) == 0


def test_missing_file_field_is_422(api):
    for kwargs in (
        {"data": {"attachment": (io.BytesIO(PDF), "a.pdf")}, "content_type": "multipart/form-data"},
        {"data": PDF, "content_type": "application/pdf"},
    ):
        r = api.post("/api/documents", "counter_staff", json=None, **kwargs)
        assert r.status_code == 422 and "file" in r.get_json()["details"]["errors"]


def test_chinese_filename_round_trips(api):
    name = "营业执照 副本（2024）.pdf"
    doc = upload_ok(api, "counter_staff", PDF, name)
    assert doc["filename"] == name
    r = download(api, doc["id"], "counter_staff")
    disposition = r.headers["Content-Disposition"]
    marker = "filename*=UTF-8''"
    assert marker in disposition, disposition
    encoded = disposition.split(marker, 1)[1].split(";")[0]
    assert encoded.isascii() and unquote(encoded, encoding="utf-8") == name


def test_control_characters_are_dropped_from_filenames(api):
    # PostgreSQL text cannot hold NUL: this used to be a 500 there
    doc = upload_ok(api, "counter_staff", b"hello", "a\x00b\x1fc.txt")
    assert doc["filename"] == "abc.txt"
    doc = upload_ok(api, "counter_staff", b"hello", "../../etc/notes.txt")
    assert doc["filename"] == "notes.txt"


# --------------------------------------------------------------------------- download rights


def test_only_uploader_admin_and_auditor_read_an_unlinked_document(api):
    doc = upload_ok(api, "counter_staff", PDF, "private.pdf")
    for user in ["counter_staff", "admin", "auditor"]:
        r = download(api, doc["id"], user)
        assert r.status_code == 200 and r.data == PDF, user
    for user in ["counter2", "duty_manager", "process_owner", "nobody"]:
        r = download(api, doc["id"], user)
        assert r.status_code == 403 and r.get_json()["error"] == "forbidden", user
    assert download(api, doc["id"], None).status_code == 401


def test_unknown_document_is_404(api):
    for doc_id in ["00000000-0000-0000-0000-000000000000", "nope", "a%00b"]:
        r = download(api, doc_id, "admin")
        assert r.status_code == 404 and r.get_json()["error"] == "not_found", doc_id


def test_start_form_filepicker_links_the_document_to_the_instance(intake):
    api = intake
    doc = upload_ok(api, "counter_staff", PDF, "licence.pdf")
    assert download(api, doc["id"], "duty_manager").status_code == 403
    r = start_intake(api, "counter_staff", [doc["id"]])
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["data"]["attachments"] == [doc["id"]]
    # duty_manager is a candidate of the open task, so may read the instance and its documents
    r = download(api, doc["id"], "duty_manager")
    assert r.status_code == 200 and r.data == PDF
    # a second counter_staff user took no part: still no access
    assert download(api, doc["id"], "counter2").status_code == 403
    # the manager of the hall where it was started may read it; a manager of another hall may not
    assert download(api, doc["id"], "hall_manager").status_code == 200
    assert download(api, doc["id"], "manager_hall2").status_code == 403


def test_task_data_filepicker_links_the_document_to_the_instance(intake):
    api = intake
    inst = start_intake(api, "counter_staff", []).get_json()
    task_id = inst["open_tasks"][0]["id"]
    doc = upload_ok(api, "duty_manager", b"checked and stamped", "stamp.txt")
    assert download(api, doc["id"], "counter_staff").status_code == 403
    r = api.post(f"/api/tasks/{task_id}/complete", "duty_manager",
                 json={"data": {"title": "checked", "attachments": [doc["id"]]}})
    assert r.status_code == 200, r.get_json()
    # the starter may read the instance, hence the document attached to it
    r = download(api, doc["id"], "counter_staff")
    assert r.status_code == 200 and r.data == b"checked and stamped"
    assert download(api, doc["id"], "counter2").status_code == 403


def test_naming_someone_elses_document_does_not_grant_access(intake):
    api = intake
    secret = upload_ok(api, "counter2", b"someone else's payslip", "payslip.txt")
    r = start_intake(api, "counter_staff", [secret["id"]])
    assert r.status_code == 422, r.get_json()
    assert secret["id"] in json.dumps(r.get_json()["details"])
    assert download(api, secret["id"], "counter_staff").status_code == 403
    assert api.get("/api/process-instances", "counter_staff").get_json()["total"] == 0


def test_unknown_document_in_form_data_is_422(intake):
    r = start_intake(intake, "counter_staff", ["00000000-0000-0000-0000-000000000000"])
    assert r.status_code == 422 and r.get_json()["error"] == "validation_failed"
