"""API: external tasks for workers (Camunda's /external-task) and DMN decision definitions."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from engine.errors import BadRequest
from engine.runtime import decisions, external
from web.context import current_engine
from web.routing import actor, api_route
from web.schemas.common import VersionQuery
from web.schemas.integration import (
    BpmnErrorRequest,
    CompleteExternalRequest,
    DecisionList,
    DecisionVersions,
    EvaluateRequest,
    EvaluateResult,
    ExtendLockRequest,
    ExternalResult,
    ExternalTaskList,
    ExternalTaskQuery,
    FailureRequest,
    FetchAndLockRequest,
    TopicList,
)

bp = Blueprint("integration", __name__, url_prefix="/api")


@api_route(bp, "/external-tasks/fetch-and-lock", "POST", summary="Lock up to max_tasks open tasks of the topics "
           "(highest priority, then oldest); async_response_timeout waits for one (long polling)",
           body=FetchAndLockRequest, response=ExternalTaskList, errors=(403, 404))
def fetch_and_lock(body):
    items = external.fetch_and_lock(current_engine(), actor(), body["worker_id"], body["max_tasks"], body["topics"],
                                    body["async_response_timeout"])
    return {"items": items}


@api_route(bp, "/external-tasks", summary="External tasks (service accounts: their topics)", query=ExternalTaskQuery,
           response=ExternalTaskList, errors=(403,))
def list_external(args):
    engine = current_engine()
    with engine.read() as session:
        return {"items": external.list_tasks(engine, session, actor(), args.get("topic"), args.get("locked"),
                                             args.get("state"), args.get("instance_id"), args["limit"])}


@api_route(bp, "/external-tasks/topics", summary="The configured topics the caller may see", response=TopicList)
def list_topics():
    return {"items": external.topic_list(current_engine(), actor())}


@api_route(bp, "/external-tasks/<task_id>/complete", "POST", summary="Complete a locked task with variables "
           "(409: another worker holds it or completed it)", body=CompleteExternalRequest, response=ExternalResult,
           errors=(403, 404, 409, 413, 422))
def complete_external(task_id, body):
    return external.complete(current_engine(), actor(), task_id, body["worker_id"], body["variables"])


@api_route(bp, "/external-tasks/<task_id>/failure", "POST", summary="Report a failure: retried after the back-off "
           "while retries are left, else an incident", body=FailureRequest, response=ExternalResult,
           errors=(403, 404, 409, 422))
def external_failure(task_id, body):
    return external.failure(current_engine(), actor(), task_id, body["worker_id"], body["error_message"],
                            body.get("error_details"), body.get("retries"), body.get("retry_timeout"))


@api_route(bp, "/external-tasks/<task_id>/bpmn-error", "POST", summary="Throw a BPMN error to the task's error "
           "boundary event (uncaught: an incident)", body=BpmnErrorRequest, response=ExternalResult,
           errors=(403, 404, 409, 422))
def external_bpmn_error(task_id, body):
    return external.bpmn_error(current_engine(), actor(), task_id, body["worker_id"], body["error_code"],
                               body.get("error_message"), body["variables"])


@api_route(bp, "/external-tasks/<task_id>/extend-lock", "POST", summary="Extend the worker's lock",
           body=ExtendLockRequest, response=ExternalResult, errors=(403, 404, 409))
def external_extend_lock(task_id, body):
    return external.extend_lock(current_engine(), actor(), task_id, body["worker_id"], body["new_duration"])


@api_route(bp, "/external-tasks/<task_id>/unlock", "POST", summary="Give the task back to the pool (its holder or an "
           "administrator)", response=ExternalResult, errors=(403, 404, 409))
def external_unlock(task_id):
    return external.unlock(current_engine(), actor(), task_id)


# --- decisions ------------------------------------------------------------------------------------------------------

@api_route(bp, "/decision-definitions", summary="Latest version of every decision", response=DecisionList)
def list_decisions():
    engine = current_engine()
    with engine.read() as session:
        return {"items": [decisions.to_dict(r, decisions.table(engine, r)) for r in decisions.list_latest(session)]}


@api_route(bp, "/decision-definitions", "POST", summary="Deploy a DMN file (a new version of each decision unless "
           "identical); 422 names the decision, rule and column", response=DecisionList, status=201,
           alt_status=(200,), content=("application/xml", "multipart/form-data"), errors=(400, 403, 413, 422))
def deploy_decisions():
    xml = request.files["file"].read() if "file" in request.files else request.get_data(cache=False)
    if not xml:
        raise BadRequest("send the DMN XML as the request body (Content-Type: application/xml) or as field 'file'")
    engine = current_engine()
    with engine.uow(actor()) as uow:
        stored = decisions.deploy(uow, xml)
        items = [{**decisions.to_dict(r, decisions.table(engine, r)), "created": c} for r, c in stored]
    created = any(c for _r, c in stored)
    return jsonify(DecisionList().dump({"items": items})), (201 if created else 200)


@api_route(bp, "/decision-definitions/<key>", summary="One decision: its latest version (or ?version=) with its "
           "columns, and every version", query=VersionQuery, response=DecisionVersions, errors=(404,))
def decision_versions(key, args):
    engine = current_engine()
    with engine.read() as session:
        row = decisions.get(session, key, args.get("version"))
        current = {**decisions.to_dict(row, decisions.table(engine, row)), "xml": row.xml}
        return {"key": key, "versions": [current] + [decisions.to_dict(r) for r in decisions.versions(session, key)
                                                     if r.id != row.id]}


@api_route(bp, "/decision-definitions/<key>/evaluate", "POST", summary="Evaluate a decision over variables (to test "
           "a table); 422 on a hit-policy violation", body=EvaluateRequest, response=EvaluateResult,
           errors=(403, 404, 422))
def evaluate_decision(key, body):
    engine = current_engine()
    decisions.require_tester(actor())
    with engine.read() as session:
        return decisions.evaluate(engine, session, key, body["variables"], body.get("version"))
