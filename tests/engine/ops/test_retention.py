"""History retention on both databases: finished instances past the TTL are archived to a
gzip JSON-lines file (fsynced, sha256 audited), then their rows are deleted; audit events
stay and the chain still verifies. Time is moved with the engine clock."""

from __future__ import annotations

import base64
import gzip
import io
import json
import stat
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

import engine.app as app_module
from engine.audit.chain import verify_chain
from engine.clock import clock
from engine.identity.actor import SYSTEM
from engine.ops import provenance, retention
from engine.store.models import (
    AuditEvent,
    AuditHead,
    Blob,
    Document,
    DocumentLink,
    HallState,
    Notification,
    ProcessInstance,
    Task,
    Timer,
)
from tests.conftest import fixture_text

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n"
SHARED = b"shared evidence, used by two instances"
DAY = timedelta(days=1)


@pytest.fixture
def intake(api, engine):
    assert api.deploy_form(json.loads(fixture_text("evidence.form"))).status_code == 201
    assert api.deploy_xml(fixture_text("evidence_intake.bpmn")).status_code == 201
    t0 = datetime.now(UTC).replace(microsecond=0)
    clock.set(t0)
    yield api, t0
    clock.reset()


def upload(api, content: bytes, name: str) -> dict:
    r = api.post("/api/documents", "counter_staff", json=None, data={"file": (io.BytesIO(content), name)},
                 content_type="multipart/form-data")
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def start(api, attachments: list[str], title="营业执照 licence") -> dict:
    r = api.post("/api/process-definitions/evidence_intake/instances", "counter_staff",
                 json={"data": {"title": title, "attachments": attachments}})
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def finish(api, inst: dict) -> None:
    task_id = inst["open_tasks"][0]["id"]
    r = api.post(f"/api/tasks/{task_id}/complete", "duty_manager", json={"data": {"title": "checked", "attachments": []}})
    assert r.status_code == 200, r.get_json()
    assert api.get(f"/api/process-instances/{inst['id']}", "admin").get_json()["status"] == "completed"


def count(engine, model, *where) -> int:
    with engine.read() as session:
        return session.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


def head(engine) -> tuple[int, str]:
    with engine.read() as session:
        row = session.get(AuditHead, 1)
        return row.seq, row.hash


def archived_events(engine) -> list[dict]:
    """The details of every ``history_archived`` audit event."""
    with engine.read() as session:
        return list(session.execute(select(AuditEvent.details).where(AuditEvent.action == "history_archived")).scalars())


@pytest.fixture
def history(intake, engine):
    """Old finished instances (one with its own PDF, one sharing a document with a running
    instance), an old running one, and a recently finished one."""
    api, t0 = intake
    own = upload(api, PDF, "licence.pdf")
    shared = upload(api, SHARED, "shared.txt")
    old = start(api, [own["id"]])
    old_shared = start(api, [shared["id"]])
    running = start(api, [shared["id"]])
    with engine.uow(SYSTEM) as uow:  # a notification and a fired timer belong to the old instance
        uow.session.add(Notification(username="duty_manager", kind="sla_warning", title="即将超时 due soon",
                                     instance_id=old["id"], task_id=old["open_tasks"][0]["id"], created_at=t0))
        uow.session.add(Timer(instance_id=old["id"], task_id="t", element_id="x", kind="boundary", fire_at=t0,
                              state="fired", fired_at=t0, attempts=1))
    finish(api, old)
    finish(api, old_shared)
    clock.advance(100 * DAY)
    recent = start(api, [])
    finish(api, recent)
    return {"api": api, "t0": t0, "own": own, "shared": shared, "old": old["id"], "old_shared": old_shared["id"],
            "running": running["id"], "recent": recent["id"]}


