"""A PostgreSQL database of its own for a benchmark run: created from an admin connection, dropped
after (even while sessions are still connected to it)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text


@contextmanager
def temporary_pg_database(admin_url: str, prefix: str) -> Iterator[str]:
    admin_url = admin_url.replace("postgresql://", "postgresql+psycopg://", 1)
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield admin_url.rsplit("/", 1)[0] + f"/{name}"
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@contextmanager
def benchmark_database(args, prefix: str, sqlite_file=None) -> Iterator[str | None]:
    """The database a benchmark runs on: ``args.database_url`` when given, else a PostgreSQL
    database of its own when ``args.postgres`` names an admin URL (dropped after), else SQLite in
    ``sqlite_file`` (``None``: the engine's default SQLite in its var folder)."""
    if args.database_url:
        yield args.database_url
    elif getattr(args, "postgres", None):
        with temporary_pg_database(args.postgres, prefix) as url:
            yield url
    else:
        yield f"sqlite:///{sqlite_file}" if sqlite_file is not None else None
