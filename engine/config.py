"""Engine configuration, read once from the environment.

Every setting has a safe embedded default so that `bpm init && bpm serve` works with
no configuration at all (SQLite in ``var/``). This is the one module that reads ``BPM_*``
variables: the rest of the engine is handed a :class:`Settings` (through ``engine.settings``)
and never reads the environment itself.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_SECRET = "dev-insecure-secret-change-me"


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw not in (None, "") else default


def _float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    return float(raw) if raw not in (None, "") else default


DB_CONNECT_TIMEOUT = 5
# What one user (or, for sign-ins, one client address) may do; see web/ratelimits.py.
RATE_LIMITS = {
    "starts": "30/minute;500/hour",  # instances started per user
    "completions": "120/minute;2000/hour",  # tasks completed per user
    "uploads": "30/minute;500/hour",  # files uploaded per user
    "logins": "30/minute;300/hour",  # sign-in attempts per client address
    "failed_logins": "10/minute;50/hour",  # failed sign-ins per client address (password spraying)
}


@dataclass(frozen=True)
class ScriptLimits:
    """What one script or expression call may use (engine/bpmn/sandbox)."""

    cpu_seconds: float = 2.0
    wall_seconds: float = 5.0
    memory_bytes: int = 256 * 2**20
    max_output_bytes: int = 2**20
    workers: int = 2


@dataclass(frozen=True)
class SmtpSettings:
    """Where notification e-mail goes (``BPM_SMTP_*``); absent: no e-mail is sent."""

    host: str
    port: int = 25
    sender: str = "bpm@localhost"
    user: str | None = None
    password: str | None = None
    starttls: bool = False


@dataclass(frozen=True)
class SealSettings:
    """The electronic seal (engine/seals): the organisation named on seals, where its keys are,
    the CJK font, the signing provider and an optional RFC 3161 time-stamping authority."""

    organisation: str = "演示单位 Demo organisation"  # BPM_SEAL_ORG
    ca_key: Path | None = None  # BPM_SEAL_CA_KEY, default <var_dir>/keys/seal_ca_key.pem
    kek: Path | None = None  # BPM_SEAL_KEK, default <var_dir>/keys/seal_kek.key
    font: Path | None = None  # BPM_SEAL_FONT, default the installed WenQuanYi font
    provider: str = "engine.seals.pdfsign:PyHankoProvider"  # BPM_SEAL_PROVIDER
    tsa_url: str | None = None  # BPM_TSA_URL


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
    history_ttl_days: int = 3 * 365  # finished instances older than this are archived, then deleted (0: never)
    audit_retention_days: int = 10 * 365  # audit events are never deleted inside this period
    archive_dir: Path | None = None  # default <var_dir>/archive
    db_connect_timeout: int = DB_CONNECT_TIMEOUT  # BPM_DB_CONNECT_TIMEOUT: fail fast when PostgreSQL is away
    # limits of model scripts and expressions (engine/bpmn/sandbox) and of an instance's data
    script_cpu_seconds: float = 2.0  # BPM_SCRIPT_CPU_SECONDS: CPU time of one script or expression
    script_wall_seconds: float = 5.0  # BPM_SCRIPT_WALL_SECONDS: after this the worker is killed
    script_memory_mb: int = 256  # BPM_SCRIPT_MEMORY_MB: memory a script may take
    script_workers: int = 2  # BPM_SCRIPT_WORKERS: sandbox worker processes per server process
    max_data_bytes: int = 2**20  # BPM_MAX_DATA_BYTES: an instance's data (JSON), and what a script may leave
    step_chunk: int = 2_000  # BPM_STEP_CHUNK: automatic steps per transaction; a longer run continues in the next
    runaway_steps: int = 1_000_000  # BPM_RUNAWAY_STEPS: automatic steps in a row that make an incident (endless loop)
    workflow_cache: int = 512  # BPM_WORKFLOW_CACHE: live workflows kept per process between steps (0: always reload)
    workflow_cache_mb: int = 64  # BPM_WORKFLOW_CACHE_MB: ... and at most this much of their stored state
    # rate limits (web/ratelimits.py): BPM_RATE_LIMIT_<KIND> in Flask-Limiter's syntax, e.g. "30/minute;500/hour"
    rate_limits: dict = field(default_factory=lambda: dict(RATE_LIMITS))
    rate_limit_storage: str | None = None  # BPM_RATE_LIMIT_STORAGE: bpmmemory:// (SQLite default), bpmdb:// (PostgreSQL)
    smtp: SmtpSettings | None = None
    seals: SealSettings = field(default_factory=SealSettings)
    # BPM_WORKING_HOURS: "08:30-12:00,14:00-17:30" (all year) or seasons "summer 05-01..09-30=09:20-12:30,15:20-18:30;
    # winter 10-01..04-30=09:50-13:00,15:20-18:30" (engine.sla.policy.working_hours); empty: these seasonal hours
    working_hours: str = ""
    congestion_debounce_seconds: float = 60.0  # BPM_CONGESTION_DEBOUNCE_SECONDS
    scoring_rules: Path | None = None  # BPM_SCORING_RULES, default engine/jobs/data/scoring_rules.json
    pg_bin_dir: str | None = None  # BPM_PG_BIN_DIR: pg_dump / pg_restore / psql for backups
    audit_key: Path | None = None  # BPM_AUDIT_KEY, default <var_dir>/keys/audit_ed25519.pem
    connectors: Path | None = None  # BPM_CONNECTORS: external-task topics, default processes/connectors.toml
    extra: dict = field(default_factory=dict)

    @property
    def script_limits(self) -> ScriptLimits:
        return ScriptLimits(cpu_seconds=self.script_cpu_seconds, wall_seconds=self.script_wall_seconds,
                            memory_bytes=self.script_memory_mb * 2**20, max_output_bytes=self.max_data_bytes,
                            workers=self.script_workers)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def _path(name: str) -> Path | None:
    raw = os.environ.get(name)
    return Path(raw) if raw else None


def _smtp() -> SmtpSettings | None:
    host = os.environ.get("BPM_SMTP_HOST")
    if not host:
        return None
    return SmtpSettings(host=host, port=_int("BPM_SMTP_PORT", 25),
                        sender=os.environ.get("BPM_SMTP_FROM", "bpm@localhost"),
                        user=os.environ.get("BPM_SMTP_USER"), password=os.environ.get("BPM_SMTP_PASSWORD"),
                        starttls=os.environ.get("BPM_SMTP_STARTTLS") == "1")


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
        history_ttl_days=_int("BPM_HISTORY_TTL_DAYS", 3 * 365),
        audit_retention_days=_int("BPM_AUDIT_RETENTION_DAYS", 10 * 365),
        archive_dir=Path(os.environ["BPM_ARCHIVE_DIR"]) if os.environ.get("BPM_ARCHIVE_DIR") else None,
        db_connect_timeout=max(2, _int("BPM_DB_CONNECT_TIMEOUT", DB_CONNECT_TIMEOUT)),
        script_cpu_seconds=_float("BPM_SCRIPT_CPU_SECONDS", 2.0),
        script_wall_seconds=_float("BPM_SCRIPT_WALL_SECONDS", 5.0),
        script_memory_mb=_int("BPM_SCRIPT_MEMORY_MB", 256),
        script_workers=max(1, _int("BPM_SCRIPT_WORKERS", 2)),
        max_data_bytes=_int("BPM_MAX_DATA_BYTES", 2**20),
        step_chunk=max(1, _int("BPM_STEP_CHUNK", 2_000)),
        runaway_steps=max(1, _int("BPM_RUNAWAY_STEPS", 1_000_000)),
        workflow_cache=max(0, _int("BPM_WORKFLOW_CACHE", 512)),
        workflow_cache_mb=max(0, _int("BPM_WORKFLOW_CACHE_MB", 64)),
        rate_limits={k: os.environ.get(f"BPM_RATE_LIMIT_{k.upper()}") or v for k, v in RATE_LIMITS.items()},
        rate_limit_storage=os.environ.get("BPM_RATE_LIMIT_STORAGE") or None,
        smtp=_smtp(),
        seals=SealSettings(
            organisation=os.environ.get("BPM_SEAL_ORG") or SealSettings.organisation,
            ca_key=_path("BPM_SEAL_CA_KEY"), kek=_path("BPM_SEAL_KEK"), font=_path("BPM_SEAL_FONT"),
            provider=os.environ.get("BPM_SEAL_PROVIDER") or SealSettings.provider,
            tsa_url=os.environ.get("BPM_TSA_URL") or None),
        working_hours=os.environ.get("BPM_WORKING_HOURS", ""),
        congestion_debounce_seconds=_float("BPM_CONGESTION_DEBOUNCE_SECONDS", 60.0),
        scoring_rules=_path("BPM_SCORING_RULES"),
        pg_bin_dir=os.environ.get("BPM_PG_BIN_DIR") or None,
        audit_key=_path("BPM_AUDIT_KEY"),
        connectors=_path("BPM_CONNECTORS"),
    )
    values.update(overrides)
    return Settings(**values)
