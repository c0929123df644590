"""A seal breaks when the document changes: every tampering is reported invalid.

One supply approval is sealed and confirmed once per module (SQLite); each test tampers
with copies of its bytes. poppler's ``pdfsig`` (an independent implementation) accepts the
genuine documents and rejects an edited one.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess

import pytest
from click.testing import CliRunner

from engine.seals import keys
from engine.seals.provider import Appearance, SignatureField, Signer, get_provider
from tests.engine.seals.conftest import pdf_page


def _only_content_byte(pdf: bytes) -> int:
    """Offset of a byte inside the first page's content stream (covered by every signature)."""
    start = pdf.index(b"stream\n", pdf.index(b"/Length")) + len(b"stream\n")
    return start + 10


def test_genuine_documents_are_valid(world):
    sealed = world.verify(world.sealed)
    assert sealed["valid"] and sealed["matches_record"] and sealed["recorded"]["action"] == "seal_applied"
    confirmed = world.verify(world.confirmed)
    assert confirmed["valid"] and [s["field"] for s in confirmed["signatures"]] == ["seal", "clerk_confirmation"]
    assert confirmed["recorded"]["action"] == "seal_countersigned"


def test_edited_bytes_are_not_intact(world):
    for original in (world.sealed, world.confirmed):
        at = _only_content_byte(original)
        edited = original[:at] + bytes([original[at] ^ 0x01]) + original[at + 1:]
        report = world.verify(edited)
        assert not report["valid"] and not report["signatures_ok"] and not report["matches_record"]
        assert not any(s["intact"] for s in report["signatures"])
        assert all("digest mismatch" in " ".join(s["problems"]) for s in report["signatures"])


def test_a_certificate_from_a_foreign_ca_is_not_trusted(world):
    ca_key, ca_cert = keys.create_ca()
    key, cert = keys.issue(ca_key, ca_cert, "冒名 Impostor", "中心营业厅")
    forged = get_provider().sign(pdf_page("forged approval"), Signer(key, cert, (ca_cert,), name="Impostor"),
                                 SignatureField("seal", 0, (72, 72, 200, 200)), Appearance(_seal_png()), certify=True)
    report = world.verify(forged)
    (sig,) = report["signatures"]
    assert sig["intact"] and sig["valid"] and not sig["trusted"] and not sig["ok"]
    assert not report["valid"]
    # the same forgery in the clerk's empty field of a genuine sealed document
    extended = get_provider().sign(world.sealed, Signer(key, cert, (ca_cert,), name="Impostor"),
                                   SignatureField("clerk_confirmation", 0, (0, 0, 0, 0)), Appearance(_seal_png()))
    report = world.verify(extended)
    seal, intruder = report["signatures"]
    assert seal["ok"] and not intruder["trusted"] and not report["valid"]
    # trusting the foreign CA explicitly makes the signature itself trusted, but not a document sealed here
    report = world.verify(forged, [ca_cert])
    assert report["signatures"][0]["trusted"] and not report["matches_record"] and not report["valid"]


def _seal_png() -> bytes:
    from engine.seals.images import round_seal

    return round_seal("冒名单位")


def test_a_page_added_after_sealing_breaks_the_seal(world):
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    writer = IncrementalPdfFileWriter(io.BytesIO(world.sealed))
    page = generic.DictionaryObject({
        generic.NameObject("/Type"): generic.NameObject("/Page"),
        generic.NameObject("/MediaBox"): generic.ArrayObject([generic.NumberObject(n) for n in (0, 0, 595, 842)]),
        generic.NameObject("/Resources"): generic.DictionaryObject(),
    })
    writer.insert_page(page)
    out = io.BytesIO()
    writer.write(out)
    report = world.verify(out.getvalue())
    (sig,) = report["signatures"]
    assert sig["intact"] and sig["trusted"], "the signed revision itself is untouched"
    assert sig["docmdp_ok"] is False and sig["modifications"] == "OTHER" and not sig["ok"]
    assert not report["valid"]


