"""The queue ticket of a counter transaction: the process property ``queueTicket``.

000 限时服务 「等待办理业务时限5分钟」: a customer waits at most 5 minutes before the counter
accepts their business. To measure that per customer, the acceptance form records when the
customer joined the queue: the time printed on the take-a-number ticket (取号机), or the
greeter's entry (迎宾登记) in a hall without a ticket machine. The process names that start-form
field on its ``bpmn:process``::

    <camunda:property name="queueTicket" value="ticket_time" />

The waiting time of the customer is the acceptance (the instance's start, 受理) minus the
ticket time, audited per customer (``queue_waiting_recorded`` on the instance's timeline, with
``waiting_s`` and ``within_limit``); ``engine.jobs.sla_report`` reports it per hall and hour. A ticket time after the
acceptance, or on another day than the acceptance (a customer does not wait overnight), is
refused with a 422 naming the field, and nothing is stored. Form date-times without an
offset are Beijing time (engine/forms/chronology.py); minutes are compared, as the form
records minutes. An empty ticket time (a customer served without queueing) is allowed and
counted apart in the report.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from engine.clock import LOCAL_TZ
from engine.errors import ValidationFailed
from engine.extensions import DeployContext, Element, Extension
from engine.forms.order import parse

PROPERTY = "queueTicket"
WAIT_LIMIT_S = 5 * 60  # 000 「等待办理业务时限5分钟」
_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def ticket_field(properties: dict | None) -> str | None:
    return (properties or {}).get(PROPERTY) or None


def check(element: Element, ctx: DeployContext) -> list[str]:
    value = element.properties.get(PROPERTY)
    if value is not None and not _KEY.match(value):
        return [f"{PROPERTY} {value!r} is not a start-form field key"]
    return []


def _local_minute(value: datetime) -> datetime:
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value
    return value.astimezone(LOCAL_TZ).replace(second=0, microsecond=0)


def ticket_time(value) -> datetime | None:
    """The form value as an aware datetime, None when empty or unreadable."""
    return parse(value)


def waiting_seconds(ticket, accepted_at: datetime) -> float | None:
    """Seconds from the ticket to the acceptance (minutes as the form records them), or None."""
    when = ticket_time(ticket)
    if when is None:
        return None
    return max(0.0, (_local_minute(accepted_at) - _local_minute(when)).total_seconds())


def problems(ticket, accepted_at: datetime) -> list[str]:
    """Why a ticket time cannot belong to this acceptance (empty: it can)."""
    when = ticket_time(ticket)
    if when is None:
        return []
    accepted, taken = _local_minute(accepted_at), _local_minute(when)
    shown = accepted.strftime("%Y-%m-%d %H:%M")
    if taken > accepted:
        return [f"取号时间不能晚于受理时间（{shown}）。"
                f"The ticket time cannot be later than the acceptance ({shown}, Beijing time)."]
    if taken.date() != accepted.date():
        return [f"取号时间须为受理当天（{accepted:%Y-%m-%d}）。"
                f"The ticket must be taken on the day of the acceptance ({accepted:%Y-%m-%d}, Beijing time)."]
    return []


def _check_new_instance(uow, inst, definition, step) -> None:
    if step.previous is not None:
        return
    name = ticket_field((definition.meta or {}).get("properties"))
    if name is None:
        return
    ticket = (inst.data or {}).get(name)
    errors = problems(ticket, inst.started_at)
    if errors:
        raise ValidationFailed("form data is invalid", {name: errors})
    waited = waiting_seconds(ticket, inst.started_at)
    if waited is not None:  # the customer's own waiting, on the instance's timeline
        uow.audit("queue_waiting_recorded", instance_id=inst.id, ticket_time=ticket,
                  ticket_number=(inst.data or {}).get("ticket_number"), waiting_s=int(waited),
                  within_limit=waited <= WAIT_LIMIT_S, limit_s=WAIT_LIMIT_S)


EXTENSION = Extension("queue_ticket", properties=(PROPERTY,), kinds=("process",), check=check,
                      saved=_check_new_instance)
