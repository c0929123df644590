"""Signed checkpoints of the audit chain, kept outside the database.

A checkpoint is a small JSON file that states "event ``last_seq`` of the chain had hash
``hash`` at ``time``", signed with the audit key (Ed25519). The hash chain alone detects
an edited, deleted or reordered event; only a copy kept elsewhere can detect a rewrite of
the tail (events deleted and the head reset) or a re-hashed chain. Verification compares
the chain stored now with such a checkpoint.

The private key lives in a PEM file (``BPM_AUDIT_KEY``, default
``<var_dir>/keys/audit_ed25519.pem``), created with 0600 permissions on first use. The
public key is embedded in every checkpoint, so a copy can be checked on another machine;
it is *trusted* only when it equals the key the verifier holds (the local key file or a
public key given explicitly).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
from datetime import UTC
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from engine.audit.chain import GENESIS, canonical, event_at, read_head, verify_chain
from engine.clock import utcnow
from engine.config import Settings
from engine.errors import Conflict, EngineError, NotFound, ValidationFailed

FORMAT = "bpm-audit-checkpoint/1"
ALGORITHM = "Ed25519"
SIGNED_FIELDS = ("last_seq", "hash", "time")
CHECKPOINT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,200}\.json\Z")


class ChainBroken(EngineError):
    """The chain does not verify: a checkpoint would sign a tampered state."""

    status, code = 409, "audit_chain_broken"


# --------------------------------------------------------------------------- keys


def key_path(settings: Settings) -> Path:
    """Where the private audit key lives: ``BPM_AUDIT_KEY`` or ``<var_dir>/keys/audit_ed25519.pem``."""
    return settings.audit_key or settings.var_dir / "keys" / "audit_ed25519.pem"


def checkpoint_dir(settings: Settings) -> Path:
    return settings.var_dir / "checkpoints"


def _read_private(path: Path) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise EngineError(f"{path} does not hold an Ed25519 private key")
    return key


def load_or_create_key(path: Path) -> Ed25519PrivateKey:
    """The private key at ``path``; a new one (file mode 0600) when there is none yet."""
    if path.exists():
        return _read_private(path)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it first: use theirs
        return _read_private(path)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    return key


def public_pem(key: Ed25519PublicKey) -> str:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode("ascii")


def key_id(key: Ed25519PublicKey) -> str:
    """Short fingerprint: the first 16 hex digits of SHA-256 over the raw public key."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def load_public(pem: str | bytes) -> Ed25519PublicKey:
    """An Ed25519 public key from PEM (a private key PEM gives its public half)."""
    data = pem.encode("ascii") if isinstance(pem, str) else pem
    if b"PRIVATE KEY" in data:
        key = serialization.load_pem_private_key(data, password=None).public_key()
    else:
        key = serialization.load_pem_public_key(data)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("not an Ed25519 key")
    return key


def trusted_key(settings: Settings, public_key_file: Path | None = None) -> Ed25519PublicKey | None:
    """The key checkpoints must be signed with: the given file, else the local key (if any)."""
    if public_key_file is not None:
        try:
            return load_public(public_key_file.read_bytes())
        except (OSError, ValueError) as exc:
            raise EngineError(f"cannot read public key {public_key_file}: {exc}") from exc
    path = key_path(settings)
    return _read_private(path).public_key() if path.exists() else None


# --------------------------------------------------------------------------- create


def _message(payload: dict) -> bytes:
    return canonical({k: payload[k] for k in SIGNED_FIELDS}).encode("utf-8")


def sign(key: Ed25519PrivateKey, last_seq: int, head_hash: str, time: str) -> dict:
    """A checkpoint document for ``(last_seq, head_hash, time)``."""
    body: dict[str, Any] = {"format": FORMAT, "last_seq": last_seq, "hash": head_hash, "time": time}
    public = key.public_key()
    body.update(
        algorithm=ALGORITHM,
        signature=base64.b64encode(key.sign(_message(body))).decode("ascii"),
        key_id=key_id(public),
        public_key=public_pem(public),
    )
    return body


