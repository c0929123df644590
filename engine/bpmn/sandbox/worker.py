"""The sandbox worker process: runs scripts and expressions under CPU and memory limits.

Started by :class:`engine.bpmn.sandbox.pool.SandboxPool` as ``python -m engine.bpmn.sandbox.worker
LIMITS_JSON``; reads length-prefixed JSON requests on stdin and answers on stdout. Imports
only ``engine.bpmn.restricted`` (and what it needs): no SpiffWorkflow, no database, no web.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import struct
import sys

HEADER = struct.Struct(">I")


class CpuLimit(BaseException):
    """Raised by the CPU-time timer inside the script; BaseException so that no ``except
    Exception`` of the script machinery can swallow it."""


def _on_cpu_timer(signum, frame):
    raise CpuLimit


def _address_space() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[0]) * resource.getpagesize()


def _limit_resources(memory_bytes: int) -> None:
    """Hard bounds that hold whatever the code does: no more address space than the worker
    has now plus ``memory_bytes``, no files written, few descriptors."""
    ceiling = _address_space() + memory_bytes
    resource.setrlimit(resource.RLIMIT_AS, (ceiling, ceiling))
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def read_frame(stream) -> bytes | None:
    head = stream.read(HEADER.size)
    if len(head) < HEADER.size:
        return None
    body = stream.read(HEADER.unpack(head)[0])
    return body


def write_frame(stream, body: bytes) -> None:
    stream.write(HEADER.pack(len(body)) + body)
    stream.flush()


def _data(value):
    """json.dumps ``default``: what is not JSON data cannot leave the worker."""
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"the value is a {type(value).__name__}, not data (text, number, list ...)")


def run(request: dict, limits: dict) -> dict:
    from engine.bpmn.restricted import ExpressionError, evaluate_here, execute_here
    from engine.clock import clock

    clock.set(_instant(request["now"]))
    budget = limits["cpu_seconds"]
    signal.setitimer(signal.ITIMER_PROF, budget)
    try:
        if request["op"] == "eval":
            result = {"ok": True, "value": evaluate_here(request["source"], request["names"])}
        else:
            data = request["data"]
            changed, deleted = execute_here(request["source"], data, request.get("context"))
            after = {k: v for k, v in data.items() if k not in deleted}
            after.update(changed)
            size = len(json.dumps(after, ensure_ascii=False, default=_data).encode("utf-8"))
            if size > limits["max_output_bytes"]:
                return _breach("output", f"the script would leave {size} bytes of data, more than the limit of "
                                         f"{limits['max_output_bytes']} bytes")
            result = {"ok": True, "changed": changed, "deleted": deleted}
    except CpuLimit:
        return _breach("cpu", f"it used more than its CPU time limit of {budget:g} s")
    except MemoryError:
        return _breach("memory", f"it needed more than its memory limit of {limits['memory_bytes'] // 2**20} MiB")
    except ExpressionError as err:
        return {"ok": False, "message": str(err), "lineno": err.lineno, "limit": None}
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
    return result


def _instant(text: str):
    from datetime import datetime

    return datetime.fromisoformat(text)


def _breach(limit: str, message: str) -> dict:
    return {"ok": False, "message": message, "lineno": None, "limit": limit}


def main() -> None:
    limits = json.loads(sys.argv[1])
    signal.signal(signal.SIGPROF, _on_cpu_timer)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C of the server: the parent ends us
    import engine.bpmn.restricted  # noqa: F401 - load everything before the address space is fixed

    _limit_resources(limits["memory_bytes"])
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    while True:
        frame = read_frame(stdin)
        if frame is None:
            return  # the parent went away
        try:
            answer = run(json.loads(frame), limits)
            body = json.dumps(answer, ensure_ascii=False, default=_data).encode("utf-8")
        except MemoryError:
            answer = _breach("memory", f"it needed more than its memory limit of {limits['memory_bytes'] // 2**20} MiB")
            body = json.dumps(answer).encode()
        except (TypeError, ValueError) as exc:
            answer = {"ok": False, "message": str(exc), "lineno": None, "limit": None}
            body = json.dumps(answer).encode()
        if len(body) > limits["max_output_bytes"] + 65536:
            answer = _breach("output", f"its value is larger than the limit of {limits['max_output_bytes']} bytes")
            body = json.dumps(answer).encode()
        write_frame(stdout, body)
        if answer.get("limit") == "memory":
            os._exit(0)  # after a memory breach the heap is not to be trusted: the pool starts a new worker


if __name__ == "__main__":
    main()
