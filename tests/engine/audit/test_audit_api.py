"""Auditor views over the API (timeline, event search, exports, verification) and the `bpm audit` CLI."""

from __future__ import annotations

import csv
import io
import json
import os
import stat
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bpm_cli.main import main
from engine.audit import checkpoint as cp
from engine.clock import clock
from engine.identity.actor import Actor
from tests.engine.audit.test_checkpoint import rehash_from, rows, tamper

ROLES = ["counter_staff", "duty_manager", "hall_manager", "info_clerk"]
T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)


def run_instance(api, steps: int = 4) -> str:
    """Start four_step as counter_staff and complete ``steps`` of its tasks."""
    r = api.post("/api/process-definitions/four_step/instances", "counter_staff", json={"data": {"customer": "张三"}})
    assert r.status_code == 201, r.get_json()
    inst = r.get_json()["id"]
    for i, role in enumerate(ROLES[:steps]):
        task = api.get(f"/api/tasks?scope=candidate&instance={inst}", role).get_json()["items"][0]
        assert api.post(f"/api/tasks/{task['id']}/claim", role).status_code == 200
        r = api.post(f"/api/tasks/{task['id']}/complete", role, json={"data": {"note": f"步骤 {i}", "amount": i}})
        assert r.status_code == 200, r.get_json()
    return inst


@pytest.fixture
def history(four_step, engine):
    """Two instances on two days: a finished one (day 1) and one with one step done (day 2)."""
    clock.set(T0)
    first = run_instance(four_step)
    clock.set(T0 + timedelta(days=1))
    second = run_instance(four_step, steps=1)
    clock.reset()
    return four_step, first, second


def csv_rows(response) -> list[dict]:
    raw = response.get_data()
    assert raw.startswith("\ufeff".encode()), raw[:10]
    return list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))


def exports(engine) -> list[dict]:
    return [r for r in rows(engine) if r["action"] == "audit_exported"]


# --------------------------------------------------------------------------- timeline


def test_timeline_names_actors_actions_and_elements(history):
    api, first, _ = history
    r = api.get(f"/api/process-instances/{first}/timeline", "auditor")
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    events = body["events"]
    assert body["instance_id"] == first
    assert [e["seq"] for e in events] == sorted(e["seq"] for e in events)
    assert events[0]["action"] == "instance_started" and events[-1]["action"] == "instance_completed"
    completed = [e for e in events if e["action"] == "task_completed"]
    assert [e["actor"] for e in completed] == ROLES
    t2 = completed[1]
    assert t2["action_label"] == {"zh": "完成任务", "en": "Task completed"}
    assert t2["element_id"] == "t2" and t2["element_name"] == "审核"  # the model's two names, one per language
    english = api.get(f"/api/process-instances/{first}/timeline", "auditor", headers={"Accept-Language": "en"})
    assert [e["element_name"] for e in english.get_json()["events"] if e["element_id"] == "t2"][-1] == "Review"
    assert t2["actor_name"] == "duty_manager" and t2["actor_roles"] == ["duty_manager"] and t2["actor_unit"] == "hall-1"
    assert t2["details"]["data"]["note"] == "步骤 1" and t2["task_id"]
    assert set(t2) >= {"before", "after", "reason", "at", "hash"}
    assert events[0]["action_label"]["zh"] == "启动流程" and events[0]["details"]["data"] == {"customer": "张三"}


def test_timeline_passes_sla_and_seal_events_through(history, engine):
    api, first, _ = history
    with engine.uow(Actor("system", frozenset({"system"}), "系统")) as uow:
        uow.audit("sla_breached", instance_id=first, element_id="t3", due="2025-03-01T10:00:00Z", late_minutes=42)
        uow.audit("seal_applied", instance_id=first, element_id="t4", seal="公章", document_id="d-1", reason="归档")
    events = api.get(f"/api/process-instances/{first}/timeline", "auditor").get_json()["events"]
    sla, seal = events[-2:]
    assert sla["action"] == "sla_breached" and sla["action_label"] == {"zh": "超过时限", "en": "SLA breached"}
    assert sla["details"] == {"due": "2025-03-01T10:00:00Z", "late_minutes": 42} and sla["element_name"] == "批准"
    assert seal["details"] == {"seal": "公章", "document_id": "d-1"} and seal["reason"] == "归档"
    assert sla["actor_name"] == "系统"


