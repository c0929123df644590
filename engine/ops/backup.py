"""Backup bundles of the whole database, and their restore.

A bundle is one ``.tar.gz`` file (mode 0600: it holds every personal record):

* ``manifest.json`` - format, creation time, engine version, database dialect, Alembic
  revision, audit chain head (``seq`` and ``hash``) and whether the chain verified in the
  copy, plus the sha256 and size of every other member;
* ``database.sqlite3`` (SQLite, made with the sqlite3 online backup API: a consistent
  snapshot while the app runs, WAL content included) or ``database.pgdump`` (PostgreSQL,
  ``pg_dump -Fc`` run on a snapshot exported from the transaction that read the
  manifest's revision and audit head, so both describe exactly the dumped data);
* ``checkpoints/*.json`` - the signed audit checkpoints of ``<var_dir>/checkpoints``
  (public, no secret);
* ``keys/*`` - only with ``include_keys``: the audit signing key, the seal CA key and the
  seal key-encryption secret. They are secrets: a bundle with keys lets its holder sign
  checkpoints and use every seal; keep keys in a separate, protected place instead.

Not in a bundle: archive files of history retention (``<var_dir>/archive``), uploaded
fonts, the configuration (``BPM_SECRET_KEY`` ...), and the keys unless asked for.

Restore refuses a corrupted bundle (sha256 per member), a bundle from the other database
kind, a schema revision this code does not know (a newer code's backup), and a non-empty
target database unless ``force``. It replaces the database contents in one transaction
(SQLite: backup API into the target file; PostgreSQL: every table dropped and the dump
loaded by ``psql --single-transaction``), migrates an older revision to the code's head,
checks that the restored audit chain ends at the manifest's head and verifies, then
appends a ``backup_restored`` audit event. It refuses while anything else has the database
open (PostgreSQL: other sessions in ``pg_stat_activity``; SQLite: another process holding
the WAL index), because the web app, workers and jobs server would go on working on, and
caching, data replaced under them: stop them first (``allow_connections`` overrides).
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import os
import re
import shutil
import tarfile
import tempfile
import zlib
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine

from engine.audit.chain import read_head
from engine.clock import utcnow
from engine.identity.actor import SYSTEM
from engine.ops.dbfiles import (
    DB_MEMBER,
    BackupError,
    connected_users,
    dialect_of,
    dump_postgres,
    restore_postgres,
    restore_sqlite,
    snapshot_sqlite,
    tables_with_rows,
)
from engine.ops.provenance import engine_version, file_sha256, schema_revision

FORMAT = "bpm-backup/1"
KEY_NAMES = ("audit_ed25519.pem", "seal_ca_key.pem", "seal_kek.key")
_CHECKPOINT_MEMBER = re.compile(r"^checkpoints/[A-Za-z0-9][A-Za-z0-9._-]{0,200}\.json\Z")
NOT_INCLUDED = [
    "history archive files (<var_dir>/archive or BPM_ARCHIVE_DIR): copy them to long-term storage",
    "configuration and secrets from the environment (BPM_SECRET_KEY, BPM_DATABASE_URL ...)",
    "uploaded fonts and other files of <var_dir> besides checkpoints",
]


# --------------------------------------------------------------------------- helpers


def code_head() -> str:
    from engine.store.migrate import head_revision

    return head_revision()


def check_revision(revision: str | None) -> None:
    """Refuse a revision this code does not know: the backup comes from newer code."""
    if revision is None:
        raise BackupError("the backup has no schema revision (the database was never migrated)")
    from engine.store.migrate import known_revision

    if not known_revision(revision):
        raise BackupError(
            f"the backup's schema revision {revision!r} is unknown to this code (its head is {code_head()!r}): "
            "the backup was made by a newer version; install that version to restore it"
        )


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --------------------------------------------------------------------------- PostgreSQL tools


# --------------------------------------------------------------------------- create


def key_files(settings) -> dict[str, Path]:
    """Bundle name -> configured path of each secret key file."""
    from engine.audit.checkpoint import key_path
    from engine.seals.keys import key_paths

    seal = key_paths(settings)
    return {"keys/audit_ed25519.pem": key_path(settings), "keys/seal_ca_key.pem": seal.ca_key,
            "keys/seal_kek.key": seal.kek}


def _fsync(path: Path) -> None:
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


def create(engine, out: Path | None = None, include_keys: bool = False, now: datetime | None = None) -> dict:
    """Write a backup bundle of ``engine``'s database; return the manifest (+ ``file``, ``sha256``)."""
    from engine.audit.checkpoint import checkpoint_dir

    settings = engine.settings
    dialect = dialect_of(settings.database_url)
    now = now or utcnow()
    out = Path(out) if out else settings.var_dir / "backups" / f"bpm-backup-{now.astimezone(UTC):%Y%m%dT%H%M%S}Z.tar.gz"
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".bpm-backup-", dir=out.parent) as tmp:
        folder = Path(tmp)
        db_file = folder / DB_MEMBER[dialect]
        meta = snapshot_sqlite(settings.database_url, db_file) if dialect == "sqlite" else dump_postgres(
            settings.database_url, db_file, settings.pg_bin_dir)
        members: dict[str, Path] = {DB_MEMBER[dialect]: db_file}
        cp_dir = checkpoint_dir(settings)
        for cp in sorted(cp_dir.glob("*.json")) if cp_dir.is_dir() else []:
            if _CHECKPOINT_MEMBER.match(f"checkpoints/{cp.name}"):
                members[f"checkpoints/{cp.name}"] = cp
        keys_included = []
        if include_keys:
            for name, path in key_files(settings).items():
                if path.is_file():
                    members[name] = path
                    keys_included.append(name)
        manifest = {
            "format": FORMAT,
            "created_at": _iso(now),
            "engine_version": engine_version(),
            "dialect": dialect,
            "schema_revision": meta["schema_revision"],
            "audit": meta["audit"],
            "files": {name: {"sha256": file_sha256(path), "size": path.stat().st_size} for name, path in members.items()},
            "includes_keys": keys_included,
            "not_included": NOT_INCLUDED + ([] if include_keys else [
                "secret keys (audit signing key, seal CA key, seal key-encryption secret): keep them separately, "
                "or make the bundle with --include-keys and protect it like the keys"]),
        }
        partial = folder / "bundle.tar.gz"
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz", compresslevel=6) as tar:
            data = (json.dumps(manifest, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
            info = tarfile.TarInfo("manifest.json")
            info.size, info.mtime, info.mode = len(data), int(now.timestamp()), 0o600
            tar.addfile(info, io.BytesIO(data))
            for name, path in members.items():
                info = tarfile.TarInfo(name)
                info.size, info.mtime, info.mode = path.stat().st_size, int(now.timestamp()), 0o600
                with open(path, "rb") as fh:
                    tar.addfile(info, fh)
        _fsync(partial)
        os.replace(partial, out)
    sha = file_sha256(out)
    with engine.uow(SYSTEM) as uow:
        uow.audit("backup_created", file=out.name, sha256=sha, schema_revision=manifest["schema_revision"],
                  audit_head_seq=manifest["audit"]["head_seq"], includes_keys=keys_included)
    return {"file": str(out), "sha256": sha, "size": out.stat().st_size, **manifest}


# --------------------------------------------------------------------------- read a bundle


def read_bundle(bundle: Path, into: Path) -> dict:
    """Unpack ``bundle`` into the folder ``into`` after checking every member; return the manifest."""
    def corrupt(why: str) -> BackupError:
        return BackupError(f"backup bundle {bundle.name} is corrupted or not a bpm backup: {why}")

    seen: dict[str, tuple[str, int]] = {}
    manifest = None
    try:
        with tarfile.open(bundle, mode="r:gz") as tar:
            for member in tar:
                name = member.name
                if not member.isfile():
                    raise corrupt(f"unexpected member {name!r}")
                known = (name == "manifest.json" or name in DB_MEMBER.values() or _CHECKPOINT_MEMBER.match(name)
                         or name in {f"keys/{k}" for k in KEY_NAMES})
                if not known or name in seen:
                    raise corrupt(f"unexpected member {name!r}")
                target = into / name
                target.parent.mkdir(parents=True, exist_ok=True)
                digest, size = hashlib.sha256(), 0
                src = tar.extractfile(member)
                fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as fh:
                    for chunk in iter(functools.partial(src.read, 1 << 20), b""):
                        digest.update(chunk)
                        size += len(chunk)
                        fh.write(chunk)
                seen[name] = (digest.hexdigest(), size)
                if name == "manifest.json":
                    manifest = json.loads(target.read_text(encoding="utf-8"))
    except BackupError:
        raise
    except (tarfile.TarError, OSError, EOFError, zlib.error, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise corrupt(str(exc) or type(exc).__name__) from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise corrupt(f"no manifest.json of format {FORMAT!r}")
    files = manifest.get("files")
    if not isinstance(files, dict) or manifest.get("dialect") not in DB_MEMBER or DB_MEMBER[manifest["dialect"]] not in files:
        raise corrupt("the manifest does not list the database file")
    if set(files) != set(seen) - {"manifest.json"}:
        raise corrupt(f"members {sorted(set(files) ^ (set(seen) - {'manifest.json'}))} differ from the manifest")
    for name, expected in files.items():
        if seen[name] != (expected.get("sha256"), expected.get("size")):
            raise corrupt(f"{name} does not match the sha256 and size in the manifest")
    return manifest


def inspect_bundle(bundle: Path) -> dict:
    """The manifest of a bundle whose members all check out (nothing is restored)."""
    with tempfile.TemporaryDirectory(prefix=".bpm-inspect-") as tmp:
        return read_bundle(Path(bundle), Path(tmp))


# --------------------------------------------------------------------------- restore


def _restore_files(settings, folder: Path, manifest: dict, restore_keys: bool) -> dict:
    from engine.audit.checkpoint import checkpoint_dir

    out = {"checkpoints_restored": [], "keys_restored": [], "keys_kept": []}
    cp_dir = checkpoint_dir(settings)
    for name in manifest["files"]:
        if name.startswith("checkpoints/"):
            target = cp_dir / name.split("/", 1)[1]
            if not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(folder / name, target)
                out["checkpoints_restored"].append(target.name)
    if restore_keys:
        for name, target in key_files(settings).items():
            if name not in manifest["files"]:
                continue
            data = (folder / name).read_bytes()
            if target.exists():
                if target.read_bytes() != data:
                    raise BackupError(f"{target} exists and differs from the key in the bundle: move it aside first")
                out["keys_kept"].append(name)
                continue
            target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            out["keys_restored"].append(name)
    return out


def _check_bundle(settings, folder: Path, manifest: dict, dialect: str, restore_keys: bool) -> None:
    """The bundle fits this server: same database kind, a schema revision this code knows, and
    no key file here that the bundle's would overwrite (refused before the database is touched)."""
    if manifest["dialect"] != dialect:
        raise BackupError(f"the bundle holds a {manifest['dialect']} database; this server uses {dialect}")
    check_revision(manifest.get("schema_revision"))
    if restore_keys and manifest.get("includes_keys"):
        for name, target in key_files(settings).items():
            if name in manifest["files"] and target.exists() and target.read_bytes() != (folder / name).read_bytes():
                raise BackupError(f"{target} exists and differs from the key in the bundle: move it aside first")


def _check_target(engine, url: str, force: bool, allow_connections: bool) -> list[str]:
    """The target may be replaced: empty (or ``force``) and nobody else connected. Returns its
    tables holding rows."""
    filled = tables_with_rows(url)
    if filled and not force:
        raise BackupError(
            f"the target database is not empty ({len(filled)} tables hold rows, e.g. {', '.join(filled[:3])}): "
            "use --force to replace its contents"
        )
    engine.db.dispose()
    others = connected_users(url)
    if others and not allow_connections:
        raise BackupError(
            f"{len(others)} other connection(s) use the target database ({'; '.join(others[:5])}): stop the "
            "web app, the workers and the jobs server first (they would keep working on replaced data), "
            "or pass --allow-connections if these are not the app"
        )
    return filled


def _check_restored(url: str, manifest: dict) -> dict | None:
    """The restored audit chain ends at the bundle's head; an older schema is migrated to the
    code's head (returns ``{from, to}`` then)."""
    from engine.store.migrate import upgrade

    eng = create_engine(url)
    try:
        with eng.connect() as conn:
            restored_revision = schema_revision(conn)
            head = read_head(conn)
    finally:
        eng.dispose()
    expected = (manifest["audit"]["head_seq"], manifest["audit"]["head_hash"])
    if head != expected:
        raise BackupError(f"the restored audit head {head} is not the bundle's {expected}")
    if restored_revision == code_head():
        return None
    upgrade(url)
    return {"from": restored_revision, "to": code_head()}


def restore(engine, bundle: Path, force: bool = False, restore_keys: bool = False,
            allow_connections: bool = False) -> dict:
    """Replace ``engine``'s database with the bundle's (see the module docstring)."""
    from engine.audit.checkpoint import verify as verify_with_checkpoint

    settings = engine.settings
    url = settings.database_url
    dialect = dialect_of(url)
    bundle = Path(bundle)
    with tempfile.TemporaryDirectory(prefix=".bpm-restore-") as tmp:
        folder = Path(tmp)
        manifest = read_bundle(bundle, folder)
        _check_bundle(settings, folder, manifest, dialect, restore_keys)
        filled = _check_target(engine, url, force, allow_connections)
        db_file = folder / DB_MEMBER[dialect]
        if dialect == "sqlite":
            restore_sqlite(url, db_file)
        else:
            restore_postgres(url, db_file, settings.pg_bin_dir)
        files = _restore_files(settings, folder, manifest, restore_keys)
    engine.db.dispose()
    migrated = _check_restored(url, manifest)
    head_seq = manifest["audit"]["head_seq"]
    with engine.uow(SYSTEM) as uow:
        uow.audit("backup_restored", file=bundle.name, sha256=file_sha256(bundle), created_at=manifest["created_at"],
                  schema_revision=manifest["schema_revision"], audit_head_seq=head_seq, migrated=migrated,
                  forced=bool(filled))
    report = verify_with_checkpoint(engine)
    result = {
        "file": str(bundle),
        "created_at": manifest["created_at"],
        "dialect": dialect,
        "schema_revision": manifest["schema_revision"],
        "migrated": migrated,
        "audit_head_seq": head_seq,
        "replaced_non_empty_database": bool(filled),
        "chain_ok": report["first_bad_seq"] is None and report["reason"] is None,
        "verify": report,
        **files,
    }
    if report.get("checkpoint") and not report["checkpoint"]["ok"]:
        result["warning"] = (
            f"the newest checkpoint {report['checkpoint']['file']} does not match the restored chain "
            f"({report['checkpoint']['reason']}): the restore rolled back audited history after that backup; "
            "keep that checkpoint as evidence and move it out of the checkpoint folder"
        )
    return result
