"""The rate-limit counters behave as fixed windows in both homes: in the process (the SQLite
default) and in the database (PostgreSQL, shared by every web process): a user's calls beyond the
limit are refused until the window ends, another user is not held back, and the window's end is
what the rate-limit headers announce."""

from __future__ import annotations

import threading
import time

import pytest
from limits import parse
from limits.strategies import FixedWindowRateLimiter

from web.ratelimits import DatabaseStorage, ProcessStorage


class FakeTime:
    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock_at(monkeypatch):
    fake = FakeTime(1_800_000_000.0)
    monkeypatch.setattr(time, "time", fake)
    return fake


def fixed_windows(storage, clock_at):
    limiter = FixedWindowRateLimiter(storage)
    three = parse("3/minute")
    start = clock_at.now
    assert [limiter.hit(three, "user:zhang") for _ in range(4)] == [True, True, True, False]
    assert limiter.hit(three, "user:li"), "another user has a window of their own"
    stats = limiter.get_window_stats(three, "user:zhang")
    assert stats.remaining == 0
    assert stats.reset_time == pytest.approx(start + 60)
    clock_at.now = start + 59
    assert not limiter.hit(three, "user:zhang")
    clock_at.now = start + 60.5
    assert limiter.get_window_stats(three, "user:zhang").remaining == 3
    assert limiter.hit(three, "user:zhang"), "a new window counts from zero"
    assert limiter.get_window_stats(three, "user:zhang").remaining == 2


    one = parse("1/hour")
    assert limiter.hit(one, "user:wang")
    assert not limiter.hit(one, "user:wang")
    limiter.clear(one, "user:wang")
    assert limiter.hit(one, "user:wang"), "clearing a key gives its user a fresh window"


def test_calls_beyond_the_limit_wait_for_the_window_to_end_in_process(clock_at):
    fixed_windows(ProcessStorage("bpmmemory://"), clock_at)


def test_calls_beyond_the_limit_wait_for_the_window_to_end_in_the_database(engine, clock_at):
    fixed_windows(DatabaseStorage("bpmdb://", engine=engine), clock_at)


def test_the_process_counters_forget_ended_windows_when_many_keys_pile_up(monkeypatch, clock_at):
    monkeypatch.setattr(ProcessStorage, "SWEEP_AT", 100)
    storage = ProcessStorage("bpmmemory://")
    for n in range(100):
        storage.incr(f"addr:10.0.0.{n}", 60)
    storage.incr("user:kept", 3600)
    clock_at.now += 61
    storage.incr("addr:10.0.1.1", 60)  # a new window while 100 are held: the ended ones go
    assert len(storage._windows) == 2
    assert storage.get("user:kept") == 1


def test_the_process_counters_lose_no_count_between_threads(clock_at):
    storage = ProcessStorage("bpmmemory://")

    def count():
        for _ in range(2000):
            storage.incr("user:busy", 60)

    threads = [threading.Thread(target=count) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert storage.get("user:busy") == 8000


def test_counting_in_the_process_starts_no_thread(monkeypatch):
    """A clerk's pace (a counted request every 20 ms): limits' own memory storage would start a
    timer thread for nearly every one."""
    storage = ProcessStorage("bpmmemory://")
    started = []
    start = threading.Thread.start
    monkeypatch.setattr(threading.Thread, "start", lambda thread: (started.append(thread), start(thread))[1])
    for _ in range(20):
        storage.incr("user:clerk", 60)
        time.sleep(0.02)
    assert storage.get("user:clerk") == 20
    assert started == []
