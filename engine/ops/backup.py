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
import sqlite3
import subprocess
import tarfile
import tempfile
import zlib
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from engine.audit.chain import read_head, verify_chain
from engine.clock import utcnow
from engine.errors import EngineError
from engine.identity.actor import SYSTEM
from engine.ops.provenance import engine_version, file_sha256, schema_revision

FORMAT = "bpm-backup/1"
DB_MEMBER = {"sqlite": "database.sqlite3", "postgresql": "database.pgdump"}
KEY_NAMES = ("audit_ed25519.pem", "seal_ca_key.pem", "seal_kek.key")
_CHECKPOINT_MEMBER = re.compile(r"^checkpoints/[A-Za-z0-9][A-Za-z0-9._-]{0,200}\.json\Z")
NOT_INCLUDED = [
    "history archive files (<var_dir>/archive or BPM_ARCHIVE_DIR): copy them to long-term storage",
    "configuration and secrets from the environment (BPM_SECRET_KEY, BPM_DATABASE_URL ...)",
    "uploaded fonts and other files of <var_dir> besides checkpoints",
]


class BackupError(EngineError):
    status, code = 422, "backup_invalid"


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


def _dialect(url: str) -> str:
    name = make_url(url).get_backend_name()
    if name not in DB_MEMBER:
        raise BackupError(f"unsupported database {name!r}")
    return name


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up or restored")
    return Path(database)


class _Conn:
    """Gives ``verify_chain`` (which calls ``session.connection()``) a bare connection."""

    def __init__(self, conn) -> None:
        self._conn = conn

    def connection(self):
        return self._conn


def _audit_state(conn) -> dict:
    report = verify_chain(_Conn(conn))
    return {"head_seq": report["head_seq"], "head_hash": report["head_hash"], "chain_ok": report["ok"],
            "checked": report["checked"], "reason": report["reason"]}


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --------------------------------------------------------------------------- PostgreSQL tools


def find_pg_tool(name: str, configured: str | None = None) -> str:
    """``pg_dump``/``pg_restore``/``psql``: ``configured`` (``BPM_PG_BIN_DIR``), then PATH, then
    the newest ``/usr/lib/postgresql/*/bin``. The client must not be older than the server."""
    if configured:
        candidate = Path(configured) / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
        raise BackupError(f"{name} not found in BPM_PG_BIN_DIR={configured}")
    found = shutil.which(name)
    if found:
        return found
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)
    for folder in reversed(versions):
        if (folder / name).is_file():
            return str(folder / name)
    raise BackupError(
        f"{name} is not installed: install the PostgreSQL client tools of the server's major version "
        "(Debian: apt-get install postgresql-client) or set BPM_PG_BIN_DIR to their folder"
    )


def _pg_conninfo(url: str) -> tuple[str, dict]:
    """A libpq URI without the password, and an environment carrying it (not in ``ps``)."""
    parsed = make_url(url)
    env = dict(os.environ)
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    conninfo = parsed.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    return conninfo, env