def create_checkpoint(engine, out: Path | None = None) -> tuple[Path, dict]:
    """Verify the chain, then sign its head and write the checkpoint JSON file.

    Refuses (:class:`ChainBroken`) when the chain does not verify: a checkpoint must
    never vouch for a tampered state.
    """
    with engine.read() as session:
        report = verify_chain(session)
    if not report["ok"]:
        raise ChainBroken(f"the audit chain does not verify: {report['reason']}", report)
    key = load_or_create_key(key_path(engine.settings))
    time = utcnow().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    checkpoint = sign(key, report["head_seq"], report["head_hash"], time)
    body = (json.dumps(checkpoint, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
    if out is not None:
        try:
            return _write_new(out, body), checkpoint
        except FileExistsError:
            raise Conflict(f"{out} exists: a checkpoint is never overwritten; name a new file") from None
    folder = checkpoint_dir(engine.settings)
    for n in range(1, 10_000):  # append-only: signing the same head again adds checkpoint-<seq>-<n>.json
        path = folder / (f"checkpoint-{report['head_seq']}.json" if n == 1 else f"checkpoint-{report['head_seq']}-{n}.json")
        try:
            return _write_new(path, body), checkpoint
        except FileExistsError:
            continue
    raise Conflict(f"too many checkpoints of audit event {report['head_seq']}")


def _write_new(path: Path, body: bytes) -> Path:
    """Write ``body`` to a file that must not exist yet (FileExistsError: a checkpoint is never replaced)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(body)
        fh.flush()
        os.fsync(fh.fileno())
    try:
        os.link(tmp, path)  # atomic, and fails if the name is taken
    finally:
        os.unlink(tmp)
    return path


# --------------------------------------------------------------------------- verify


def check_signature(checkpoint: Any, trusted: Ed25519PublicKey | None) -> str | None:
    """Why the checkpoint's signature is not acceptable (``None`` when it is)."""
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != FORMAT:
        return f"not a checkpoint (format {FORMAT!r} expected)"
    if not isinstance(checkpoint.get("last_seq"), int) or checkpoint["last_seq"] < 0:
        return "last_seq must be a non-negative integer"
    if not all(isinstance(checkpoint.get(k), str) for k in ("hash", "time", "signature", "public_key")):
        return "hash, time, signature and public_key must be strings"
    try:
        embedded = load_public(checkpoint["public_key"])
        signature = base64.b64decode(checkpoint["signature"], validate=True)
    except (ValueError, TypeError) as exc:
        return f"unreadable public key or signature: {exc}"
    if trusted is not None and key_id(embedded) != key_id(trusted):
        return f"signed with key {key_id(embedded)}, not with the trusted audit key {key_id(trusted)}"
    try:
        embedded.verify(signature, _message(checkpoint))
    except InvalidSignature:
        return "the signature is invalid: the checkpoint was forged or altered"
    return None


def check_against_chain(conn, checkpoint: dict) -> str | None:
    """Why the stored chain contradicts the checkpoint (``None`` when it agrees)."""
    seq = checkpoint["last_seq"]
    if seq == 0:
        return None if checkpoint["hash"] == GENESIS else "checkpoint seq 0 must carry the genesis hash"
    row = event_at(conn, seq)
    if row is None:
        head_seq = read_head(conn)[0]
        return f"checkpoint seq {seq} is beyond the end of the chain (the chain ends at seq {head_seq})"
    if row.hash != checkpoint["hash"]:
        return f"the hash at checkpoint seq {seq} differs from the checkpoint: the chain was rewritten"
    return None


def verify_checkpoint(session, checkpoint: Any, trusted: Ed25519PublicKey | None) -> dict:
    """``{seq, ok, reason, key_id, trusted_key}`` for one checkpoint document."""
    seq = checkpoint.get("last_seq") if isinstance(checkpoint, dict) else None
    out = {
        "seq": seq if isinstance(seq, int) else None,
        "ok": False,
        "reason": None,
        "key_id": checkpoint.get("key_id") if isinstance(checkpoint, dict) else None,
        "trusted_key": trusted is not None,
    }
    out["reason"] = check_signature(checkpoint, trusted) or check_against_chain(session.connection(), checkpoint)
    out["ok"] = out["reason"] is None
    if out["ok"] and trusted is None:
        out["reason"] = "no trusted audit key here: the signature was checked with the key embedded in the checkpoint"
    return out


def newest_checkpoint(settings: Settings) -> Path | None:
    """The most recently written ``*.json`` in ``<var_dir>/checkpoints`` (``None`` when empty)."""
    folder = checkpoint_dir(settings)
    files = [p for p in folder.glob("*.json") if p.is_file()] if folder.is_dir() else []
    return max(files, key=lambda p: (p.stat().st_mtime_ns, p.name), default=None)


def named_checkpoint(settings: Settings, name: str) -> Path:
    """A checkpoint file of ``<var_dir>/checkpoints`` by bare file name (no paths)."""
    if not CHECKPOINT_NAME.match(name):
        raise ValidationFailed("invalid query parameters", {"checkpoint": ["must be a file name like checkpoint-12.json"]})
    path = checkpoint_dir(settings) / name
    if not path.is_file():
        raise NotFound(f"checkpoint {name!r} not found in the checkpoint folder")
    return path


def read_checkpoint(path: Path) -> Any:
    """The parsed checkpoint file; a string describing the problem when it cannot be read."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return f"cannot read checkpoint {path.name}: {exc}"


def verify(engine, checkpoint_file: Path | None = None, public_key_file: Path | None = None) -> dict:
    """Verify the chain and, when there is one, a checkpoint (by default the newest).

    ``{ok, checked, first_bad_seq, head_seq, head_hash, reason, checkpoint}``, where
    ``checkpoint`` is ``None`` or ``{file, seq, ok, reason, key_id, trusted_key}``; ``ok``
    needs both the chain and the checkpoint to verify.
    """
    settings = engine.settings
    path = checkpoint_file or newest_checkpoint(settings)
    trusted = trusted_key(settings, public_key_file)
    with engine.read() as session:
        report = verify_chain(session)
        if path is None:
            report["checkpoint"] = None
            return report
        document = read_checkpoint(path)
        if isinstance(document, str):
            result = {"seq": None, "ok": False, "reason": document, "key_id": None, "trusted_key": trusted is not None}
        else:
            result = verify_checkpoint(session, document, trusted)
    report["checkpoint"] = {"file": path.name, **result}
    report["ok"] = report["ok"] and result["ok"]
    return report
