"""The one clock every part of the engine reads.

Tests and the controlled-clock acceptance mode pin or advance it instead of sleeping.
SpiffWorkflow's timer module calls ``datetime.now(timezone.utc)`` directly, so
:func:`install_spiff_clock` swaps that module's ``datetime`` for a subclass whose
``now()`` asks this clock.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

LOCAL_TZ = ZoneInfo("Asia/Shanghai")  # the halls' time (China Standard Time): local dates, periods, forms


class Clock:
    """A wall clock that can be pinned (``set``) and moved (``advance``)."""

    def __init__(self) -> None:
        self._pinned: datetime | None = None
        self._offset = timedelta(0)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        pinned = self._pinned
        if pinned is not None:
            return pinned
        return datetime.now(UTC) + self._offset

    def set(self, when: datetime) -> None:
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        with self._lock:
            self._pinned = when.astimezone(UTC)

    def advance(self, delta: timedelta) -> None:
        with self._lock:
            if self._pinned is not None:
                self._pinned += delta
            else:
                self._offset += delta

    def reset(self) -> None:
        with self._lock:
            self._pinned = None
            self._offset = timedelta(0)

    @property
    def is_controlled(self) -> bool:
        return self._pinned is not None or self._offset != timedelta(0)


clock = Clock()


def utcnow() -> datetime:
    """Current time (timezone-aware UTC) from the engine clock."""
    return clock.now()


class _ClockDatetime(datetime):
    @classmethod
    def now(cls, tz=None):  # noqa: D102 - mirrors datetime.now
        current = clock.now()
        return current if tz is None or tz is UTC else current.astimezone(tz)


def install_spiff_clock() -> None:
    """Make SpiffWorkflow's timer events read the engine clock."""
    from SpiffWorkflow.bpmn.specs.event_definitions import timer

    timer.datetime = _ClockDatetime
