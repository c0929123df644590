"""Instance migration: move a running instance to a newer version of its process.

The comparison and the move are SpiffWorkflow's own (``SpiffWorkflow.bpmn.util.diff``):
``SpecDiff`` aligns the old spec with the new one (by element id, then by position in the
flow), ``WorkflowDiff`` maps the instance's tasks onto it (what ``diff_workflow`` does, with
the spec diff cached per pair of versions for bulk runs) and ``migrate_workflow`` points
every task at its new spec and re-predicts the branches of waiting tasks. Around it this module

* refuses when a live element cannot be carried over, naming each blocking element:
  a READY/WAITING/STARTED task whose element was removed or changed type, a live timer,
  message or call whose event/called process changed, a live user task whose form key
  changed, a running subprocess whose spec is gone, or a step that would fail at once;
* keeps what ``migrate_workflow`` would otherwise reset: the data of surviving tasks and
  the internal data of waiting events (a timer keeps its due time instead of restarting);
* works on our compacted trees: the stored tree starts at the lowest finished ancestor
  of the live tasks. If that root's element was removed in the new version it is
  re-pointed at the new spec's synthetic ``Start`` (it is history, kept only as the
  anchor holding data); any other finished task still in the tree whose element was
  removed blocks the migration;
* runs the engine to the next wait state and writes the result like every other step
  (``engine.runtime.steps.save``): surviving human tasks keep their ``bpm_task`` row and id,
  new READY tasks get rows (candidates, SLA), tasks that are gone are cancelled, BPMN
  timer rows follow the workflow; the instance points at the new definition and the
  ``instance_migrated`` audit event (from/to version and the report) is written in the
  same transaction.

A live user task that survives keeps its form version, its SLA (due date and SLA timers,
a promise made when it was created), its assignee and its properties; its name, element
id and candidate groups follow the new version. If the new version gives it another form
key the migration is refused (someone may be filling in the old form).

``plan`` is the dry run: the same simulation, nothing written. A real migration that
is not possible raises :class:`MigrationRefused` (409: the instance's current position
conflicts with the new version) with the full report as ``details``; a dry run returns
the report with ``possible: false`` instead.
"""

from __future__ import annotations

from copy import deepcopy
from dataclasses import dataclass

from SpiffWorkflow.bpmn.serializer import DEFAULT_CONFIG, BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.util.diff import SpecDiff, WorkflowDiff, migrate_workflow
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import delete, insert, select, update

from engine.bpmn.specs import CONVERTERS as SPEC_CONVERTERS
from engine.clock import utcnow
from engine.errors import Conflict, NotFound, ValidationFailed
from engine.identity.policy import require_migrator
from engine.runtime import definitions
from engine.runtime import steps as progress
from engine.runtime.spiff import StepResult, advance, bpmn_id
from engine.store.models import ProcessDefinition, ProcessInstance, Task, TaskCandidate, Timer
from engine.store.records import InstanceRecord, load_instance

MIGRATABLE = ("running", "incident")
# Task states whose element must exist in the new version (predicted ones are re-predicted).
DEFINITE_LIVE = TaskState.READY | TaskState.WAITING | TaskState.STARTED | TaskState.ERROR
# Spec attributes whose change cannot be applied to a task that is already under way.
BLOCKING_ATTRIBUTES = frozenset({
    "event_definition", "cancel_activity", "spec", "task_spec", "cardinality", "data_input", "data_output",
    "loop_condition", "condition",
})
SYNTHETIC_START = "Start"
_T, _TM, _I, _C = Task.__table__, Timer.__table__, ProcessInstance.__table__, TaskCandidate.__table__
# A registry of our own for spec comparisons (the runtime's registry flips an encoder flag while saving).
_DIFF_REGISTRY = BpmnWorkflowSerializer.configure({**deepcopy(DEFAULT_CONFIG), **SPEC_CONVERTERS})
_SPEC_DIFFS: dict[tuple[int, int], tuple] = {}


class MigrationRefused(Conflict):
    """409: the instance cannot be moved; ``details`` is the migration report."""

    code = "migration_refused"


