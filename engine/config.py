"""Engine configuration, read once from the environment.

Every setting has a safe embedded default so that `bpm init && bpm serve` works with
no configuration at all (SQLite in ``var/``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_SECRET = "dev-insecure-secret-change-me"


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw not in (None, "") else default


@dataclass(frozen=True)
class Settings:
    """Runtime settings; construct with :func:`load_settings`."""

    var_dir: Path
    database_url: str
    secret_key: str
    production: bool
    token_ttl_seconds: int = 8 * 3600
    max_upload_bytes: int = 20 * 1024 * 1024
    allowed_upload_types: tuple[str, ...] = (
        "application/pdf",
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/webp",
        "text/plain",
        "text/csv",
        "application/zip",
        "application/msword",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.ms-excel",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    timer_poll_seconds: float = 0.2
    controlled_clock: bool = False
    extra: dict = field(default_factory=dict)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def project_root() -> Path:
    """The folder holding ``processes/`` and ``forms/`` (the repository root)."""
    return Path(os.environ.get("BPM_HOME", Path(__file__).resolve().parent.parent))


def load_settings(**overrides) -> Settings:
    var_dir = Path(overrides.pop("var_dir", None) or os.environ.get("BPM_VAR_DIR") or project_root() / "var")
    url = overrides.pop("database_url", None) or os.environ.get("BPM_DATABASE_URL") or f"sqlite:///{var_dir / 'bpm.sqlite3'}"
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    values = dict(
        var_dir=var_dir,
        database_url=url,
        secret_key=os.environ.get("BPM_SECRET_KEY", DEFAULT_SECRET),
        production=os.environ.get("BPM_ENV", "development") == "production",
        token_ttl_seconds=_int("BPM_TOKEN_TTL", 8 * 3600),
        max_upload_bytes=_int("BPM_MAX_UPLOAD_BYTES", 20 * 1024 * 1024),
        controlled_clock=os.environ.get("BPM_CONTROLLED_CLOCK") == "1",
    )
    values.update(overrides)
    return Settings(**values)
