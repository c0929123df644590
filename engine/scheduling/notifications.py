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
from engine.store.models import Notification, User, UserRole

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
    unread = session.execute(
        select(func.count()).where(Notification.username == actor.username, Notification.read_at.is_(None))
    ).scalar_one()
    rows = session.execute(
        query.order_by(Notification.created_at.desc(), Notification.id.desc()).offset((page - 1) * per_page).limit(per_page)
    ).scalars()
    return {"items": [notification_to_dict(r) for r in rows], "page": page, "per_page": per_page, "total": total,
            "unread": unread}


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
