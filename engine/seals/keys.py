"""Keys and certificates of the electronic seal: organisation CA, issuing, PKCS#12 wrapping.

Everything is EC P-256 with SHA-256 (fast, and accepted by PAdES validators and poppler).

* The **organisation CA** signs the seal certificates. Its private key lives only in a file
  (``BPM_SEAL_CA_KEY``, default ``<var_dir>/keys/seal_ca_key.pem``, mode 0600): it is needed
  to issue certificates (``bpm seal init``/``issue``), never to seal.
* A **person's seal** (service-center head) is a certificate plus a private key stored only
  as PKCS#12, encrypted under a password derived from the holder's seal PIN *and* the
  server's seal key-encryption secret (``BPM_SEAL_KEK``, default
  ``<var_dir>/keys/seal_kek.key``). A database dump alone therefore cannot be brute-forced
  over the small PIN space; the PIN alone is useless without the server.
* The **system signer** signs the later confirmations (the information clerk's record
  maintenance): its PKCS#12 is encrypted under a password derived from the same secret.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from engine.config import SealSettings
from engine.errors import Conflict, ValidationFailed

CA_YEARS = 10
SEAL_YEARS = 3
BACKDATE = timedelta(minutes=10)  # tolerate small clock differences between servers and verifiers


ORGANISATION = SealSettings.organisation  # the demo default; BPM_SEAL_ORG names the real one


@dataclass(frozen=True)
class KeyPaths:
    ca_key: Path
    kek: Path


def key_paths(settings) -> KeyPaths:
    keys = settings.var_dir / "keys"
    return KeyPaths(ca_key=settings.seals.ca_key or keys / "seal_ca_key.pem",
                    kek=settings.seals.kek or keys / "seal_kek.key")


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


# --------------------------------------------------------------------------- key-encryption secret


def load_kek(settings, create: bool = False) -> bytes:
    path = key_paths(settings).kek
    if not path.is_file():
        if not create:
            raise Conflict(f"the seal key-encryption secret {path} is missing on this server: run `bpm seal init` "
                           "or copy it from the server where seals were issued")
        _write_private(path, secrets.token_bytes(32))
    data = path.read_bytes()
    if len(data) < 32:
        raise Conflict(f"{path} is not a valid seal key-encryption secret")
    return data


def pin_password(kek: bytes, username: str, pin: str) -> bytes:
    """The PKCS#12 password of a person's seal: HMAC(secret, user, PIN)."""
    mac = hmac.new(kek, b"bpm-seal-pin\x00" + username.encode() + b"\x00" + pin.encode(), hashlib.sha256)
    return mac.hexdigest().encode()


def system_password(kek: bytes) -> bytes:
    return hmac.new(kek, b"bpm-seal-system", hashlib.sha256).hexdigest().encode()


def check_pin(pin: str) -> None:
    if not (isinstance(pin, str) and len(pin) == 6 and pin.isdigit() and pin.isascii()):
        raise ValidationFailed("invalid seal PIN", {"pin": ["the seal PIN is 6 digits"]})


# --------------------------------------------------------------------------- certificates


def _fit(text: str, limit: int = 64) -> str:
    """Cut to ``limit`` UTF-8 bytes (the X.520 upper bound cryptography enforces), whole characters only."""
    out = text.strip()
    while len(out.encode()) > limit:
        out = out[:-1]
    return out.strip() or "-"


def _name(common_name: str, unit: str | None, organisation: str) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
             x509.NameAttribute(NameOID.ORGANIZATION_NAME, _fit(organisation))]
    if unit:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, _fit(unit)))
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, _fit(common_name)))
    return x509.Name(attrs)


def new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _usage(**on) -> x509.KeyUsage:
    names = ("digital_signature", "content_commitment", "key_encipherment", "data_encipherment", "key_agreement",
             "key_cert_sign", "crl_sign", "encipher_only", "decipher_only")
    return x509.KeyUsage(**{n: on.get(n, False) for n in names})


def create_ca(now: datetime | None = None, organisation: str = ORGANISATION
              ) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    now = now or datetime.now(UTC)
    key = new_key()
    name = _name(_fit(organisation, 50) + " 电子印章CA", None, organisation)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + timedelta(days=365 * CA_YEARS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_usage(key_cert_sign=True, crl_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def issue(ca_key, ca_cert: x509.Certificate, common_name: str, unit: str | None = None,
          years: int = SEAL_YEARS, now: datetime | None = None, organisation: str = ORGANISATION
          ) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A signing certificate (digitalSignature + nonRepudiation) under the organisation CA."""
    now = now or datetime.now(UTC)
    key = new_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name, unit, organisation))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(min(now + timedelta(days=365 * years), ca_cert.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_usage(digital_signature=True, content_commitment=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return key, cert


def save_ca_key(settings, key) -> Path:
    path = key_paths(settings).ca_key
    if path.exists():
        raise Conflict(f"{path} already exists: refusing to overwrite a CA key")
    _write_private(path, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return path


def load_ca_key(settings, ca_cert: x509.Certificate):
    path = key_paths(settings).ca_key
    if not path.is_file():
        raise Conflict(f"the seal CA key {path} is not on this server: issue seals where it is, or import a PKCS#12")
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if key.public_key().public_numbers() != ca_cert.public_key().public_numbers():
        raise Conflict(f"{path} does not belong to the seal CA certificate in the database")
    return key


# --------------------------------------------------------------------------- PKCS#12


def wrap(key, cert: x509.Certificate, chain: list[x509.Certificate], password: bytes, friendly: str) -> bytes:
    return pkcs12.serialize_key_and_certificates(
        friendly.encode()[:64], key, cert, chain or None, serialization.BestAvailableEncryption(password)
    )


def unwrap(p12: bytes, password: bytes):
    """``(key, cert, chain)``; ``ValueError`` when the password is wrong."""
    key, cert, chain = pkcs12.load_key_and_certificates(p12, password)
    if key is None or cert is None:
        raise ValueError("the PKCS#12 holds no private key and certificate")
    return key, cert, list(chain or [])


# --------------------------------------------------------------------------- descriptions


def der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def pem_bundle(certs: list[x509.Certificate]) -> bytes | None:
    return "".join(pem(c) for c in certs).encode() if certs else None


def load_bundle(data: bytes | None) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(data) if data else []


def fingerprint(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA256()).hex()


def serial_hex(cert: x509.Certificate) -> str:
    return format(cert.serial_number, "x")


def common_name(name: x509.Name) -> str:
    attrs = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(attrs[0].value) if attrs else name.rfc4514_string()


def is_self_signed(cert: x509.Certificate) -> bool:
    if cert.subject != cert.issuer:
        return False
    try:
        cert.verify_directly_issued_by(cert)
        return True
    except (ValueError, TypeError, Exception):  # noqa: BLE001 - any failure means "not self-signed"
        return False


def can_sign(cert: x509.Certificate) -> bool:
    """A certificate fit for document signatures (key usage digitalSignature or nonRepudiation)."""
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return True
    return usage.digital_signature or usage.content_commitment
