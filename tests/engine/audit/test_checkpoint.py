"""The audit chain's verification and its signed checkpoints, on SQLite and PostgreSQL.

Tampering goes straight at the database past the append-only triggers, as someone with
database access would (PostgreSQL: ``session_replication_role = replica``; SQLite: the
triggers are dropped and re-created inside the tampering transaction).
"""

from __future__ import annotations

import json
import os
import stat

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from engine.audit import checkpoint as cp
from engine.audit.chain import GENESIS, event_hash, verify_chain
from engine.config import load_settings
from engine.identity.actor import Actor
from web.presentation.audit import action_label

ALICE = Actor("alice", frozenset({"counter_staff"}), "Alice", "hall-1")


# --------------------------------------------------------------------------- helpers


def add_events(engine, n: int, actor: Actor = ALICE) -> None:
    with engine.uow(actor) as uow:
        for i in range(n):
            uow.audit("note_added", instance_id=None, n=i, text=f"事件 {i}")


def tamper(engine, *statements: tuple[str, dict]) -> None:
    """Run SQL on the audit tables in one transaction, bypassing the append-only triggers."""
    with engine.db.engine.begin() as conn:
        triggers = []
        if engine.db.is_sqlite:
            triggers = conn.execute(
                text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'bpm_audit_event'")
            ).all()
            for name, _ in triggers:
                conn.execute(text(f'DROP TRIGGER "{name}"'))
        else:
            conn.execute(text("SET LOCAL session_replication_role = replica"))
        for sql, params in statements:
            conn.execute(text(sql), params)
        for _, sql in triggers:
            conn.execute(text(sql))


def rows(engine) -> list[dict]:
    """Every stored event as a dict (typed columns: JSON decoded, times UTC)."""
    from engine.audit.chain import EVENTS

    with engine.db.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(EVENTS.select().order_by(EVENTS.c.seq))]


def verify(engine, batch: int = 5000) -> dict:
    with engine.read() as session:
        return verify_chain(session, batch)


def rehash_from(engine, seq: int) -> None:
    """Recompute hash and prev_hash of every event from ``seq`` on, and the head: a consistent forgery."""
    events = rows(engine)
    prev, statements = GENESIS, []
    for row in events:
        if row["seq"] >= seq:
            row["prev_hash"] = prev
            row["hash"] = event_hash(row)
            statements.append(
                ("UPDATE bpm_audit_event SET hash = :h, prev_hash = :p WHERE seq = :s", {"h": row["hash"], "p": prev, "s": row["seq"]})
            )
        prev = row["hash"]
    statements.append(("UPDATE bpm_audit_head SET hash = :h WHERE id = 1", {"h": prev}))
    tamper(engine, *statements)


@pytest.fixture
def key_env(engine, monkeypatch):
    monkeypatch.delenv("BPM_AUDIT_KEY", raising=False)
    return engine


# --------------------------------------------------------------------------- the chain


def test_intact_chain_verifies_in_batches(engine):
    add_events(engine, 7)
    add_events(engine, 3, Actor("bob", frozenset({"auditor"})))
    for batch in (1, 3, 5000):
        report = verify(engine, batch)
        assert report["ok"] and report["first_bad_seq"] is None and report["reason"] is None
        assert report["checked"] == 10 and report["head_seq"] == 10
        assert report["head_hash"] == rows(engine)[-1]["hash"]


def test_empty_chain_verifies(engine):
    report = verify(engine)
    assert report == {"ok": True, "checked": 0, "first_bad_seq": None, "head_seq": 0, "head_hash": GENESIS, "reason": None}


@pytest.mark.parametrize("column,value", [("details", '{"n": 99}'), ("actor", "mallory"), ("actor_roles", "admin")])
def test_an_edited_row_fails_at_its_seq(engine, column, value):
    add_events(engine, 8)
    tamper(engine, (f"UPDATE bpm_audit_event SET {column} = :v WHERE seq = 5", {"v": value}))
    for batch in (2, 5000):
        report = verify(engine, batch)
        assert not report["ok"] and report["first_bad_seq"] == 5 and report["checked"] == 4
        assert "altered" in report["reason"]


