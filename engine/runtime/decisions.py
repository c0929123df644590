"""DMN decisions: deployed and versioned like processes, evaluated by business rule tasks.

A ``.dmn`` file (from ``processes/`` at set-up, or ``POST /api/decision-definitions``) is checked
whole (``engine.bpmn.dmn.validate``: every error names the decision, the rule row and the column),
then each of its decision tables is stored as version N+1 of its key (nothing when the file is
unchanged). A ``businessRuleTask`` with ``camunda:decisionRef`` evaluates the latest version, or
the one ``camunda:decisionRefBinding="version"`` names, over the instance's data, in the script
sandbox, and stores the result in ``camunda:resultVariable`` shaped by ``camunda:mapDecisionResult``
(Camunda's singleEntry, singleResult, collectEntries, resultList). Each evaluation is audited with
its inputs, the rules that matched and the output; a hit-policy violation (two rules of a UNIQUE
table) is an incident naming the rules.
"""

from __future__ import annotations

import hashlib
import re

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from sqlalchemy import func, select

from engine.bpmn import dmn
from engine.bpmn.restricted import ExpressionError
from engine.clock import utcnow
from engine.errors import NotFound, ValidationFailed
from engine.identity.policy import require_deployer
from engine.store.db import current_session
from engine.store.models import DecisionDefinition

_ZH = ((re.compile(r"^decision "), "决策 "), (re.compile(r"\brule (\d+)"), r"第 \1 条规则"),
       (re.compile(r"\binput '"), "输入列 '"), (re.compile(r"\boutput '"), "输出列 '"),
       (re.compile(r" is not a unary test: "), " 不是合法的条件（一元测试）："),
       (re.compile(r"hit policy UNIQUE but rules"), "命中策略 UNIQUE，但同时命中的规则为"))


def _zh(message: str) -> str:
    """A deploy error of a table for a zh-CN page: the places (decision, rule, column) in Chinese;
    the parser's own detail stays as it is."""
    for pattern, repl in _ZH:
        message = pattern.sub(repl, message)
    return message


def require_tester(actor) -> None:
    """Evaluating a table by hand is part of authoring it: the deployers' right."""
    require_deployer(actor)


def to_dict(row: DecisionDefinition, decision: dmn.Decision | None = None) -> dict:
    out = {"id": row.id, "key": row.key, "version": row.version, "name": row.name, "sha256": row.sha256,
           "deployed_at": row.deployed_at, "deployed_by": row.deployed_by}
    if decision is not None:
        out.update(hit_policy=decision.hit_policy, aggregation=decision.aggregation,
                   inputs=[{"id": i.id, "label": i.label, "expression": i.expression} for i in decision.inputs],
                   outputs=[{"id": o.id, "label": o.label, "name": o.name} for o in decision.outputs],
                   rules=len(decision.rules))
    return out


def find(session, key: str, version: int | None = None) -> DecisionDefinition | None:
    """That version of the decision, or its latest (None: not deployed)."""
    query = select(DecisionDefinition).where(DecisionDefinition.key == key)
    if version is not None:
        query = query.where(DecisionDefinition.version == version)
    return session.execute(query.order_by(DecisionDefinition.version.desc()).limit(1)).scalar_one_or_none()


def exists(session, key: str, version: int | None = None) -> bool:
    return find(session, key, version) is not None


def get(session, key: str, version: int | None = None) -> DecisionDefinition:
    row = find(session, key, version)
    if row is None:
        raise NotFound(f"decision {key!r}" + (f" version {version}" if version else "") + " is not deployed")
    return row


def list_latest(session) -> list[DecisionDefinition]:
    sub = (select(DecisionDefinition.key, func.max(DecisionDefinition.version).label("v"))
           .group_by(DecisionDefinition.key).subquery())
    return session.execute(select(DecisionDefinition).join(
        sub, (sub.c.key == DecisionDefinition.key) & (sub.c.v == DecisionDefinition.version))
        .order_by(DecisionDefinition.key)).scalars().all()


def versions(session, key: str) -> list[DecisionDefinition]:
    return session.execute(select(DecisionDefinition).where(DecisionDefinition.key == key)
                           .order_by(DecisionDefinition.version.desc())).scalars().all()


def deploy(uow, xml: bytes) -> list[tuple[DecisionDefinition, bool]]:
    """Store every decision of the file as a new version of its key; all or nothing."""
    require_deployer(uow.actor)
    errors = dmn.validate(xml)
    if errors:
        raise ValidationFailed("decision definition is invalid", [{**e, "message_zh": _zh(e["message"])} for e in errors])
    sha = hashlib.sha256(xml).hexdigest()
    out = []
    for decision in dmn.parse(xml):
        current = find(uow.session, decision.id)
        if current is not None and current.sha256 == sha:
            out.append((current, False))
            continue
        row = DecisionDefinition(key=decision.id, version=(current.version + 1) if current else 1,
                                 name=decision.name, sha256=sha, xml=xml.decode("utf-8"), deployed_at=utcnow(),
                                 deployed_by=uow.actor.username)
        uow.session.add(row)
        uow.session.flush()
        uow.audit("decision_deployed", key=row.key, version=row.version, sha256=sha)
        out.append((row, True))
    return out


