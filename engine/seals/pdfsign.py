"""The default seal provider: PAdES signatures with pyHanko.

* The seal is a **certification signature** (DocMDP "fill forms and sign"): afterwards only
  signing the fields that existed when it was made keeps it valid. The fields of the later
  signers are therefore created, empty, in the same revision (``prepare``).
* Level **PAdES B-B**, or **B-T** when ``BPM_TSA_URL`` names an RFC 3161 time-stamping
  authority (the signature then carries a trusted time).
* The visible seal is a static image (the org unit's red seal) in the field's box: drawing
  text with a CJK font inside pyHanko would embed a font subset per signature (~0.5 s),
  while the document's own text (rendered by reportlab) already names the signer.
"""

from __future__ import annotations

import hashlib
import io
import logging
from collections.abc import Sequence

from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from engine.seals.provider import Appearance, SignatureField, SignatureReport, Signer, VerificationReport

# A tampered document is an expected input here: pyHanko would log each failed check with a
# traceback. The report carries the findings instead.
for _name in ("pyhanko.sign.validation", "pyhanko.sign.diff_analysis", "pyhanko.pdf_utils", "pyhanko_certvalidator"):
    logging.getLogger(_name).setLevel(logging.CRITICAL)


def _asn1_cert(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def _asn1_key(key) -> asn1_keys.PrivateKeyInfo:
    return asn1_keys.PrivateKeyInfo.load(
        key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def _name_of(cert: asn1_x509.Certificate | None) -> str | None:
    if cert is None:
        return None
    native = cert.subject.native
    return native.get("common_name") or cert.subject.human_friendly


class PyHankoProvider:
    name = "pyhanko"

    def __init__(self, timestamper=None, tsa_url: str | None = None) -> None:
        self._timestamper = timestamper
        self.tsa_url = tsa_url

    @property
    def level(self) -> str:
        return "PAdES-B-T" if self.timestamper() is not None else "PAdES-B-B"

    def timestamper(self):
        if self._timestamper is None and self.tsa_url:
            from pyhanko.sign.timestamps import HTTPTimeStamper

            self._timestamper = HTTPTimeStamper(self.tsa_url, timeout=10)
        return self._timestamper

    # ----------------------------------------------------------------------- sign

    def sign(self, pdf: bytes, signer: Signer, field: SignatureField, appearance: Appearance, *,
             certify: bool = False, prepare: Sequence[SignatureField] = ()) -> bytes:
        from PIL import Image
        from pyhanko.pdf_utils.images import PdfImage
        from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
        from pyhanko.sign import fields, signers
        from pyhanko.stamp import StaticStampStyle
        from pyhanko_certvalidator.registry import SimpleCertificateStore

        writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
        existing = {name for name, _, _ in fields.enumerate_sig_fields(writer)}
        for later in prepare:
            if later.name not in existing:
                fields.append_signature_field(writer, fields.SigFieldSpec(later.name, on_page=later.page, box=later.box))
        simple = signers.SimpleSigner(
            signing_cert=_asn1_cert(signer.certificate),
            signing_key=_asn1_key(signer.key),
            cert_registry=SimpleCertificateStore.from_certs([_asn1_cert(c) for c in signer.chain]),
        )
        meta = signers.PdfSignatureMetadata(
            field_name=field.name,
            md_algorithm="sha256",
            subfilter=fields.SigSeedSubFilter.PADES,
            certify=certify,
            docmdp_permissions=fields.MDPPerm.FILL_FORMS,
            reason=signer.reason,
            location=signer.location,
            name=signer.name,
        )
        image = Image.open(io.BytesIO(appearance.image_png))
        image.load()
        style = StaticStampStyle(background=PdfImage(image), background_opacity=1.0, border_width=0)
        new_field = None if field.name in existing else fields.SigFieldSpec(field.name, on_page=field.page, box=field.box)
        pdf_signer = signers.PdfSigner(meta, simple, timestamper=self.timestamper(), stamp_style=style,
                                       new_field_spec=new_field)
        return pdf_signer.sign_pdf(writer).getvalue()

    # ----------------------------------------------------------------------- verify

    def verify(self, pdf: bytes, trust_roots: Sequence[x509.Certificate]) -> VerificationReport:
        from pyhanko.pdf_utils.reader import PdfFileReader
        from pyhanko.sign import fields
        from pyhanko.sign.diff_analysis import SuspiciousModification
        from pyhanko.sign.validation import validate_pdf_signature
        from pyhanko_certvalidator import ValidationContext

        report = VerificationReport(sha256=hashlib.sha256(pdf).hexdigest(), size=len(pdf), readable=False)
        try:
            reader = PdfFileReader(io.BytesIO(pdf), strict=False)
            embedded = list(reader.embedded_signatures)
            report.empty_fields = [name for name, _, _ in fields.enumerate_sig_fields(reader, filled_status=False)]
        except Exception as exc:  # noqa: BLE001 - any unreadable input is a finding, not a crash
            report.problems.append(f"not a readable PDF: {type(exc).__name__}: {str(exc)[:200]}")
            return report
        report.readable = True
        if not embedded:
            report.problems.append("the document has no signatures")
        roots = [_asn1_cert(c) for c in trust_roots]
        for sig in embedded:
            context = ValidationContext(trust_roots=roots, allow_fetching=False, revocation_mode="soft-fail")
            report.signatures.append(self._check(sig, context, validate_pdf_signature, SuspiciousModification))
        return report

    @staticmethod
    def _check(sig, context, validate, suspicious) -> SignatureReport:
        field = str(sig.field_name)
        try:
            cert = sig.signer_cert
        except Exception:  # noqa: BLE001
            cert = None
        base = dict(
            field=field, signer=_name_of(cert), signer_subject=cert.subject.human_friendly if cert else None,
            certificate_serial=format(cert.serial_number, "x") if cert else None,
            certificate_fingerprint=cert.sha256.hex() if cert else None,
            issuer=cert.issuer.human_friendly if cert else None,
        )
        try:
            level = sig.docmdp_level
        except Exception:  # noqa: BLE001
            level = None
        try:
            status = validate(sig, context)
        except Exception as exc:  # noqa: BLE001 - e.g. a mangled signature dictionary
            return SignatureReport(**base, signing_time=None, timestamp=None, intact=False, valid=False, trusted=False,
                                   coverage="UNCLEAR", modifications=None, docmdp_ok=None, certification=None, ok=False,
                                   problems=[f"signature could not be validated: {type(exc).__name__}: {str(exc)[:200]}"])
        problems = []
        if not status.intact:
            problems.append("the signed bytes were changed after signing (digest mismatch)")
        if not status.valid:
            problems.append("the cryptographic signature is not valid")
        if not status.trusted:
            problems.append("the signer's certificate does not chain to a trusted seal CA"
                            + (f" ({status.trust_problem_indic.name})" if status.trust_problem_indic else ""))
        coverage = status.coverage.name if status.coverage is not None else "UNCLEAR"
        if coverage not in ("ENTIRE_FILE", "ENTIRE_REVISION"):
            problems.append("the signature does not cover its whole revision (the file was rewritten)")
        modification = status.modification_level.name if status.modification_level is not None else None
        if status.docmdp_ok is False:
            problems.append("the document was modified after signing in a way the seal does not permit"
                            + (f" ({modification})" if modification else ""))
        if isinstance(status.diff_result, suspicious):
            problems.append(f"suspicious modification: {str(status.diff_result)[:300]}")
        tst = status.timestamp_validity
        ok = status.bottom_line and coverage in ("ENTIRE_FILE", "ENTIRE_REVISION")
        return SignatureReport(
            **base,
            signing_time=_iso(status.signer_reported_dt),
            timestamp=_iso(tst.timestamp) if tst is not None else None,
            intact=bool(status.intact), valid=bool(status.valid), trusted=bool(status.trusted),
            coverage=coverage, modifications=modification, docmdp_ok=status.docmdp_ok,
            certification=level.name if level is not None else None, ok=bool(ok), problems=problems,
        )