@pytest.mark.parametrize("deleted", [1, 4, 7])
def test_a_deleted_row_is_reported_at_the_gap(engine, deleted):
    add_events(engine, 8)
    tamper(engine, ("DELETE FROM bpm_audit_event WHERE seq = :s", {"s": deleted}))
    report = verify(engine, 3)
    assert not report["ok"] and report["first_bad_seq"] == deleted
    assert f"event {deleted} is missing" in report["reason"]


def test_reordered_rows_fail_at_the_first_of_them(engine):
    add_events(engine, 6)
    tamper(
        engine,
        ("UPDATE bpm_audit_event SET seq = -3 WHERE seq = 3", {}),
        ("UPDATE bpm_audit_event SET seq = 3 WHERE seq = 4", {}),
        ("UPDATE bpm_audit_event SET seq = 4 WHERE seq = -3", {}),
    )
    report = verify(engine)
    assert not report["ok"] and report["first_bad_seq"] == 3


def test_a_deleted_tail_is_caught_by_the_head_unless_it_is_reset(engine):
    add_events(engine, 9)
    tamper(engine, ("DELETE FROM bpm_audit_event WHERE seq > 6", {}))
    report = verify(engine)
    assert not report["ok"] and report["first_bad_seq"] == 7 and "7..9 are missing" in report["reason"]
    last = rows(engine)[-1]
    tamper(engine, ("UPDATE bpm_audit_head SET seq = 6, hash = :h WHERE id = 1", {"h": last["hash"]}))
    assert verify(engine)["ok"]  # only a checkpoint kept elsewhere can tell now


def test_events_beyond_the_head_are_reported(engine):
    add_events(engine, 4)
    tamper(engine, ("UPDATE bpm_audit_head SET seq = 3 WHERE id = 1", {}))
    report = verify(engine)
    assert not report["ok"] and report["first_bad_seq"] == 4 and "beyond the recorded head" in report["reason"]


def test_the_triggers_refuse_update_delete_and_truncate(engine):
    add_events(engine, 2)
    statements = ["UPDATE bpm_audit_event SET actor = 'x' WHERE seq = 1", "DELETE FROM bpm_audit_event WHERE seq = 2"]
    if not engine.db.is_sqlite:
        statements.append("TRUNCATE bpm_audit_event")
    for sql in statements:
        with pytest.raises(DBAPIError, match="append-only"):
            with engine.db.engine.begin() as conn:
                conn.execute(text(sql))
    assert len(rows(engine)) == 2 and verify(engine)["ok"]


# --------------------------------------------------------------------------- checkpoints


