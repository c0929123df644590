"""Backup bundles and restore on SQLite and PostgreSQL.

Each test works on its own databases (for PostgreSQL, temporary databases created and
dropped here): data is made through the API, backed up, changed, and restored; the
restored state must equal the backed-up one row for row, and the audit chain (with a
signed checkpoint) must verify.
"""

from __future__ import annotations

import io
import json
import shutil
import stat
import subprocess
import sys
import tarfile
import uuid
from contextlib import ExitStack
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, inspect, select, text

from engine.app import BpmEngine
from engine.audit.checkpoint import create_checkpoint, key_path
from engine.audit.checkpoint import verify as verify_audit
from engine.config import load_settings
from engine.ops import backup
from engine.ops.retention import encode_row
from engine.store.models import Base
from tests.conftest import Api, _seed, fixture_text, require_postgres, temporary_pg_database

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n"
AUDIT_TABLES = {"bpm_audit_event", "bpm_audit_head"}


@pytest.fixture(scope="session")
def pg_seeded_template(tmp_path_factory):
    """A seeded PostgreSQL database that tests copy (CREATE DATABASE ... TEMPLATE): its name."""
    require_postgres()
    with temporary_pg_database("bpm_backup_tpl") as url:
        tokens = _seed(url, tmp_path_factory.mktemp("pg-backup-seed"))
        yield url.rsplit("/", 1)[1], tokens


@pytest.fixture
def databases(request, tmp_path):
    """``new(seeded=False)`` -> ``(url, tokens)`` of a new database of the test's kind: empty,
    or a copy of the seeded template (users and tokens); PostgreSQL ones are dropped afterwards."""
    kind = request.param
    if kind == "postgresql":
        require_postgres()

    with ExitStack() as created:
        def new(seeded: bool = False) -> tuple[str, dict]:
            if kind == "sqlite":
                path = tmp_path / f"db-{uuid.uuid4().hex[:8]}.sqlite3"
                tokens = {}
                if seeded:
                    template, tokens = request.getfixturevalue("sqlite_template")
                    shutil.copy(template, path)
                return f"sqlite:///{path}", tokens
            template, tokens = request.getfixturevalue("pg_seeded_template") if seeded else (None, {})
            return created.enter_context(temporary_pg_database("bpm_backup", template)), tokens

        yield new


both = pytest.mark.parametrize("databases", ["sqlite", "postgresql"], indirect=True)


class Site:
    """A seeded database with an engine, an API client and a var dir of its own."""

    def __init__(self, url: str, var_dir: Path, tokens: dict | None = None) -> None:
        from web import create_app

        self.url, self.var_dir = url, var_dir
        self.engine = BpmEngine(load_settings(database_url=url, var_dir=var_dir))
        self.api = Api(create_app(self.engine).test_client(), tokens or {})

    def close(self) -> None:
        self.engine.close()


@pytest.fixture
def site(databases, tmp_path):
    url, tokens = databases(seeded=True)
    s = Site(url, tmp_path / "var", tokens)
    yield s
    s.close()


def state(url: str) -> dict[str, list[dict]]:
    """Every row of every table, JSON-encoded and sorted: what "equal" means for a restore."""
    eng = create_engine(url)
    try:
        with eng.connect() as conn:
            present = set(inspect(conn).get_table_names())
            out = {}
            for table in Base.metadata.sorted_tables:
                if table.name in present:
                    rows = [encode_row(table, r) for r in conn.execute(select(table))]
                    out[table.name] = sorted(rows, key=lambda r: json.dumps(r, sort_keys=True, default=str))
            return out
    finally:
        eng.dispose()