def test_timeline_permissions(history):
    api, first, _ = history
    assert api.get(f"/api/process-instances/{first}/timeline").status_code == 401
    assert api.get(f"/api/process-instances/{first}/timeline", "counter_staff").status_code == 200  # the starter
    assert api.get(f"/api/process-instances/{first}/timeline", "admin").status_code == 200
    assert api.get(f"/api/process-instances/{first}/timeline", "nobody").status_code == 403
    assert api.get(f"/api/process-instances/{first}/timeline?format=csv", "nobody").status_code == 403
    assert api.get("/api/process-instances/no-such-id/timeline", "auditor").status_code == 404
    assert api.get(f"/api/process-instances/{first}/timeline?format=xml", "auditor").status_code == 422


def test_timeline_csv_export(history, engine):
    api, first, _ = history
    json_events = api.get(f"/api/process-instances/{first}/timeline", "auditor").get_json()["events"]
    r = api.get(f"/api/process-instances/{first}/timeline?format=csv", "auditor")
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert r.headers["Content-Disposition"] == f'attachment; filename="timeline-{first}.csv"'
    table = csv_rows(r)
    assert [int(row["seq"]) for row in table] == [e["seq"] for e in json_events]  # the export does not list itself
    done = [row for row in table if row["action"] == "task_completed"]
    assert [row["action_label_zh"] for row in done] == ["完成任务"] * 4
    assert done[0]["element_name"] == "填写" and done[0]["actor_roles"] == "counter_staff"
    assert json.loads(done[0]["details"])["data"]["note"] == "步骤 0"
    (event,) = exports(engine)
    assert event["actor"] == "auditor" and event["instance_id"] == first
    assert event["details"]["scope"] == "timeline" and event["details"]["format"] == "csv"
    assert event["details"]["filters"] == {"instance": first}
    assert event["details"]["up_to_seq"] == event["seq"] - 1
    # the export shows up in the timeline it exported, labelled
    last = api.get(f"/api/process-instances/{first}/timeline", "auditor").get_json()["events"][-1]
    assert last["action_label"] == {"zh": "导出审计记录", "en": "Audit log exported"}


def test_timeline_json_export_and_accept_header(history, engine):
    api, first, _ = history
    r = api.get(f"/api/process-instances/{first}/timeline?format=json", "counter_staff")
    assert r.status_code == 200 and r.headers["Content-Disposition"].startswith("attachment;")
    data = json.loads(r.get_data(as_text=True))
    assert isinstance(data, list) and data[0]["action"] == "instance_started"
    assert data[-1]["action"] == "instance_completed" and data[-1]["action_label"]["en"] == "Instance completed"
    r = api.get(f"/api/process-instances/{first}/timeline", "auditor", headers={"Accept": "text/csv"})
    assert r.headers["Content-Type"].startswith("text/csv") and csv_rows(r)
    assert [e["details"]["format"] for e in exports(engine)] == ["json", "csv"]


# --------------------------------------------------------------------------- /api/audit/events


def test_events_permissions_and_validation(history):
    api, _, _ = history
    assert api.get("/api/audit/events").status_code == 401
    for user in ("counter_staff", "process_owner", "nobody"):
        assert api.get("/api/audit/events", user).status_code == 403, user
        assert api.get("/api/audit/events?format=csv", user).status_code == 403, user
    assert api.get("/api/audit/events", "auditor").status_code == 200
    assert api.get("/api/audit/events", "admin").status_code == 200
    for bad in ["from=yesterday", "to=2025-13-01", "from=2025-03-02&to=2025-03-01", "page=0", "per_page=501",
                "format=xlsx", "actr=x", "actor="]:
        r = api.get(f"/api/audit/events?{bad}", "auditor")
        assert r.status_code == 422, bad
        assert r.get_json()["error"] == "validation_failed"
    assert "to" in api.get("/api/audit/events?from=2025-03-02&to=2025-03-01", "auditor").get_json()["details"]["errors"]


