"""engine.runtime.spiff without a database: lean state, compaction, long loops, joins, timers.

Every step goes through ``compact`` + ``dump_state`` + ``load_state``, as the engine
stores an instance after each step.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from SpiffWorkflow.util.task import TaskState

from engine.bpmn.model import spiff_parse
from engine.clock import clock
from engine.runtime.spiff import advance, compact, dump_state, load_state, new_workflow
from tests.conftest import FIXTURES

LOOPS = 1000


# --------------------------------------------------------------------------- helpers


def parse(name: str, process_id: str):
    return spiff_parse((FIXTURES / name).read_bytes(), process_id)


@pytest.fixture(scope="module")
def loop_spec():
    return parse("loop.bpmn", "loop")


def store(workflow, spec):
    """Persist and reload as the engine does; return (reloaded workflow, stored state)."""
    compact(workflow)
    state = dump_state(workflow)
    return load_state(state, *spec), state


def ready(workflow) -> dict:
    return {t.task_spec.bpmn_id: t for t in workflow.get_tasks(state=TaskState.READY, manual=True)}


def complete(workflow, element: str, **data):
    task = ready(workflow)[element]
    task.data.update(data)
    task.run()
    return advance(workflow)


def start(spec, **data):
    workflow = new_workflow(*spec)
    workflow.task_tree.data.update(data)
    result = advance(workflow)
    return workflow, result


# --------------------------------------------------------------------------- long loops


def test_loop_of_1000_iterations_keeps_running_with_flat_state(loop_spec):
    workflow, result = start(loop_spec, count=0)
    sizes, tree = {}, []
    for i in range(1, LOOPS + 1):
        workflow, state = store(workflow, loop_spec)
        sizes[i] = len(state)
        tree.append(len(workflow.tasks))
        assert list(ready(workflow)) == ["work"], f"stalled at iteration {i}"
        result = complete(workflow, "work", done=(i == LOOPS), note=f"round {i}")
        assert result.incident is None
    assert result.status == "completed"
    assert result.data["count"] == LOOPS and result.data["done"] is True and result.data["note"] == f"round {LOOPS}"
    assert sizes[LOOPS] <= 2 * sizes[10], (sizes[10], sizes[LOOPS])
    assert max(tree) <= 20, max(tree)  # bounded, however many rounds
    assert {"count", "more", "end"} <= result.completed_elements
    workflow, _ = store(workflow, loop_spec)
    assert workflow.is_completed()


def test_uncompacted_control_stalls_silently(loop_spec):
    """Raw SpiffWorkflow (no compaction) stops finding ready tasks at tree depth 1000."""
    workflow, _ = start(loop_spec, count=0)
    stalled_at = None
    for i in range(1, 600):
        tasks = ready(workflow)
        if not tasks:
            stalled_at = i
            break
        tasks["work"].data["done"] = False  # never asked to stop
        tasks["work"].run()
        workflow.do_engine_steps()
    assert stalled_at is not None and 300 < stalled_at < 600, stalled_at
    assert workflow.task_tree.data.get("done") is None
    # ... although the process never reached its end event
    ends = [t for t in workflow.tasks.values() if t.task_spec.bpmn_id == "end" and t.state == TaskState.COMPLETED]
    assert ends == []


def test_compaction_keeps_ready_task_data_and_ids(loop_spec):
    workflow, _ = start(loop_spec, count=0, customer="张三")
    for _ in range(5):
        complete(workflow, "work", done=False)
    before = ready(workflow)["work"]
    removed = compact(workflow)
    assert removed > 0
    after = ready(workflow)["work"]
    assert after.id == before.id and after.data == before.data
    assert after.data["count"] == 5 and after.data["customer"] == "张三"
    reloaded, state = store(workflow, loop_spec)
    assert json.loads(state)  # plain JSON
    assert ready(reloaded)["work"].id == before.id
    assert compact(reloaded) == 0  # nothing more to drop


# --------------------------------------------------------------------------- parallel join


@pytest.mark.parametrize("order", [("left", "right"), ("right", "left")])
def test_parallel_split_and_join_with_compaction_after_every_step(order):
    spec = parse("parallel.bpmn", "parallel")
    workflow, result = start(spec, origin="start")
    workflow, _ = store(workflow, spec)
    assert sorted(ready(workflow)) == ["left", "right"]

    first, second = order
    visited = set()  # the engine accumulates this per step: compaction drops the history
    result = complete(workflow, first, **{first: 1})
    visited |= result.completed_elements
    workflow, _ = store(workflow, spec)
    assert sorted(ready(workflow)) == [second]  # the join waits for the other branch
    assert result.status == "running"

    result = complete(workflow, second, **{second: 2})
    visited |= result.completed_elements
    workflow, _ = store(workflow, spec)
    assert sorted(ready(workflow)) == ["after"]  # joined exactly once
    assert result.data == {"origin": "start", "left": 1 if first == "left" else 2, "right": 1 if first == "right" else 2}

    result = complete(workflow, "after")
    visited |= result.completed_elements
    assert result.status == "completed"
    assert {"fork", "left", "right", "join", "after", "end"} <= visited
    joins = [t for t in workflow.tasks.values() if t.task_spec.bpmn_id == "after"]
    assert len(joins) == 1


# --------------------------------------------------------------------------- timers


@pytest.fixture
def pinned_clock():
    t0 = datetime(2030, 1, 1, 8, 0, tzinfo=UTC)
    clock.set(t0)
    yield t0
    clock.reset()


def fire(workflow):
    workflow.refresh_timers()
    return advance(workflow)


@pytest.mark.parametrize("in_time", [False, True])
def test_boundary_timer_survives_dump_load_and_compaction(pinned_clock, in_time):
    t0 = pinned_clock
    spec = parse("timers.bpmn", "timers")
    workflow, _ = start(spec)
    result = complete(workflow, "first", note="a")
    assert [(t.element_id, t.fire_at) for t in result.timers] == [("wait", t0 + timedelta(hours=1))]
    workflow, _ = store(workflow, spec)

    clock.advance(timedelta(hours=1, seconds=1))
    result = fire(workflow)
    assert list(ready(workflow)) == ["second"]
    due = t0 + timedelta(hours=1, minutes=30, seconds=1)
    assert [(t.element_id, t.fire_at) for t in result.timers] == [("second_timeout", due)]
    workflow, _ = store(workflow, spec)
    workflow, _ = store(workflow, spec)  # twice: compaction of an already compact tree
    result = advance(workflow)
    assert [(t.element_id, t.fire_at) for t in result.timers] == [("second_timeout", due)]

    clock.advance(timedelta(minutes=10))
    assert fire(workflow).timers and list(ready(workflow)) == ["second"]  # not due yet
    workflow, _ = store(workflow, spec)
    if in_time:
        result = complete(workflow, "second", note="b")
        assert result.status == "completed" and result.timers == []
        assert "end" in result.completed_elements and "escalate" not in result.completed_elements
    else:
        clock.advance(timedelta(minutes=21))
        result = fire(workflow)
        assert list(ready(workflow)) == ["escalate"] and result.timers == []
        cancelled = [t for t in workflow.tasks.values() if t.task_spec.bpmn_id == "second"]
        assert [t.state for t in cancelled] == [TaskState.CANCELLED]
        workflow, _ = store(workflow, spec)
        result = complete(workflow, "escalate")
        assert result.status == "completed" and result.data["note"] == "a"