def test_dry_run_lists_and_changes_nothing(history, engine):
    before = head(engine), count(engine, ProcessInstance), count(engine, Task)
    report = retention.run(engine, history["t0"] + 400 * DAY, dry_run=True, ttl_days=365)
    assert report["eligible"] == 2 and report["archived"] == 0
    assert sorted(report["instance_ids"]) == sorted([history["old"], history["old_shared"]])
    assert (head(engine), count(engine, ProcessInstance), count(engine, Task)) == before
    assert not retention.archive_dir(engine.settings).exists()


def test_old_finished_instances_are_archived_then_deleted(history, engine):
    api, t0 = history["api"], history["t0"]
    old, old_shared = history["old"], history["old_shared"]
    with engine.read() as session:  # what the archive must hold
        old_row = retention.encode_row(ProcessInstance.__table__, session.get(ProcessInstance, old).__dict__)
        old_events = [e.seq for e in session.execute(select(AuditEvent).where(AuditEvent.instance_id == old)).scalars()]
    events_before = count(engine, AuditEvent)

    report = retention.run(engine, t0 + 400 * DAY, ttl_days=365)

    assert report["archived"] == 2 and len(report["batches"]) == 1
    batch = report["batches"][0]
    assert batch["documents_deleted"] == 1 and batch["documents_kept"] == 1 and batch["blobs_deleted"] == 1
    # the rows are gone; running and recently finished instances are kept
    for iid in (old, old_shared):
        assert count(engine, ProcessInstance, ProcessInstance.id == iid) == 0
        assert count(engine, Task, Task.instance_id == iid) == 0
        assert count(engine, DocumentLink, DocumentLink.instance_id == iid) == 0
        assert api.get(f"/api/process-instances/{iid}", "admin").status_code == 404
    assert count(engine, Notification, Notification.instance_id == old) == 0
    assert count(engine, Timer, Timer.instance_id == old) == 0
    for iid in (history["running"], history["recent"]):
        assert api.get(f"/api/process-instances/{iid}", "admin").status_code == 200
    # the own document and its bytes are deleted; the shared one survives for the running instance
    assert count(engine, Document, Document.id == history["own"]["id"]) == 0
    assert count(engine, Blob, Blob.sha256 == history["own"]["sha256"]) == 0
    r = api.get(f"/api/documents/{history['shared']['id']}", "duty_manager")
    assert r.status_code == 200 and r.data == SHARED
    # audit events are all kept (plus the history_archived event) and the chain verifies
    assert count(engine, AuditEvent) == events_before + 1
    assert count(engine, AuditEvent, AuditEvent.instance_id == old) == len(old_events)
    with engine.read() as session:
        assert verify_chain(session)["ok"]

    # the archive file is the one the audit event names, with that sha256
    [event] = archived_events(engine)
    path = retention.archive_dir(engine.settings) / event["file"]
    assert batch["file"] == str(path) and event["sha256"] == provenance.file_sha256(path) == batch["sha256"]
    assert sorted(event["instance_ids"]) == sorted([old, old_shared]) and event["instances"] == 2
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # personal data: readable by the service account only
    header, records = retention.read_archive(path)
    assert header["format"] == retention.FORMAT and header["instances"] == 2
    record = next(r for r in records if r["instance"]["id"] == old)
    assert record["instance"] == old_row
    assert [t["status"] for t in record["tasks"]] == ["completed"]
    assert record["tasks"][0]["submitted"] == {"title": "checked", "attachments": []}
    [doc] = record["documents"]
    assert doc["document"]["id"] == history["own"]["id"] and doc["linked_to_other_instances"] == []
    assert base64.b64decode(doc["blob"]["content"]) == PDF
    assert [n["kind"] for n in record["notifications"]] == ["sla_warning"]
    assert [t["state"] for t in record["timers"]] == ["fired"]
    assert [e["seq"] for e in record["audit_events"]] == old_events
    shared_record = next(r for r in records if r["instance"]["id"] == old_shared)
    assert shared_record["documents"][0]["linked_to_other_instances"] == [history["running"]]
    shown = retention.show(path, engine=engine)
    assert shown["recorded_in_audit"] and {i["id"] for i in shown["instances"]} == {old, old_shared}

    # a second run finds nothing: no new file, no new event
    again = retention.run(engine, t0 + 400 * DAY, ttl_days=365)
    assert again["archived"] == 0 and again["eligible"] == 0
    assert len(list(retention.archive_dir(engine.settings).iterdir())) == 1
    assert len(archived_events(engine)) == 1