def test_events_filters_narrow(history, engine):
    api, first, second = history
    stored = [r for r in rows(engine)]

    def fetch(query):
        r = api.get(f"/api/audit/events?per_page=500&{query}", "auditor")
        assert r.status_code == 200, r.get_json()
        body = r.get_json()
        assert body["total"] == len(body["items"])
        return body["items"]

    everything = fetch("")
    assert [e["seq"] for e in everything] == [r["seq"] for r in stored]
    by_actor = fetch("actor=duty_manager")
    assert by_actor and {e["actor"] for e in by_actor} == {"duty_manager"}
    assert len(by_actor) == sum(r["actor"] == "duty_manager" for r in stored)
    by_action = fetch("action=task_completed")
    assert len(by_action) == 5 and {e["action"] for e in by_action} == {"task_completed"}
    by_instance = fetch(f"instance={second}")
    assert {e["instance_id"] for e in by_instance} == {second}
    assert len(by_instance) == sum(r["instance_id"] == second for r in stored)
    day1 = fetch("from=2025-03-01T00:00:00Z&to=2025-03-02T00:00:00Z")
    assert day1 and {e["instance_id"] for e in day1 if e["instance_id"]} == {first}
    day2 = fetch("from=2025-03-02")  # no offset: UTC
    assert day2 and {e["instance_id"] for e in day2 if e["instance_id"]} == {second}
    assert len(day1) + len(day2) == len(everything)
    # offsets are honoured (16:00 in Beijing is 08:00 UTC, when every day-1 event happened);
    # 'from' is inclusive and 'to' exclusive
    assert fetch("from=2025-03-01T16:00:00%2B08:00&to=2025-03-01T16:00:01%2B08:00") == day1
    assert fetch("from=2025-03-01T16:00:01%2B08:00&to=2025-03-02T00:00:00Z") == []
    assert fetch("to=2025-03-01T16:00:00%2B08:00") == []
    combined = fetch(f"actor=counter_staff&action=task_completed&instance={first}")
    assert len(combined) == 1 and combined[0]["element_name"] == "填写"
    assert fetch("actor=nobody-at-all") == []


def test_events_pagination(history):
    api, _, _ = history
    total = api.get("/api/audit/events", "auditor").get_json()["total"]
    page1 = api.get("/api/audit/events?per_page=3", "auditor").get_json()
    page2 = api.get("/api/audit/events?per_page=3&page=2", "auditor").get_json()
    assert page1["total"] == page2["total"] == total and page2["page"] == 2 and page2["per_page"] == 3
    assert [e["seq"] for e in page1["items"] + page2["items"]] == list(range(1, 7))
    assert api.get(f"/api/audit/events?per_page=3&page={total}", "auditor").get_json()["items"] == []


def test_events_csv_and_json_exports_are_filtered_and_audited(history, engine):
    api, first, _ = history
    r = api.get("/api/audit/events?format=csv&action=task_completed", "admin")
    assert r.status_code == 200 and r.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert r.is_streamed  # a generator, not a body built in memory
    disposition = r.headers["Content-Disposition"]
    assert disposition.startswith('attachment; filename="audit-events-') and disposition.endswith('.csv"')
    table = csv_rows(r)
    assert len(table) == 5 and {row["action_label_zh"] for row in table} == {"完成任务"}
    assert {row["action_label_en"] for row in table} == {"Task completed"}
    assert list(table[0]) == ["seq", "at", "actor", "actor_name", "actor_roles", "actor_unit", "action", "action_label_zh",
                              "action_label_en", "instance_id", "task_id", "element_id", "element_name", "details",
                              "before", "after", "reason", "hash"]
    r = api.get(f"/api/audit/events?format=json&instance={first}&from=2025-03-01", "auditor")
    data = json.loads(r.get_data(as_text=True))
    assert {e["instance_id"] for e in data} == {first} and data[0]["action"] == "instance_started"
    csv_export, json_export = exports(engine)
    assert csv_export["actor"] == "admin" and csv_export["details"]["filters"] == {"action": "task_completed"}
    assert json_export["details"]["filters"] == {"instance": first, "start": "2025-03-01T00:00:00+00:00"}
    assert json_export["details"]["scope"] == "events" and json_export["instance_id"] is None
    # exports are searchable like any event
    found = api.get("/api/audit/events?action=audit_exported", "auditor").get_json()["items"]
    assert [e["actor"] for e in found] == ["admin", "auditor"]