@dataclass
class _Simulation:
    session: object
    inst: InstanceRecord
    source: ProcessDefinition
    target: ProcessDefinition
    workflow: object
    result: StepResult | None
    report: dict
    open_rows: dict


# --------------------------------------------------------------------------- public API


def plan(uow, instance_id: str, target_version: int | None = None) -> dict:
    """The dry-run report: what a migration would change, or why it cannot; writes nothing."""
    return _simulate(uow, instance_id, target_version).report


def migrate(uow, instance_id: str, target_version: int | None = None, dry_run: bool = False) -> dict:
    """Move the instance to ``target_version`` (default: the latest) or raise :class:`MigrationRefused`.

    A dry run never raises for a refusal: its report says ``possible: false`` and names the blockers.
    """
    sim = _simulate(uow, instance_id, target_version)
    report = sim.report
    report["dry_run"] = dry_run
    if not report["possible"] and not dry_run:
        blockers = ", ".join(f"{r['element_id']} ({r['reason']})" for r in report["refusals"])
        raise MigrationRefused(
            f"instance cannot be migrated from version {report['from_version']} to {report['to_version']}: {blockers}",
            report,
        )
    if not dry_run:
        _apply(uow, sim)
        report["migrated"] = True
    return report


def migrate_all(engine, actor, key: str, from_version: int, to_version: int | None = None,
                dry_run: bool = False) -> dict:
    """Every running (or incident) instance of ``key@from_version``, one transaction each."""
    require_migrator(actor)
    with engine.read() as session:
        source = definitions.get_version(session, key, from_version)
        target = definitions.get_version(session, key, to_version)
        _check_direction(source, target, to_version)
        ids = session.execute(
            select(ProcessInstance.id)
            .where(ProcessInstance.definition_id == source.id, ProcessInstance.status.in_(MIGRATABLE))
            .order_by(ProcessInstance.started_at, ProcessInstance.id)
        ).scalars().all()
        to_version = target.version
    items = []
    for instance_id in ids:
        try:
            with engine.uow(actor) as uow:
                report = migrate(uow, instance_id, to_version, dry_run)
        except MigrationRefused as exc:
            report = exc.details
        except (Conflict, NotFound) as exc:  # changed or finished meanwhile
            report = {"instance_id": instance_id, "possible": False, "migrated": False, "error": exc.message,
                      "refusals": []}
        items.append(_summary(report))
    return {
        "key": key, "from_version": from_version, "to_version": to_version, "dry_run": dry_run,
        "total": len(items),
        "possible": sum(1 for i in items if i["possible"]),
        "migrated": sum(1 for i in items if i["migrated"]),
        "refused": sum(1 for i in items if not i["possible"]),
        "items": items,
    }


def newer_versions(session, key: str, version: int) -> list[int]:
    """Versions of ``key`` after ``version``, oldest first (the targets a migration may choose)."""
    return sorted(r.version for r in definitions.versions(session, key) if r.version > version)


def newer_version(session, inst) -> int | None:
    """The latest version of the instance's process if it is newer than the instance's."""
    current = session.get(ProcessDefinition, inst.definition_id)
    latest = definitions.latest(session, inst.process_key)
    return latest.version if latest is not None and current is not None and latest.version > current.version else None


# --------------------------------------------------------------------------- simulation


def _summary(report: dict) -> dict:
    return {
        "instance_id": report.get("instance_id"),
        "business_key": report.get("business_key"),
        "possible": bool(report.get("possible")),
        "migrated": bool(report.get("migrated")),
        "refusals": report.get("refusals") or [],
        "tasks": report.get("tasks") or {"moved": [], "created": [], "cancelled": []},
        "error": report.get("error"),
    }


def _check_direction(source: ProcessDefinition, target: ProcessDefinition, requested: int | None) -> None:
    if target.version > source.version:
        return
    if requested is None:
        raise Conflict(f"there is no version of {source.key!r} newer than {source.version}")
    raise ValidationFailed(
        "the target version must be newer than the instance's version",
        {"target_version": [f"must be greater than {source.version}"]},
    )


