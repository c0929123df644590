"""Process definitions: validate, deploy as a new version, look up."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from engine.bpmn.model import ParsedModel, executable_processes, label_errors, parse_xml, validate_document
from engine.clock import utcnow
from engine.errors import NotFound, ValidationFailed
from engine.extensions import REGISTRY, DeployContext, Element
from engine.forms import definitions as formdefs
from engine.identity.policy import require_deployer, task_scope
from engine.runtime import connectors, decisions
from engine.store.models import ProcessDefinition


def definition_to_dict(row: ProcessDefinition) -> dict:
    meta = row.meta or {}
    elements = meta.get("elements", {})
    return {
        "id": row.id,
        "key": row.key,
        "version": row.version,
        "name": row.name,
        "sha256": row.sha256,
        "deployed_at": row.deployed_at,
        "deployed_by": row.deployed_by,
        "candidate_starter_groups": meta.get("candidate_starter_groups", []),
        "startable_by_users": bool(meta.get("candidate_starter_groups")),
        "start_form": meta.get("start_form"),
        "user_tasks": [
            {
                "element_id": eid,
                "name": el.get("name"),
                "candidate_groups": el.get("candidate_groups", []),
                "scope": el.get("scope") or task_scope(el.get("properties")),
                "form_key": el.get("form_key"),
                "lane": meta.get("lanes", {}).get(eid),
                "properties": el.get("properties", {}),
            }
            for eid, el in elements.items()
            if el.get("type") == "userTask"
        ],
    }


_DEFS = ProcessDefinition.__table__
LATEST_ID = select(_DEFS.c.id).where(_DEFS.c.key == bindparam("b_key")).order_by(_DEFS.c.version.desc()).limit(1)


def latest_of(engine, session: Session, key: str) -> ProcessDefinition:
    """The latest version of ``key`` through the in-process cache of versions (:func:`by_id`):
    one indexed read of its id instead of loading the whole row (its XML) on every start."""
    definition_id = session.connection().execute(LATEST_ID, {"b_key": key}).scalar_one_or_none()
    if definition_id is None:
        raise NotFound(f"process definition {key!r} not found")
    return by_id(engine, session, definition_id)


def latest(session: Session, key: str) -> ProcessDefinition | None:
    return session.execute(
        select(ProcessDefinition).where(ProcessDefinition.key == key).order_by(ProcessDefinition.version.desc()).limit(1)
    ).scalar_one_or_none()


def get_version(session: Session, key: str, version: int | None = None) -> ProcessDefinition:
    if version is None:
        row = latest(session, key)
    else:
        row = session.execute(
            select(ProcessDefinition).where(ProcessDefinition.key == key, ProcessDefinition.version == version)
        ).scalar_one_or_none()
    if row is None:
        raise NotFound(f"process definition {key!r}" + (f" version {version}" if version else "") + " not found")
    return row


def diff_against_deployed(session: Session, xml: bytes) -> dict:
    """What deploying ``xml`` would change against the latest deployed version of its process:
    ``{key, version (None when never deployed), changes: [...]}`` (engine/bpmn/diff.py)."""
    from engine.bpmn.diff import diff_documents, process_id_of

    key = process_id_of(xml)
    if key is None:
        raise ValidationFailed("the document has no executable process", [])
    row = latest(session, key)
    if row is None:
        return {"key": key, "version": None, "changes": []}
    try:
        changes = diff_documents(row.xml.encode("utf-8") if isinstance(row.xml, str) else row.xml, xml, key)
    except ValueError as exc:
        raise ValidationFailed(str(exc), []) from None
    return {"key": key, "version": row.version, "changes": changes}


def versions(session: Session, key: str) -> list[ProcessDefinition]:
    rows = session.execute(
        select(ProcessDefinition).where(ProcessDefinition.key == key).order_by(ProcessDefinition.version.desc())
    ).scalars().all()
    if not rows:
        raise NotFound(f"process definition {key!r} not found")
    return rows


def list_latest(session: Session) -> list[ProcessDefinition]:
    sub = (
        select(ProcessDefinition.key, func.max(ProcessDefinition.version).label("v"))
        .group_by(ProcessDefinition.key)
        .subquery()
    )
    return session.execute(
        select(ProcessDefinition)
        .join(sub, (sub.c.key == ProcessDefinition.key) & (sub.c.v == ProcessDefinition.version))
        .order_by(ProcessDefinition.key)
    ).scalars().all()


def validate(xml: bytes, form_exists: Callable[[str], bool],
             process_exists: Callable[[str], bool] | None = None, process_id: str | None = None,
             topic_exists: Callable[[str], bool] | None = None,
             decision_exists: Callable[[str, int | None], bool] | None = None) -> ParsedModel:
    """The document's own checks (engine/bpmn/model.py), then the properties of its elements by the
    extensions that own them; a property key nobody owns is an error naming the element."""
    model = validate_document(xml, form_exists, process_id)
    if not model.process_id:
        model.errors = label_errors(xml, model.errors)
        return model
    ctx = DeployContext(model.process_id, form_exists, process_exists)
    meta = model.meta
    elements = [Element(model.process_id, "process", meta.get("properties") or {})]
    elements += [Element(eid, info["type"], info.get("properties") or {}, info)
                 for eid, info in (meta.get("elements") or {}).items()]
    elements += [Element(msg["id"], "message", msg["properties"]) for msg in (meta.get("messages") or {}).values()]
    elements += [Element(sig["id"], "signal", sig["properties"]) for sig in (meta.get("signals") or {}).values()]
    for element in elements:
        call = element.info.get("call") if element.info else None
        if call and call["process"] != model.process_id and process_exists is not None \
                and not process_exists(call["process"]):
            model.errors.append({"element_id": element.id,
                                 "message": f"call activity: the called process {call['process']!r} is not deployed: "
                                            "deploy it first",
                                 "message_zh": f"调用活动：被调用流程 {call['process']!r} 尚未部署，请先部署"})
        external = element.info.get("external") if element.info else None
        if external and topic_exists is not None and not topic_exists(external["topic"]):
            model.errors.append({"element_id": element.id,
                                 "message": f"external task: topic {external['topic']!r} is not configured, so no "
                                            "worker could ever take the task: add it to processes/connectors.toml",
                                 "message_zh": f"外部任务：主题 {external['topic']!r} 未配置，没有工作者能领取该任务"})
        decision = element.info.get("decision") if element.info else None
        if decision and decision_exists is not None and not decision_exists(decision["ref"], decision["version"]):
            which = f" version {decision['version']}" if decision["version"] else ""
            model.errors.append({"element_id": element.id,
                                 "message": f"business rule task: decision {decision['ref']!r}{which} is not deployed: "
                                            "deploy the .dmn file first",
                                 "message_zh": f"业务规则任务：决策 {decision['ref']!r}{which} 尚未部署，请先部署 DMN 文件"})
        if element.properties:
            model.errors.extend({"element_id": element.id, "message": message}
                                for message in REGISTRY.check(element, ctx))
    model.errors = label_errors(xml, model.errors)
    return model


def deploy_process(uow, xml: bytes) -> tuple[ProcessDefinition, bool]:
    """Deploy a document (``deploy_document``); the first executable process's row and whether it
    is a new version."""
    return deploy_document(uow, xml)[0]


def deploy_document(uow, xml: bytes) -> list[tuple[ProcessDefinition, bool]]:
    """Validate every executable process of the document (a collaboration may hold several; the
    others are documentation), then store version N+1 of each (nothing for one identical to its
    latest). All or nothing: one invalid process refuses the whole document."""
    require_deployer(uow.actor)
    root, _ = parse_xml(xml)  # its problems are reported by validate(), with their elements named
    errors: list[dict] = []
    ids = [p.get("id") for p in executable_processes(root)] if root is not None else []
    in_document = set(ids)
    models = []
    for pid in ids or [None]:
        model = validate(xml, lambda key: formdefs.exists(uow.session, key),
                         lambda key: key in in_document or latest(uow.session, key) is not None, process_id=pid,
                         topic_exists=lambda topic: topic in connectors.topics(uow.engine),
                         decision_exists=lambda key, version: decisions.exists(uow.session, key, version))
        models.append(model)
        errors.extend(e for e in model.errors if e not in errors)
    if errors:
        raise ValidationFailed("process definition is invalid", errors)
    return [_store(uow, xml, model) for model in models]


def _store(uow, xml: bytes, model: ParsedModel) -> tuple[ProcessDefinition, bool]:
    sha = hashlib.sha256(xml).hexdigest()
    current = latest(uow.session, model.process_id)
    if current is not None and current.sha256 == sha:
        return current, False
    meta = model.meta
    meta["has_timers"] = b"timerEventDefinition" in xml
    row = ProcessDefinition(
        key=model.process_id,
        version=(current.version + 1) if current else 1,
        name=model.name,
        sha256=sha,
        xml=xml.decode("utf-8"),
        meta=meta,
        deployed_at=utcnow(),
        deployed_by=uow.actor.username,
    )
    uow.session.add(row)
    uow.session.flush()
    uow.audit("process_deployed", key=row.key, version=row.version, sha256=sha)
    for hook in REGISTRY.hooks("deployed"):  # e.g. a new version replaces the schedule of starts
        hook(uow, row, current)
    return row, True


def by_id(engine, session: Session, definition_id: int) -> ProcessDefinition:
    """A definition version by id, cached in-process (deployed versions never change)."""
    row = engine.definitions.get(definition_id)
    if row is None:
        row = session.get(ProcessDefinition, definition_id)
        if row is None:
            raise NotFound(f"process definition #{definition_id} not found")
        session.expunge(row)
        engine.definitions[definition_id] = row
    return row


def spec_for(engine, row: ProcessDefinition):
    return engine.specs.get(row.id, row.xml, row.key)