def test_an_archived_instance_can_be_restored(history, engine):
    api, old = history["api"], history["old"]
    before = api.get(f"/api/process-instances/{old}", "admin").get_json()
    report = retention.run(engine, history["t0"] + 400 * DAY, ttl_days=365)
    path = retention.archive_dir(engine.settings) / report["batches"][0]["file"].rsplit("/", 1)[-1]
    result = retention.restore(engine, path, old)
    assert result["documents_restored"] == 1
    after = api.get(f"/api/process-instances/{old}", "admin").get_json()
    assert after == before
    r = api.get(f"/api/documents/{history['own']['id']}", "counter_staff")
    assert r.status_code == 200 and r.data == PDF
    with engine.read() as session:
        assert verify_chain(session)["ok"]
        actions = [e.action for e in session.execute(select(AuditEvent).where(AuditEvent.instance_id == old)).scalars()]
    assert actions[-1] == "history_restored"
    with pytest.raises(Exception, match="exists already"):
        retention.restore(engine, path, old)


def test_recent_history_is_kept_and_ttl_zero_keeps_everything(history, engine):
    t0 = history["t0"]
    assert retention.run(engine, t0 + 400 * DAY, ttl_days=0)["archived"] == 0
    # 30 days after the old ones ended, with a 365-day TTL: nothing is old enough yet
    assert retention.run(engine, t0 + 30 * DAY, ttl_days=365)["archived"] == 0
    # a congestion alert its hall still tracks is kept until the hall lets it go
    with engine.uow(SYSTEM) as uow:
        uow.session.add(HallState(hall="hall-1", level=1, candidate_level=None, candidate_since=None, updated_at=t0,
                                  instance_ids=[{"instance_id": history["old"], "level": 1}]))
    report = retention.run(engine, t0 + 4000 * DAY, ttl_days=365)
    assert report["archived"] == 2
    assert count(engine, ProcessInstance, ProcessInstance.id == history["old"]) == 1
    with engine.uow(SYSTEM) as uow:
        uow.session.get(HallState, "hall-1").instance_ids = []
    # far in the future every finished instance is past the TTL, the running one never is
    assert retention.run(engine, t0 + 4000 * DAY, ttl_days=365)["archived"] == 1
    assert count(engine, ProcessInstance) == 1 and count(engine, ProcessInstance, ProcessInstance.id == history["running"]) == 1
    assert report["audit"]["retention_days"] == engine.settings.audit_retention_days
    assert count(engine, AuditEvent, AuditEvent.instance_id == history["old"]) > 0


