"""An external-task worker: the client side of ``/api/external-tasks`` (engine/runtime/external.py).

``ExternalTaskClient`` speaks the REST API (bearer token from a service account's password, signed
in again when it expires). ``Worker`` runs one topic: it long-polls fetch-and-lock, runs the handler
for each task while a heartbeat extends the lock (long work never loses its task), and reports the
outcome:

* the handler returns a dict (or None): **complete** with those variables;
* it raises :class:`BpmnError`: a **BPMN error** to the model's error boundary event;
* it raises anything else: a **failure**, retried by the engine after the model's back-off while
  retries are left, then an incident.

A lost race (409: the lock expired and another worker completed the task) is logged, not retried.
Connection problems back off from 1 s to 30 s. ``stop()`` (SIGTERM, SIGINT) lets the task in hand
finish and report, then returns. A handler is ``handler(task, settings) -> dict | None``; ``task``
has ``id``, ``instance_id``, ``business_key``, ``variables`` ...; handlers should be idempotent by
task id (a worker killed after the work but before the report does the work again after the lock
expires: see ``bpm_cli/handlers.py``).
"""

from __future__ import annotations

import importlib
import json
import logging
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable

log = logging.getLogger("bpm.worker")


class BpmnError(Exception):
    """Raised by a handler for a business outcome the model handles (an error boundary event)."""

    def __init__(self, code: str, message: str = "", variables: dict | None = None) -> None:
        super().__init__(message or code)
        self.code, self.message, self.variables = code, message, variables or {}


class ApiError(Exception):
    def __init__(self, status: int, body: dict) -> None:
        super().__init__(f"{status}: {body.get('message', body)}")
        self.status, self.body = status, body


