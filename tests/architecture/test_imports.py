"""The import structure of the code: no cycles among modules (function-body imports count), and
the layers of pyproject.toml's import-linter contracts (also run by `make lint`)."""

from __future__ import annotations

import grimp
import pytest

PACKAGES = ("engine", "web", "bpm_cli")


@pytest.fixture(scope="module")
def graph():
    return grimp.build_graph(*PACKAGES)


def _cycles(graph) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child.split(".")[0] not in PACKAGES:
                    continue
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.find_modules_directly_imported_by(child)))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    found.append(sorted(group))
    return found


def test_no_module_imports_itself_back_through_others(graph):
    assert _cycles(graph) == []


def test_a_cycle_would_be_found():
    """The check is not vacuous: a graph with a loop through a function-body import is caught."""
    fake = grimp.ImportGraph()
    for name in ("engine", "engine.a", "engine.b", "engine.c"):
        fake.add_module(name)
    fake.add_import(importer="engine.a", imported="engine.b")
    fake.add_import(importer="engine.b", imported="engine.c")
    fake.add_import(importer="engine.c", imported="engine.a")  # e.g. an import inside a function
    assert _cycles(fake) == [["engine.a", "engine.b", "engine.c"]]


def test_the_layer_contracts_are_kept():
    from importlinter.cli import lint_imports

    assert lint_imports() == 0
