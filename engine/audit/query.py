"""What auditors read: audit events with names, filtered, paged or read in batches.

Each event comes with the actor's display name and the BPMN element's name from the
instance's definition. Lists are paged; exports read in batches (keyset pagination) so that
millions of events never sit in memory, and every export is itself audited
(``audit_exported``). The actions' labels and the CSV and JSON files are the web layer's
(``web/presentation/audit.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from engine.audit.chain import read_head
from engine.identity.actor import SYSTEM, Actor
from engine.identity.policy import require_audit_reader
from engine.store.models import AuditEvent, ProcessDefinition, ProcessInstance, User

EXPORT_BATCH = 1000

@dataclass(frozen=True)
class EventFilter:
    """Conditions on audit events; ``start`` is inclusive, ``end`` exclusive."""

    actor: str | None = None
    action: str | None = None
    instance: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    up_to_seq: int | None = None
    # a person: their username, or a part of their display name (营业员 finds 营业员乙 too)
    person: str | None = None

    def apply(self, query):
        conditions = ((AuditEvent.actor, self.actor), (AuditEvent.action, self.action), (AuditEvent.instance_id, self.instance))
        for column, value in conditions:
            if value is not None:
                query = query.where(column == value)
        if self.person is not None:
            named = select(User.username).where(
                or_(User.username == self.person, User.display_name.icontains(self.person, autoescape=True)))
            query = query.where(or_(AuditEvent.actor == self.person, AuditEvent.actor.in_(named)))
        if self.start is not None:
            query = query.where(AuditEvent.at >= self.start)
        if self.end is not None:
            query = query.where(AuditEvent.at < self.end)
        if self.up_to_seq is not None:
            query = query.where(AuditEvent.seq <= self.up_to_seq)
        return query

    def describe(self) -> dict:
        """The filter as plain JSON (for the ``audit_exported`` event)."""
        out = {k: v for k, v in asdict(self).items() if v is not None and k != "up_to_seq"}
        return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in out.items()}


class Enricher:
    """Adds names and labels to raw events, caching users and definitions it has looked up."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.names: dict[str, str | None] = {SYSTEM.username: SYSTEM.display_name}
        self.definition_of: dict[str, int | None] = {}
        self.elements: dict[int, dict[str, str | None]] = {}

    def _load(self, events: list[AuditEvent]) -> None:
        users = {e.actor for e in events if e.actor and e.actor not in self.names}
        if users:
            found = dict(self.session.execute(select(User.username, User.display_name).where(User.username.in_(users))).all())
            self.names.update({u: found.get(u) for u in users})
        instances = {e.instance_id for e in events if e.instance_id and e.instance_id not in self.definition_of}
        if instances:
            rows = self.session.execute(
                select(ProcessInstance.id, ProcessInstance.definition_id).where(ProcessInstance.id.in_(instances))
            ).all()
            self.definition_of.update({i: None for i in instances} | dict(rows))
        wanted = {self.definition_of.get(e.instance_id) for e in events} - {None} - set(self.elements)
        if wanted:
            for def_id, meta in self.session.execute(
                select(ProcessDefinition.id, ProcessDefinition.meta).where(ProcessDefinition.id.in_(wanted))
            ):
                elements = (meta or {}).get("elements") or {}
                self.elements[def_id] = {eid: (el or {}).get("name") for eid, el in elements.items()}

    def element_name(self, event: AuditEvent) -> str | None:
        definition = self.definition_of.get(event.instance_id) if event.instance_id else None
        if definition is None or not event.element_id:
            return None
        return self.elements.get(definition, {}).get(event.element_id)

    def rows(self, events: list[AuditEvent]) -> list[dict]:
        self._load(events)
        return [self.row(e) for e in events]

    def row(self, e: AuditEvent) -> dict:
        return {
            "seq": e.seq,
            "at": e.at,
            "actor": e.actor,
            "actor_name": self.names.get(e.actor) if e.actor else None,
            "actor_roles": e.actor_roles.split(",") if e.actor_roles else [],
            "actor_unit": e.actor_unit,
            "action": e.action,
            "instance_id": e.instance_id,
            "task_id": e.task_id,
            "element_id": e.element_id,
            "element_name": self.element_name(e),
            "details": e.details or {},
            "before": e.before,
            "after": e.after,
            "reason": e.reason,
            "hash": e.hash,
        }


def search(session: Session, actor: Actor, flt: EventFilter, page: int, per_page: int,
           newest_first: bool = False) -> dict:
    """One page of matching events in seq order, or newest first (by time, then seq), with the
    total count (auditors, administrators)."""
    require_audit_reader(actor)
    total = session.execute(flt.apply(select(func.count()).select_from(AuditEvent))).scalar_one()
    order = (AuditEvent.at.desc(), AuditEvent.seq.desc()) if newest_first else (AuditEvent.seq,)
    events = session.execute(
        flt.apply(select(AuditEvent)).order_by(*order).offset((page - 1) * per_page).limit(per_page)
    ).scalars().all()
    return {"items": Enricher(session).rows(list(events)), "page": page, "per_page": per_page, "total": total}


def iter_events(session: Session, flt: EventFilter, batch: int = EXPORT_BATCH) -> Iterator[dict]:
    """Every matching event in seq order, read ``batch`` at a time (keyset on seq)."""
    enricher, last = Enricher(session), 0
    while True:
        events = session.execute(
            flt.apply(select(AuditEvent)).where(AuditEvent.seq > last).order_by(AuditEvent.seq).limit(batch)
        ).scalars().all()
        if not events:
            return
        yield from enricher.rows(list(events))
        last = events[-1].seq
        session.expunge_all()  # keep the identity map from growing with the export


def timeline(session: Session, instance_id: str) -> list[dict]:
    """All events of one instance in seq order (the caller checks read access)."""
    return list(iter_events(session, EventFilter(instance=instance_id)))


def record_export(engine, actor: Actor, scope: str, fmt: str, flt: EventFilter) -> EventFilter:
    """Audit an export, then return the filter bounded to the events that existed before it.

    The ``audit_exported`` event names the filter and the last seq exported, so the log
    states exactly what left the system (and the export does not contain itself). Exporting
    from the audit log (``scope`` events) is for auditors; an instance's ``timeline`` for
    whoever may read the instance (``instances.timeline`` checks it first).
    """
    if scope != "timeline":
        require_audit_reader(actor)
    with engine.read() as session:
        up_to = read_head(session.connection())[0]
    with engine.uow(actor) as uow:
        uow.audit(
            "audit_exported",
            instance_id=flt.instance if scope == "timeline" else None,
            scope=scope,
            format=fmt,
            filters=flt.describe(),
            up_to_seq=up_to,
        )
    return EventFilter(**{**asdict(flt), "up_to_seq": up_to})