class ExternalTaskClient:
    """The external-task API of one engine, as one service account."""

    def __init__(self, base_url: str, username: str, password: str, timeout: float = 45.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.username, self.password, self.timeout = username, password, timeout
        self._token: str | None = None

    def _request(self, method: str, path: str, body: dict | None = None, auth: bool = True) -> dict:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if auth:
            headers["Authorization"] = f"Bearer {self._login()}"
        req = urllib.request.Request(self.base_url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:  # noqa: S310 - the configured engine URL
                raw = resp.read()
                return json.loads(raw) if raw else {}
        except urllib.error.HTTPError as exc:
            try:
                payload = json.loads(exc.read() or b"{}")
            except ValueError:
                payload = {}
            if exc.code == 401 and auth and self._token is not None:
                self._token = None  # expired or revoked: sign in again once
                return self._request(method, path, body, auth)
            raise ApiError(exc.code, payload) from exc

    def _login(self) -> str:
        if self._token is None:
            self._token = self._request("POST", "/api/auth/token",
                                        {"username": self.username, "password": self.password}, auth=False)["token"]
        return self._token

    def fetch_and_lock(self, worker_id: str, topics: list[dict], max_tasks: int = 1, wait_ms: int = 20_000) -> list:
        return self._request("POST", "/api/external-tasks/fetch-and-lock", {
            "worker_id": worker_id, "max_tasks": max_tasks, "topics": topics,
            "async_response_timeout": wait_ms})["items"]

    def complete(self, task_id: str, worker_id: str, variables: dict | None = None) -> dict:
        return self._request("POST", f"/api/external-tasks/{task_id}/complete",
                             {"worker_id": worker_id, "variables": variables or {}})

    def failure(self, task_id: str, worker_id: str, message: str, details: str | None = None,
                retries: int | None = None, retry_timeout: int | None = None) -> dict:
        body = {"worker_id": worker_id, "error_message": message[:1000] or "failed"}
        if details:
            body["error_details"] = details[:20_000]
        if retries is not None:
            body["retries"] = retries
        if retry_timeout is not None:
            body["retry_timeout"] = retry_timeout
        return self._request("POST", f"/api/external-tasks/{task_id}/failure", body)

    def bpmn_error(self, task_id: str, worker_id: str, code: str, message: str = "",
                   variables: dict | None = None) -> dict:
        return self._request("POST", f"/api/external-tasks/{task_id}/bpmn-error", {
            "worker_id": worker_id, "error_code": code, "error_message": message, "variables": variables or {}})

    def extend_lock(self, task_id: str, worker_id: str, duration_ms: int) -> dict:
        return self._request("POST", f"/api/external-tasks/{task_id}/extend-lock",
                             {"worker_id": worker_id, "new_duration": duration_ms})

    def topics(self) -> list[dict]:
        return self._request("GET", "/api/external-tasks/topics")["items"]


def load_handler(ref: str) -> Callable:
    """``module:function`` -> the function."""
    module, _, name = ref.partition(":")
    if not module or not name:
        raise ValueError(f"handler {ref!r} must be written module:function")
    return getattr(importlib.import_module(module), name)


class Worker:
    """Works one topic until :meth:`stop`."""

    def __init__(self, client: ExternalTaskClient, topic: str, handler: Callable, settings: dict | None = None,
                 lock_ms: int = 60_000, max_tasks: int = 1, worker_id: str | None = None, wait_ms: int = 10_000):
        self.client, self.topic, self.handler = client, topic, handler
        self.settings = settings or {}
        self.lock_ms, self.max_tasks, self.wait_ms = lock_ms, max_tasks, wait_ms
        self.worker_id = worker_id or f"{topic}-{uuid.uuid4().hex[:8]}"
        self._stop = threading.Event()
        self.done = 0

    def stop(self) -> None:
        self._stop.set()

    def run(self) -> None:
        backoff = 1.0
        log.info("worker %s works topic %s", self.worker_id, self.topic)
        while not self._stop.is_set():
            try:
                tasks = self.client.fetch_and_lock(self.worker_id, [{"name": self.topic, "lock_duration": self.lock_ms}],
                                                   self.max_tasks, 0 if self._stop.is_set() else self.wait_ms)
                backoff = 1.0
            except (OSError, ApiError) as exc:
                if isinstance(exc, ApiError) and exc.status in (401, 403, 404):
                    log.error("worker %s cannot fetch topic %s: %s", self.worker_id, self.topic, exc)
                    raise
                log.warning("fetch failed (%s); again in %.0f s", exc, backoff)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 30.0)
                continue
            for task in tasks:
                self.handle(task)  # the tasks in hand are finished and reported even when asked to stop

    def handle(self, task: dict) -> None:
        heartbeat_stop = threading.Event()
        heartbeat = threading.Thread(target=self._heartbeat, args=(task["id"], heartbeat_stop), daemon=True)
        heartbeat.start()
        try:
            variables = self.handler(task, self.settings) or {}
        except BpmnError as err:
            heartbeat_stop.set()
            self._report(self.client.bpmn_error, task["id"], self.worker_id, err.code, err.message, err.variables)
            return
        except Exception as exc:  # noqa: BLE001 - any handler failure is reported to the engine
            heartbeat_stop.set()
            retries = task.get("retries")
            self._report(self.client.failure, task["id"], self.worker_id, f"{type(exc).__name__}: {exc}",
                         None, None if retries is None else max(0, retries - 1))
            return
        finally:
            heartbeat_stop.set()
        if self._report(self.client.complete, task["id"], self.worker_id, variables):
            self.done += 1

    def _report(self, call, *args) -> bool:
        for attempt in range(5):
            try:
                call(*args)
                return True
            except ApiError as exc:
                log.warning("task %s: %s (another worker took it over, or it was cancelled)", args[0], exc)
                return False
            except OSError as exc:  # the engine is away: the lock keeps the task ours for a while
                log.warning("report of task %s failed (%s), retrying", args[0], exc)
                time.sleep(min(2**attempt, 10))
        return False

    def _heartbeat(self, task_id: str, stop: threading.Event) -> None:
        while not stop.wait(self.lock_ms / 2000):
            try:
                self.client.extend_lock(task_id, self.worker_id, self.lock_ms)
            except (OSError, ApiError) as exc:
                log.warning("could not extend the lock of %s: %s", task_id, exc)