def make_data(site: Site) -> dict:
    api = site.api
    assert api.deploy_form(json.loads(fixture_text("evidence.form"))).status_code == 201
    assert api.deploy_xml(fixture_text("evidence_intake.bpmn")).status_code == 201
    r = api.post("/api/documents", "counter_staff", json=None, data={"file": (io.BytesIO(PDF), "licence.pdf")},
                 content_type="multipart/form-data")
    assert r.status_code == 201
    doc = r.get_json()
    insts = []
    for title in ("一号 first", "二号 second"):
        r = api.post("/api/process-definitions/evidence_intake/instances", "counter_staff",
                     json={"data": {"title": title, "attachments": [doc["id"]]}})
        assert r.status_code == 201, r.get_json()
        insts.append(r.get_json())
    r = api.post(f"/api/tasks/{insts[0]['open_tasks'][0]['id']}/complete", "duty_manager",
                 json={"data": {"title": "ok", "attachments": []}})
    assert r.status_code == 200, r.get_json()
    create_checkpoint(site.engine)
    return {"doc": doc, "done": insts[0]["id"], "open": insts[1]}


def change_data(site: Site, data: dict) -> None:
    api = site.api
    r = api.post(f"/api/tasks/{data['open']['open_tasks'][0]['id']}/complete", "duty_manager",
                 json={"data": {"title": "later", "attachments": []}})
    assert r.status_code == 200
    r = api.post("/api/process-definitions/evidence_intake/instances", "counter_staff",
                 json={"data": {"title": "三号 third", "attachments": []}})
    assert r.status_code == 201


def audit_rows_refused(url: str) -> bool:
    eng = create_engine(url)
    try:
        with eng.connect() as conn:
            try:
                conn.execute(text("DELETE FROM bpm_audit_event"))
            except Exception as exc:  # noqa: BLE001
                return "append-only" in str(exc)
            return False
    finally:
        eng.dispose()


@both
def test_backup_change_restore_gives_back_the_backed_up_state(site, databases, tmp_path):
    data = make_data(site)
    before = state(site.url)
    bundle = tmp_path / "out" / "backup.tar.gz"
    made = backup.create(site.engine, bundle)
    assert made["audit"]["chain_ok"] and made["audit"]["head_seq"] == len(before["bpm_audit_event"])
    assert made["schema_revision"] == backup.code_head() and made["includes_keys"] == []
    assert stat.S_IMODE(bundle.stat().st_mode) == 0o600
    with tarfile.open(bundle) as tar:
        names = tar.getnames()
    assert names[0] == "manifest.json" and not any(n.startswith("keys/") for n in names)
    assert any(n.startswith("checkpoints/") for n in names)

    change_data(site, data)
    changed = state(site.url)
    assert changed["bpm_process_instance"] != before["bpm_process_instance"]

    # a non-empty database is not overwritten without force
    with pytest.raises(backup.BackupError, match="not empty"):
        backup.restore(site.engine, bundle)
    assert state(site.url)["bpm_process_instance"] == changed["bpm_process_instance"]

    result = backup.restore(site.engine, bundle, force=True)
    assert result["replaced_non_empty_database"] and result["chain_ok"] and result["verify"]["ok"]
    assert result["verify"]["checkpoint"]["ok"]  # the checkpoint signed before the backup still matches
    after = state(site.url)
    for table, rows in before.items():
        if table not in AUDIT_TABLES:
            assert after[table] == rows, table
    # the audit log is the backed-up one plus one event recording the restore
    events_before = {e["seq"]: e for e in before["bpm_audit_event"]}
    events_after = {e["seq"]: e for e in after["bpm_audit_event"]}
    assert {seq: events_after[seq] for seq in events_before} == events_before
    assert [events_after[seq]["action"] for seq in sorted(set(events_after) - set(events_before))] == ["backup_restored"]
    assert verify_audit(site.engine)["ok"]
    assert audit_rows_refused(site.url)  # the append-only triggers came back with the data
    # the application works on the restored data
    r = site.api.get(f"/api/documents/{data['doc']['id']}", "counter_staff")
    assert r.status_code == 200 and r.data == PDF
    assert site.api.get(f"/api/process-instances/{data['open']['id']}", "admin").get_json()["status"] == "running"

    # the same bundle restores into a brand-new empty database without --force
    fresh = Site(databases()[0], tmp_path / "var2")
    try:
        result = backup.restore(fresh.engine, bundle)
        assert not result["replaced_non_empty_database"] and result["chain_ok"]
        fresh_state = state(fresh.url)
        for table, rows in before.items():
            if table not in AUDIT_TABLES:
                assert fresh_state[table] == rows, table
        assert audit_rows_refused(fresh.url)
    finally:
        fresh.close()


