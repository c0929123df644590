"""Schemas of running work: instances, their timelines, tasks."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from web.schemas.catalog import DocumentSchema  # noqa: F401
from web.schemas.common import MAX_PAGE, NO_NUL, Name


class StartInstanceRequest(Schema):
    business_key = fields.Str(allow_none=True, validate=[validate.Length(max=128), NO_NUL])
    data = fields.Dict(keys=fields.Str(), load_default=dict)


class OpenTaskSummary(Schema):
    id = fields.Str()
    element_id = fields.Str()
    name = Name(allow_none=True)
    assignee = fields.Str(allow_none=True)
    candidate_groups = fields.List(fields.Str())
    created_at = fields.DateTime()
    due_at = fields.DateTime(allow_none=True)


class TimerSummary(Schema):
    id = fields.Int()
    element_id = fields.Str()
    kind = fields.Str()
    fire_at = fields.DateTime()


class InstanceLink(Schema):
    id = fields.Str()
    process_key = fields.Str()
    name = Name(allow_none=True)
    element_id = fields.Str(allow_none=True, metadata={"description": "the call activity"})
    status = fields.Str()


class InstanceSchema(Schema):
    id = fields.Str()
    process_key = fields.Str()
    definition_version = fields.Int()
    name = Name(allow_none=True)
    business_key = fields.Str(allow_none=True)
    reference = fields.Str(allow_none=True, metadata={"description": "the case's human reference, e.g. "
                                                                   "GH-2026-000123 (process property businessKeyPrefix)"})
    summary = fields.Dict(keys=fields.Str(), values=fields.Str(),
                          metadata={"description": "the values of the process's listFields"})
    status = fields.Str()
    started_by = fields.Str(allow_none=True)
    started_at = fields.DateTime()
    ended_at = fields.DateTime(allow_none=True)
    incident = fields.Dict(allow_none=True)
    org_unit = fields.Str(allow_none=True)
    data = fields.Dict()
    completed_elements = fields.List(fields.Str())
    open_tasks = fields.List(fields.Nested(OpenTaskSummary))
    pending_timers = fields.List(fields.Nested(TimerSummary))
    parent = fields.Nested(InstanceLink, allow_none=True, metadata={"description": "the caller of a called instance"})
    children = fields.List(fields.Nested(InstanceLink), metadata={"description": "instances its call activities started"})
    waiting_at = fields.List(fields.Str(), metadata={"description": "elements waiting for a message, a signal or a "
                                                                     "called instance"})


class InstancePage(Schema):
    items = fields.List(fields.Nested(InstanceSchema))
    page = fields.Int()
    per_page = fields.Int()
    total = fields.Int()


SEARCH = fields.Str(validate=[validate.Length(max=100), NO_NUL],
                    metadata={"description": "search: reference, business key, list fields' values (a name, a "
                                             "phone), or the start of the id"})


class InstanceQuery(Schema):
    q = SEARCH
    key = fields.Str()
    status = fields.Str(validate=validate.OneOf(["running", "completed", "incident", "cancelled"]))
    page = fields.Int(load_default=1, validate=validate.Range(min=1, max=MAX_PAGE))
    per_page = fields.Int(load_default=50, validate=validate.Range(min=1, max=200))


class RetryRequest(Schema):
    data = fields.Dict(keys=fields.Str(), load_default=dict)


class CancelRequest(Schema):
    reason = fields.Str(required=True, validate=[validate.Length(min=1, max=500), NO_NUL],
                        metadata={"description": "why the instance is ended by hand (audited)"})


class VariablesRequest(Schema):
    data = fields.Dict(keys=fields.Str(validate=validate.Length(min=1, max=128)), required=True,
                       metadata={"description": "variables to set (the values replace the instance's)"})
    reason = fields.Str(required=True, validate=[validate.Length(min=1, max=500), NO_NUL])


class Instruction(Schema):
    type = fields.Str(required=True, validate=validate.OneOf(("cancel", "start_before", "start_after")))
    element_id = fields.Str(required=True, validate=validate.Length(min=1, max=128))


class ModificationRequest(Schema):
    instructions = fields.List(fields.Nested(Instruction), required=True, validate=validate.Length(min=1, max=20))
    reason = fields.Str(required=True, validate=[validate.Length(min=1, max=500), NO_NUL])


class IncidentQuery(Schema):
    page = fields.Int(load_default=1, validate=validate.Range(min=1, max=MAX_PAGE))
    per_page = fields.Int(load_default=50, validate=validate.Range(min=1, max=200))


class Incident(Schema):
    instance_id = fields.Str()
    process_key = fields.Str()
    business_key = fields.Str(allow_none=True)
    org_unit = fields.Str(allow_none=True)
    element_id = fields.Str(allow_none=True)
    message = fields.Str(allow_none=True)
    started_at = fields.DateTime()


class IncidentPage(Schema):
    items = fields.List(fields.Nested(Incident))
    page = fields.Int()
    per_page = fields.Int()
    total = fields.Int()


class BulkRetryRequest(Schema):
    instance_ids = fields.List(fields.Str(validate=validate.Length(min=1, max=36)), required=True,
                               validate=validate.Length(min=1, max=100))


class RetryOutcome(Schema):
    instance_id = fields.Str()
    ok = fields.Bool()
    status = fields.Str(allow_none=True)
    error = fields.Str(allow_none=True)


class BulkRetryResult(Schema):
    results = fields.List(fields.Nested(RetryOutcome))


class TimelineEvent(Schema):
    seq = fields.Int()
    at = fields.DateTime()
    actor = fields.Str(allow_none=True)
    action = fields.Str()
    task_id = fields.Str(allow_none=True)
    element_id = fields.Str(allow_none=True)
    details = fields.Dict()


class Timeline(Schema):
    instance_id = fields.Str()
    events = fields.List(fields.Nested(TimelineEvent))


class TaskRoundField(Schema):
    key = fields.Str()
    label = fields.Str()
    value = fields.Raw()
    text = fields.Str(metadata={"description": "the value as shown: a choice's label"})


class TaskRoundSchema(Schema):
    round = fields.Int()
    task_id = fields.Str()
    completed_by = fields.Str(allow_none=True)
    completed_by_name = fields.Str(allow_none=True)
    completed_at = fields.DateTime(allow_none=True)
    values = fields.List(fields.Nested(TaskRoundField))


class TaskSchema(Schema):
    id = fields.Str()
    instance_id = fields.Str()
    process_key = fields.Str()
    element_id = fields.Str()
    name = Name(allow_none=True)
    status = fields.Str()
    form_key = fields.Str(allow_none=True)
    form_version = fields.Int(allow_none=True)
    candidate_groups = fields.List(fields.Str())
    assignee = fields.Str(allow_none=True)
    created_at = fields.DateTime()
    claimed_at = fields.DateTime(allow_none=True)
    due_at = fields.DateTime(allow_none=True)
    completed_at = fields.DateTime(allow_none=True)
    completed_by = fields.Str(allow_none=True)
    properties = fields.Dict()
    org_unit = fields.Str(allow_none=True)
    sla = fields.Dict(allow_none=True, metadata={"description": "due date plan: kind, amount, due_at, provisional, thresholds"})
    sla_state = fields.Str(allow_none=True, metadata={"description": "on_time, warning, breached, escalated, met, missed, cancelled"})
    form = fields.Dict(allow_none=True)
    submitted = fields.Dict(allow_none=True)
    data = fields.Dict()
    history = fields.List(fields.Nested(TaskRoundSchema), metadata={
        "description": "earlier rounds of the same step (a loop): who, when, the step's own fields; "
                       "those fields start empty in data"})


class TaskPage(Schema):
    items = fields.List(fields.Nested(TaskSchema))
    page = fields.Int()
    per_page = fields.Int()
    total = fields.Int()


class TaskQuery(Schema):
    q = SEARCH
    scope = fields.Str(load_default="all", validate=validate.OneOf(["mine", "candidate", "all"]))
    instance = fields.Str()
    page = fields.Int(load_default=1, validate=validate.Range(min=1, max=MAX_PAGE))
    per_page = fields.Int(load_default=50, validate=validate.Range(min=1, max=200))


class AssignRequest(Schema):
    assignee = fields.Str(required=True, validate=validate.Length(min=1, max=64))
    # a hand-over is explicit and says why (首问负责制: the first responder's case changes hands only so);
    # the audit event task_reassigned keeps who handed over, from whom, to whom and this reason
    reason = fields.Str(required=True, validate=[validate.Length(min=1, max=500), NO_NUL,
                                                 validate.Regexp(r"[\s\S]*\S", error="Give the reason for the hand-over.")],
                        metadata={"description": "Why the task changes hands (audited)"})


class CompleteTaskRequest(Schema):
    data = fields.Dict(keys=fields.Str(), load_default=dict)


class CompleteTaskResponse(Schema):
    task = fields.Nested(TaskSchema)
    instance = fields.Nested(InstanceSchema)
    next_tasks = fields.List(fields.Nested(TaskSchema), metadata={
        "description": "the instance's open tasks the caller may work now (assigned to them, or unclaimed in "
                       "their roles and unit): what a client shows next without listing again"})
