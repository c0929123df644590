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


def run_with_database(args, prefix: str, run) -> None:
    """``run(args)`` on a PostgreSQL database of its own when ``args.postgres`` names an admin
    URL (``args.database_url`` is set to it), else on ``args.database_url`` as given."""
    if getattr(args, "postgres", None):
        with temporary_pg_database(args.postgres, prefix) as url:
            args.database_url = url
            run(args)
    else:
        run(args)
