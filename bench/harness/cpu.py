"""Where the machine's CPU went during a measurement (Linux ``/proc``): the whole machine, this
process (the benchmark's client threads) and a server's process tree, as shares of all cores.

    with CpuWatch(server_pid) as watch:
        ...  # the measured work
    watch.report()  # {"machine_busy_share", "client_share", "server_share", "other_share"}

"other" is everything else that ran: the database server above all.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


def _machine() -> tuple[float, float]:
    """(busy, total) jiffies of all cores since boot."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def _tree_seconds(root: int) -> float:
    """CPU seconds (user + system) of ``root`` and every process below it, as they are now."""
    parents, used = {}, {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        rest = stat.rsplit(")", 1)[1].split()
        parents[int(entry.name)] = int(rest[1])
        used[int(entry.name)] = (int(rest[11]) + int(rest[12])) / TICK
    total, stack = 0.0, [root]
    while stack:
        pid = stack.pop()
        total += used.get(pid, 0.0)
        stack.extend(child for child, parent in parents.items() if parent == pid)
    return total


class CpuWatch:
    def __init__(self, server_pid: int | None = None) -> None:
        self.server_pid = server_pid

    def __enter__(self) -> CpuWatch:
        self._wall = time.perf_counter()
        self._machine = _machine()
        self._client = time.process_time()
        self._server = _tree_seconds(self.server_pid) if self.server_pid else 0.0
        return self

    def __exit__(self, *exc) -> None:
        self.wall = time.perf_counter() - self._wall
        busy, total = _machine()
        self.machine_busy = (busy - self._machine[0]) / max(1, total - self._machine[1])
        self.client = time.process_time() - self._client
        self.server = (_tree_seconds(self.server_pid) - self._server) if self.server_pid else 0.0

    def report(self) -> dict:
        capacity = self.wall * (os.cpu_count() or 1)
        client, server = self.client / capacity, self.server / capacity
        return {"machine_busy_share": round(self.machine_busy, 3), "client_share": round(client, 3),
                "server_share": round(server, 3),
                "other_share": round(max(0.0, self.machine_busy - client - server), 3)}
