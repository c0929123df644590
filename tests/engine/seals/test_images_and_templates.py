"""Seal images per org unit, the group-agreement template, and PAdES B-T with a time-stamping authority."""

from __future__ import annotations

import io
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from PIL import Image

from engine.seals import credentials, keys
from engine.seals.provider import Appearance, SignatureField, Signer
from tests.engine.seals.conftest import PIN, pdf_page
from tests.engine.seals.test_seal_flow import reviewed, verification
from tests.support.business import deploy, open_task, start, upload


def _png(width=120, height=120, color=(0, 0, 255, 255)) -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", (width, height), color).save(out, "PNG")
    return out.getvalue()


def test_a_unit_has_a_drawn_red_seal_until_an_admin_uploads_one(api, seals_ready):
    r = api.get("/api/org-units/hall-1/seal-image", "counter_staff")
    assert r.status_code == 200 and r.mimetype == "image/png" and r.headers["X-Seal-Image-Source"] == "generated"
    drawn = Image.open(io.BytesIO(r.data)).convert("RGBA")
    px = drawn.load()
    red = sum(1 for x in range(0, drawn.width, 2) for y in range(0, drawn.height, 2)
              if px[x, y][3] > 0 and px[x, y][0] > 150 and px[x, y][1] < 80)
    assert red > 1500, "a red seal"
    assert drawn.getpixel((0, 0))[3] == 0, "transparent background"
    assert api.get("/api/org-units/nowhere/seal-image", "counter_staff").status_code == 404

    uploaded = _png(97, 97)
    put = lambda user, body, ctype="image/png", unit="hall-1": api.call(  # noqa: E731
        "PUT", f"/api/org-units/{unit}/seal-image", user, data=body, content_type=ctype)
    assert put("hall_manager", uploaded).status_code == 403
    assert put("admin", b"GIF89a not a png").status_code == 422
    assert put("admin", uploaded, unit="nowhere").status_code == 404
    r = put("admin", uploaded)
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["source"] == "uploaded"
    r = api.get("/api/org-units/hall-1/seal-image", "auditor")
    assert r.headers["X-Seal-Image-Source"] == "uploaded" and Image.open(io.BytesIO(r.data)).size == (97, 97)
    r = api.get("/api/audit/events?action=seal_image_set", "auditor").get_json()["items"]
    assert r[0]["details"]["org_unit"] == "hall-1"
    # the next seal shows the uploaded image
    iid, _ = reviewed(api)
    task_id = open_task(api, iid, "seal")["id"]
    r = api.post(f"/api/tasks/{task_id}/complete", "service_center_head",
                 json={"data": {"seal_confirm": True, "seal_pin": PIN}})
    assert r.status_code == 200, r.get_json()
    sealed = api.get(f"/api/documents/{r.get_json()['instance']['data']['sealed_document']}", "auditor").data
    assert b"/Width 97" in sealed and b"/Height 97" in sealed


def test_group_agreement_template_seals_and_archives(api, engine, seals_ready):
    from engine.identity.auth import actor_by_name
    from engine.seals.service import countersign, seal_document
    from engine.seals.templates import template

    deploy(api, "group_agreement")
    data = {"group_name": "城关第一中学", "agreement_no": "JT-2026-0042", "tariff_plan": "集团V网 58元套餐",
            "term_start": "2026-01-01", "term_end": "2026-06-30",
            "customer_id_copy": [upload(api, "customer_manager", "营业执照.pdf")]}
    iid = start(api, "customer_manager", "group_agreement", data, business_key="JT-2026-0042")["id"]
    task = open_task(api, iid, "accept")
    tpl = template("group_agreement")
    with engine.read() as session:
        head = actor_by_name(session, "service_center_head")
        clerk = actor_by_name(session, "info_clerk")
    from engine.store.records import load_instance

    unlocked = credentials.open_seal(engine, head, PIN)
    with engine.uow(head) as uow:
        inst = load_instance(uow.session, iid)
        row = SimpleNamespace(id=task["id"], element_id="sign", name="双方签署 Sign")
        sealed = seal_document(engine, uow, tpl, inst, row, dict(inst.data), unlocked)
    with engine.uow(clerk) as uow:
        inst = load_instance(uow.session, iid)
        archived = countersign(engine, uow, tpl, tpl.later("archive"), inst,
                               SimpleNamespace(id=task["id"], element_id="archive"), sealed.id)
    report = verification(api, sealed.id)
    assert report["valid"] and report["empty_fields"] == ["archive_confirmation"]
    report = verification(api, archived.id)
    assert report["valid"] and [s["field"] for s in report["signatures"]] == ["seal", "archive_confirmation"]
    assert report["signatures"][0]["modifications"] == "FORM_FILLING"
    content = api.get(f"/api/documents/{archived.id}", "customer_manager").data
    if shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", "-", "-"], input=content, capture_output=True, check=True).stdout.decode()
        for expected in ("集团客户协议", "JT-2026-0042", "城关第一中学", "集团V网 58元套餐", "营业执照.pdf"):
            assert expected in text, expected


def _tsa(engine):
    """An RSA time-stamping certificate under the organisation CA (pyHanko's test TSA is RSA only)."""
    with engine.read() as session:
        ca_cert = credentials.trust_roots(session)[-1]
    ca_key = keys.load_ca_key(engine.settings, ca_cert)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, "演示时间戳服务 TSA")]))
            .issuer_name(ca_cert.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(hours=1)).not_valid_after(now + timedelta(days=30))
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
            .sign(ca_key, hashes.SHA256()))
    return key, cert, ca_cert


def test_pades_b_t_with_a_time_stamping_authority(engine, seals_ready):
    from asn1crypto import keys as asn1_keys
    from asn1crypto import x509 as asn1_x509
    from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper

    from engine.identity.auth import actor_by_name
    from engine.seals.images import round_seal
    from engine.seals.pdfsign import PyHankoProvider

    key, cert, ca_cert = _tsa(engine)
    stamper = DummyTimeStamper(
        tsa_cert=asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER)),
        tsa_key=asn1_keys.PrivateKeyInfo.load(key.private_bytes(serialization.Encoding.DER,
                                                                serialization.PrivateFormat.PKCS8,
                                                                serialization.NoEncryption())))
    provider = PyHankoProvider(timestamper=stamper)
    assert provider.level == "PAdES-B-T"
    with engine.read() as session:
        head = actor_by_name(session, "service_center_head")
    unlocked = credentials.open_seal(engine, head, PIN)
    signed = provider.sign(pdf_page("B-T"), Signer(unlocked.key, unlocked.certificate, unlocked.chain),
                           SignatureField("seal", 0, (72, 72, 200, 200)), Appearance(round_seal("中心营业厅")),
                           certify=True)
    report = provider.verify(signed, [ca_cert])
    (sig,) = report.signatures
    assert sig.ok and sig.timestamp is not None, sig