def test_a_rewritten_file_is_invalid(world):
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.pdf_utils.writer import copy_into_new_writer

    for original in (world.sealed, world.confirmed):
        writer = copy_into_new_writer(PdfFileReader(io.BytesIO(original)))
        out = io.BytesIO()
        writer.write(out)
        rewritten = out.getvalue()
        assert rewritten != original
        report = world.verify(rewritten)
        assert not report["valid"] and not report["signatures_ok"]
        assert report["signatures"] and not any(s["ok"] for s in report["signatures"])


def test_bytes_appended_after_eof_are_caught_by_the_recorded_sha256(world):
    extended = world.sealed + b"\n% appended after the end of the file\n"
    report = world.verify(extended)
    (sig,) = report["signatures"]
    assert sig["intact"] and sig["valid"] and sig["trusted"] and sig["ok"], "a PDF validator alone accepts this"
    assert sig["coverage"] == "ENTIRE_REVISION"
    assert not report["matches_record"] and report["recorded"] is None and not report["valid"]
    assert report["sha256"] == hashlib.sha256(extended).hexdigest()


def test_not_a_pdf_and_an_unsigned_pdf_are_invalid(world):
    assert world.verify(b"hello")["readable"] is False
    assert not world.verify(b"hello")["valid"]
    report = world.verify(pdf_page())
    assert report["readable"] and report["signatures"] == [] and not report["valid"]


# --------------------------------------------------------------------------- poppler's pdfsig


def _pdfsig(tmp_path, name, content) -> tuple[int, str]:
    if shutil.which("pdfsig") is None:
        if os.environ.get("CI"):
            pytest.fail("pdfsig (poppler-utils) is missing: `make install` installs it")
        pytest.skip("pdfsig (poppler-utils) not installed")
    path = tmp_path / name
    path.write_bytes(content)
    done = subprocess.run(["pdfsig", str(path)], capture_output=True, text=True)
    return done.returncode, done.stdout + done.stderr


def test_pdfsig_accepts_the_sealed_documents(world, tmp_path):
    code, out = _pdfsig(tmp_path, "sealed.pdf", world.sealed)
    assert code == 0 and out.count("Signature is Valid.") == 1, out
    assert "Signature Field Name: seal" in out and "Total document signed" in out
    code, out = _pdfsig(tmp_path, "confirmed.pdf", world.confirmed)
    assert code == 0 and out.count("Signature is Valid.") == 2, out
    assert "Signature Field Name: clerk_confirmation" in out


def test_pdfsig_rejects_an_edited_document(world, tmp_path):
    at = _only_content_byte(world.sealed)
    edited = world.sealed[:at] + bytes([world.sealed[at] ^ 0x01]) + world.sealed[at + 1:]
    _, out = _pdfsig(tmp_path, "edited.pdf", edited)
    assert "Signature is Valid." not in out and "Digest Mismatch" in out, out


# --------------------------------------------------------------------------- bpm seal verify


def test_cli_verify_exit_codes(world, tmp_path, monkeypatch):
    from bpm_cli.main import main

    monkeypatch.setenv("BPM_DATABASE_URL", world.url)
    monkeypatch.setenv("BPM_VAR_DIR", str(world.var_dir))
    good, bad = tmp_path / "good.pdf", tmp_path / "bad.pdf"
    good.write_bytes(world.confirmed)
    bad.write_bytes(world.confirmed + b"\n")
    runner = CliRunner()
    result = runner.invoke(main, ["seal", "verify", str(good)])
    assert result.exit_code == 0, result.output
    assert '"valid": true' in result.output and '"field": "clerk_confirmation"' in result.output
    result = runner.invoke(main, ["seal", "verify", str(bad)])
    assert result.exit_code == 1 and '"valid": false' in result.output
    from sqlalchemy import select

    from engine.store.models import AuditEvent

    with world.engine.read() as session:
        verified = session.execute(select(AuditEvent.details).where(AuditEvent.action == "seal_verified")
                                   .order_by(AuditEvent.seq)).scalars().all()
    assert [d["valid"] for d in verified][-2:] == [True, False]
