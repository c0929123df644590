"""Seal keys: `bpm seal init/issue/import/set-pin/list`, `bpm init --demo`, PKCS#12 only encrypted."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from sqlalchemy import select

from bpm_cli.main import main
from engine.identity.actor import SYSTEM
from engine.seals import credentials, keys
from engine.store.models import SealCredential
from tests.engine.seals.conftest import PIN
from tests.engine.seals.test_seal_flow import reviewed, verification
from tests.support.business import open_task, try_complete


@pytest.fixture
def cli(db, engine, monkeypatch):
    """Run `bpm` against the test database and var folder."""
    monkeypatch.setenv("BPM_DATABASE_URL", db[0])
    monkeypatch.setenv("BPM_VAR_DIR", str(engine.settings.var_dir))
    runner = CliRunner()

    def run(*args, input=None):
        return runner.invoke(main, list(args), input=input)

    return run


def test_seal_init_issues_ca_system_signer_and_heads_seals(cli, engine):
    result = cli("seal", "init", "--generate-pins")
    assert result.exit_code == 0, result.output
    pin = re.search(r"seal PIN for service_center_head: (\d{6})", result.output).group(1)
    assert "created seal CA" in result.output and "issued system signer" in result.output
    assert "issued seal to service_center_head" in result.output
    again = cli("seal", "init")
    assert again.exit_code == 0 and "kept seal CA" in again.output and "issued seal" not in again.output
    with engine.read() as session:
        rows = session.execute(select(SealCredential)).scalars().all()
        by_kind = {r.kind: r for r in rows}
        assert set(by_kind) == {"ca", "system", "seal"}
        head = by_kind["seal"]
        assert head.username == "service_center_head" and head.p12 and by_kind["ca"].p12 is None
        # only encrypted: the PIN alone does not open it (the server secret is part of the password) ...
        with pytest.raises(ValueError):
            pkcs12.load_key_and_certificates(head.p12, pin.encode())
        with pytest.raises(ValueError):
            pkcs12.load_key_and_certificates(head.p12, None)
        # ... and no key material is stored in the clear
        assert b"PRIVATE KEY" not in head.p12
        kek = keys.load_kek(engine.settings)
        key, cert, chain = keys.unwrap(head.p12, keys.pin_password(kek, "service_center_head", pin))
        assert cert.public_bytes(serialization.Encoding.DER) == head.certificate
        assert chain[0].public_bytes(serialization.Encoding.DER) == by_kind["ca"].certificate
        assert isinstance(cert.public_key(), type(key.public_key()))
        ca_der = by_kind["ca"].certificate
    mode = (engine.settings.var_dir / "keys" / "seal_ca_key.pem").stat().st_mode & 0o777
    assert mode == 0o600
    listing = cli("seal", "list")
    assert listing.exit_code == 0 and "service_center_head" in listing.output and "system" in listing.output
    pem = cli("seal", "ca-cert")
    assert x509.load_pem_x509_certificates(pem.output.encode())[0].public_bytes(serialization.Encoding.DER) == ca_der


def test_issue_again_retires_the_old_seal_and_set_pin_needs_the_old_pin(cli, engine):
    assert cli("seal", "init", "--generate-pins").exit_code == 0
    result = cli("seal", "issue", "service_center_head", input="111111\n111111\n")
    assert result.exit_code == 0, result.output
    result = cli("seal", "set-pin", "service_center_head", input="999999\n222222\n222222\n")
    assert result.exit_code == 2 and "current seal PIN is wrong" in result.output
    result = cli("seal", "set-pin", "service_center_head", input="111111\n222222\n222222\n")
    assert result.exit_code == 0, result.output
    assert cli("seal", "issue", "info_clerk", input="111111\n111111\n").exit_code == 2  # not a head
    with engine.read() as session:
        seals = session.execute(select(SealCredential).where(SealCredential.kind == "seal")
                                .order_by(SealCredential.id)).scalars().all()
        assert [s.active for s in seals] == [False, True]
        head_id = credentials.active_seal(session, "service_center_head").id
    unlocked = credentials.open_seal(engine, SYSTEM.__class__("service_center_head", frozenset({"service_center_head"})),
                                     "222222")
    assert unlocked.row.id == head_id


def _real_ca_p12(password: bytes, with_root: bool):
    """A PKCS#12 from an outside CA (root -> seal certificate), as a commercial CA would issue it."""
    now = datetime.now(UTC)
    root_key, root = keys.create_ca(now)
    name = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, "张主任 Head of service center"),
                      x509.NameAttribute(x509.oid.NameOID.ORGANIZATION_NAME, "演示县烟草专卖局")])
    key = keys.new_key()
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(root.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(hours=1))
            .not_valid_after(now + timedelta(days=365))
            .add_extension(x509.KeyUsage(True, True, False, False, False, False, False, False, False), critical=True)
            .sign(root_key, hashes.SHA256()))
    p12 = pkcs12.serialize_key_and_certificates(b"head", key, cert, [root] if with_root else None,
                                                serialization.BestAvailableEncryption(password))
    return p12, cert, root


