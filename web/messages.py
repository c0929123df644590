"""The engine's refusals as a page says them: in the page's language.

The engine words its errors in English (``EngineError.message``, kept as is by the HTTP API,
next to the error code). A browser page shows :func:`page_message` instead: on an English page
the engine's own words; on a zh-CN page the Chinese wording of a known message (the table
below, with user names shown as people's display names), else a Chinese sentence for the kind
of error (its status), so that no English sentence reaches a Chinese page. The English original
is logged.
"""

from __future__ import annotations

import logging
import re

from engine.errors import EngineError
from web.i18n import current_language, t

log = logging.getLogger(__name__)

_TASK_STATES = {"completed": "msg_task_done", "cancelled": "msg_task_cancelled"}

# (pattern of the engine's English message, i18n key); named groups fill {placeholders};
# a group named "person" is a username, shown as that user's display name
KNOWN = [
    (r"task is already (?P<state>\w+)", None),  # by state, below
    (r"task is already claimed by (?P<person>\S+)", "msg_task_claimed_by"),
    (r"task is claimed by (?P<person>[^;\s]+); only they or an administrator may release it", "msg_task_release_theirs"),
    (r"task is claimed by (?P<person>\S+)", "msg_task_claimed_by"),
    (r"the instance was changed by someone else at the same time; reload and try again", "msg_stale"),
    (r"task .* not found", "msg_task_not_found"),
    (r"(process )?instance .* not found", "msg_instance_not_found"),
    (r"process definition .*", "msg_process_not_found"),
    (r"document .* not found", "msg_document_not_found"),
    (r"you may not see this task", "msg_task_forbidden"),
    (r"you may not read this process instance", "msg_instance_forbidden"),
    (r"you may not read this document|this document does not belong to this process instance", "msg_document_forbidden"),
    (r"only .* may start .*|.* starts .*, which only .* may start", "msg_start_forbidden"),
    (r"only an administrator may cancel a process instance", "msg_cancel_forbidden"),
    (r"only an administrator may suspend, resume or change a process instance", "msg_change_forbidden"),
    (r"only an administrator or a manager of the instance's org unit may reassign tasks", "msg_reassign_forbidden"),
    (r"the process cannot continue with this data: .*", "msg_bad_data"),
    (r"(?P<person>\S+) has no seal", "msg_no_seal"),
]
_KNOWN = [(re.compile(pattern + r"\.?", re.S), key) for pattern, key in KNOWN]

# a Chinese sentence for each kind of refusal the table does not know
BY_STATUS = {400: "msg_bad_request", 403: "forbidden", 404: "msg_not_found", 409: "msg_conflict",
             413: "msg_too_large", 422: "msg_invalid", 429: "too_many_requests", 503: "unavailable"}


def person_name(username: str) -> str:
    """A user as people read them: their display name in the page's language, else the username."""
    from sqlalchemy import select

    from engine.identity.actor import SYSTEM
    from engine.identity.names import person_name as named
    from engine.store.models import User, UserRole
    from web.context import current_engine

    if username == SYSTEM.username:  # the engine itself (timers, jobs, automatic starts)
        return t("msg_system_actor")
    try:
        with current_engine().read() as db:
            user = db.execute(select(User.id, User.display_name).where(User.username == username)).first()
            roles = db.scalars(select(UserRole.role).where(UserRole.user_id == user.id)).all() if user else []
    except EngineError:
        user, roles = None, []
    return named(user.display_name if user else None, username, roles, current_language())


def known_message(message: str) -> str | None:
    """The Chinese wording of one of the engine's known English messages, else None."""
    text = (message or "").strip()
    for pattern, key in _KNOWN:
        match = pattern.fullmatch(text)
        if not match:
            continue
        values = match.groupdict()
        if key is None:
            key = _TASK_STATES.get(values.get("state") or "", "msg_task_not_open")
        if values.get("person"):
            values["person"] = person_name(values["person"])
        return t(key).format(**{k: v or "" for k, v in values.items()})
    return None


def page_message(exc: EngineError) -> str:
    """What a page shows for a refusal ``exc``, in the page's language."""
    if current_language() == "en":
        return exc.message
    known = known_message(exc.message)
    if known:
        return known
    log.info("no Chinese wording for %s %s: %s", exc.status, exc.code, exc.message)
    return t(BY_STATUS.get(exc.status, "msg_failed"))
