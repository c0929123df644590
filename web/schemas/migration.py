"""Schemas of the migration endpoints (web/api/migration.py)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from web.schemas.common import MAX_INT32, Name


class MigrationRequest(Schema):
    target_version = fields.Int(load_default=None, allow_none=True, validate=validate.Range(min=1, max=MAX_INT32),
                                metadata={"description": "default: the latest version"})
    dry_run = fields.Bool(load_default=False, metadata={"description": "report what would change, change nothing"})


class BulkMigrationRequest(Schema):
    from_version = fields.Int(required=True, validate=validate.Range(min=1, max=MAX_INT32))
    to_version = fields.Int(load_default=None, allow_none=True, validate=validate.Range(min=1, max=MAX_INT32),
                            metadata={"description": "default: the latest version"})
    dry_run = fields.Bool(load_default=False)


class SpecElement(Schema):
    element_id = fields.Str()
    name = Name(allow_none=True)
    type = fields.Str(allow_none=True)
    to_element_id = fields.Str()
    to_name = Name(allow_none=True)
    changes = fields.List(fields.Str())


class SpecChanges(Schema):
    added = fields.List(fields.Nested(SpecElement))
    removed = fields.List(fields.Nested(SpecElement))
    changed = fields.List(fields.Nested(SpecElement))


class TaskMove(Schema):
    task_id = fields.Str()
    element_id = fields.Str(allow_none=True)
    name = Name(allow_none=True)
    to_element_id = fields.Str()
    to_name = Name(allow_none=True)
    candidate_groups = fields.List(fields.Str())
    to_candidate_groups = fields.List(fields.Str())
    assignee = fields.Str(allow_none=True)


class TaskChanges(Schema):
    moved = fields.List(fields.Nested(TaskMove), metadata={"description": "open tasks carried over (same id)"})
    created = fields.List(fields.Nested(TaskMove), metadata={"description": "tasks the new version opens"})
    cancelled = fields.List(fields.Nested(TaskMove), metadata={"description": "open tasks the new version ends"})


class TimerChange(Schema):
    task_id = fields.Str()
    element_id = fields.Str()
    fire_at = fields.Str()


class TimerChanges(Schema):
    kept = fields.List(fields.Nested(TimerChange))
    rescheduled = fields.List(fields.Nested(TimerChange))
    created = fields.List(fields.Nested(TimerChange))
    cancelled = fields.List(fields.Nested(TimerChange))


class Refusal(Schema):
    element_id = fields.Str(allow_none=True)
    name = Name(allow_none=True)
    task_id = fields.Str(allow_none=True)
    state = fields.Str(allow_none=True)
    reason = fields.Str(metadata={"description": "removed | type_changed | definition_changed | form_changed | "
                                                 "subprocess_removed | history_removed | would_fail"})
    message = fields.Str()


class MigrationReport(Schema):
    instance_id = fields.Str()
    business_key = fields.Str(allow_none=True)
    process_key = fields.Str()
    from_version = fields.Int()
    to_version = fields.Int()
    status = fields.Str()
    status_after = fields.Str()
    possible = fields.Bool()
    dry_run = fields.Bool()
    migrated = fields.Bool()
    spec = fields.Nested(SpecChanges)
    tasks = fields.Nested(TaskChanges)
    timers = fields.Nested(TimerChanges)
    data_changed = fields.List(fields.Str(), metadata={"description": "variables the move changed (normally none)"})
    refusals = fields.List(fields.Nested(Refusal))


class BulkItem(Schema):
    instance_id = fields.Str()
    business_key = fields.Str(allow_none=True)
    possible = fields.Bool()
    migrated = fields.Bool()
    refusals = fields.List(fields.Nested(Refusal))
    tasks = fields.Nested(TaskChanges)
    error = fields.Str(allow_none=True)


class BulkReport(Schema):
    key = fields.Str()
    from_version = fields.Int()
    to_version = fields.Int()
    dry_run = fields.Bool()
    total = fields.Int()
    possible = fields.Int()
    migrated = fields.Int()
    refused = fields.Int()
    items = fields.List(fields.Nested(BulkItem))
