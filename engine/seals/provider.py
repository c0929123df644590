"""The seal provider interface: what the engine needs from a signing technology.

The engine renders the document, decides who may seal, unlocks the credential, stores the
result and audits it; a :class:`SealProvider` only puts a signature into PDF bytes and
checks the signatures of PDF bytes. The default is :class:`PyHankoProvider` (PAdES with
X.509/ECDSA); a licensed seal platform (SM2 certificates, GB/T 38540 seals) plugs in by
implementing the same two methods and naming its class in ``BPM_SEAL_PROVIDER``
(``package.module:Class``). Its :class:`Signer` ``key`` may then be a platform handle
instead of a private key object.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, runtime_checkable

from cryptography import x509

from engine.config import SealSettings


@dataclass(frozen=True)
class SignatureField:
    """A signature field: its name and where its widget sits (``page`` is 0-based, box in pt)."""

    name: str
    page: int
    box: tuple[float, float, float, float]
    label: str = ""


@dataclass(frozen=True)
class Signer:
    """Who signs: key and certificate (with the issuing chain) plus the signature's metadata."""

    key: Any
    certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...] = ()
    name: str | None = None  # /Name: the person on whose behalf the signature is made
    reason: str | None = None
    location: str | None = None


@dataclass(frozen=True)
class Appearance:
    """The visible seal: a PNG drawn into the field's box."""

    image_png: bytes


@dataclass
class SignatureReport:
    """One signature as a verifier sees it."""

    field: str
    signer: str | None
    signer_subject: str | None
    certificate_serial: str | None
    certificate_fingerprint: str | None
    issuer: str | None
    signing_time: str | None
    timestamp: str | None
    intact: bool
    valid: bool
    trusted: bool
    coverage: str
    modifications: str | None
    docmdp_ok: bool | None
    certification: str | None
    ok: bool
    problems: list[str] = field(default_factory=list)


@dataclass
class VerificationReport:
    """Every signature of a document, and the fields still waiting for a signature."""

    sha256: str
    size: int
    readable: bool
    signatures: list[SignatureReport] = field(default_factory=list)
    empty_fields: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def signatures_ok(self) -> bool:
        return self.readable and bool(self.signatures) and all(s.ok for s in self.signatures) and \
            self.signatures[-1].coverage == "ENTIRE_FILE"

    def to_dict(self) -> dict:
        out = asdict(self)
        out["signatures_ok"] = self.signatures_ok
        return out


@runtime_checkable
class SealProvider(Protocol):
    name: str
    level: str  # what it produces, e.g. "PAdES-B-B"

    def sign(self, pdf: bytes, signer: Signer, field: SignatureField, appearance: Appearance, *,
             certify: bool = False, prepare: Sequence[SignatureField] = ()) -> bytes:
        """Sign ``pdf`` into ``field`` (an existing empty field, or created), returning the new bytes.

        ``certify`` makes it the document's certification (author) signature that permits
        only form filling and later signatures; ``prepare`` lists empty fields to create in
        the same revision for the signers who come later.
        """

    def verify(self, pdf: bytes, trust_roots: Sequence[x509.Certificate]) -> VerificationReport:
        """Check every signature against ``trust_roots``; never raises for bad input."""


_providers: dict[tuple[str, str | None], SealProvider] = {}
_configured = SealSettings()


def configure(seals: SealSettings) -> None:
    """The provider (``BPM_SEAL_PROVIDER``) and time-stamping authority (``BPM_TSA_URL``) to use."""
    global _configured
    _configured = seals


def get_provider() -> SealProvider:
    """The configured provider, one instance per process and configuration."""
    key = (_configured.provider, _configured.tsa_url)
    provider = _providers.get(key)
    if provider is None:
        module, _, cls = key[0].partition(":")
        provider = _providers[key] = getattr(importlib.import_module(module), cls)(tsa_url=key[1])
    return provider