def decision_of(row: DecisionDefinition) -> dmn.Decision:
    """The decision a stored version holds (its file may hold others)."""
    return next(d for d in dmn.parse(row.xml.encode("utf-8")) if d.id == row.key)


def table(engine, row: DecisionDefinition) -> dmn.Decision:
    """The parsed decision of a stored version, cached per process (versions never change)."""
    cache = engine.__dict__.setdefault("_decision_tables", {})
    hit = cache.get(row.id)
    if hit is None:
        hit = cache[row.id] = decision_of(row)
    return hit


def evaluate(engine, session, key: str, data: dict, version: int | None = None) -> dict:
    """Evaluate a deployed decision over ``data`` (the API's test of a table, and the task's run)."""
    row = get(session, key, version)
    decision = table(engine, row)
    try:
        result = dmn.evaluate(decision, data)
    except dmn.DecisionError as exc:
        raise ValidationFailed(str(exc), {"rules": getattr(exc, "rules", None) or []}) from exc
    except ExpressionError as exc:
        raise ValidationFailed(f"decision {key!r}: {exc}", {}) from exc
    return {"key": row.key, "version": row.version, "hit_policy": decision.hit_policy,
            "matched_rules": [r.index for r in result.matched], "outputs": result.outputs,
            "result": result.value, "result_list": result_list(decision, result)}


def result_list(decision: dmn.Decision, result: dmn.Result) -> list[dict]:
    """The decision's result as Camunda's list of rule results (an aggregation is one entry)."""
    if decision.aggregation:
        return [] if result.value is None else [{decision.outputs[0].name: result.value}]
    return list(result.outputs)


def mapped(decision: dmn.Decision, result: dmn.Result, mapping: str):
    """``camunda:mapDecisionResult``: what the result variable takes."""
    rows = result_list(decision, result)
    if mapping == "resultList":
        return rows
    if mapping == "collectEntries":
        if len(decision.outputs) != 1:
            raise dmn.DecisionError(f"collectEntries needs a decision with one output; {decision.id!r} has "
                                    f"{len(decision.outputs)}")
        return [next(iter(r.values())) for r in rows]
    if len(rows) > 1:
        raise dmn.DecisionError(f"{mapping} needs at most one result, decision {decision.id!r} gave {len(rows)} "
                                f"(rules {', '.join(str(r.index) for r in result.matched)})")
    if mapping == "singleResult":
        return rows[0] if rows else None
    if rows and len(rows[0]) != 1:
        raise dmn.DecisionError(f"singleEntry needs a decision with one output; {decision.id!r} has {len(rows[0])}")
    return next(iter(rows[0].values())) if rows else None


class Decider:
    """What a business rule task of one instance asks for its decision (set on the workflow by
    ``engine.runtime.steps.load_workflow``); the evaluations made are kept for the audit."""

    def __init__(self, engine, definition) -> None:
        self.engine = engine
        self.elements = (definition.meta or {}).get("elements") or {}
        self.evaluated: list[dict] = []

    def decide(self, my_task) -> None:
        element = my_task.task_spec.bpmn_id
        ref = self.elements.get(element, {}).get("decision")
        if ref is None:
            raise WorkflowTaskException("the business rule task names no decision", task=my_task)
        version = ref["version"] if ref["binding"] == "version" else None
        try:
            session = current_session()  # the step's own transaction: no second connection
            if session is not None:
                row = get(session, ref["ref"], version)
            else:
                with self.engine.read() as session:
                    row = get(session, ref["ref"], version)
                    session.expunge(row)
            decision = table(self.engine, row)
            result = dmn.evaluate(decision, my_task.data)
            value = mapped(decision, result, ref["map"])
        except (NotFound, dmn.DecisionError, ExpressionError) as exc:
            raise WorkflowTaskException(f"decision {ref['ref']!r}: {exc}", task=my_task, exception=exc) from exc
        my_task.data[ref["result_variable"]] = value
        self.evaluated.append({
            "element_id": element, "decision": row.key, "version": row.version, "hit_policy": decision.hit_policy,
            "inputs": {i.label or i.expression: v for i, v in zip(decision.inputs, result.inputs, strict=True)},
            "matched_rules": [r.index for r in result.matched], "result_variable": ref["result_variable"],
            "output": value})