def _run(args: list[str], env: dict, what: str) -> None:
    proc = subprocess.run(args, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise BackupError(f"{what} failed (exit {proc.returncode}): {proc.stderr.strip()[-2000:]}")


# --------------------------------------------------------------------------- create


def _snapshot_sqlite(url: str, target: Path) -> dict:
    source_path = _sqlite_path(url)
    if not source_path.is_file():
        raise BackupError(f"the SQLite database {source_path} does not exist")
    src = sqlite3.connect(str(source_path), timeout=30)
    dst = sqlite3.connect(str(target))
    try:
        src.backup(dst)  # one step: a consistent read snapshot (WAL frames included)
        dst.execute("PRAGMA journal_mode=DELETE")  # a self-contained single file
        problem = dst.execute("PRAGMA integrity_check").fetchone()[0]
        if problem != "ok":
            raise BackupError(f"the copied database fails its integrity check: {problem}")
    finally:
        dst.close()
        src.close()
    eng = create_engine(f"sqlite:///{target}")
    try:
        with eng.connect() as conn:
            return {"schema_revision": schema_revision(conn), "audit": _audit_state(conn)}
    finally:
        eng.dispose()


def _dump_postgres(url: str, target: Path, pg_bin_dir: str | None) -> dict:
    pg_dump = find_pg_tool("pg_dump", pg_bin_dir)
    conninfo, env = _pg_conninfo(url)
    eng = create_engine(url, isolation_level="REPEATABLE READ")
    try:
        with eng.connect() as conn:
            conn.execute(text("SET TRANSACTION READ ONLY"))
            snapshot = conn.execute(text("SELECT pg_export_snapshot()")).scalar_one()
            meta = {"schema_revision": schema_revision(conn), "audit": _audit_state(conn)}
            # the dump sees exactly the snapshot the manifest was read from
            _run([pg_dump, "-Fc", "--no-owner", "--no-privileges", f"--snapshot={snapshot}", "-f", str(target),
                  f"--dbname={conninfo}"], env, "pg_dump")
            conn.rollback()
    finally:
        eng.dispose()
    return meta


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
    dialect = _dialect(settings.database_url)
    now = now or utcnow()
    out = Path(out) if out else settings.var_dir / "backups" / f"bpm-backup-{now.astimezone(UTC):%Y%m%dT%H%M%S}Z.tar.gz"
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".bpm-backup-", dir=out.parent) as tmp:
        folder = Path(tmp)
        db_file = folder / DB_MEMBER[dialect]
        meta = _snapshot_sqlite(settings.database_url, db_file) if dialect == "sqlite" else _dump_postgres(
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


def _has_rows(url: str) -> list[str]:
    """Tables of the target database that hold rows (``alembic_version`` aside)."""
    if url.startswith("sqlite") and not _sqlite_path(url).exists():
        return []
    eng = create_engine(url)
    try:
        with eng.connect() as conn:
            tables = [t for t in inspect(conn).get_table_names() if t != "alembic_version"]
            prep = conn.dialect.identifier_preparer
            return [t for t in tables if conn.execute(text(f"SELECT 1 FROM {prep.quote(t)} LIMIT 1")).first() is not None]
    finally:
        eng.dispose()


# SQLite's unix VFS: every connection to a WAL database holds a shared lock on this byte of
# the ``-shm`` file while it is open (the "dead man switch" of the WAL index, see os_unix.c:
# UNIX_SHM_BASE 120 + SQLITE_SHM_NLOCK 8). POSIX locks are per process, so our own
# connections never show up here.
SQLITE_SHM_DMS_BYTE = 128


def _sqlite_users(url: str) -> list[str]:
    """Other processes with the SQLite database open (found by probing the WAL index lock)."""
    import fcntl

    shm = Path(f"{_sqlite_path(url)}-shm")
    try:
        fd = os.open(shm, os.O_RDWR)
    except OSError:
        return []  # no WAL index: nobody has the database open
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, SQLITE_SHM_DMS_BYTE)
    except OSError:
        return [f"another process has {_sqlite_path(url).name} open"]
    else:
        fcntl.lockf(fd, fcntl.LOCK_UN, 1, SQLITE_SHM_DMS_BYTE)
        return []
    finally:
        os.close(fd)


def _postgres_users(url: str) -> list[str]:
    """The other sessions connected to the target PostgreSQL database."""
    eng = create_engine(url)
    try:
        with eng.connect() as conn:
            rows = conn.execute(text(
                "SELECT application_name, client_addr, state FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
            )).all()
    finally:
        eng.dispose()
    return [f"{r.application_name or 'a client'} from {r.client_addr or 'a local socket'} ({r.state})" for r in rows]


def connected_users(url: str) -> list[str]:
    """Who else uses the database right now: the web app, workers or the jobs server would
    keep working on (and caching) the data a restore replaces underneath them."""
    if url.startswith("sqlite"):
        return _sqlite_users(url) if _sqlite_path(url).exists() else []
    return _postgres_users(url)


def _restore_sqlite(url: str, db_file: Path) -> None:
    target = _sqlite_path(url)
    target.parent.mkdir(parents=True, exist_ok=True)
    src = sqlite3.connect(str(db_file))
    try:
        problem = src.execute("PRAGMA integrity_check").fetchone()[0]
        if problem != "ok":
            raise BackupError(f"the database in the bundle fails its integrity check: {problem}")
        dst = sqlite3.connect(str(target), timeout=30)
        try:
            src.backup(dst)  # replaces every page of the target in one write transaction
            dst.execute("PRAGMA journal_mode=WAL")
        finally:
            dst.close()
    finally:
        src.close()