def test_key_is_created_once_with_mode_0600(key_env, tmp_path, monkeypatch):
    path = cp.key_path(key_env.settings)
    assert path == key_env.settings.var_dir / "keys" / "audit_ed25519.pem"
    key = cp.load_or_create_key(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert cp.key_id(cp.load_or_create_key(path).public_key()) == cp.key_id(key.public_key())
    monkeypatch.setenv("BPM_AUDIT_KEY", str(tmp_path / "elsewhere" / "k.pem"))
    assert cp.key_path(load_settings()) == tmp_path / "elsewhere" / "k.pem"


def test_checkpoint_file_holds_a_signed_head(key_env):
    add_events(key_env, 5)
    path, checkpoint = cp.create_checkpoint(key_env)
    assert path == key_env.settings.var_dir / "checkpoints" / "checkpoint-5.json"
    on_disk = json.loads(path.read_text(encoding="utf-8"))
    assert on_disk == checkpoint
    assert on_disk["last_seq"] == 5 and on_disk["hash"] == rows(key_env)[-1]["hash"] and on_disk["time"].endswith("Z")
    assert on_disk["algorithm"] == "Ed25519" and "BEGIN PUBLIC KEY" in on_disk["public_key"]
    report = cp.verify(key_env)
    assert report["ok"] and report["checkpoint"]["ok"] and report["checkpoint"]["seq"] == 5
    assert report["checkpoint"]["file"] == "checkpoint-5.json" and report["checkpoint"]["trusted_key"]
    add_events(key_env, 2)  # the chain goes on past the checkpoint
    assert cp.verify(key_env)["ok"]


def test_truncated_tail_with_reset_head_fails_the_checkpoint(key_env):
    add_events(key_env, 8)
    cp.create_checkpoint(key_env)
    tamper(key_env, ("DELETE FROM bpm_audit_event WHERE seq > 5", {}))
    last = rows(key_env)[-1]
    tamper(key_env, ("UPDATE bpm_audit_head SET seq = 5, hash = :h WHERE id = 1", {"h": last["hash"]}))
    report = cp.verify(key_env)
    assert report["first_bad_seq"] is None and report["checked"] == 5  # the chain alone looks fine
    assert not report["ok"] and not report["checkpoint"]["ok"]
    assert "checkpoint seq 8 is beyond the end of the chain" in report["checkpoint"]["reason"]


def test_rehashed_rewrite_fails_the_checkpoint(key_env):
    add_events(key_env, 8)
    cp.create_checkpoint(key_env)
    tamper(key_env, ("UPDATE bpm_audit_event SET details = :d WHERE seq = 3", {"d": '{"n": 1000}'}))
    assert verify(key_env)["first_bad_seq"] == 3
    rehash_from(key_env, 3)
    report = cp.verify(key_env)
    assert report["first_bad_seq"] is None and report["checked"] == 8
    assert not report["ok"] and "hash at checkpoint seq 8 differs" in report["checkpoint"]["reason"]


def test_forged_checkpoints_are_rejected(key_env, tmp_path):
    add_events(key_env, 4)
    path, checkpoint = cp.create_checkpoint(key_env)
    trusted = cp.trusted_key(key_env.settings)

    def check(document, key=trusted):
        with key_env.read() as session:
            return cp.verify_checkpoint(session, document, key)

    assert check(checkpoint)["ok"]
    bad_sig = dict(checkpoint, signature=checkpoint["signature"][:10] + ("A" if checkpoint["signature"][10] != "A" else "B") + checkpoint["signature"][11:])
    assert "signature is invalid" in check(bad_sig)["reason"]
    moved = dict(checkpoint, last_seq=3)  # pretend the chain was shorter
    assert "signature is invalid" in check(moved)["reason"]
    other = Ed25519PrivateKey.generate()
    forged = cp.sign(other, 4, checkpoint["hash"], checkpoint["time"])
    result = check(forged)
    assert not result["ok"] and "not with the trusted audit key" in result["reason"]
    # with no trusted key at hand, only the embedded key can be used: valid, and said so
    untrusted = check(forged, None)
    assert untrusted["ok"] and "no trusted audit key" in untrusted["reason"]
    assert not check({"format": "something else"})["ok"]
    # a file that is not JSON at all
    junk = tmp_path / "junk.json"
    junk.write_text("{not json", encoding="utf-8")
    report = cp.verify(key_env, junk)
    assert not report["ok"] and "cannot read checkpoint" in report["checkpoint"]["reason"]


def test_no_checkpoint_is_signed_over_a_broken_chain(key_env):
    add_events(key_env, 3)
    tamper(key_env, ("UPDATE bpm_audit_event SET actor = 'mallory' WHERE seq = 2", {}))
    with pytest.raises(cp.ChainBroken) as info:
        cp.create_checkpoint(key_env)
    assert info.value.details["first_bad_seq"] == 2
    assert not (key_env.settings.var_dir / "checkpoints").exists()


def test_newest_checkpoint_is_used_by_default(key_env, tmp_path):
    add_events(key_env, 2)
    cp.create_checkpoint(key_env)
    add_events(key_env, 2)
    cp.create_checkpoint(key_env)
    assert cp.verify(key_env)["checkpoint"]["seq"] == 4
    named = cp.verify(key_env, cp.named_checkpoint(key_env.settings, "checkpoint-2.json"))
    assert named["ok"] and named["checkpoint"]["seq"] == 2


def test_action_labels():
    assert action_label("task_completed") == {"zh": "完成任务", "en": "Task completed"}
    assert action_label("sla_paused")["en"] == "SLA event (paused)"
    assert action_label("seal_new_kind")["zh"].startswith("印章事件")
    assert action_label("something_else") == {"zh": "something_else", "en": "Something else"}