def test_failure_before_commit_deletes_nothing_and_rerun_is_safe(history, engine, monkeypatch):
    t0 = history["t0"]
    folder = retention.archive_dir(engine.settings)
    rows_before = count(engine, ProcessInstance), count(engine, Task), count(engine, Document)

    # 1. the deletion fails: rolled back, and the file that was written is removed again
    def broken_delete(conn, ids, records):
        raise RuntimeError("disk gone")

    with monkeypatch.context() as m:
        m.setattr(retention, "_delete_batch", broken_delete)
        with pytest.raises(RuntimeError):
            retention.run(engine, t0 + 400 * DAY, ttl_days=365)
    assert (count(engine, ProcessInstance), count(engine, Task), count(engine, Document)) == rows_before
    assert list(folder.iterdir()) == []

    # 2. the process dies after the file is complete but before the commit (here: the audit
    #    append fails): the file stays, but no audit event records it and nothing is deleted
    real_append = app_module.append_events

    def dying_append(session, events, **kw):
        if any(e["action"] == "history_archived" for e in events):
            raise KeyboardInterrupt("killed")
        return real_append(session, events, **kw)

    with monkeypatch.context() as m:
        m.setattr(app_module, "append_events", dying_append)
        with pytest.raises(KeyboardInterrupt):
            retention.run(engine, t0 + 400 * DAY, ttl_days=365)
    [orphan] = list(folder.iterdir())
    assert (count(engine, ProcessInstance), count(engine, Task), count(engine, Document)) == rows_before
    assert retention.show(orphan, engine=engine)["recorded_in_audit"] is False
    with pytest.raises(retention.ArchiveError, match="not recorded"):
        retention.restore(engine, orphan, history["old"])

    # 3. the next run archives the same instances again, into a new, recorded file
    report = retention.run(engine, t0 + 400 * DAY, ttl_days=365)
    assert report["archived"] == 2
    new = next(p for p in folder.iterdir() if p != orphan)
    assert retention.show(new, engine=engine)["recorded_in_audit"] is True
    assert retention.read_archive(new)[1] == retention.read_archive(orphan)[1]  # same content
    assert count(engine, ProcessInstance, ProcessInstance.id == history["old"]) == 0


def test_altered_archive_is_refused(history, engine, tmp_path):
    report = retention.run(engine, history["t0"] + 400 * DAY, ttl_days=365)
    path = retention.archive_dir(engine.settings) / report["batches"][0]["file"].rsplit("/", 1)[-1]
    header, records = retention.read_archive(path)
    records[0]["instance"]["data"] = {"title": "forged"}
    forged = tmp_path / path.name
    with gzip.open(forged, "wt", encoding="utf-8") as fh:
        for line in [header, *records]:
            fh.write(json.dumps(line) + "\n")
    with pytest.raises(retention.ArchiveError, match="not recorded"):
        retention.restore(engine, forged, records[0]["instance"]["id"])
    truncated = tmp_path / "truncated.jsonl.gz"
    truncated.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(retention.ArchiveError, match="cannot read"):
        retention.show(truncated)


def test_cli_run_list_show_and_restore(history, engine):
    from click.testing import CliRunner

    from bpm_cli.main import main

    env = {"BPM_DATABASE_URL": engine.settings.database_url, "BPM_VAR_DIR": str(engine.settings.var_dir),
           "BPM_HISTORY_TTL_DAYS": "365"}
    runner = CliRunner()
    clock.set(history["t0"] + 400 * DAY)  # the CLI runs in this process: it reads the same clock
    r = runner.invoke(main, ["retention", "run", "--dry-run"], env=env)
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["eligible"] == 2 and count(engine, ProcessInstance, ProcessInstance.id == history["old"]) == 1
    r = runner.invoke(main, ["retention", "run"], env=env)
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["archived"] == 2
    r = runner.invoke(main, ["archive", "list"], env=env)
    [listed] = json.loads(r.stdout)["archives"]
    assert listed["state"] == "ok" and listed["instances"] == 2
    path = retention.archive_dir(engine.settings) / listed["file"]
    r = runner.invoke(main, ["archive", "show", str(path), "--instance", history["old"]], env=env)
    shown = json.loads(r.stdout)
    assert shown["recorded_in_audit"] and shown["instance"]["instance"]["status"] == "completed"
    assert shown["instance"]["documents"][0]["blob"] == {"sha256": history["own"]["sha256"], "size": len(PDF)}
    r = runner.invoke(main, ["archive", "restore", str(path), history["old"]], env=env)
    assert r.exit_code == 0, r.output
    assert history["api"].get(f"/api/process-instances/{history['old']}", "admin").status_code == 200
    r = runner.invoke(main, ["archive", "restore", str(path), history["old"]], env=env)
    assert r.exit_code == 2 and "exists already" in r.stderr