def _drop_all_sql(url: str) -> str:
    """SQL dropping every table, view, sequence and bpm_ function of the target's schema."""
    eng = create_engine(url)
    try:
        with eng.connect() as conn:
            prep = conn.dialect.identifier_preparer
            insp = inspect(conn)
            statements = [f"DROP VIEW IF EXISTS {prep.quote(v)} CASCADE" for v in insp.get_view_names()]
            statements += [f"DROP TABLE IF EXISTS {prep.quote(t)} CASCADE" for t in insp.get_table_names()]
            statements += [f"DROP SEQUENCE IF EXISTS {prep.quote(s)} CASCADE" for s in insp.get_sequence_names()]
            functions = conn.execute(text(
                "SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
                "WHERE n.nspname = current_schema() AND p.proname LIKE 'bpm\\_%'"
            )).scalars().all()
            statements += [f"DROP FUNCTION IF EXISTS {f} CASCADE" for f in functions]
    finally:
        eng.dispose()
    return "; ".join(statements) or "SELECT 1"


def _restore_postgres(url: str, dump_file: Path, pg_bin_dir: str | None) -> None:
    """Drop everything in the target's schema and load the dump, in one transaction.

    The dump is first turned into a SQL script (so a failing ``pg_restore`` cannot leave
    a half-read script that psql would commit), then run by ``psql --single-transaction``
    after the DROP statements: any error rolls the whole restore back."""
    pg_restore, psql = (find_pg_tool(tool, pg_bin_dir) for tool in ("pg_restore", "psql"))
    conninfo, env = _pg_conninfo(url)
    script = dump_file.with_suffix(".sql")
    _run([pg_restore, "--clean", "--if-exists", "--no-owner", "--no-privileges", "-f", str(script), str(dump_file)],
         env, "pg_restore (reading the dump)")
    try:
        _run([psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "--single-transaction", "-c", _drop_all_sql(url),
              "-f", str(script), f"--dbname={conninfo}"], env, "loading the dump (rolled back, nothing was changed)")
    finally:
        script.unlink(missing_ok=True)


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


def restore(engine, bundle: Path, force: bool = False, restore_keys: bool = False,
            allow_connections: bool = False) -> dict:
    """Replace ``engine``'s database with the bundle's (see the module docstring)."""
    from engine.audit.checkpoint import verify as verify_with_checkpoint
    from engine.store.migrate import upgrade

    settings = engine.settings
    url = settings.database_url
    dialect = _dialect(url)
    bundle = Path(bundle)
    with tempfile.TemporaryDirectory(prefix=".bpm-restore-") as tmp:
        folder = Path(tmp)
        manifest = read_bundle(bundle, folder)
        if manifest["dialect"] != dialect:
            raise BackupError(f"the bundle holds a {manifest['dialect']} database; this server uses {dialect}")
        check_revision(manifest.get("schema_revision"))
        if restore_keys and manifest.get("includes_keys"):
            for name, target in key_files(settings).items():  # refuse before touching the database
                if name in manifest["files"] and target.exists() and target.read_bytes() != (folder / name).read_bytes():
                    raise BackupError(f"{target} exists and differs from the key in the bundle: move it aside first")
        filled = _has_rows(url)
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
        db_file = folder / DB_MEMBER[dialect]
        if dialect == "sqlite":
            _restore_sqlite(url, db_file)
        else:
            _restore_postgres(url, db_file, settings.pg_bin_dir)
        files = _restore_files(settings, folder, manifest, restore_keys)
    engine.db.dispose()
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
    migrated = None
    if restored_revision != code_head():
        upgrade(url)
        migrated = {"from": restored_revision, "to": code_head()}
    with engine.uow(SYSTEM) as uow:
        uow.audit("backup_restored", file=bundle.name, sha256=file_sha256(bundle), created_at=manifest["created_at"],
                  schema_revision=manifest["schema_revision"], audit_head_seq=expected[0], migrated=migrated, forced=bool(filled))
    report = verify_with_checkpoint(engine)
    result = {
        "file": str(bundle),
        "created_at": manifest["created_at"],
        "dialect": dialect,
        "schema_revision": manifest["schema_revision"],
        "migrated": migrated,
        "audit_head_seq": expected[0],
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
