"""Append-only, hash-chained audit events written in the caller's transaction.

Each event's ``hash`` is SHA-256 over the canonical JSON of the event and ``prev_hash``.
Appends reserve their sequence numbers by updating the single ``bpm_audit_head`` row,
which holds a row lock until commit: the chain has no forks and no gaps.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from engine.store.models import AuditEvent, AuditHead

GENESIS = "0" * 64
HEAD = AuditHead.__table__
EVENTS = AuditEvent.__table__
_RESERVE = (
    update(HEAD).where(HEAD.c.id == 1).values(seq=HEAD.c.seq + bindparam("n")).returning(HEAD.c.seq, HEAD.c.hash)
)
_SET_HASH = update(HEAD).where(HEAD.c.id == 1).values(hash=bindparam("b_hash"))
_INSERT = insert(EVENTS)


def canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def _iso(at: datetime) -> str:
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def event_hash(row: dict) -> str:
    body = {k: row.get(k) for k in ("seq", "actor", "action", "instance_id", "task_id", "element_id", "details")}
    body["at"] = _iso(row["at"])
    return hashlib.sha256((canonical(body) + row["prev_hash"]).encode("utf-8")).hexdigest()


def append_events(session: Session, events: list[dict]) -> None:
    """Write ``events`` (dicts without seq/hash) at the end of the chain."""
    if not events:
        return
    n = len(events)
    conn = session.connection()
    result = conn.execute(_RESERVE, {"n": n}).one_or_none()
    if result is None:  # first event ever: create the head (unique pk makes racing creators collide)
        conn.execute(insert(HEAD).values(id=1, seq=n, hash=GENESIS))
        last_seq, prev = n, GENESIS
    else:
        last_seq, prev = result
    seq = last_seq - n
    rows = []
    for ev in events:
        seq += 1
        row = {
            "seq": seq,
            "at": ev["at"],
            "actor": ev.get("actor"),
            "action": ev["action"],
            "instance_id": ev.get("instance_id"),
            "task_id": ev.get("task_id"),
            "element_id": ev.get("element_id"),
            "details": ev.get("details") or {},
            "prev_hash": prev,
        }
        row["details"] = json.loads(canonical(row["details"]))
        row["hash"] = prev = event_hash(row)
        rows.append(row)
    conn.execute(_INSERT, rows)
    conn.execute(_SET_HASH, {"b_hash": prev})


def verify_chain(session: Session, batch: int = 5000) -> dict:
    """Recompute every hash; report ``{"ok", "checked", "first_bad_seq"}``."""
    prev, expected_seq, checked, last = GENESIS, 1, 0, 0
    while True:
        rows = session.execute(
            select(AuditEvent).where(AuditEvent.seq > last).order_by(AuditEvent.seq).limit(batch)
        ).scalars().all()
        if not rows:
            break
        for ev in rows:
            row = {c: getattr(ev, c) for c in ("seq", "at", "actor", "action", "instance_id", "task_id", "element_id", "details", "prev_hash")}
            if ev.seq != expected_seq or ev.prev_hash != prev or event_hash(row) != ev.hash:
                return {"ok": False, "checked": checked, "first_bad_seq": expected_seq if ev.seq != expected_seq else ev.seq}
            prev, expected_seq, checked, last = ev.hash, expected_seq + 1, checked + 1, ev.seq
    return {"ok": True, "checked": checked, "first_bad_seq": None, "head_hash": prev}