def _load(uow, instance_id: str, target_version: int | None):
    require_migrator(uow.actor)
    inst = load_instance(uow.session, instance_id)
    if inst is None:
        raise NotFound(f"process instance {instance_id!r} not found")
    if inst.status not in MIGRATABLE:
        raise Conflict(f"instance is {inst.status}: only running instances can be migrated")
    source = definitions.by_id(uow.engine, uow.session, inst.definition_id)
    target = definitions.get_version(uow.session, inst.process_key, target_version)
    _check_direction(source, target, target_version)
    return inst, source, target


def _element(definition: ProcessDefinition, element_id: str | None) -> dict:
    return ((definition.meta or {}).get("elements") or {}).get(element_id or "", {})


def _label(spec, definition: ProcessDefinition) -> str | None:
    return _element(definition, getattr(spec, "bpmn_id", None)).get("name") or getattr(spec, "bpmn_name", None)


def _spec_entry(spec, definition: ProcessDefinition, **extra) -> dict:
    return {"element_id": spec.bpmn_id, "name": _label(spec, definition),
            "type": _DIFF_REGISTRY.convert(spec).get("typename"), **extra}


def _meta_changes(source: ProcessDefinition, target: ProcessDefinition, old_id: str, new_id: str) -> list[str]:
    old, new = _element(source, old_id), _element(target, new_id)
    return [k for k in ("form_key", "candidate_groups", "properties") if (old.get(k) or None) != (new.get(k) or None)]


def _spec_diff(old_spec, new_spec) -> SpecDiff:
    """SpiffWorkflow's spec diff, cached per pair of (cached, immutable) parsed specs."""
    key = (id(old_spec), id(new_spec))
    hit = _SPEC_DIFFS.get(key)
    if hit is None:
        if len(_SPEC_DIFFS) >= 64:
            _SPEC_DIFFS.clear()
        # the specs are kept with the diff so that their ids cannot be reused while it is cached
        hit = _SPEC_DIFFS[key] = (old_spec, new_spec, SpecDiff(_DIFF_REGISTRY, old_spec, new_spec))
    return hit[2]


def _spec_report(spec_diff: SpecDiff, source, target) -> dict:
    added = [_spec_entry(s, target) for s in spec_diff.added if getattr(s, "bpmn_id", None)]
    removed = [_spec_entry(s, source) for s in spec_diff.removed if getattr(s, "bpmn_id", None)]
    changed = []
    for old, new in spec_diff.alignment.items():
        if new is None or not getattr(old, "bpmn_id", None):
            continue
        changes = [("name" if c == "bpmn_name" else "id" if c == "bpmn_id" else c)
                   for c in spec_diff.comparisons.get(old, []) if c != "name"]
        changes += _meta_changes(source, target, old.bpmn_id, new.bpmn_id)
        if changes:
            changed.append(_spec_entry(old, source, to_element_id=new.bpmn_id, to_name=_label(new, target),
                                       changes=changes))
    return {"added": added, "removed": removed, "changed": sorted(changed, key=lambda c: c["element_id"])}


def _refusal(task, reason: str, message: str, definition) -> dict:
    spec = task.task_spec
    return {"element_id": getattr(spec, "bpmn_id", None) or spec.name, "name": _label(spec, definition),
            "task_id": str(task.id), "state": TaskState.get_name(task.state), "reason": reason, "message": message}


