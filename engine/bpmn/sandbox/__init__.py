"""Resource limits for the scripts and expressions of BPMN models.

Scripts and conditions come from process owners' models: ``engine.bpmn.restricted`` restricts
*what* they may do (no imports, no dunders, whitelisted builtins); this package bounds
*how much*. Every script, and every expression that could loop or build large values, runs
in a worker process (:mod:`engine.bpmn.sandbox.worker`) under:

* a CPU time budget per call (``BPM_SCRIPT_CPU_SECONDS``, default 2 s), enforced inside the
  worker by a CPU-time interval timer, and a wall-clock deadline (``BPM_SCRIPT_WALL_SECONDS``,
  default 5 s) after which the parent kills it;
* an address-space limit (``BPM_SCRIPT_MEMORY_MB``, default 256 MiB above the worker's own
  footprint): ``'a' * 10**10`` fails at once instead of swapping the machine;
* an output limit: the data a script leaves, and an expression's value, at most
  ``BPM_MAX_DATA_BYTES`` (default 1 MiB, the same bound as an instance's data).

A breach is an ``ExpressionError`` whose ``limit`` names it; the runtime turns it into an
incident on the element, the transaction that ran it commits at once (so no lock is held
for longer than the deadline) and nothing re-runs it by itself. Workers are started lazily,
reused, and replaced after a breach (:mod:`engine.bpmn.sandbox.pool`).
"""

from __future__ import annotations

from engine.bpmn.sandbox.pool import SandboxPool, configure, pool

__all__ = ["SandboxPool", "configure", "pool"]
