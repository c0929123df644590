"""API: migrate running instances to a newer version of their process (engine/runtime/migration.py).

A refusal is 409 ``migration_refused`` whose ``details`` is the full report, with
``refusals`` naming every element that blocks the move; a dry run answers 200 with the
report and changes nothing.
"""

from __future__ import annotations

from flask import Blueprint

from engine.runtime import migration as instance_migration
from web.context import current_engine
from web.routing import actor, api_route
from web.schemas.migration import (
    BulkMigrationRequest,
    BulkReport,
    MigrationReport,
    MigrationRequest,
)

bp = Blueprint("migration", __name__, url_prefix="/api")


@api_route(bp, "/process-instances/<instance_id>/migration", "POST",
           summary="Migrate an instance to a newer version (admin, process owner); dry_run reports only",
           body=MigrationRequest, response=MigrationReport, errors=(403, 404, 409))
def migrate_instance(instance_id, body):
    with current_engine().uow(actor()) as uow:
        return instance_migration.migrate(uow, instance_id, body.get("target_version"), body["dry_run"])


@api_route(bp, "/process-definitions/<key>/migrations", "POST",
           summary="Migrate every running instance of key@from_version (one transaction each)",
           body=BulkMigrationRequest, response=BulkReport, errors=(403, 404, 409))
def migrate_all(key, body):
    return instance_migration.migrate_all(current_engine(), actor(), key, body["from_version"], body.get("to_version"),
                                          body["dry_run"])
