"""Serving for a benchmark: a free port, and waiting until a started server answers."""

from __future__ import annotations

import socket
import subprocess
import time


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(server: subprocess.Popen, url: str, timeout: float, what: str) -> None:
    """Return once ``url`` answers 200; a slow first answer is not a failure. Exit the benchmark
    (naming ``what``) if the server dies or ``timeout`` seconds pass first."""
    import requests

    deadline = time.monotonic() + timeout
    while True:
        try:
            if requests.get(url, timeout=5).status_code == 200:
                return
        except requests.RequestException:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"{what} did not become ready on {url} (exit code {server.poll()})")
        time.sleep(0.2)
