"""A pytest plugin for ``bench/call_paths.py``: which engine modules the first task completion
and the first timer firing of a test run pass through, and which of those calls go into a
module that itself imports the caller (a call back up the layers)."""

import importlib
import json
import os
import sys

RESULTS = {}
TARGETS = {"task completion": [("engine.runtime.tasks", "complete"), ("engine.tasks", "complete")],
           "timer firing": [("engine.scheduling.timers", "_fire"), ("engine.timers", "_fire")]}


def _module_of(frame, root):
    f = frame.f_code.co_filename
    if not f.startswith(root + "/engine/"):
        return None
    rel = f[len(root) + 1:-3].replace("/", ".")
    return rel[:-9] if rel.endswith(".__init__") else rel


def _wrap(name, mod, attr, root):
    original = getattr(mod, attr)

    def wrapper(*a, **kw):
        if name in RESULTS:
            return original(*a, **kw)
        seq, edges = [], []

        def prof(frame, event, arg):
            if event != "call":
                return
            callee = _module_of(frame, root)
            if callee is None:
                return
            back = frame.f_back
            caller = None
            while back is not None and caller is None:
                caller = _module_of(back, root)
                back = back.f_back
            if callee not in seq:
                seq.append(callee)
            if caller and caller != callee:
                edges.append((caller, callee))
        old = sys.getprofile()
        sys.setprofile(prof)
        try:
            return original(*a, **kw)
        finally:
            sys.setprofile(old)
            RESULTS[name] = {"modules": [mod.__name__] + [m for m in seq if m != mod.__name__], "edges": edges}
    setattr(mod, attr, wrapper)


def pytest_configure(config):
    root = str(config.rootpath)
    for name, options in TARGETS.items():
        for modname, attr in options:
            try:
                mod = importlib.import_module(modname)
            except ImportError:
                continue
            _wrap(name, mod, attr, root)
            break


def pytest_unconfigure(config):
    import grimp
    graph = grimp.build_graph("engine")
    out = {}
    for name, r in RESULTS.items():
        edges = list(dict.fromkeys(r["edges"]))
        climbs = [(a, b) for a, b in edges if graph.chain_exists(importer=b, imported=a)]
        out[name] = {"modules": len(r["modules"]), "module_list": r["modules"], "moves": len(edges),
                     "calls into a module that imports the caller": len(climbs), "climbs": climbs}
    with open(os.environ["CALL_PATHS_OUT"], "w") as fh:
        json.dump(out, fh, indent=1)
