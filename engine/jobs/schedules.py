"""When a job runs: its cron schedules (``engine.jobs.registry``) read as data, and the next run.

The registry's schedules are five-field cron expressions in Asia/Shanghai time with a number or
``*`` in each field (``30 1 * * *``, ``0 3 5 * *``, ``0 2 * * 1``, ``0 5 6 1 *``). :func:`describe`
says what one means (every day / every Monday / the 5th of every month / 6 January each year, at
what time, for which period kind) for the dashboards' empty-report sentence; :func:`next_run`
answers the next local time it fires after a moment. Ranges, lists and steps are not used by the
registry and are refused (``ValueError``).
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from engine.clock import LOCAL_TZ, utcnow


def _fields(cron: str) -> tuple[int, int, int | None, int | None, int | None]:
    parts = cron.split()
    if len(parts) != 5 or not all(p == "*" or p.isdigit() for p in parts):
        raise ValueError(f"unsupported cron expression {cron!r}: five fields, each a number or *")
    minute, hour, dom, month, dow = (None if p == "*" else int(p) for p in parts)
    if minute is None or hour is None:
        raise ValueError(f"unsupported cron expression {cron!r}: the minute and hour must be fixed")
    return minute, hour, dom, month, dow


def describe(kind: str, cron: str) -> dict:
    """``{"every": "day" | "week" | "month" | "year", "weekday": 1-7 (ISO, Monday 1) | None,
    "day": day of month | None, "month": 1-12 | None, "hour", "minute", "kind"}``: the period
    kind the run computes (the last complete one)."""
    minute, hour, dom, month, dow = _fields(cron)
    weekday = None if dow is None else (dow % 7 or 7)  # cron: 0 and 7 are Sunday
    every = "year" if month is not None else "month" if dom is not None else "week" if dow is not None else "day"
    return {"every": every, "weekday": weekday, "day": dom, "month": month, "hour": hour, "minute": minute,
            "kind": kind}


def next_run(cron: str, after: datetime | None = None) -> datetime:
    """The first local time (Asia/Shanghai, aware) after ``after`` (default now) that ``cron`` fires."""
    minute, hour, dom, month, dow = _fields(cron)
    now = (after or utcnow()).astimezone(LOCAL_TZ)
    day = now.date()
    for _ in range(4 * 366):  # a 29 February schedule fires within four years
        at = datetime.combine(day, time(hour, minute), LOCAL_TZ)
        if (at > now and (dom is None or day.day == dom) and (month is None or day.month == month)
                and (dow is None or day.isoweekday() % 7 == dow % 7)):
            return at
        day += timedelta(days=1)
    raise ValueError(f"cron expression {cron!r} never fires")


def job_schedules(name: str, after: datetime | None = None) -> list[dict]:
    """Every schedule of the job ``name`` (the registry's order): :func:`describe` plus ``cron`` and ``next_run``."""
    from engine.jobs.registry import get_job

    return [{**describe(kind, cron), "cron": cron, "next_run": next_run(cron, after)}
            for kind, cron in get_job(name).schedules()]
