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
# the head as this process last wrote it: when nobody appended since, one statement moves it
_ADVANCE = (update(HEAD).where(HEAD.c.id == 1, HEAD.c.seq == bindparam("b_seq"), HEAD.c.hash == bindparam("b_prev"))
            .values(seq=bindparam("seq"), hash=bindparam("b_hash")))
_INSERT = insert(EVENTS)


def canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def _iso(at: datetime) -> str:
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


HASHED_FIELDS = (
    "seq", "actor", "actor_roles", "actor_unit", "action", "instance_id", "task_id", "element_id",
    "details", "before", "after", "reason",
)


def event_hash(row: dict) -> str:
    """SHA-256 over the canonical JSON of the event's fields (time in UTC) plus ``prev_hash``."""
    body = {k: row.get(k) for k in HASHED_FIELDS}
    body["at"] = _iso(row["at"])
    return hashlib.sha256((canonical(body) + row["prev_hash"]).encode("utf-8")).hexdigest()


def _plain(value):
    """JSON-native copy (datetimes become strings) so that what is hashed is what is stored."""
    return None if value is None else json.loads(canonical(value))


def _rows(events: list[dict], seq: int, prev: str) -> list[dict]:
    """The events as chained rows following event ``seq`` with hash ``prev``."""
    rows = []
    for ev in events:
        seq += 1
        row = {
            "seq": seq,
            "at": ev["at"],
            "actor": ev.get("actor"),
            "actor_roles": ev.get("actor_roles"),
            "actor_unit": ev.get("actor_unit"),
            "action": ev["action"],
            "instance_id": ev.get("instance_id"),
            "task_id": ev.get("task_id"),
            "element_id": ev.get("element_id"),
            "details": _plain(ev.get("details") or {}),
            "before": _plain(ev.get("before")),
            "after": _plain(ev.get("after")),
            "reason": ev.get("reason"),
            "prev_hash": prev,
        }
        row["hash"] = prev = event_hash(row)
        rows.append(row)
    return rows


def append_events(session: Session, events: list[dict], known: tuple[int, str] | None = None) -> tuple[int, str] | None:
    """Write ``events`` (dicts without seq/hash) at the end of the chain; return the new head
    ``(seq, hash)`` (None when there was nothing to write).

    ``known`` is the head as the caller last saw it (after its previous append). When it is
    still the head, one conditional UPDATE moves the head past the new events, guarded by both
    seq and hash, so a head moved by anyone else (another process, a rolled-back append) never
    matches; otherwise the head row is locked and read first (UPDATE ... RETURNING), then set.
    Either way the row stays locked until commit: the chain has no forks and no gaps.
    """
    if not events:
        return None
    n = len(events)
    conn = session.connection()
    if known is not None:
        rows = _rows(events, *known)
        moved = conn.execute(_ADVANCE, {"b_seq": known[0], "b_prev": known[1], "seq": known[0] + n,
                                        "b_hash": rows[-1]["hash"]}).rowcount
        if moved == 1:
            conn.execute(_INSERT, rows)
            return rows[-1]["seq"], rows[-1]["hash"]
    result = conn.execute(_RESERVE, {"n": n}).one_or_none()
    if result is None:  # first event ever: create the head (unique pk makes racing creators collide)
        conn.execute(insert(HEAD).values(id=1, seq=n, hash=GENESIS))
        last_seq, prev = n, GENESIS
    else:
        last_seq, prev = result
    rows = _rows(events, last_seq - n, prev)
    conn.execute(_INSERT, rows)
    conn.execute(_SET_HASH, {"b_hash": rows[-1]["hash"]})
    return rows[-1]["seq"], rows[-1]["hash"]


_COLUMNS = [EVENTS.c[name] for name in (*HASHED_FIELDS, "at", "prev_hash", "hash")]


def read_head(conn) -> tuple[int, str]:
    """``(seq, hash)`` of the recorded chain head; ``(0, GENESIS)`` before the first event."""
    row = conn.execute(select(HEAD.c.seq, HEAD.c.hash).where(HEAD.c.id == 1)).one_or_none()
    return (0, GENESIS) if row is None else (row.seq, row.hash)


def _batch_after(conn, last: int, batch: int) -> list:
    return conn.execute(select(*_COLUMNS).where(EVENTS.c.seq > last).order_by(EVENTS.c.seq).limit(batch)).all()


def _report(ok: bool, checked: int, bad: int | None, head: tuple[int, str], reason: str | None) -> dict:
    return {"ok": ok, "checked": checked, "first_bad_seq": bad, "head_seq": head[0], "head_hash": head[1], "reason": reason}


def _check_row(row, expected_seq: int, prev: str) -> str | None:
    """Why ``row`` cannot be event ``expected_seq`` following hash ``prev`` (``None`` when it is)."""
    if row.seq != expected_seq:
        return f"event {expected_seq} is missing (the next stored event is {row.seq})"
    if row.prev_hash != prev:
        return f"event {row.seq} does not link to the event before it (prev_hash differs)"
    if event_hash(row._mapping) != row.hash:
        return f"event {row.seq} was altered (its content does not match its hash)"
    return None


def verify_chain(session: Session, batch: int = 5000) -> dict:
    """Recompute the whole chain in seq order, ``batch`` rows at a time (keyset pagination).

    Reports ``{"ok", "checked", "first_bad_seq", "head_seq", "head_hash", "reason"}``:
    an edited row fails at its own seq, a deleted row at the gap, swapped rows at the first
    of them. The chain must end exactly at the recorded head (``bpm_audit_head``): events
    missing at the end, or stored beyond the head, are reported too. ``head_seq`` and
    ``head_hash`` are the recorded head's. Events appended while the check runs are
    followed until the head read after the last batch.
    """
    conn = session.connection()
    prev, expected, checked = GENESIS, 1, 0
    while True:
        rows = _batch_after(conn, expected - 1, batch)
        if not rows:
            head = read_head(conn)
            # the head is read after the rows: anything below it was committed with it
            if head[0] < expected or not (rows := _batch_after(conn, expected - 1, batch)):
                break
        for row in rows:
            reason = _check_row(row, expected, prev)
            if reason is not None:
                return _report(False, checked, expected, read_head(conn), reason)
            prev, expected, checked = row.hash, expected + 1, checked + 1
    last = expected - 1
    if head[0] > last:
        return _report(False, checked, expected, head, f"events {expected}..{head[0]} are missing (the head is at seq {head[0]})")
    if head[0] < last:
        return _report(False, checked, head[0] + 1, head, f"events beyond the recorded head (seq {head[0]}) were stored")
    if head[1] != prev:
        return _report(False, checked, last or None, head, "the recorded head hash does not match the last event")
    return _report(True, checked, None, head, None)


def event_at(conn, seq: int):
    """The stored row of event ``seq`` (``None`` when there is none)."""
    return conn.execute(select(*_COLUMNS).where(EVENTS.c.seq == seq)).one_or_none()
