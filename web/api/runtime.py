"""API: process instances and tasks."""

from __future__ import annotations

from flask import Blueprint

from engine.errors import Forbidden
from engine.identity.policy import may_retry
from engine.runtime import admin_ops, instances, tasks
from web.api import audit as api_audit
from web.context import current_engine
from web.ratelimits import per_user
from web.routing import actor, api_route
from web.schemas.audit import AuditEventSchema, ExportQuery, InstanceTimeline
from web.schemas.runtime import (
    AssignRequest,
    BulkRetryRequest,
    BulkRetryResult,
    CancelRequest,
    CompleteTaskRequest,
    CompleteTaskResponse,
    IncidentPage,
    IncidentQuery,
    InstancePage,
    InstanceQuery,
    InstanceSchema,
    ModificationRequest,
    RetryRequest,
    StartInstanceRequest,
    TaskPage,
    TaskQuery,
    TaskSchema,
    VariablesRequest,
)

bp = Blueprint("runtime", __name__, url_prefix="/api")


def _instance(session, inst):
    return instances.instance_to_dict(session, inst, engine=current_engine())


@api_route(bp, "/process-definitions/<key>/instances", "POST", summary="Start an instance of the latest version",
           body=StartInstanceRequest, response=InstanceSchema, status=201, errors=(403, 404, 413, 429))
@per_user("starts")
def start_instance(key, body):
    engine = current_engine()
    with engine.uow(actor()) as uow:
        inst = instances.start(engine, uow, key, body["data"], body.get("business_key"))
        return _instance(uow.session, inst)


@api_route(bp, "/process-instances", summary="Instances the caller may read", query=InstanceQuery,
           response=InstancePage)
def list_instances(args):
    with current_engine().read() as session:
        return instances.list_instances(
            session, actor(), args.get("key"), args.get("status"), args["page"], args["per_page"], args.get("q")
        )


@api_route(bp, "/process-instances/<instance_id>", summary="Status, data, open tasks, pending timers, incident",
           response=InstanceSchema, errors=(403, 404))
def get_instance(instance_id):
    with current_engine().read() as session:
        return _instance(session, instances.get_readable(session, actor(), instance_id))


@api_route(bp, "/process-instances/<instance_id>/timeline",
           summary="Audit events of the instance in order; ?format=csv|json downloads them",
           query=ExportQuery, response=InstanceTimeline, errors=(403, 404),
           download=AuditEventSchema)
def instance_timeline(instance_id, args):
    return api_audit.instance_timeline(instance_id, args)


@api_route(bp, "/process-instances/<instance_id>/retry", "POST", summary="Retry the failed element of an incident",
           body=RetryRequest, response=InstanceSchema, errors=(403, 404, 409))
def retry_instance(instance_id, body):
    engine = current_engine()
    with engine.uow(actor()) as uow:
        inst = instances.retry(engine, uow, instance_id, body.get("data"))
        return _instance(uow.session, inst)


@api_route(bp, "/process-instances/<instance_id>/cancel", "POST",
           summary="Cancel (terminate) a running instance or one in incident, with a reason (admin)",
           body=CancelRequest, response=InstanceSchema, errors=(403, 404, 409))
def cancel_instance(instance_id, body):
    engine = current_engine()
    with engine.uow(actor()) as uow:
        inst = instances.cancel(engine, uow, instance_id, body["reason"])
        return _instance(uow.session, inst)


@api_route(bp, "/process-instances/<instance_id>/suspend", "POST",
           summary="Suspend a running instance (admin, with a reason): no task completes, no timer fires",
           body=CancelRequest, response=InstanceSchema, errors=(403, 404, 409))
def suspend_instance(instance_id, body):
    with current_engine().uow(actor()) as uow:
        return _instance(uow.session, admin_ops.suspend(uow, instance_id, body["reason"]))


@api_route(bp, "/process-instances/<instance_id>/resume", "POST",
           summary="Resume a suspended instance (admin, with a reason); timers that fell due fire at once",
           body=CancelRequest, response=InstanceSchema, errors=(403, 404, 409))
