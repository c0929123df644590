"""Customer waiting time at the counters, per hall and per hour: part of ``sla_daily_report``.

000 限时服务 「正常情况下办理一笔业务时间3分钟,等待办理业务时限5分钟」. The handling half is the
``one_counter`` ``handle`` task's SLA (per category, decision table ``one_counter_time_limit``),
reported in the category rows. The waiting half is measured per customer: the acceptance form
records the queue ticket time (take-a-number machine, or the greeter's entry; process property
``queueTicket``, engine/halls/queue_ticket.py), and

    waiting = acceptance (the instance's start, 受理) - ticket time   (to the minute)

Cohort: ``one_counter`` instances **accepted during the period** (local days). Result rows:

* ``subject_type='waiting_hall'``, ``subject_key=<hall>``, ``unit_key=<hall>`` — one row per
  hall with counter transactions in the period;
* ``subject_type='waiting_hour'``, ``subject_key='<hall>/<HH>:00'``, ``unit_key=<hall>`` — one
  row per hall and local hour **in which the customers took their ticket** (when the queue
  built up), for hours with at least one ticketed customer;

with ``metrics``:

``hall``, ``hour`` (hour rows only, ``"09:00"``)
    the grouping keys;
``transactions`` (hall rows only), ``without_ticket`` (hall rows only)
    transactions accepted, and those without a ticket time (served without queueing, or
    accepted before the field existed): they are not counted in the waiting figures;
``customers``
    transactions with a ticket time;
``within_limit``, ``over_limit``, ``within_limit_pct``
    customers accepted within ``wait_limit_s`` (300 s, 5 minutes) of their ticket, those who
    waited longer, and ``100 * within / customers`` (one decimal);
``avg_waiting_s``, ``p50_waiting_s``, ``p90_waiting_s``, ``max_waiting_s``
    waiting times in seconds (nearest-rank percentiles, as in the SLA rows);
``wait_limit_s``
    the limit applied (300).
"""

from __future__ import annotations

import math

from sqlalchemy import text

from engine.clock import LOCAL_TZ
from engine.forms.queue_ticket import WAIT_LIMIT_S, ticket_time, waiting_seconds
from engine.jobs.sql import json_text, pct, times
from engine.store.models import UTCDateTime

PROCESS = "one_counter"
TICKET_FIELD = "ticket_time"
NONE = "-"


def _sql(d: str) -> str:
    return f"""
SELECT COALESCE(i.org_unit, '{NONE}') AS hall, i.started_at AS started_at,
       {json_text(d, 'i.data', TICKET_FIELD)} AS ticket
FROM bpm_process_instance i
WHERE i.process_key = :process AND i.started_at >= :start AND i.started_at < :end
"""


def _nearest_rank(values: list[float], p: int):
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(1, math.ceil(p * len(ordered) / 100)) - 1]


def _figures(waits: list[float]) -> dict:
    within = sum(1 for w in waits if w <= WAIT_LIMIT_S)
    return {
        "customers": len(waits),
        "within_limit": within,
        "over_limit": len(waits) - within,
        "within_limit_pct": pct(within, len(waits)),
        "avg_waiting_s": round(sum(waits) / len(waits), 1) if waits else None,
        "p50_waiting_s": _nearest_rank(waits, 50),
        "p90_waiting_s": _nearest_rank(waits, 90),
        "max_waiting_s": max(waits) if waits else None,
        "wait_limit_s": WAIT_LIMIT_S,
    }


def _seconds(value: float):
    return int(value) if float(value).is_integer() else value


def waiting_rows(session, period, units: dict[str, str]) -> list[dict]:
    """The waiting rows of ``period`` (see the module docstring)."""
    d = session.get_bind().dialect.name
    found = session.execute(text(_sql(d)).bindparams(*times("start", "end")).columns(started_at=UTCDateTime()),
                            {"start": period.start, "end": period.end, "process": PROCESS}).all()
    halls: dict[str, dict] = {}
    for r in found:
        hall = halls.setdefault(r.hall, {"transactions": 0, "without": 0, "waits": [], "hours": {}})
        hall["transactions"] += 1
        wait = waiting_seconds(r.ticket, r.started_at)
        if wait is None:
            hall["without"] += 1
            continue
        wait = _seconds(wait)
        hall["waits"].append(wait)
        hour = f"{ticket_time(r.ticket).astimezone(LOCAL_TZ).hour:02d}:00"
        hall["hours"].setdefault(hour, []).append(wait)
    rows: list[dict] = []
    for key in sorted(halls):
        hall = halls[key]
        unit, name = (None if key == NONE else key), units.get(key, key)
        rows.append({"unit_key": unit, "subject_type": "waiting_hall", "subject_key": key, "subject_label": name,
                     "metrics": {"hall": key, "transactions": hall["transactions"], "without_ticket": hall["without"],
                                 **_figures(hall["waits"])}})
        for hour in sorted(hall["hours"]):
            rows.append({"unit_key": unit, "subject_type": "waiting_hour", "subject_key": f"{key}/{hour}",
                         "subject_label": f"{hour} · {name}",
                         "metrics": {"hall": key, "hour": hour, **_figures(hall["hours"][hour])}})
    return rows
