"""Cross-field order of dates and times in one form: the custom properties ``after`` and
``notBefore`` (the form editor's "Custom properties" of a date/time field).

``properties.after = "term_start"`` on ``term_end``: the agreement's end must be later than its
start. ``properties.notBefore = "registered_at"``: the value may equal the other field's but not
come before it. The other field is a date/time field of the same level (the same group path or
the same dynamic-list row). The check runs on the server when a form is submitted (a 422 with the
message on the later field) and in the browser before submitting (web/static/src/form-page.js).
An empty value on either side is left to the ``required`` rule.

Dates (``2026-11-23``) compare as the start of their day; date-times without an offset (form-js
``no_timezone``) as local time, like the ``notBeforeStart`` task property (chronology.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from engine.clock import LOCAL_TZ

RULES = {"after": "Must be later than {other}.", "notBefore": "Must not be earlier than {other}."}


def rules_of(comp: dict) -> list[tuple[str, str]]:
    """The ``(rule, other key)`` pairs a component declares."""
    props = comp.get("properties")
    if not isinstance(props, dict):
        return []
    return [(name, props[name].strip()) for name in RULES if isinstance(props.get(name), str) and props[name].strip()]


def parse(value: Any) -> datetime | None:
    """A form date, time-less date-time or date-time as an aware datetime, or None when unreadable."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.replace(tzinfo=LOCAL_TZ) if parsed.tzinfo is None else parsed


def out_of_order(rule: str, value: Any, other: Any) -> bool:
    mine, theirs = parse(value), parse(other)
    if mine is None or theirs is None:
        return False
    return mine <= theirs if rule == "after" else mine < theirs


def message(rule: str, other_label: str) -> str:
    return RULES[rule].format(other=other_label)