def test_csv_neutralises_formulas(history, engine):
    api, first, _ = history
    with engine.uow(Actor("=cmd|calc", frozenset())) as uow:
        uow.audit("note", instance_id=first)
    table = csv_rows(api.get(f"/api/audit/events?format=csv&instance={first}&action=note", "auditor"))
    assert table[0]["actor"] == "'=cmd|calc"


# --------------------------------------------------------------------------- verification


def test_verify_endpoint(history, engine, monkeypatch):
    api, _, _ = history
    monkeypatch.delenv("BPM_AUDIT_KEY", raising=False)
    assert api.get("/api/audit/verify").status_code == 401
    assert api.get("/api/audit/verify", "counter_staff").status_code == 403
    body = api.get("/api/audit/verify", "auditor").get_json()
    head = rows(engine)[-1]
    assert body == {"ok": True, "checked": head["seq"], "first_bad_seq": None, "head_seq": head["seq"],
                    "head_hash": head["hash"], "reason": None, "checkpoint": None}
    cp.create_checkpoint(engine)
    body = api.get("/api/audit/verify", "admin").get_json()
    assert body["ok"] and body["checkpoint"] == {
        "file": f"checkpoint-{head['seq']}.json", "seq": head["seq"], "ok": True, "reason": None,
        "key_id": body["checkpoint"]["key_id"], "trusted_key": True,
    }
    assert api.get(f"/api/audit/verify?checkpoint=checkpoint-{head['seq']}.json", "auditor").get_json()["ok"]
    assert api.get("/api/audit/verify?checkpoint=nope.json", "auditor").status_code == 404
    for bad in ("../keys/audit_ed25519.pem", "..%2Fx.json", "x.txt", "%00.json"):
        assert api.get(f"/api/audit/verify?checkpoint={bad}", "auditor").status_code == 422, bad
    tamper(engine, ("UPDATE bpm_audit_event SET actor = 'mallory' WHERE seq = 4", {}))
    body = api.get("/api/audit/verify", "auditor").get_json()
    assert not body["ok"] and body["first_bad_seq"] == 4 and body["checkpoint"]["ok"]  # the head still matches


# --------------------------------------------------------------------------- the CLI


@pytest.fixture
def cli(history, engine, monkeypatch):
    """Run `bpm ...` against the test database; returns ``run(*args) -> Result``."""
    monkeypatch.delenv("BPM_AUDIT_KEY", raising=False)
    env = {"BPM_DATABASE_URL": engine.settings.database_url, "BPM_VAR_DIR": str(engine.settings.var_dir)}
    runner = CliRunner()

    def run(*args):
        return runner.invoke(main, list(args), env=env, catch_exceptions=False)

    return run


def test_cli_checkpoint_and_verify_end_to_end(cli, engine):
    head = rows(engine)[-1]
    result = cli("audit", "checkpoint")
    assert result.exit_code == 0, result.output
    path = engine.settings.var_dir / "checkpoints" / f"checkpoint-{head['seq']}.json"
    checkpoint = json.loads(path.read_text(encoding="utf-8"))
    assert checkpoint["last_seq"] == head["seq"] and checkpoint["hash"] == head["hash"]
    key_file = engine.settings.var_dir / "keys" / "audit_ed25519.pem"
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    public = cli("audit", "public-key")
    assert public.exit_code == 0 and public.output == checkpoint["public_key"]

    ok = cli("audit", "verify")
    assert ok.exit_code == 0, ok.output
    report = json.loads(ok.output)
    assert report["ok"] and report["checked"] == head["seq"] and report["checkpoint"]["seq"] == head["seq"]

    # verified elsewhere: only the checkpoint file and the public key are needed
    pub = engine.settings.var_dir / "audit.pub"
    pub.write_text(public.output, encoding="utf-8")
    assert cli("audit", "verify", "--checkpoint", str(path), "--public-key", str(pub)).exit_code == 0

    tamper(engine, ("UPDATE bpm_audit_event SET details = :d WHERE seq = 5", {"d": '{"data": {"note": "改过"}}'}))
    bad = cli("audit", "verify")
    assert bad.exit_code == 1
    assert json.loads(bad.output)["first_bad_seq"] == 5
    refused = cli("audit", "checkpoint")
    assert refused.exit_code == 1 and "does not verify" in refused.output