def _blockers(workflow, diff, source, target, target_version: int) -> list[dict]:
    """Live tasks of one (sub)workflow that cannot be carried over."""
    out = []
    removed = {t.id for t in diff.removed}
    for task in workflow.get_tasks(state=DEFINITE_LIVE, skip_subprocesses=True):
        spec, new = task.task_spec, diff.alignment.get(task)
        if task.id in removed or new is None:
            out.append(_refusal(task, "removed", f"element {spec.name!r} does not exist in version {target_version}",
                                source))
            continue
        changes = set(_changes(spec, new))
        if "typename" in changes:
            out.append(_refusal(task, "type_changed", f"element {spec.name!r} changed type in version {target_version}",
                                source))
        elif changes & BLOCKING_ATTRIBUTES:
            what = ", ".join(sorted(changes & BLOCKING_ATTRIBUTES))
            out.append(_refusal(task, "definition_changed",
                                f"element {spec.name!r} is under way and its {what} changed in version {target_version}",
                                source))
        elif getattr(spec, "manual", False) and task.has_state(TaskState.READY):
            old_form = _element(source, spec.bpmn_id).get("form_key")
            new_form = _element(target, getattr(new, "bpmn_id", None)).get("form_key")
            if old_form != new_form:
                out.append(_refusal(task, "form_changed",
                                    f"open task {spec.name!r} would change form from {old_form!r} to {new_form!r}",
                                    source))
    return out


def _changes(old, new) -> list[str]:
    s1, s2 = _DIFF_REGISTRY.convert(old), _DIFF_REGISTRY.convert(new)
    if s1.get("typename") != s2.get("typename"):
        return ["typename"]
    return [k for k, v in s1.items() if s2.get(k) != v]


def _snapshot(workflow) -> dict:
    """Data and internal data of the live tasks, which ``reset_branch`` would otherwise reset."""
    snap = {}
    for task in workflow.get_tasks(state=TaskState.READY | TaskState.WAITING):
        snap[task.id] = (deepcopy(task.data), deepcopy(task.internal_data), task.task_spec)
    return snap


def _restore(workflow, snap: dict) -> None:
    for task_id, (data, internal, old_spec) in snap.items():
        task = workflow.tasks.get(task_id)
        if task is None:
            continue
        task.data = data
        if "event_definition" not in _changes(old_spec, task.task_spec):
            task.internal_data = internal  # a waiting timer keeps its due time, a message its correlation


def _all_workflows(workflow):
    yield None, workflow
    yield from workflow.subprocesses.items()


def _foreign_specs(workflow, source) -> list[dict]:
    """Tasks still pointing at a spec of the old version (their element was removed)."""
    out = []
    for _sp_id, wf in _all_workflows(workflow):
        for task in list(wf.tasks.values()):
            spec = task.task_spec
            if wf.spec.task_specs.get(spec.name) is spec:
                continue
            if task is wf.task_tree and not task.state & (TaskState.NOT_FINISHED_MASK | TaskState.ERROR):
                task.task_spec = wf.spec.task_specs[SYNTHETIC_START]  # finished history kept as the data anchor
                continue
            out.append(_refusal(task, "history_removed",
                                f"finished element {spec.name!r} is still part of the instance's state and was removed",
                                source))
    return out


def _simulate(uow, instance_id: str, target_version: int | None) -> _Simulation:
    inst, source, target = _load(uow, instance_id, target_version)
    engine = uow.engine
    workflow = progress.load_workflow(engine, inst, source)
    new_spec, new_deps = definitions.spec_for(engine, target)
    report = {
        "instance_id": inst.id, "business_key": inst.business_key, "process_key": inst.process_key,
        "from_version": source.version, "to_version": target.version, "status": inst.status,
        "possible": False, "dry_run": True, "migrated": False,
    }
    spec_diff = _spec_diff(workflow.spec, new_spec)
    report["spec"] = _spec_report(spec_diff, source, target)
    # what diff_workflow does, with the (cached) spec diff of the top level
    top_diff = WorkflowDiff(workflow, spec_diff)
    sub_diffs = {sp_id: WorkflowDiff(sub, _spec_diff(sub.spec, new_deps[sub.spec.name])) if sub.spec.name in new_deps
                 else None for sp_id, sub in workflow.subprocesses.items()}
    refusals = _blockers(workflow, top_diff, source, target, target.version)
    for sp_id, sp_diff in sub_diffs.items():
        sub = workflow.subprocesses[sp_id]
        if sp_diff is None:
            owner = workflow.get_task_from_id(sp_id)
            refusals.append(_refusal(owner, "subprocess_removed",
                                     f"subprocess {sub.spec.name!r} is running and does not exist in version "
                                     f"{target.version}", source))
        else:
            refusals.extend(_blockers(sub, sp_diff, source, target, target.version))
    open_rows = {
        r.id: r for r in uow.session.connection().execute(
            select(_T.c.id, _T.c.element_id, _T.c.name, _T.c.candidate_groups, _T.c.assignee)
            .where(_T.c.instance_id == inst.id, _T.c.status == "open")
        )
    }
    sim = _Simulation(uow.session, inst, source, target, workflow, None, report, open_rows)
    if not refusals:
        refusals = _run(sim, top_diff, sub_diffs, new_spec, new_deps)
    report["refusals"] = refusals
    report["possible"] = not refusals
    return sim


