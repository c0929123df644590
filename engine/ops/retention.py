"""History retention: finished instances are archived to a file, then deleted.

Policy
------
* ``BPM_HISTORY_TTL_DAYS`` (default 1095, three years): a *completed* or *cancelled*
  instance whose ``ended_at`` is older than this is archived and its operational rows are
  deleted by :func:`run` (``bpm retention run``). ``0`` keeps history forever (the run
  does nothing). Running and incident instances, and finished instances without an end
  time, are never touched; nor is a congestion alert its hall still tracks.
* ``BPM_AUDIT_RETENTION_DAYS`` (default 3650, ten years): the minimum time audit events
  are kept. Audit events are **never deleted** by this module, inside or beyond that
  period: the database refuses UPDATE/DELETE/TRUNCATE on ``bpm_audit_event`` and
  ``bpm audit verify`` recomputes the chain from the first event, so pruning would need
  privileges that bypass the triggers *and* a verification that starts at an anchor. An
  audit row is a few hundred bytes (no document content), so keeping them is cheap; the
  run reports how many events are past the audit retention period.

Archive files
-------------
``<archive_dir>/history-<UTC time>-<random>.jsonl.gz`` (``BPM_ARCHIVE_DIR``, default
``<var_dir>/archive``): gzip JSON lines; the first line is a header
(``{"kind": "header", "format": ...}``), then one line per instance holding its row, its
tasks, task candidates, timers, document links, documents (metadata plus the blob bytes,
base64, so one file is self-contained), notifications and a copy of its audit events.
The file is fsynced and read back before anything is deleted; its sha256 is recorded in
the ``history_archived`` audit event written in the same transaction as the deletion.

Crash safety
------------
One batch is one database transaction: the instance rows are selected (and locked on
PostgreSQL), the archive is written, fsynced, renamed into place and read back, then the
rows are deleted and the audit event appended, and the transaction commits. A crash or
error before the commit rolls the deletion back: the instances stay in the database and
are archived again, into a new file, by the next run; the earlier file may then be an
*unrecorded* archive (no ``history_archived`` event carries its sha256,
``bpm archive show`` says ``recorded_in_audit: false``, ``bpm archive restore`` refuses
it) and may be deleted; when the deletion statements themselves fail the file is removed
right away. Re-running after success finds nothing left to archive: the run is idempotent.
An instance put back with ``bpm archive restore`` is archived again by the next run if it
is still past the TTL.

Documents: a document linked only to archived instances is deleted (its blob too unless
another document or a seal image uses the same bytes); a document also linked to an
instance that stays is kept, only the archived instance's link is removed.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, insert, select

from engine.clock import utcnow
from engine.errors import Conflict, EngineError, NotFound
from engine.identity.actor import SYSTEM
from engine.ops.archive_files import FORMAT, ArchiveError, decode_row, encode_row, iso, read_archive, write_archive
from engine.ops.provenance import engine_version, file_sha256, schema_revision
from engine.store.models import (
    AuditEvent,
    Blob,
    Document,
    DocumentLink,
    HallState,
    Notification,
    ProcessDefinition,
    ProcessInstance,
    SealImage,
    Task,
    TaskCandidate,
    Timer,
)

FINISHED = ("completed", "cancelled")
DEFAULT_BATCH = 200

INSTANCES = ProcessInstance.__table__
TASKS = Task.__table__
CANDIDATES = TaskCandidate.__table__
TIMERS = Timer.__table__
LINKS = DocumentLink.__table__
DOCUMENTS = Document.__table__
BLOBS = Blob.__table__
NOTIFICATIONS = Notification.__table__
EVENTS = AuditEvent.__table__
DEFINITIONS = ProcessDefinition.__table__
SEAL_IMAGES = SealImage.__table__
HALLS = HallState.__table__


# --------------------------------------------------------------------------- settings


def archive_dir(settings) -> Path:
    return Path(settings.archive_dir) if settings.archive_dir else settings.var_dir / "archive"


# --------------------------------------------------------------------------- reading the rows


def protected_ids(conn) -> list[str]:
    """Finished instances other state still points at: congestion alerts a hall keeps
    (``bpm_hall_state.instance_ids``) until its level drops; they are not archived yet."""
    out: set[str] = set()
    for alerts in conn.execute(select(HALLS.c.instance_ids)).scalars():
        out.update(a["instance_id"] for a in alerts or [] if isinstance(a, dict) and a.get("instance_id"))
    return sorted(out)


def _eligible(cutoff: datetime, protected: list[str] = ()):
    query = select(INSTANCES.c.id).where(
        INSTANCES.c.status.in_(FINISHED), INSTANCES.c.ended_at.is_not(None), INSTANCES.c.ended_at < cutoff
    )
    if protected:
        query = query.where(INSTANCES.c.id.not_in(protected))
    return query.order_by(INSTANCES.c.ended_at, INSTANCES.c.id)


def _by_instance(rows, key="instance_id") -> dict[str, list]:
    out: dict[str, list] = {}
    for row in rows:
        out.setdefault(row._mapping[key], []).append(row)
    return out


def _linked_documents(conn, ids: list[str], links) -> tuple[dict, dict, dict[str, list[str]]]:
    """The documents linked to instances ``ids``, their blobs, and the other instances each is
    linked to (a document they share stays in the database)."""
    doc_ids = sorted({link.document_id for link in links})
    if not doc_ids:
        return {}, {}, {}
    documents = {d.id: d for d in conn.execute(select(DOCUMENTS).where(DOCUMENTS.c.id.in_(doc_ids)))}
    shas = sorted({d.sha256 for d in documents.values()})
    blobs = {b.sha256: b for b in conn.execute(select(BLOBS).where(BLOBS.c.sha256.in_(shas)))} if shas else {}
    elsewhere: dict[str, list[str]] = {}
    for link in conn.execute(select(LINKS).where(LINKS.c.document_id.in_(doc_ids), LINKS.c.instance_id.not_in(ids))):
        elsewhere.setdefault(link.document_id, []).append(link.instance_id)
    return documents, blobs, elsewhere


def _definitions(conn, def_ids) -> dict[int, dict]:
    query = select(DEFINITIONS.c.id, DEFINITIONS.c.key, DEFINITIONS.c.version, DEFINITIONS.c.sha256)
    return {d.id: {"id": d.id, "key": d.key, "version": d.version, "sha256": d.sha256}
            for d in conn.execute(query.where(DEFINITIONS.c.id.in_(sorted(def_ids))))}


def collect(conn, ids: list[str]) -> list[dict]:
    """The archive records of instances ``ids`` (in that order), read on ``conn``."""
    if not ids:
        return []
    instances = {r.id: r for r in conn.execute(select(INSTANCES).where(INSTANCES.c.id.in_(ids)))}
    tasks = conn.execute(select(TASKS).where(TASKS.c.instance_id.in_(ids)).order_by(TASKS.c.created_at, TASKS.c.id)).all()
    task_instance = {t.id: t.instance_id for t in tasks}
    candidates = conn.execute(select(CANDIDATES).where(CANDIDATES.c.task_id.in_(list(task_instance)))).all() if tasks else []
    by_candidates: dict[str, list] = {}
    for cand in candidates:
        by_candidates.setdefault(task_instance[cand.task_id], []).append(cand)
    links = conn.execute(select(LINKS).where(LINKS.c.instance_id.in_(ids))).all()
    documents, blobs, elsewhere = _linked_documents(conn, ids, links)
    per_instance = {
        "tasks": (TASKS, _by_instance(tasks)),
        "task_candidates": (CANDIDATES, by_candidates),
        "timers": (TIMERS, _by_instance(conn.execute(select(TIMERS).where(TIMERS.c.instance_id.in_(ids))
                                                     .order_by(TIMERS.c.id)).all())),
        "document_links": (LINKS, _by_instance(links)),
        "notifications": (NOTIFICATIONS, _by_instance(conn.execute(
            select(NOTIFICATIONS).where(NOTIFICATIONS.c.instance_id.in_(ids)).order_by(NOTIFICATIONS.c.id)).all())),
        "audit_events": (EVENTS, _by_instance(conn.execute(
            select(EVENTS).where(EVENTS.c.instance_id.in_(ids)).order_by(EVENTS.c.seq)).all())),
    }
    definitions = _definitions(conn, {r.definition_id for r in instances.values()})
    records = []
    for iid in (i for i in ids if i in instances):
        inst = instances[iid]
        docs = [{"document": encode_row(DOCUMENTS, documents[link.document_id]),
                 "blob": (encode_row(BLOBS, blobs[documents[link.document_id].sha256])
                          if documents[link.document_id].sha256 in blobs else None),
                 "linked_to_other_instances": sorted(elsewhere.get(link.document_id, []))}
                for link in per_instance["document_links"][1].get(iid, [])]
        record = {"kind": "instance", "instance": encode_row(INSTANCES, inst),
                  "definition": definitions.get(inst.definition_id)}
        for name, (table, rows) in per_instance.items():
            record[name] = [encode_row(table, r) for r in rows.get(iid, [])]
        record["documents"] = docs
        records.append(record)
    return records


def recorded_archives(conn, sha256: str | None = None) -> list[dict]:
    """The ``history_archived`` audit events (``seq``, ``at`` plus details), optionally for one sha256."""
    rows = conn.execute(
        select(EVENTS.c.seq, EVENTS.c.at, EVENTS.c.details).where(EVENTS.c.action == "history_archived").order_by(EVENTS.c.seq)
    ).all()
    out = [{"seq": r.seq, "at": r.at, **(r.details or {})} for r in rows]
    return [e for e in out if sha256 is None or e.get("sha256") == sha256]


# --------------------------------------------------------------------------- the run


def _delete_batch(conn, ids: list[str], records: list[dict]) -> dict:
    """Delete the operational rows of ``ids`` (never audit events); return counts."""
    doc_ids = sorted({d["document"]["id"] for r in records for d in r["documents"]})
    shas = sorted({d["document"]["sha256"] for r in records for d in r["documents"]})
    task_ids = [t["id"] for r in records for t in r["tasks"]]
    counts = {}
    counts["notifications"] = conn.execute(delete(NOTIFICATIONS).where(NOTIFICATIONS.c.instance_id.in_(ids))).rowcount
    counts["timers"] = conn.execute(delete(TIMERS).where(TIMERS.c.instance_id.in_(ids))).rowcount
    if task_ids:
        conn.execute(delete(CANDIDATES).where(CANDIDATES.c.task_id.in_(task_ids)))
    counts["tasks"] = conn.execute(delete(TASKS).where(TASKS.c.instance_id.in_(ids))).rowcount
    conn.execute(delete(LINKS).where(LINKS.c.instance_id.in_(ids)))
    deleted_docs = kept_docs = deleted_blobs = 0
    if doc_ids:
        still_linked = select(LINKS.c.document_id).where(LINKS.c.document_id.in_(doc_ids))
        deleted_docs = conn.execute(
            delete(DOCUMENTS).where(DOCUMENTS.c.id.in_(doc_ids), DOCUMENTS.c.id.not_in(still_linked))
        ).rowcount
        kept_docs = len(doc_ids) - deleted_docs
        deleted_blobs = conn.execute(
            delete(BLOBS).where(
                BLOBS.c.sha256.in_(shas),
                BLOBS.c.sha256.not_in(select(DOCUMENTS.c.sha256).where(DOCUMENTS.c.sha256.in_(shas))),
                BLOBS.c.sha256.not_in(select(SEAL_IMAGES.c.sha256).where(SEAL_IMAGES.c.sha256.in_(shas))),
            )
        ).rowcount
    counts["instances"] = conn.execute(delete(INSTANCES).where(INSTANCES.c.id.in_(ids))).rowcount
    counts.update(documents_deleted=deleted_docs, documents_kept=kept_docs, blobs_deleted=deleted_blobs)
    return counts


def _archive_batch(engine, cutoff: datetime, ttl_days: int, batch_size: int, now: datetime) -> dict | None:

    folder = archive_dir(engine.settings)
    with engine.uow(SYSTEM) as uow:
        conn = uow.session.connection()
        query = _eligible(cutoff, protected_ids(conn)).limit(batch_size)
        ids = list(conn.execute(query.with_for_update() if engine.db.is_postgres else query).scalars())
        if not ids:
            return None
        records = collect(conn, ids)
        header = {
            "kind": "header",
            "format": FORMAT,
            "created_at": iso(now),
            "cutoff": iso(cutoff),
            "ttl_days": ttl_days,
            "instances": len(records),
            "schema_revision": schema_revision(conn),
            "engine_version": engine_version(),
        }
        path, sha = write_archive(folder, header, records, now)
        try:
            counts = _delete_batch(conn, ids, records)
            if counts["instances"] != len(ids):  # cannot happen: the rows were read (and locked) in this transaction
                raise Conflict("instances changed while they were archived; nothing was deleted, run again")
            uow.audit(
                "history_archived",
                file=path.name,
                sha256=sha,
                instances=len(ids),
                instance_ids=ids,
                cutoff=iso(cutoff),
                ttl_days=ttl_days,
                **{k: v for k, v in counts.items() if k != "instances"},
            )
        except BaseException:
            path.unlink(missing_ok=True)  # nothing is deleted: the file must not pose as an archive
            raise
    return {"file": str(path), "sha256": sha, "instances": len(ids), **{k: v for k, v in counts.items() if k != "instances"}}


def run(engine, now: datetime | None = None, dry_run: bool = False, *, ttl_days: int | None = None,
        batch_size: int = DEFAULT_BATCH) -> dict:
    """Archive, then delete, every finished instance that ended before ``now - TTL``.

    Returns ``{ttl_days, cutoff, dry_run, eligible, archived, batches: [...], audit}``;
    ``dry_run`` only counts (and lists up to 1000 ids), it writes nothing.
    """
    now = now or utcnow()
    ttl = engine.settings.history_ttl_days if ttl_days is None else ttl_days
    if ttl < 0:
        raise EngineError("BPM_HISTORY_TTL_DAYS must be 0 (keep forever) or a positive number of days")
    audit_days = engine.settings.audit_retention_days
    with engine.read() as session:
        conn = session.connection()
        audit = {
            "retention_days": audit_days,
            "policy": "audit events are never deleted (kept beyond the retention period as well)",
            "events": conn.execute(select(func.count()).select_from(EVENTS)).scalar_one(),
            "events_past_retention": conn.execute(
                select(func.count()).select_from(EVENTS).where(EVENTS.c.at < now - timedelta(days=audit_days))
            ).scalar_one(),
        }
        if ttl == 0:
            return {"ttl_days": 0, "cutoff": None, "dry_run": dry_run, "eligible": 0, "archived": 0, "batches": [],
                    "audit": audit, "note": "BPM_HISTORY_TTL_DAYS is 0: history is kept forever"}
        cutoff = now - timedelta(days=ttl)
        protected = protected_ids(conn)
        eligible = conn.execute(
            select(func.count()).select_from(_eligible(cutoff, protected).order_by(None).subquery())
        ).scalar_one()
        report = {"ttl_days": ttl, "cutoff": iso(cutoff), "dry_run": dry_run, "eligible": eligible, "archived": 0,
                  "batches": [], "audit": audit}
        if dry_run:
            report["instance_ids"] = list(conn.execute(_eligible(cutoff, protected).limit(1000)).scalars())
            return report
    while (batch := _archive_batch(engine, cutoff, ttl, batch_size, now)) is not None:
        report["batches"].append(batch)
        report["archived"] += batch["instances"]
    return report


# --------------------------------------------------------------------------- show / restore


def _summary(record: dict) -> dict:
    inst = record["instance"]
    return {
        "id": inst["id"],
        "process_key": inst["process_key"],
        "business_key": inst["business_key"],
        "status": inst["status"],
        "started_at": inst["started_at"],
        "ended_at": inst["ended_at"],
        "tasks": len(record["tasks"]),
        "documents": len(record["documents"]),
        "notifications": len(record["notifications"]),
        "audit_events": len(record["audit_events"]),
    }


def _without_content(record: dict) -> dict:
    out = dict(record)
    out["documents"] = [
        {**d, "blob": None if d["blob"] is None else {"sha256": d["blob"]["sha256"], "size": d["blob"]["size"]}}
        for d in record["documents"]
    ]
    return out


def show(path: Path, instance_id: str | None = None, engine=None) -> dict:
    """What an archive holds: header, sha256, whether the audit log records it, and
    a summary per instance (or the full record of one instance, blob bytes left out)."""
    header, records = read_archive(path)
    sha = file_sha256(path)
    out: dict[str, Any] = {"file": path.name, "sha256": sha, "header": header}
    if engine is not None:
        with engine.read() as session:
            recorded = recorded_archives(session.connection(), sha)
        out["recorded_in_audit"] = bool(recorded)
        out["audit_seq"] = recorded[0]["seq"] if recorded else None
    if instance_id is None:
        out["instances"] = [_summary(r) for r in records]
        return out
    record = next((r for r in records if r["instance"]["id"] == instance_id), None)
    if record is None:
        raise NotFound(f"instance {instance_id!r} is not in archive {path.name}")
    out["instance"] = _without_content(record)
    return out


def restore(engine, path: Path, instance_id: str, actor=SYSTEM) -> dict:
    """Put one archived instance back into the database (its audit events never left).

    Refused when the file is not recorded by a ``history_archived`` audit event (altered,
    or from a run that did not commit), when the instance exists, or when its process
    definition version is not deployed. Timers and notifications get new ids.
    """
    header, records = read_archive(path)
    sha = file_sha256(path)
    record = next((r for r in records if r["instance"]["id"] == instance_id), None)
    if record is None:
        raise NotFound(f"instance {instance_id!r} is not in archive {path.name}")
    with engine.uow(actor) as uow:
        conn = uow.session.connection()
        recorded = recorded_archives(conn, sha)
        if not any(instance_id in (e.get("instance_ids") or []) for e in recorded):
            raise ArchiveError(
                f"archive {path.name} (sha256 {sha[:16]}...) is not recorded in the audit log for this instance: "
                "the file was altered or comes from a retention run that did not commit"
            )
        if conn.execute(select(INSTANCES.c.id).where(INSTANCES.c.id == instance_id)).first() is not None:
            raise Conflict(f"instance {instance_id!r} exists already")
        definition = record["definition"] or {}
        row = conn.execute(
            select(DEFINITIONS.c.key, DEFINITIONS.c.version).where(DEFINITIONS.c.id == record["instance"]["definition_id"])
        ).first()
        if row is None or (row.key, row.version) != (definition.get("key"), definition.get("version")):
            raise Conflict(f"process definition {definition.get('key')} v{definition.get('version')} of the instance "
                           "is not deployed here (same id) any more")
        conn.execute(insert(INSTANCES), [decode_row(INSTANCES, record["instance"])])
        if record["tasks"]:
            conn.execute(insert(TASKS), [decode_row(TASKS, t) for t in record["tasks"]])
        if record["task_candidates"]:
            conn.execute(insert(CANDIDATES), [decode_row(CANDIDATES, c) for c in record["task_candidates"]])
        for timer in record["timers"]:
            conn.execute(insert(TIMERS).values(**decode_row(TIMERS, timer, skip=("id",))))
        for note in record["notifications"]:
            conn.execute(insert(NOTIFICATIONS).values(**decode_row(NOTIFICATIONS, note, skip=("id",))))
        restored_docs = 0
        for doc in record["documents"]:
            meta = decode_row(DOCUMENTS, doc["document"])
            if conn.execute(select(DOCUMENTS.c.id).where(DOCUMENTS.c.id == meta["id"])).first() is None:
                if conn.execute(select(BLOBS.c.sha256).where(BLOBS.c.sha256 == meta["sha256"])).first() is None:
                    if doc["blob"] is None:
                        raise ArchiveError(f"document {meta['id']} has no content in the archive")
                    blob = decode_row(BLOBS, doc["blob"])
                    if hashlib.sha256(blob["content"]).hexdigest() != meta["sha256"]:
                        raise ArchiveError(f"the archived content of document {meta['id']} does not match its sha256")
                    conn.execute(insert(BLOBS).values(**blob))
                conn.execute(insert(DOCUMENTS).values(**meta))
                restored_docs += 1
        if record["document_links"]:
            conn.execute(insert(LINKS), [decode_row(LINKS, link) for link in record["document_links"]])
        uow.audit("history_restored", instance_id=instance_id, file=path.name, sha256=sha, tasks=len(record["tasks"]),
                  documents=len(record["documents"]), documents_restored=restored_docs)
    return {"instance_id": instance_id, "file": path.name, "sha256": sha, "tasks": len(record["tasks"]),
            "documents": len(record["documents"]), "documents_restored": restored_docs}