def resume_instance(instance_id, body):
    with current_engine().uow(actor()) as uow:
        return _instance(uow.session, admin_ops.resume(uow, instance_id, body["reason"]))


@api_route(bp, "/process-instances/<instance_id>/variables", "POST",
           summary="Set or correct variables of an instance (admin, with a reason, audited before/after)",
           body=VariablesRequest, response=InstanceSchema, errors=(403, 404, 409, 413))
def set_variables(instance_id, body):
    with current_engine().uow(actor()) as uow:
        return _instance(uow.session, admin_ops.set_variables(uow, instance_id, body["data"], body["reason"]))


@api_route(bp, "/process-instances/<instance_id>/modification", "POST",
           summary="Modify an instance (admin, with a reason): cancel an active element, start before or after one",
           body=ModificationRequest, response=InstanceSchema, errors=(403, 404, 409, 422))
def modify_instance(instance_id, body):
    with current_engine().uow(actor()) as uow:
        return _instance(uow.session, admin_ops.modify(uow, instance_id, body["instructions"], body["reason"]))


@api_route(bp, "/incidents", summary="Instances in incident, oldest first (admin)", query=IncidentQuery,
           response=IncidentPage, errors=(403,))
def list_incidents(args):
    if not may_retry(actor()):
        raise Forbidden("only an administrator may list incidents")
    with current_engine().read() as session:
        return admin_ops.incidents(session, args["page"], args["per_page"])


@api_route(bp, "/incidents/retry", "POST", summary="Retry several incidents, each in a transaction of its own (admin)",
           body=BulkRetryRequest, response=BulkRetryResult, errors=(403,))
def retry_incidents(body):
    return {"results": admin_ops.retry_many(current_engine(), actor(), body["instance_ids"])}


@api_route(bp, "/tasks", summary="Tasklist: mine, my groups' unclaimed, or all visible", query=TaskQuery,
           response=TaskPage)
def list_tasks(args):
    with current_engine().read() as session:
        return tasks.list_tasks(session, actor(), args["scope"], args.get("instance"), args["page"], args["per_page"],
                                args.get("q"))


@api_route(bp, "/tasks/<task_id>", summary="A task with its form", response=TaskSchema, errors=(403, 404))
def get_task(task_id):
    engine = current_engine()
    with engine.read() as session:
        return tasks.get_task(engine, session, actor(), task_id)


@api_route(bp, "/tasks/<task_id>/claim", "POST", summary="Claim a task for yourself", response=TaskSchema,
           errors=(403, 404, 409))
def claim_task(task_id):
    with current_engine().uow(actor()) as uow:
        return tasks.task_to_dict(tasks.claim(uow, task_id))


@api_route(bp, "/tasks/<task_id>/assign", "POST", summary="Reassign a task (admin, or a manager of its unit)",
           body=AssignRequest, response=TaskSchema, errors=(403, 404, 409))
def assign_task(task_id, body):
    with current_engine().uow(actor()) as uow:
        return tasks.task_to_dict(tasks.assign(uow, task_id, body["assignee"], body.get("reason")))


@api_route(bp, "/tasks/<task_id>/unclaim", "POST", summary="Release a claimed task", response=TaskSchema,
           errors=(403, 404, 409))
def unclaim_task(task_id):
    with current_engine().uow(actor()) as uow:
        return tasks.task_to_dict(tasks.unclaim(uow, task_id))


@api_route(bp, "/tasks/<task_id>/complete", "POST", summary="Complete a task with its form data",
           body=CompleteTaskRequest, response=CompleteTaskResponse, errors=(403, 404, 409, 413, 429))
@per_user("completions")
def complete_task(task_id, body):
    who = actor()

    def describe(session, inst):
        session.flush()  # the open tasks are read before instance_to_dict flushes
        rows = instances.open_task_rows(session, inst.id)
        return (instances.instance_to_dict(session, inst, engine=current_engine(), open_rows=rows),
                tasks.next_tasks(who, rows))

    task, _, (instance, next_tasks) = tasks.complete_task(current_engine(), who, task_id, body["data"], describe=describe)
    return {"task": task, "instance": instance, "next_tasks": next_tasks}
