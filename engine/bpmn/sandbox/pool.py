"""The parent side of the sandbox: a small pool of worker processes per server process.

A call takes an idle worker (starting one if fewer than ``size`` exist, else waiting for
one), sends the request and waits for the answer at most ``wall_seconds``; a worker that
does not answer in time is killed (SIGKILL) and replaced, and the call fails with the
``time`` limit. Workers are per process id: a forked server process starts its own.
"""

from __future__ import annotations

import atexit
import json
import os
import queue
import select
import subprocess
import sys
import threading
import time
from dataclasses import asdict
from pathlib import Path

from engine.bpmn.restricted import ExpressionError
from engine.bpmn.sandbox.worker import HEADER
from engine.clock import utcnow
from engine.config import ScriptLimits

ROOT = Path(__file__).resolve().parents[2]


def _error(message: str, limit: str | None = None, lineno: int | None = None) -> ExpressionError:
    return ExpressionError(message, lineno, limit)


def _jsonable(value):
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not data")


class _Worker:
    def __init__(self, limits: ScriptLimits) -> None:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
        config = {k: v for k, v in asdict(limits).items() if k != "workers"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "engine.bpmn.sandbox.worker", json.dumps(config)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, close_fds=True,
        )

    def call(self, request: bytes, wall_seconds: float) -> dict | None:
        """The worker's answer, or None when it did not answer within ``wall_seconds`` or died."""
        try:
            self.process.stdin.write(HEADER.pack(len(request)) + request)
            self.process.stdin.flush()
        except (BrokenPipeError, OSError):
            return None
        deadline = time.monotonic() + wall_seconds
        head = self._read(HEADER.size, deadline)
        if head is None:
            return None
        body = self._read(HEADER.unpack(head)[0], deadline)
        return json.loads(body) if body is not None else None

    def _read(self, n: int, deadline: float) -> bytes | None:
        fd, chunks, got = self.process.stdout.fileno(), [], 0
        while got < n:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                return None
            chunk = os.read(fd, n - got)
            if not chunk:
                return None  # the worker exited
            chunks.append(chunk)
            got += len(chunk)
        return b"".join(chunks)

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            try:
                stream.close()
            except OSError:
                pass


class SandboxPool:
    """Up to ``limits.workers`` worker processes, started on demand and reused."""

    def __init__(self, limits: ScriptLimits) -> None:
        self.limits = limits
        self.pid = os.getpid()
        self._idle: queue.LifoQueue[_Worker] = queue.LifoQueue()
        self._count = 0
        self._lock = threading.Lock()
        self._all: list[_Worker] = []

    def _take(self) -> _Worker:
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            pass
        with self._lock:
            if self._count < self.limits.workers:
                self._count += 1
                worker = _Worker(self.limits)
                self._all.append(worker)
                return worker
        try:  # every worker is busy: each call ends within its wall-clock limit
            return self._idle.get(timeout=max(30.0, 4 * self.limits.wall_seconds))
        except queue.Empty:
            raise _error("every script worker stayed busy for too long; try again") from None

    def _drop(self, worker: _Worker) -> None:
        worker.kill()
        with self._lock:
            self._count -= 1
            if worker in self._all:
                self._all.remove(worker)

    def _call(self, request: dict) -> dict:
        request["now"] = utcnow().isoformat()
        try:
            body = json.dumps(request, ensure_ascii=False, default=_jsonable).encode("utf-8")
        except (TypeError, ValueError) as exc:
            raise _error(f"the data cannot be handed to the script: {exc}") from None
        worker = self._take()
        answer = worker.call(body, self.limits.wall_seconds)
        if answer is None:
            timed_out = worker.alive()
            self._drop(worker)
            if timed_out:
                raise _error(f"it ran longer than its time limit of {self.limits.wall_seconds:g} s", "time")
            raise _error("the script worker stopped unexpectedly (it may have run out of memory)", "memory")
        if answer.get("limit") == "memory" or not worker.alive():
            self._drop(worker)  # it exits after a memory breach
        else:
            self._idle.put(worker)
        if not answer["ok"]:
            raise _error(answer["message"], answer.get("limit"), answer.get("lineno"))
        return answer

    def evaluate(self, source: str, names: dict):
        return self._call({"op": "eval", "source": source, "names": names})["value"]

    def execute(self, source: str, data: dict, context: dict | None = None) -> tuple[dict, list[str]]:
        answer = self._call({"op": "exec", "source": source, "data": data, "context": context or {}})
        return answer["changed"], answer["deleted"]

    def close(self) -> None:
        with self._lock:
            workers, self._all, self._count = list(self._all), [], 0
        while True:
            try:
                self._idle.get_nowait()
            except queue.Empty:
                break
        for worker in workers:
            worker.kill()


_limits = ScriptLimits()
_pool: SandboxPool | None = None
_pool_lock = threading.Lock()


def configure(limits: ScriptLimits) -> None:
    """Set the limits (from the engine's settings); running workers are replaced."""
    global _limits, _pool
    with _pool_lock:
        if limits == _limits:
            return
        _limits = limits
        old, _pool = _pool, None
    if old is not None and old.pid == os.getpid():
        old.close()


def pool() -> SandboxPool:
    """This process's pool (a forked child gets a new one: pipes are not shared)."""
    global _pool
    current = _pool
    if current is not None and current.pid == os.getpid():
        return current
    with _pool_lock:
        if _pool is None or _pool.pid != os.getpid():
            _pool = SandboxPool(_limits)
        return _pool


@atexit.register
def _shutdown() -> None:
    if _pool is not None and _pool.pid == os.getpid():
        _pool.close()
