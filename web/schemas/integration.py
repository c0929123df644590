"""External tasks (engine/runtime/external.py) and DMN decisions (engine/runtime/decisions.py)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from web.schemas.common import MAX_INT32, NO_NUL, Name

WORKER = fields.Str(required=True, validate=[validate.Length(min=1, max=128), NO_NUL],
                    metadata={"description": "the worker's own id (one service account may run many workers)"})


class TopicRequest(Schema):
    name = fields.Str(required=True, validate=[validate.Length(min=1, max=128), NO_NUL])
    lock_duration = fields.Int(validate=validate.Range(min=1, max=24 * 3600 * 1000),
                               metadata={"description": "milliseconds; default: the topic's configured duration"})
    variables = fields.List(fields.Str(validate=validate.Length(max=128)), validate=validate.Length(max=200),
                            metadata={"description": "only these variables (default: all)"})


class FetchAndLockRequest(Schema):
    worker_id = WORKER
    max_tasks = fields.Int(load_default=1, validate=validate.Range(min=1, max=100))
    topics = fields.List(fields.Nested(TopicRequest), required=True, validate=validate.Length(min=1, max=50))
    async_response_timeout = fields.Int(load_default=0, validate=validate.Range(min=0, max=30_000),
                                        metadata={"description": "long polling: wait up to this many ms for a task"})


class ExternalTaskSchema(Schema):
    id = fields.Str()
    instance_id = fields.Str()
    process_key = fields.Str()
    element_id = fields.Str()
    name = fields.Str(allow_none=True)
    topic = fields.Str()
    priority = fields.Int()
    state = fields.Str(metadata={"description": "open, completed, cancelled or failed"})
    worker_id = fields.Str(allow_none=True)
    lock_expires_at = fields.DateTime(allow_none=True)
    retries = fields.Int(allow_none=True)
    retry_at = fields.DateTime(allow_none=True)
    error_message = fields.Str(allow_none=True)
    business_key = fields.Str(allow_none=True)
    created_at = fields.DateTime()
    completed_at = fields.DateTime(allow_none=True)
    variables = fields.Dict(metadata={"description": "the instance's variables (fetch-and-lock only)"})


class ExternalTaskList(Schema):
    items = fields.List(fields.Nested(ExternalTaskSchema))


class ExternalTaskQuery(Schema):
    topic = fields.Str(validate=validate.Length(max=128))
    locked = fields.Bool()
    state = fields.Str(load_default="open", validate=validate.OneOf(["open", "completed", "cancelled", "failed"]))
    instance_id = fields.Str(validate=validate.Length(max=36))
    limit = fields.Int(load_default=100, validate=validate.Range(min=1, max=1000))


class CompleteExternalRequest(Schema):
    worker_id = WORKER
    variables = fields.Dict(keys=fields.Str(), load_default=dict)


class FailureRequest(Schema):
    worker_id = WORKER
    error_message = fields.Str(required=True, validate=validate.Length(min=1, max=1000))
    error_details = fields.Str(validate=validate.Length(max=20_000))
    retries = fields.Int(validate=validate.Range(min=0, max=1000),
                         metadata={"description": "retries left; default: the model's count minus one"})
    retry_timeout = fields.Int(validate=validate.Range(min=0, max=7 * 24 * 3600 * 1000),
                               metadata={"description": "ms before the next attempt; default: the model's back-off"})


class BpmnErrorRequest(Schema):
    worker_id = WORKER
    error_code = fields.Str(required=True, validate=[validate.Length(min=1, max=256), NO_NUL])
    error_message = fields.Str(validate=validate.Length(max=1000))
    variables = fields.Dict(keys=fields.Str(), load_default=dict)


class ExtendLockRequest(Schema):
    worker_id = WORKER
    new_duration = fields.Int(required=True, validate=validate.Range(min=1, max=24 * 3600 * 1000))


class ExternalResult(Schema):
    id = fields.Str()
    state = fields.Str()
    instance_id = fields.Str()
    instance_status = fields.Str()
    retries = fields.Int()
    caught = fields.Bool()
    caught_by = fields.Str()
    lock_expires_at = fields.DateTime()


class TopicSchema(Schema):
    topic = fields.Str()
    name = fields.Str()
    accounts = fields.List(fields.Str())
    lock_duration_ms = fields.Int()


class TopicList(Schema):
    items = fields.List(fields.Nested(TopicSchema))


class DecisionSchema(Schema):
    id = fields.Int()
    key = fields.Str()
    version = fields.Int()
    name = Name(allow_none=True)
    sha256 = fields.Str()
    deployed_at = fields.DateTime()
    deployed_by = fields.Str(allow_none=True)
    hit_policy = fields.Str()
    aggregation = fields.Str(allow_none=True)
    inputs = fields.List(fields.Dict())
    outputs = fields.List(fields.Dict())
    rules = fields.Int()
    created = fields.Bool()
    xml = fields.Str()


class DecisionList(Schema):
    items = fields.List(fields.Nested(DecisionSchema))


class DecisionVersions(Schema):
    key = fields.Str()
    versions = fields.List(fields.Nested(DecisionSchema))


class EvaluateRequest(Schema):
    variables = fields.Dict(keys=fields.Str(), load_default=dict)
    version = fields.Int(validate=validate.Range(min=1, max=MAX_INT32))


class EvaluateResult(Schema):
    key = fields.Str()
    version = fields.Int()
    hit_policy = fields.Str()
    matched_rules = fields.List(fields.Int())
    outputs = fields.List(fields.Dict())
    result = fields.Raw(allow_none=True)
    result_list = fields.List(fields.Dict())