def _migrate_in_memory(workflow, top_diff, sub_diffs, new_spec, new_deps) -> None:
    """Move the workflow and its subprocesses to the new specs, keeping every task's state."""
    snap = {}
    for _sp_id, wf in _all_workflows(workflow):
        snap.update(_snapshot(wf))
    migrate_workflow(top_diff, workflow, new_spec)
    for sp_id, sp_diff in sub_diffs.items():
        sub = workflow.subprocesses.get(sp_id)
        if sub is not None:
            migrate_workflow(sp_diff, sub, new_deps[sub.spec.name])
    for _sp_id, wf in _all_workflows(workflow):
        _restore(wf, snap)
        # migrate_workflow re-predicts only READY/WAITING branches; a running subprocess (STARTED)
        # would otherwise continue along the old version's outputs when it completes
        for task in wf.get_tasks(state=TaskState.STARTED, skip_subprocesses=True):
            task._drop_children()  # its unfinished successors, predicted from the old version
            task.task_spec._predict_hook(task)  # ... predicted again from the new outputs
            for child in task.children:
                if child.has_state(TaskState.PREDICTED_MASK | TaskState.FUTURE):
                    child.task_spec._predict(child, mask=TaskState.PREDICTED_MASK | TaskState.FUTURE)


def _task_changes(sim: _Simulation, result: StepResult) -> dict:
    """The open tasks moved to new elements, created and cancelled by the migration."""
    ready = {str(t.id): t for t in result.ready_tasks}
    moved, created, cancelled = [], [], []
    for task_id, row in sim.open_rows.items():
        task = ready.get(task_id)
        if task is None:
            cancelled.append({"task_id": task_id, "element_id": row.element_id, "name": row.name})
            continue
        element = bpmn_id(task)
        info = _element(sim.target, element)
        moved.append({
            "task_id": task_id, "element_id": row.element_id, "name": row.name,
            "to_element_id": element, "to_name": info.get("name") or task.task_spec.bpmn_name,
            "candidate_groups": list(row.candidate_groups or []),
            "to_candidate_groups": info.get("candidate_groups", list(row.candidate_groups or [])),
            "assignee": row.assignee,
        })
    for task_id, task in ready.items():
        if task_id not in sim.open_rows:
            element = bpmn_id(task)
            info = _element(sim.target, element)
            created.append({"element_id": element, "name": info.get("name") or task.task_spec.bpmn_name,
                            "candidate_groups": info.get("candidate_groups", [])})
    return {"moved": moved, "created": created, "cancelled": cancelled}


def _timer_changes(before_pending: dict, result: StepResult) -> dict:
    """The BPMN timers kept, rescheduled, created and cancelled by the migration."""
    wanted = {t.task_id: t for t in result.timers}
    return {
        "kept": [{"task_id": tid, "element_id": row["element_id"], "fire_at": row["fire_at"].isoformat()}
                 for tid, row in before_pending.items() if tid in wanted and wanted[tid].fire_at == row["fire_at"]],
        "rescheduled": [{"task_id": tid, "element_id": row["element_id"], "fire_at": wanted[tid].fire_at.isoformat()}
                        for tid, row in before_pending.items() if tid in wanted and wanted[tid].fire_at != row["fire_at"]],
        "created": [{"task_id": tid, "element_id": t.element_id, "fire_at": t.fire_at.isoformat()}
                    for tid, t in wanted.items() if tid not in before_pending],
        "cancelled": [{"task_id": tid, "element_id": row["element_id"], "fire_at": row["fire_at"].isoformat()}
                      for tid, row in before_pending.items() if tid not in wanted],
    }


