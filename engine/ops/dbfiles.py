"""The database as a file: a consistent copy of it (SQLite's online backup API, PostgreSQL's
``pg_dump`` on an exported snapshot), who else has it open, and loading a copy back into it
in one transaction. ``engine.ops.backup`` puts these copies into bundles."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from engine.audit.chain import verify_chain
from engine.errors import EngineError
from engine.ops.provenance import schema_revision

DB_MEMBER = {"sqlite": "database.sqlite3", "postgresql": "database.pgdump"}


class BackupError(EngineError):
    status, code = 422, "backup_invalid"


def dialect_of(url: str) -> str:
    name = make_url(url).get_backend_name()
    if name not in DB_MEMBER:
        raise BackupError(f"unsupported database {name!r}")
    return name


def sqlite_path(url: str) -> Path:
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


def audit_state(conn) -> dict:
    report = verify_chain(_Conn(conn))
    return {"head_seq": report["head_seq"], "head_hash": report["head_hash"], "chain_ok": report["ok"],
            "checked": report["checked"], "reason": report["reason"]}


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


def pg_conninfo(url: str) -> tuple[str, dict]:
    """A libpq URI without the password, and an environment carrying it (not in ``ps``)."""
    parsed = make_url(url)
    env = dict(os.environ)
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    conninfo = parsed.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    return conninfo, env


def run_tool(args: list[str], env: dict, what: str) -> None:
    proc = subprocess.run(args, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise BackupError(f"{what} failed (exit {proc.returncode}): {proc.stderr.strip()[-2000:]}")


def snapshot_sqlite(url: str, target: Path) -> dict:
    source_path = sqlite_path(url)
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
            return {"schema_revision": schema_revision(conn), "audit": audit_state(conn)}
    finally:
        eng.dispose()


def dump_postgres(url: str, target: Path, pg_bin_dir: str | None) -> dict:
    pg_dump = find_pg_tool("pg_dump", pg_bin_dir)
    conninfo, env = pg_conninfo(url)
    eng = create_engine(url, isolation_level="REPEATABLE READ")
    try:
        with eng.connect() as conn:
            conn.execute(text("SET TRANSACTION READ ONLY"))
            snapshot = conn.execute(text("SELECT pg_export_snapshot()")).scalar_one()
            meta = {"schema_revision": schema_revision(conn), "audit": audit_state(conn)}
            # the dump sees exactly the snapshot the manifest was read from
            run_tool([pg_dump, "-Fc", "--no-owner", "--no-privileges", f"--snapshot={snapshot}", "-f", str(target),
                  f"--dbname={conninfo}"], env, "pg_dump")
            conn.rollback()
    finally:
        eng.dispose()
    return meta


def tables_with_rows(url: str) -> list[str]:
    """Tables of the target database that hold rows (``alembic_version`` aside)."""
    if url.startswith("sqlite") and not sqlite_path(url).exists():
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


def sqlite_users(url: str) -> list[str]:
    """Other processes with the SQLite database open (found by probing the WAL index lock)."""
    import fcntl

    shm = Path(f"{sqlite_path(url)}-shm")
    try:
        fd = os.open(shm, os.O_RDWR)
    except OSError:
        return []  # no WAL index: nobody has the database open
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, SQLITE_SHM_DMS_BYTE)
    except OSError:
        return [f"another process has {sqlite_path(url).name} open"]
    else:
        fcntl.lockf(fd, fcntl.LOCK_UN, 1, SQLITE_SHM_DMS_BYTE)
        return []
    finally:
        os.close(fd)


def postgres_users(url: str) -> list[str]:
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
        return sqlite_users(url) if sqlite_path(url).exists() else []
    return postgres_users(url)


def restore_sqlite(url: str, db_file: Path) -> None:
    target = sqlite_path(url)
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


def drop_all_sql(url: str) -> str:
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


def restore_postgres(url: str, dump_file: Path, pg_bin_dir: str | None) -> None:
    """Drop everything in the target's schema and load the dump, in one transaction.

    The dump is first turned into a SQL script (so a failing ``pg_restore`` cannot leave
    a half-read script that psql would commit), then run by ``psql --single-transaction``
    after the DROP statements: any error rolls the whole restore back."""
    pg_restore, psql = (find_pg_tool(tool, pg_bin_dir) for tool in ("pg_restore", "psql"))
    conninfo, env = pg_conninfo(url)
    script = dump_file.with_suffix(".sql")
    run_tool([pg_restore, "--clean", "--if-exists", "--no-owner", "--no-privileges", "-f", str(script), str(dump_file)],
         env, "pg_restore (reading the dump)")
    try:
        run_tool([psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "--single-transaction", "-c", drop_all_sql(url),
              "-f", str(script), f"--dbname={conninfo}"], env, "loading the dump (rolled back, nothing was changed)")
    finally:
        script.unlink(missing_ok=True)
