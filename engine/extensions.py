"""Features as extensions: what a feature adds to the engine is registered, never named by the core.

A feature (the electronic seal, KPI reviews, dynamic options, SLAs, linked starts, scheduled
starts ...) registers one :class:`Extension` in :data:`REGISTRY`:

* the ``camunda:properties`` keys it owns (``"seal"``, or a prefix ending in ``.`` such as
  ``"sla."``), on which kinds of element, and the deploy-time ``check`` of their values;
* hooks on a definition being deployed, a user task being created, read, submitted, completed
  (before it is written: it may change the data or refuse) and closed, and a throw event reached;
* ``prepare``: work that must happen before, and outside, a completion's transaction (the seal
  PIN); a ``task_completing`` hook asks for it by raising :class:`PreparationRequired`;
* the timer kinds it fires (``timers``).

The runtime loops over what is registered; a property key that no extension owns is a deploy
error naming the element and the keys that are known. The composition root
(``engine.features.install``) registers every feature once per process.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Element:
    """A BPMN element as a deploy check sees it: its id, kind (``userTask``, ``process``,
    ``intermediateThrowEvent``, ``message`` ...), ``camunda:properties`` and model info."""

    id: str | None
    kind: str
    properties: Mapping[str, str]
    info: Mapping = field(default_factory=dict)


@dataclass(frozen=True)
class DeployContext:
    """What a deploy check may ask about the world: forms and processes that exist."""

    process_id: str
    form_exists: Callable[[str], bool]
    process_exists: Callable[[str], bool] | None = None


@dataclass(frozen=True)
class TimerKind:
    """A kind of ``bpm_timer`` row an extension fires. ``fire(engine, uow, timer)`` returns True
    when it did its work, False when there was nothing left to do; with ``locks_task`` the
    worker first takes the timer's task row (busy when someone else holds it)."""

    fire: Callable
    locks_task: bool = False


@dataclass(frozen=True)
class Extension:
    name: str
    properties: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ("userTask",)
    check: Callable[[Element, DeployContext], list[str]] | None = None
    deployed: Callable | None = None  # (uow, row, meta) after a new version is stored
    task_creating: Callable | None = None  # (uow, inst, definition, row) may add to the row before it is inserted
    task_read: Callable | None = None  # (session, actor, task, inst) -> extra data for the reader
    task_submitted: Callable | None = None  # (task, data) -> data, before form validation
    task_completing: Callable | None = None  # (ctx: Completion) -> data to store, may raise to refuse
    task_closed: Callable | None = None  # (uow, task_id, completed: bool, at, due_at) completed or cancelled
    thrown: Callable | None = None  # (uow, inst, element_id, properties, data) a throw event was reached
    saved: Callable | None = None  # (uow, inst, definition, step: SavedStep) after a step of an instance is written
    working_day: Callable | None = None  # (session, day: date) -> bool, the working-day calendar (the SLA feature's)
    prepare: Callable | None = None  # (engine, actor, task_id, data) -> secrets, before the transaction
    timers: Mapping[str, TimerKind] = field(default_factory=dict)

    def owns(self, key: str) -> bool:
        return any(key == p or (p.endswith(".") and key.startswith(p)) for p in self.properties)


@dataclass
class Completion:
    """What a ``task_completing`` hook sees: the unit of work, the task row, the instance, its
    definition and SpiffWorkflow task, the form, and the validated data it may change."""

    engine: object
    uow: object
    task: object
    inst: object
    definition: object
    spiff_task: object
    form: dict | None
    data: dict


class PreparationRequired(Exception):
    """Raised by a ``task_completing`` hook when its extension's ``prepare`` must run first,
    outside the transaction (``engine.runtime.tasks.complete_task`` runs it and tries again)."""

    def __init__(self, extension: str) -> None:
        super().__init__(extension)
        self.extension = extension


class Registry:
    def __init__(self) -> None:
        self._extensions: dict[str, Extension] = {}

    def register(self, extension: Extension) -> None:
        self._extensions[extension.name] = extension

    def __iter__(self):
        return iter(self._extensions.values())

    def get(self, name: str) -> Extension:
        return self._extensions[name]

    def hooks(self, name: str) -> list[Callable]:
        return [hook for ext in self._extensions.values() if (hook := getattr(ext, name)) is not None]

    def known_keys(self, kind: str) -> list[str]:
        return sorted(p + ("*" if p.endswith(".") else "") for ext in self for p in ext.properties if kind in ext.kinds)

    def check(self, element: Element, ctx: DeployContext) -> list[str]:
        """Deploy-time messages for ``element``'s properties: unknown keys, and each owner's check."""
        messages: list[str] = []
        owners: list[Extension] = []
        for key in element.properties:
            owner = next((ext for ext in self if ext.owns(key) and element.kind in ext.kinds), None)
            if owner is None:
                elsewhere = next((ext for ext in self if ext.owns(key)), None)
                if elsewhere is not None:
                    messages.append(f"property {key!r} does not belong on a {element.kind} "
                                    f"(it belongs on: {', '.join(elsewhere.kinds)})")
                else:
                    known = ", ".join(self.known_keys(element.kind)) or "none"
                    messages.append(f"unknown property {key!r} on a {element.kind}; known: {known}")
            elif owner not in owners:
                owners.append(owner)
        for ext in owners:
            if ext.check is not None:
                messages.extend(ext.check(element, ctx))
        return messages

    def timer_kind(self, kind: str) -> TimerKind | None:
        return next((ext.timers[kind] for ext in self if kind in ext.timers), None)


REGISTRY = Registry()