def _repack(bundle: Path, out: Path, edit) -> None:
    """Rewrite ``bundle`` into ``out`` with ``edit(name, bytes) -> bytes`` applied to each member."""
    with tarfile.open(bundle) as src, tarfile.open(out, "w:gz") as dst:
        for member in src:
            data = edit(member.name, src.extractfile(member).read())
            info = tarfile.TarInfo(member.name)
            info.size = len(data)
            dst.addfile(info, io.BytesIO(data))


@both
def test_corrupted_or_foreign_bundles_are_refused_and_change_nothing(site, databases, tmp_path):
    make_data(site)
    bundle = tmp_path / "backup.tar.gz"
    backup.create(site.engine, bundle)
    target = Site(databases()[0], tmp_path / "target")
    try:
        raw = bundle.read_bytes()
        flipped = tmp_path / "flipped.tar.gz"
        flipped.write_bytes(raw[: len(raw) // 2] + bytes([raw[len(raw) // 2] ^ 0xFF]) + raw[len(raw) // 2 + 1:])
        truncated = tmp_path / "truncated.tar.gz"
        truncated.write_bytes(raw[: len(raw) // 2])
        swapped = tmp_path / "swapped.tar.gz"  # a valid archive whose database is not the one the manifest lists
        _repack(bundle, swapped, lambda name, data: data + b"\0" * 512 if name.startswith("database.") else data)
        for bad in (flipped, truncated, swapped, tmp_path / "nothing.tar.gz"):
            if not bad.exists():
                bad.write_bytes(b"not a backup at all")
            with pytest.raises(backup.BackupError, match="corrupted or not a bpm backup"):
                backup.restore(target.engine, bad)
        with pytest.raises(backup.BackupError, match="does not match the sha256"):
            backup.restore(target.engine, swapped)

        # a backup made by newer code (a schema revision this code does not know)
        newer = tmp_path / "newer.tar.gz"

        def future(name, data):
            if name != "manifest.json":
                return data
            manifest = json.loads(data)
            manifest["schema_revision"] = "9999_from_the_future"
            return json.dumps(manifest).encode()

        _repack(bundle, newer, future)
        with pytest.raises(backup.BackupError, match="unknown to this code"):
            backup.restore(target.engine, newer)
        # nothing was created in the target by any refused restore
        assert backup.tables_with_rows(target.url) == []
        assert backup.restore(target.engine, bundle)["chain_ok"]
    finally:
        target.close()


@both
def test_a_backup_of_an_older_schema_is_migrated_after_restore(databases, tmp_path):
    from engine.store.migrate import upgrade

    url, _ = databases()
    upgrade(url, "0004")
    old = Site(url, tmp_path / "old")
    try:
        made = backup.create(old.engine, tmp_path / "old.tar.gz")
    finally:
        old.close()
    assert made["schema_revision"] == "0004" != backup.code_head()
    target = Site(databases()[0], tmp_path / "new")
    try:
        result = backup.restore(target.engine, tmp_path / "old.tar.gz")
        assert result["migrated"] == {"from": "0004", "to": backup.code_head()} and result["chain_ok"]
        eng = create_engine(target.url)
        with eng.connect() as conn:
            assert backup.schema_revision(conn) == backup.code_head()
        eng.dispose()
    finally:
        target.close()


@pytest.mark.parametrize("databases", ["sqlite"], indirect=True)
def test_keys_only_with_include_keys_and_restored_where_missing(site, databases, tmp_path):
    make_data(site)  # signs a checkpoint: the audit key exists
    audit_key = key_path(site.engine.settings)
    assert audit_key.is_file()
    plain = backup.create(site.engine, tmp_path / "plain.tar.gz")
    assert plain["includes_keys"] == [] and any("secret keys" in n for n in plain["not_included"])
    keyed = backup.create(site.engine, tmp_path / "keyed.tar.gz", include_keys=True)
    assert keyed["includes_keys"] == ["keys/audit_ed25519.pem"]

    other = Site(databases()[0], tmp_path / "elsewhere")  # a new server: no keys, no checkpoints
    try:
        result = backup.restore(other.engine, tmp_path / "keyed.tar.gz", restore_keys=True)
        restored_key = key_path(other.engine.settings)
        assert result["keys_restored"] == ["keys/audit_ed25519.pem"]
        assert restored_key.read_bytes() == audit_key.read_bytes()
        assert stat.S_IMODE(restored_key.stat().st_mode) == 0o600
        assert result["checkpoints_restored"] and result["verify"]["checkpoint"]["trusted_key"]
        assert result["verify"]["ok"]
    finally:
        other.close()


@pytest.mark.parametrize("databases", ["postgresql"], indirect=True)
def test_missing_postgres_tools_give_a_clear_error(site, monkeypatch, tmp_path):
    from dataclasses import replace

    site.engine.settings = replace(site.engine.settings, pg_bin_dir=str(tmp_path / "no-such-folder"))
    with pytest.raises(backup.BackupError, match="pg_dump not found in BPM_PG_BIN_DIR"):
        backup.create(site.engine, tmp_path / "b.tar.gz")


@pytest.mark.parametrize("databases", ["sqlite"], indirect=True)
def test_cli_backup_create_and_restore(site, tmp_path):
    from bpm_cli.main import main

    make_data(site)
    env = {"BPM_DATABASE_URL": site.url, "BPM_VAR_DIR": str(site.var_dir)}
    runner = CliRunner()
    out = tmp_path / "cli.tar.gz"
    r = runner.invoke(main, ["backup", "create", str(out)], env=env)
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["audit"]["chain_ok"] is True
    r = runner.invoke(main, ["backup", "inspect", str(out)], env=env)
    assert r.exit_code == 0 and json.loads(r.stdout)["dialect"] == "sqlite"
    r = runner.invoke(main, ["backup", "restore", str(out)], env=env)
    assert r.exit_code == 2 and "not empty" in r.stderr
    r = runner.invoke(main, ["backup", "restore", "--force", str(out)], env=env)
    assert r.exit_code == 0, r.output
    r = runner.invoke(main, ["audit", "verify"], env=env)
    assert r.exit_code == 0, r.output


@both
def test_restore_is_refused_while_the_app_still_has_the_database_open(site, databases, tmp_path):
    """A web app, worker or jobs server still connected would go on working on (and caching)
    replaced data: restore names the connections and changes nothing until they are gone."""
    make_data(site)
    bundle = tmp_path / "backup.tar.gz"
    backup.create(site.engine, bundle)
    before = state(site.url)
    if site.url.startswith("sqlite"):
        # another process (POSIX locks are per process) with the database open and idle
        path = site.url.removeprefix("sqlite:///")
        holder = subprocess.Popen([sys.executable, "-c", (
            "import sqlite3, sys, time\n"
            f"c = sqlite3.connect({path!r}); c.execute('SELECT count(*) FROM bpm_audit_event').fetchone()\n"
            "print('open', flush=True); time.sleep(120)\n")], stdout=subprocess.PIPE, text=True)
        assert holder.stdout.readline().strip() == "open"
        release = holder.kill
        expected = "another process has"
    else:
        other = create_engine(site.url, connect_args={"application_name": "bpm web"})
        conn = other.connect()
        conn.execute(text("SELECT 1"))
        expected = "bpm web from"

        def release():
            conn.close()
            other.dispose()
    try:
        with pytest.raises(backup.BackupError, match=f"1 other connection.*{expected}.*stop the web app"):
            backup.restore(site.engine, bundle, force=True)
        assert state(site.url) == before
    finally:
        release()
    if site.url.startswith("sqlite"):
        holder.wait(timeout=30)
    result = backup.restore(site.engine, bundle, force=True)
    assert result["chain_ok"]
