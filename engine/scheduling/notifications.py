"""In-app notifications, and e-mail for them when SMTP is configured.

Notifications are rows written in the same transaction as the event that causes them.
E-mail is an outbox: the timer worker sends rows not yet e-mailed (``emailed_at`` NULL)
for users with an address, so a mail server that is down delays mail but loses none.
"""

from __future__ import annotations

import logging
import smtplib
from email.message import EmailMessage

from sqlalchemy import func, insert, select, update

from engine.clock import utcnow
from engine.errors import NotFound
from engine.identity.actor import Actor
from engine.store.models import Notification, ProcessInstance, Task, User, UserRole

log = logging.getLogger(__name__)
NOTIFICATIONS = Notification.__table__


def users_with_roles(session, roles, org_unit: str | None = None) -> list[str]:
    """Active users holding any of ``roles`` (within ``org_unit`` when given)."""
    query = (
        select(User.username)
        .join(UserRole, UserRole.user_id == User.id)
        .where(UserRole.role.in_(list(roles)), User.is_active.is_(True))
        .distinct()
    )
    if org_unit:
        query = query.where(User.org_unit == org_unit)
    return sorted(session.execute(query).scalars())


def notify(session, usernames, kind: str, title: str, body: str | None = None,
           instance_id: str | None = None, task_id: str | None = None) -> int:
    rows = [
        {"username": name, "kind": kind, "title": title[:256], "body": body, "instance_id": instance_id,
         "task_id": task_id, "created_at": utcnow()}
        for name in dict.fromkeys(usernames)
    ]
    if rows:
        session.connection().execute(insert(NOTIFICATIONS), rows)
    return len(rows)


def notification_to_dict(row) -> dict:
    return {
        "id": row.id, "kind": row.kind, "title": row.title, "body": row.body, "instance_id": row.instance_id,
        "task_id": row.task_id, "created_at": row.created_at, "read_at": row.read_at,
    }


def list_for(session, actor: Actor, unread_only: bool, page: int, per_page: int) -> dict:
    query = select(Notification).where(Notification.username == actor.username)
    if unread_only:
        query = query.where(Notification.read_at.is_(None))
    total = session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    unread = unread_count(session, actor)
    rows = session.execute(
        query.order_by(Notification.created_at.desc(), Notification.id.desc()).offset((page - 1) * per_page).limit(per_page)
    ).scalars()
    return {"items": [notification_to_dict(r) for r in rows], "page": page, "per_page": per_page, "total": total,
            "unread": unread}


def unread_count(session, actor: Actor) -> int:
    """How many of ``actor``'s notifications are unread (the header's bell)."""
    return session.execute(
        select(func.count()).where(Notification.username == actor.username, Notification.read_at.is_(None))
    ).scalar_one()


def inbox(session, actor: Actor, page: int, per_page: int) -> dict:
    """:func:`list_for` (every notification, newest first) with what a page shows of each: its
    task's name, state and due time, and its case's process and business key."""
    result = list_for(session, actor, False, page, per_page)
    task_ids = {n["task_id"] for n in result["items"] if n["task_id"]}
    instance_ids = {n["instance_id"] for n in result["items"] if n["instance_id"]}
    tasks = {row.id: row for row in session.execute(
        select(Task.id, Task.name, Task.element_id, Task.status, Task.due_at).where(Task.id.in_(task_ids)))} if task_ids else {}
    cases = {row.id: row for row in session.execute(
        select(ProcessInstance.id, ProcessInstance.process_key, ProcessInstance.business_key, ProcessInstance.reference)
        .where(ProcessInstance.id.in_(instance_ids)))} if instance_ids else {}
    for note in result["items"]:
        task, case = tasks.get(note["task_id"]), cases.get(note["instance_id"])
        note.update(task_name=(task.name or task.element_id) if task else None, task_status=task.status if task else None,
                    due_at=task.due_at if task else None, process_key=case.process_key if case else None,
                    business_key=case.business_key if case else None, reference=case.reference if case else None)
    return result


def mark_all_read(uow) -> int:
    """Mark every unread notification of the acting user read; how many were."""
    return uow.session.connection().execute(
        update(NOTIFICATIONS).where(NOTIFICATIONS.c.username == uow.actor.username, NOTIFICATIONS.c.read_at.is_(None))
        .values(read_at=utcnow())
    ).rowcount


def mark_read(uow, notification_id: int) -> dict:
    row = uow.session.get(Notification, notification_id)
    if row is None or row.username != uow.actor.username:
        raise NotFound(f"notification {notification_id} not found")
    if row.read_at is None:
        row.read_at = utcnow()
    return notification_to_dict(row)


def deliver_email(engine, limit: int = 50) -> int:
    """Send up to ``limit`` pending notification e-mails; return how many were sent."""
    config = engine.settings.smtp
    if config is None:
        return 0
    with engine.read() as session:
        pending = session.execute(
            select(Notification.id, Notification.title, Notification.body, User.email)
            .join(User, User.username == Notification.username)
            .where(Notification.emailed_at.is_(None), User.email.is_not(None))
            .order_by(Notification.id)
            .limit(limit)
        ).all()
    if not pending:
        return 0
    sent = []
    try:
        with smtplib.SMTP(config.host, config.port, timeout=10) as smtp:
            if config.starttls:
                smtp.starttls()
            if config.user:
                smtp.login(config.user, config.password or "")
            for row in pending:
                message = EmailMessage()
                message["From"] = config.sender
                message["To"] = row.email
                message["Subject"] = row.title
                message.set_content(row.body or row.title)
                smtp.send_message(message)
                sent.append(row.id)
    except (OSError, smtplib.SMTPException):
        log.warning("sending notification e-mail failed; it will be retried", exc_info=True)
    if sent:
        from engine.identity.actor import SYSTEM

        with engine.uow(SYSTEM) as uow:
            uow.session.connection().execute(
                update(NOTIFICATIONS).where(NOTIFICATIONS.c.id.in_(sent)).values(emailed_at=utcnow())
            )
    return len(sent)
