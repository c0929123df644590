"""What a backup or an archive records about where it came from: the code's version, the
database's schema revision, and the SHA-256 of the files it wrote."""

from __future__ import annotations

import hashlib
from pathlib import Path


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def engine_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("bpm-engine")
    except PackageNotFoundError:  # pragma: no cover - running from a plain checkout
        return "unknown"


def schema_revision(conn) -> str | None:
    """The Alembic revision recorded in the database on ``conn`` (``None``: unversioned)."""
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(conn).get_current_revision()
