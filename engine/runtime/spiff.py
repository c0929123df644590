"""SpiffWorkflow glue: run an instance to its next wait state and store it compactly.

* The process spec is parsed once per definition version and cached in the process;
  the stored instance state holds only the task tree (``LeanWorkflowConverter``).
* Before every save the task tree is compacted: everything above the lowest finished
  ancestor of all live tasks is history, already recorded in ``bpm_task`` rows and
  audit events, and is dropped. Step cost and state size stay flat however long an
  instance runs (raw SpiffWorkflow re-scans and re-serializes its whole history, and
  its iterators silently stop at tree depth 1000).
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from copy import deepcopy
from dataclasses import dataclass, field
from datetime import UTC, datetime
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer import DEFAULT_CONFIG, BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, WorkflowConverter
from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import (
    ErrorEventDefinition,
    EscalationEventDefinition,
    SignalEventDefinition,
)
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.util import BpmnEvent
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.util.task import TaskState

from engine.bpmn.model import spiff_parse
from engine.bpmn.rewrite import CALL_MESSAGE
from engine.bpmn.specs import CONVERTERS as SPEC_CONVERTERS
from engine.bpmn.specs import DataConditionEventDefinition, ExternalTask
from engine.clock import install_spiff_clock
from engine.errors import Conflict
from engine.runtime.script_engine import SandboxScriptEngine

install_spiff_clock()

LIVE = TaskState.NOT_FINISHED_MASK | TaskState.ERROR
SCRIPT_ENGINE = SandboxScriptEngine()
# Automatic steps (scripts, gateways, events) one call runs before it compacts the task tree:
# SpiffWorkflow's iterators stop at tree depth 1000, which a loop reaches after ~500 turns.
COMPACT_EVERY = 100


@dataclass
class StepLimits:
    """How far one call runs automatic steps: ``chunk`` steps, then the instance is saved and a
    continuation (a timer due at once) goes on in a transaction of its own; ``runaway`` steps
    in a row without reaching a wait state make an incident (an endless loop)."""

    chunk: int = 2_000
    runaway: int = 1_000_000


LIMITS = StepLimits()


def configure_steps(chunk: int, runaway: int) -> None:
    """Set the step limits of this process (``BPM_STEP_CHUNK``, ``BPM_RUNAWAY_STEPS``)."""
    LIMITS.chunk, LIMITS.runaway = max(1, chunk), max(1, runaway)


class LeanWorkflowConverter(BpmnWorkflowConverter):
    """Serializes a workflow without its spec; the spec comes from the definition cache."""

    def to_dict(self, workflow):
        dct = WorkflowConverter.to_dict(self, workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(self, dct, spec=None, subprocess_specs=None):
        workflow = self.target_class(spec, subprocess_specs or {}, script_engine=SCRIPT_ENGINE, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


_config = deepcopy(DEFAULT_CONFIG)
_config.update(SPEC_CONVERTERS)
_config[BpmnWorkflow] = LeanWorkflowConverter
_registry = BpmnWorkflowSerializer.configure(_config)
_serializer = BpmnWorkflowSerializer(_registry)
_encoder = _serializer._encoder_cls
_encode_lock = threading.Lock()


def dump_state(workflow: BpmnWorkflow) -> str:
    # The registry keeps an encoder-mode flag on itself; serialize one at a time.
    with _encode_lock:
        _registry._encoder_mode = True
        try:
            return json.dumps(_serializer.to_dict(workflow), cls=_encoder, separators=(",", ":"))
        finally:
            _registry._encoder_mode = False


def load_state(state: str, spec, subprocess_specs) -> BpmnWorkflow:
    return _registry.restore(json.loads(state), spec=spec, subprocess_specs=subprocess_specs)


def new_workflow(spec, subprocess_specs) -> BpmnWorkflow:
    return BpmnWorkflow(spec, subprocess_specs, script_engine=SCRIPT_ENGINE)


class WorkflowCache:
    """The live workflow of recently stepped instances, so the next step of an instance this
    process stepped last need not rebuild it from the stored state.

    An entry is the workflow exactly as a committed step saved it, keyed by the instance's
    ``lock_version`` and definition after that step: any other change of the row (a step in
    another process, an administrator's edit, a migration) bumps the version, and a mismatch
    is a miss. :meth:`take` removes the entry, so one step at a time owns the object and a
    step that fails or rolls back leaves nothing behind; a step that commits puts its
    workflow back (``engine.runtime.steps.save``). Sharing the object across steps is safe
    because nothing changes data in place: scripts run in worker processes and hand back
    new values, forms and outputs replace top-level names.
    """

    def __init__(self, size: int, max_bytes: int = 64 * 2**20) -> None:
        self.size = size
        self.max_bytes = max_bytes  # the stored state's size stands in for the live object's
        self._entries: OrderedDict[str, tuple[int, int, BpmnWorkflow, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def take(self, instance_id: str, version: int, definition_id: int) -> BpmnWorkflow | None:
        with self._lock:
            entry = self._entries.pop(instance_id, None)
            if entry is not None:
                self._bytes -= entry[3]
        if entry is not None and entry[0] == version and entry[1] == definition_id:
            self.hits += 1
            return entry[2]
        self.misses += 1
        return None

    def keep(self, instance_id: str, version: int, definition_id: int, workflow: BpmnWorkflow,
             state_bytes: int = 0) -> None:
        """Keep ``workflow`` as the instance's at ``version``; the least recently stepped go first
        when more than ``size`` instances or ``max_bytes`` of stored state are kept."""
        if self.size <= 0 or state_bytes > self.max_bytes:
            return
        with self._lock:
            old = self._entries.pop(instance_id, None)
            if old is not None:
                self._bytes -= old[3]
            self._entries[instance_id] = (version, definition_id, workflow, state_bytes)
            self._bytes += state_bytes
            while len(self._entries) > self.size or self._bytes > self.max_bytes:
                self._bytes -= self._entries.popitem(last=False)[1][3]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0


class SpecCache:
    """Parsed specs per definition id (a definition version never changes)."""

    def __init__(self) -> None:
        self._specs: dict[int, tuple] = {}

    def get(self, definition_id: int, xml: str | bytes, process_id: str):
        hit = self._specs.get(definition_id)
        if hit is None:
            data = xml.encode("utf-8") if isinstance(xml, str) else xml
            hit = self._specs[definition_id] = spiff_parse(data, process_id)
        return hit


def bpmn_id(task) -> str | None:
    return getattr(task.task_spec, "bpmn_id", None)


def compact(workflow: BpmnWorkflow) -> int:
    """Drop finished history above the live frontier; return how many tasks were removed."""
    live = [t for t in workflow.tasks.values() if t.state & LIVE]
    if not live:
        return 0
    chains = []
    for task in live:
        chain, node = [], task
        while node is not None:
            chain.append(node)
            node = node.parent
        chains.append(chain[::-1])
    lca = None
    for i, node in enumerate(chains[0]):
        if all(len(c) > i and c[i] is node for c in chains):
            lca = node
        else:
            break
    while lca is not None and lca.state & LIVE:
        lca = lca.parent
    if lca is None or lca.parent is None:
        return 0
    keep, stack = set(), [lca]
    while stack:
        node = stack.pop()
        keep.add(node.id)
        stack.extend(node.children)
    removed = [tid for tid in workflow.tasks if tid not in keep]
    lca.data = dict(lca.data)
    for tid in removed:
        del workflow.tasks[tid]
        if tid in workflow.subprocesses:
            del workflow.subprocesses[tid]
    lca._parent = None
    workflow.task_tree = lca
    if workflow.last_task is not None and workflow.last_task.id not in keep:
        workflow.last_task = lca
    return len(removed)


@dataclass
class PendingTimer:
    task_id: str
    element_id: str
    fire_at: datetime


@dataclass
class StepResult:
    """What the caller must persist after running a workflow."""

    status: str
    data: dict
    ready_tasks: list = field(default_factory=list)
    timers: list[PendingTimer] = field(default_factory=list)
    incident: dict | None = None
    completed_elements: set[str] = field(default_factory=set)
    thrown: list[tuple[str, dict]] = field(default_factory=list)
    # automatic steps remain: save, and continue in a new transaction ({task_id, element_id, steps})
    continuation: dict | None = None
    # what the instance now waits for by name: {(kind, name, element_id, task_id)}, kind "message" or "signal"
    subscriptions: set = field(default_factory=set)
    # the data a waiting call activity's task holds (its scope's, e.g. a multi-instance item), by task id
    call_data: dict = field(default_factory=dict)
    # thrown for other instances: signals (every one thrown) and messages nothing in the instance caught,
    # as (kind, name, element_id, payload)
    events_out: list = field(default_factory=list)
    # the external tasks that wait for a worker (or failed for good), by task id (engine/runtime/external.py)
    external: dict = field(default_factory=dict)


def _timer_due(task) -> datetime | None:
    value = task._get_internal_data("event_value")
    if value is None:
        return None
    if isinstance(value, dict):
        if value.get("cycles") == 0:
            return None
        value = value.get("next")
    try:
        due = TimerEventDefinition.get_datetime(value) if isinstance(value, str) else None
    except ValueError:
        return None
    if due is not None and due.tzinfo is None:
        due = due.replace(tzinfo=UTC)
    return due.astimezone(UTC) if due else None


def _has(definition, kind) -> bool:
    return any(isinstance(d, kind) for d in _each(definition))


def current_data(workflow: BpmnWorkflow) -> dict:
    """The instance's data as the engine shows and stores it: the last finished step's data with
    what the tasks now open carry."""
    last = workflow.last_task
    data = dict(last.data) if last is not None else {}
    for task in workflow.get_tasks(state=TaskState.READY, manual=True):
        data.update(task.data)
    return data


def refresh_conditions(workflow: BpmnWorkflow) -> bool:
    """Evaluate the conditions of waiting conditional events over the current data; True when
    one fired (its element is now ready to run)."""
    waiting = [t for t in list(workflow.event_manager.tasks.values())
               if t.state == TaskState.WAITING and _has(t.task_spec.event_definition, DataConditionEventDefinition)]
    if not waiting:
        return False
    fired = False
    workflow.engine_view = current_data(workflow)
    try:
        for task in waiting:
            definition = task.task_spec.event_definition
            if isinstance(definition, MultipleEventDefinition):  # e.g. a branch of an event-based gateway
                seen = task.internal_data.get("seen_events", [])
                for item in definition.event_definitions:
                    if (isinstance(item, DataConditionEventDefinition) and item.has_fired(task)
                            and not any(e.event_definition == item for e in seen)):
                        seen.append(BpmnEvent(item))
                task.internal_data["seen_events"] = seen
            task.task_spec._update(task)
            fired = fired or task.state != TaskState.WAITING
    finally:
        workflow.engine_view = None  # a condition reached later in the run reads its token's own data
    return fired


def start_on(workflow: BpmnWorkflow, event: BpmnEvent) -> None:
    """Start a new workflow at the start event that catches ``event`` (a message or signal start),
    and at no other: the process's other start events are cancelled, as a process starts once."""
    from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent

    for _ in range(5):  # the synthetic start tasks before the start events
        ready = [t for t in workflow.get_tasks(state=TaskState.READY) if not isinstance(t.task_spec, StartEvent)]
        if not ready:
            break
        for task in ready:
            task.run()
    starts = [t for t in workflow.tasks.values() if isinstance(t.task_spec, StartEvent) and t.state & LIVE]
    for task in starts:
        task.task_spec._update(task)
    workflow.catch(event)
    fired = [t for t in starts if t.state == TaskState.READY and _catches(t, event)]
    if not fired:
        raise Conflict(f"no start event of the process catches {event.event_definition.name!r}")
    for task in starts:
        if task not in fired and task.state & LIVE:
            task.cancel()
    fired[0].run()


def _catches(task, event) -> bool:
    return any(d == event.event_definition for d in _each(task.task_spec.event_definition))


def _error_task(workflow):
    return next(iter(workflow.get_tasks(state=TaskState.ERROR)), None)


class AsyncBoundary(Exception):  # noqa: N818 - a control signal, not an error
    """``camunda:asyncBefore``/``asyncAfter``: the run stops here; the step commits and a worker
    continues in a transaction of its own (the same continuation as a long run's)."""


class _Run:
    """Runs READY automatic tasks pass by pass (as ``do_engine_steps`` does), counting steps,
    compacting the tree as it grows, and stopping at the chunk budget."""

    def __init__(self, workflow: BpmnWorkflow, steps_before: int) -> None:
        self.workflow = workflow
        self.steps = 0
        self.total = steps_before
        self.thrown: list[tuple[str, dict]] = []
        self.events_out: list[tuple] = []
        self.completed: set[str] = set()

    def did_complete(self, task) -> None:
        self.steps += 1
        self.total += 1
        if (bid := bpmn_id(task)) is not None:
            self.completed.add(bid)  # compaction drops finished tasks: remember what ran
        # none intermediate throw events carry engine actions (e.g. start a linked process)
        if type(task.task_spec).__name__ == "IntermediateThrowEvent":
            self.thrown.append((bid, dict(task.data)))
        definition = getattr(task.task_spec, "event_definition", None)
        if isinstance(definition, SignalEventDefinition) and not hasattr(task.task_spec, "cancel_activity") \
                and type(task.task_spec).__name__ in ("IntermediateThrowEvent", "EndEvent"):
            # a signal is broadcast: to this instance (SpiffWorkflow did that) and to every other one
            self.events_out.append(("signal", definition.name, bid, dict(task.data)))

    def will_complete(self, task) -> None:
        spec = task.task_spec
        parent = task.parent
        boundary = getattr(spec, "async_before", False) or (
            parent is not None and getattr(parent.task_spec, "async_after", False) and parent.state == TaskState.COMPLETED)
        if boundary and not task.internal_data.get("async_released"):
            task.internal_data["async_released"] = True
            raise AsyncBoundary()

    def run(self) -> bool:
        """True when no automatic step is left, False when the chunk budget ran out first (or an
        asynchronous continuation was reached)."""
        try:
            return self._run()
        except AsyncBoundary:
            return False

    def _run(self) -> bool:
        compacted_at = 0
        while True:
            while self.workflow._do_engine_steps(self.will_complete, self.did_complete):
                if self.steps - compacted_at >= COMPACT_EVERY:
                    compact(self.workflow)
                    compacted_at = self.steps
                if self.steps >= LIMITS.chunk and self.next_automatic() is not None:
                    return False
            self.workflow.refresh_timers()
            if not refresh_conditions(self.workflow):
                return True

    def next_automatic(self):
        """A READY task the engine runs by itself (not a user task), searched in the whole tree."""
        return next((t for t in self.workflow.tasks.values()
                     if t.state == TaskState.READY and not t.task_spec.manual), None)


def advance(workflow: BpmnWorkflow, steps_before: int = 0) -> StepResult:
    """Run engine steps to the next wait state and describe the result.

    A failing script or expression leaves its task in ERROR; the instance goes to
    ``incident`` with the element and message, and the state is still saved so that a
    retry continues from the failed element. A run longer than the chunk budget stops with a
    ``continuation`` (the caller saves and schedules it); ``steps_before`` counts the steps a
    continued run already took without waiting, for the runaway guard.
    """
    incident = None
    runner = _Run(workflow, steps_before)
    finished = True
    try:
        finished = runner.run()
    except SpiffWorkflowException as exc:
        task = getattr(exc, "task", None) or _error_task(workflow)
        if task is not None and not task.has_state(TaskState.ERROR):
            task._set_state(TaskState.ERROR)
        incident = {
            "element_id": bpmn_id(task) if task is not None else None,
            "task_id": str(task.id) if task is not None else None,
            "message": str(exc),
        }
    except Exception as exc:  # noqa: BLE001 - SpiffWorkflow raises bare Exception/OverflowError here
        # Not a script error but the engine failing on a value taken from the data, e.g. a
        # timer duration or date that does not parse or lies beyond year 9999: refuse the
        # step (nothing is saved) instead of a server error.
        raise Conflict(f"the process cannot continue with this data: {type(exc).__name__}: {exc}") from exc
    continuation = None
    if incident is None and not finished:
        task = runner.next_automatic()
        if runner.total >= LIMITS.runaway:
            task._set_state(TaskState.ERROR)
            incident = {"element_id": bpmn_id(task), "task_id": str(task.id),
                        "message": f"[limit: steps] {runner.total} automatic steps in a row without waiting for "
                                   f"anyone or anything (BPM_RUNAWAY_STEPS={LIMITS.runaway}): an endless loop? "
                                   "Correct the data or the model, then retry to go on"}
        else:
            continuation = {"task_id": str(task.id), "element_id": bpmn_id(task) or task.task_spec.name,
                            "steps": runner.total}
    reached_the_end = workflow.completed  # set by the End task (is_completed below sets it too)
    result = describe(workflow, incident)
    if incident is None and result.status == "completed" and not reached_the_end and _unfinished(workflow):
        # never a silent completion with work left: the engine lost sight of a token
        task = _unfinished(workflow)
        result.status, result.incident = "incident", {
            "element_id": bpmn_id(task), "task_id": str(task.id),
            "message": "the process reported completion while an element was still active; nothing was skipped, "
                       "an administrator can retry"}
    result.thrown = runner.thrown
    result.completed_elements |= runner.completed
    result.continuation = continuation
    result.events_out = list(runner.events_out)
    for e in workflow.get_events():  # thrown, and caught nowhere in the instance
        if isinstance(e.event_definition, MessageEventDefinition):
            result.events_out.append(("message", e.event_definition.name, None, dict(e.payload or {})))
        elif isinstance(e.event_definition, ErrorEventDefinition | EscalationEventDefinition):
            kind = "error" if isinstance(e.event_definition, ErrorEventDefinition) else "escalation"
            result.events_out.append((kind, e.event_definition.code, e.event_definition.name, dict(e.payload or {})))
    return result


def _each(definition) -> list:
    return list(definition.event_definitions) if isinstance(definition, MultipleEventDefinition) else [definition]


def _kind(definition) -> str | None:
    if isinstance(definition, MessageEventDefinition):
        return "message"
    if isinstance(definition, SignalEventDefinition):
        return "signal"
    return None


def subscriptions(workflow: BpmnWorkflow) -> set[tuple[str, str, str, str]]:
    """``{(kind, name, element_id, task_id)}``: the messages and signals the instance waits for
    now, at a waiting catch event, receive task, boundary event or event-based gateway (the
    waiting task's id: the same element reached again is a new wait), or at the start of one of
    its event subprocesses (task id empty)."""
    out = set()
    for task in workflow.event_manager.tasks.values():
        if task.has_state(TaskState.WAITING):
            for definition in _each(task.task_spec.event_definition):
                if (kind := _kind(definition)) is not None:
                    out.add((kind, definition.name, bpmn_id(task) or task.task_spec.name, str(task.id)))
    for spec_name in workflow.spec.start.trigger_specs:
        for start in workflow.subprocess_specs[spec_name].bpmn_start_events:
            for definition in _each(start.event_definition):
                if (kind := _kind(definition)) is not None:
                    out.add((kind, definition.name, start.bpmn_id, ""))
    return out


def _unfinished(workflow: BpmnWorkflow):
    """A task of the whole tree that is not finished (the iterators SpiffWorkflow's own checks
    use stop at a depth; the task table does not)."""
    return next((t for t in workflow.tasks.values() if t.state & LIVE), None)


def describe(workflow: BpmnWorkflow, incident: dict | None = None) -> StepResult:
    completed = {
        bid for t in workflow.tasks.values() if t.state == TaskState.COMPLETED and (bid := bpmn_id(t)) is not None
    }
    if incident is None and (err := _error_task(workflow)) is not None:
        incident = {"element_id": bpmn_id(err), "task_id": str(err.id),
                    "message": err._get_internal_data("incident_message") or "task is in error"}
    if incident is not None:
        status = "incident"
    elif workflow.is_completed():
        status = "completed"
    else:
        status = "running"
    ready = workflow.get_tasks(state=TaskState.READY, manual=True)
    timers = []
    data = current_data(workflow)
    for task in workflow.event_manager.tasks.values():
        if _has(task.task_spec.event_definition, TimerEventDefinition) and task.has_state(TaskState.WAITING):
            due = _timer_due(task)
            if due is not None:
                timers.append(PendingTimer(str(task.id), bpmn_id(task) or task.task_spec.name, due))
    result = StepResult(status, data, ready, timers, incident, completed)
    # what it waits for by name stands while it is unfinished (an incident elsewhere, a suspension)
    result.subscriptions = subscriptions(workflow) if status != "completed" else set()
    result.external = {str(t.id): t for t in workflow.tasks.values()
                       if isinstance(t.task_spec, ExternalTask) and t.state in (TaskState.STARTED, TaskState.ERROR)}
    for _kind, name, _element, task_id in result.subscriptions:
        if name.startswith(CALL_MESSAGE) and task_id:
            result.call_data[task_id] = dict(workflow.get_task_from_id(UUID(task_id)).data)
    return result