def test_cli_detects_a_truncated_tail(cli, engine):
    assert cli("audit", "checkpoint").exit_code == 0
    stored = rows(engine)
    n = stored[-1]["seq"]
    tamper(engine, ("DELETE FROM bpm_audit_event WHERE seq > :s", {"s": n - 3}),
           ("UPDATE bpm_audit_head SET seq = :s, hash = :h WHERE id = 1", {"s": n - 3, "h": stored[-4]["hash"]}))
    result = cli("audit", "verify")
    assert result.exit_code == 1
    report = json.loads(result.output)
    assert report["first_bad_seq"] is None and report["head_seq"] == n - 3
    assert report["checkpoint"]["reason"].startswith(f"checkpoint seq {n} is beyond the end of the chain")


def test_cli_detects_a_rehashed_rewrite(cli, engine):
    out = engine.settings.var_dir / "offsite" / "cp.json"
    assert cli("audit", "checkpoint", "--out", str(out)).exit_code == 0 and out.exists()
    tamper(engine, ("UPDATE bpm_audit_event SET actor = 'mallory' WHERE seq = 2", {}))
    rehash_from(engine, 2)
    assert cli("audit", "verify").exit_code == 0  # no checkpoint in the default folder: the chain alone looks fine
    result = cli("audit", "verify", "--checkpoint", str(out))
    assert result.exit_code == 1
    report = json.loads(result.output)
    assert report["first_bad_seq"] is None and "differs from the checkpoint" in report["checkpoint"]["reason"]


def test_cli_and_api_reject_forged_checkpoints(cli, history, engine, tmp_path):
    assert cli("audit", "checkpoint").exit_code == 0
    path = cp.newest_checkpoint(engine.settings)
    checkpoint = json.loads(path.read_text(encoding="utf-8"))
    forged = dict(checkpoint, hash="f" * 64)  # the signature no longer covers it
    forged_file = tmp_path / "forged.json"
    forged_file.write_text(json.dumps(forged), encoding="utf-8")
    result = cli("audit", "verify", "--checkpoint", str(forged_file))
    assert result.exit_code == 1 and "signature is invalid" in json.loads(result.output)["checkpoint"]["reason"]
    # re-signed with another key (embedded in the file): not the trusted audit key
    resigned = cp.sign(Ed25519PrivateKey.generate(), checkpoint["last_seq"], "f" * 64, checkpoint["time"])
    forged_file.write_text(json.dumps(resigned), encoding="utf-8")
    result = cli("audit", "verify", "--checkpoint", str(forged_file))
    assert result.exit_code == 1 and "not with the trusted audit key" in json.loads(result.output)["checkpoint"]["reason"]
    # through the API too, when the forgery sits in the checkpoint folder
    (path.parent / "forged.json").write_text(json.dumps(forged), encoding="utf-8")
    body = history[0].get("/api/audit/verify?checkpoint=forged.json", "auditor").get_json()
    assert body["first_bad_seq"] is None and not body["ok"] and not body["checkpoint"]["ok"]
    assert "signature is invalid" in body["checkpoint"]["reason"]


def test_event_stream_reads_in_batches(history, engine):
    from engine.audit.query import EventFilter, iter_events

    with engine.read() as session:
        whole = [e["seq"] for e in iter_events(session, EventFilter())]
        by_two = [e["seq"] for e in iter_events(session, EventFilter(), batch=2)]
        narrowed = list(iter_events(session, EventFilter(action="task_completed", up_to_seq=whole[-1]), batch=2))
    assert whole == by_two == [r["seq"] for r in rows(engine)]
    assert len(narrowed) == 5 and narrowed[0]["element_name"] == "填写 Fill in"  # as stored; the API shows one language