def _run(sim: _Simulation, top_diff, sub_diffs, new_spec, new_deps) -> list[dict]:
    """Migrate the in-memory workflow, run it to the next wait state and describe the outcome."""
    workflow, inst, source, target = sim.workflow, sim.inst, sim.source, sim.target
    before_pending = _pending_timers(sim)
    old_status = inst.status
    _migrate_in_memory(workflow, top_diff, sub_diffs, new_spec, new_deps)
    refusals = _foreign_specs(workflow, source)
    if refusals:
        return refusals
    result = advance(workflow)
    if result.incident is not None and old_status != "incident":
        element = result.incident.get("element_id") or "?"
        return [{"element_id": element, "name": _element(target, element).get("name"),
                 "task_id": result.incident.get("task_id"), "state": "ERROR", "reason": "would_fail",
                 "message": f"the new version fails at {element!r}: {result.incident.get('message')}"}]
    if old_status == "incident" and result.incident is not None and inst.incident:
        if result.incident.get("task_id") == inst.incident.get("task_id"):
            result.incident = inst.incident  # the same failure: keep its original message
    sim.result = result
    sim.report["tasks"] = _task_changes(sim, result)
    sim.report["timers"] = _timer_changes(before_pending, result)
    sim.report["status_after"] = result.status
    sim.report["data_changed"] = sorted(k for k in set(inst.data or {}) | set(result.data)
                                        if (inst.data or {}).get(k) != result.data.get(k))
    return []


def _pending_timers(sim: _Simulation) -> dict:
    rows = sim.session.connection().execute(
        select(_TM.c.task_id, _TM.c.element_id, _TM.c.fire_at)
        .where(_TM.c.instance_id == sim.inst.id, _TM.c.state == "pending", _TM.c.kind == "bpmn")
    ).mappings()
    return {r["task_id"]: dict(r) for r in rows}


# --------------------------------------------------------------------------- writing


def _apply(uow, sim: _Simulation) -> None:
    """Persist the simulated migration in the caller's transaction, audited."""
    inst, source, target, report = sim.inst, sim.source, sim.target, sim.report
    uow.audit(
        "instance_migrated", instance_id=inst.id, key=inst.process_key,
        from_version=source.version, to_version=target.version,
        from_definition_id=source.id, to_definition_id=target.id,
        changes=report["spec"], tasks=report["tasks"], timers=report["timers"],
    )
    conn = uow.session.connection()
    for moved in report["tasks"]["moved"]:
        task_id, values = moved["task_id"], {}
        if moved["to_element_id"] != moved["element_id"]:
            values["element_id"] = moved["to_element_id"]
            conn.execute(update(_TM).where(_TM.c.task_id == task_id, _TM.c.kind == "sla")
                         .values(element_id=moved["to_element_id"]))
        if moved["to_name"] != moved["name"]:
            values["name"] = moved["to_name"]
        if sorted(moved["to_candidate_groups"]) != sorted(moved["candidate_groups"]):
            values["candidate_groups"] = moved["to_candidate_groups"]
            conn.execute(delete(_C).where(_C.c.task_id == task_id))
            if moved["to_candidate_groups"]:
                conn.execute(insert(_C), [{"task_id": task_id, "role": r} for r in moved["to_candidate_groups"]])
        if values:
            conn.execute(update(_T).where(_T.c.id == task_id).values(**values))
    progress.save(uow, inst, target, sim.workflow, sim.result)
    if (source.meta or {}).get("has_timers") and not (target.meta or {}).get("has_timers"):
        progress._sync_timers(uow, inst, sim.result, utcnow())  # save() syncs only for models with timers
    conn.execute(update(_I).where(_I.c.id == inst.id).values(definition_id=target.id))
    inst.definition_id = target.id