def test_import_a_pkcs12_from_a_real_ca_and_seal_with_it(cli, api, engine, tmp_path):
    assert cli("seal", "init", "--generate-pins").exit_code == 0
    p12, cert, root = _real_ca_p12(b"ca-issued", with_root=False)
    p12_file, root_file = tmp_path / "head.p12", tmp_path / "root.pem"
    p12_file.write_bytes(p12)
    root_file.write_bytes(root.public_bytes(serialization.Encoding.PEM))
    result = cli("seal", "import", "service_center_head", str(p12_file), input="ca-issued\n654321\n654321\n")
    assert result.exit_code == 2 and "trust" in result.output, result.output
    result = cli("seal", "import", "service_center_head", str(p12_file), input="wrong\n654321\n654321\n")
    assert result.exit_code == 2 and "wrong password" in result.output
    result = cli("seal", "import", "service_center_head", str(p12_file), "--trust-root", str(root_file),
                 input="ca-issued\n654321\n654321\n")
    assert result.exit_code == 0, result.output
    iid, _ = reviewed(api)
    task_id = open_task(api, iid, "seal")["id"]
    assert try_complete(api, "service_center_head", task_id, {"seal_confirm": True, "seal_pin": PIN}).status_code == 403
    r = try_complete(api, "service_center_head", task_id, {"seal_confirm": True, "seal_pin": "654321"})
    assert r.status_code == 200, r.get_json()
    report = verification(api, r.get_json()["instance"]["data"]["sealed_document"])
    assert report["valid"], report
    assert report["signatures"][0]["certificate_serial"] == format(cert.serial_number, "x")
    assert "张主任" in report["signatures"][0]["signer"]


def test_import_takes_the_root_from_the_pkcs12_chain(cli, engine, tmp_path):
    p12, cert, root = _real_ca_p12(b"pw", with_root=True)
    (tmp_path / "head.p12").write_bytes(p12)
    result = cli("seal", "import", "service_center_head", str(tmp_path / "head.p12"), input="pw\n654321\n654321\n")
    assert result.exit_code == 0, result.output
    with engine.read() as session:
        roots = credentials.trust_roots(session)
    assert [r.fingerprint(hashes.SHA256()) for r in roots] == [root.fingerprint(hashes.SHA256())]


def test_init_demo_gives_the_demo_head_a_seal(tmp_path, monkeypatch):
    monkeypatch.setenv("BPM_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("BPM_DATABASE_URL", f"sqlite:///{tmp_path / 'demo.sqlite3'}")
    runner = CliRunner()
    result = runner.invoke(main, ["init", "--demo", "--demo-seal-pin", "246810"])
    assert result.exit_code == 0, result.output
    assert "issued seal to service_center_head" in result.output and "246810" in result.output
    from engine.app import BpmEngine
    from engine.config import load_settings
    from engine.identity.auth import actor_by_name

    engine = BpmEngine(load_settings())
    try:
        with engine.read() as session:
            head = actor_by_name(session, "service_center_head")
        assert credentials.open_seal(engine, head, "246810").certificate
    finally:
        engine.close()
    again = runner.invoke(main, ["init", "--demo"])
    assert again.exit_code == 0 and "kept seal CA" in again.output and "issued seal" not in again.output
