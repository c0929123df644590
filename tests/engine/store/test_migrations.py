"""The Alembic migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, text

from engine.store.models import Base


def test_migrated_schema_matches_the_models(db):
    url, _ = db
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
            head = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
    finally:
        engine.dispose()
    assert diff == [], diff
    from engine.store.migrate import MIGRATIONS

    newest = sorted(p.name.split("_")[0] for p in (MIGRATIONS / "versions").glob("0*.py"))[-1]
    assert head == newest
