"""SQLAlchemy tables: the engine's durable state.

Runtime state that grows with an instance's history is kept out of ``process_instance``:
completed human tasks stay as ``task`` rows (the history) and SpiffWorkflow's task tree
is compacted before it is stored (see ``engine.runtime.spiff.compact``).
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


class Base(DeclarativeBase):
    pass


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every backend (SQLite keeps no offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class User(Base):
    __tablename__ = "bpm_user"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(128))
    password_hash: Mapped[str] = mapped_column(String(256))
    org_unit: Mapped[str | None] = mapped_column(String(64))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    email: Mapped[str | None] = mapped_column(String(256))


class LoginThrottle(Base):
    """Consecutive failed logins per username (known or not, so both behave alike) and origin:
    ``origin`` is a client address the user signed in from before, or ``""`` for every other
    address, so that locking an account from elsewhere does not lock out its owner."""

    __tablename__ = "bpm_login_throttle"

    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    origin: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    last_failed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


class LoginOrigin(Base):
    """A client address a user signed in from successfully (a known origin)."""

    __tablename__ = "bpm_login_origin"

    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    address: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_login_at: Mapped[datetime] = mapped_column(UTCDateTime)


class LoginFailures(Base):
    """Failed sign-ins from one client address not yet in an audit event: a burst is audited
    as one ``login_failed`` event with its count (engine/identity/auth.py)."""

    __tablename__ = "bpm_login_failures"

    address: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    usernames: Mapped[list] = mapped_column(JSON)
    first_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    audited_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class RateCounter(Base):
    """A fixed-window request counter of the rate limits (web/ratelimits.py) when several
    server processes share the database."""

    __tablename__ = "bpm_rate_counter"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[float] = mapped_column(Float, index=True)


class OrgUnit(Base):
    """A service hall or a department; users and instances belong to one."""

    __tablename__ = "bpm_org_unit"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(16))
    parent_key: Mapped[str | None] = mapped_column(String(64))


class UserRole(Base):
    __tablename__ = "bpm_user_role"

    user_id: Mapped[int] = mapped_column(ForeignKey("bpm_user.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(String(64), primary_key=True)


class ApiToken(Base):
    """A bearer token (``kind`` api) or a browser session (``kind`` session): the session cookie
    holds only the id of a session, which is never accepted as an API bearer token."""

    __tablename__ = "bpm_api_token"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), server_default="api")
    user_id: Mapped[int] = mapped_column(ForeignKey("bpm_user.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ProcessDefinition(Base):
    __tablename__ = "bpm_process_definition"
    __table_args__ = (UniqueConstraint("key", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(128), index=True)
    version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str | None] = mapped_column(String(256))
    sha256: Mapped[str] = mapped_column(String(64))
    xml: Mapped[str] = mapped_column(Text)
    meta: Mapped[dict] = mapped_column(JSON)
    deployed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    deployed_by: Mapped[str | None] = mapped_column(String(64))


class FormDefinition(Base):
    __tablename__ = "bpm_form_definition"
    __table_args__ = (UniqueConstraint("form_key", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    form_key: Mapped[str] = mapped_column(String(128), index=True)
    version: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[dict] = mapped_column(JSON)
    deployed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    deployed_by: Mapped[str | None] = mapped_column(String(64))


class ProcessInstance(Base):
    __tablename__ = "bpm_process_instance"
    __table_args__ = (
        Index("ix_instance_key_status", "process_key", "status"),
        Index("ix_instance_status_started", "status", "started_at"),
        Index("ix_instance_key_started", "process_key", "started_at"),  # 0005: reporting jobs
        UniqueConstraint("reference", name="uq_bpm_process_instance_reference"),  # 0010: case references
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    definition_id: Mapped[int] = mapped_column(ForeignKey("bpm_process_definition.id"), index=True)
    process_key: Mapped[str] = mapped_column(String(128))
    business_key: Mapped[str | None] = mapped_column(String(128), index=True)
    # 0010: the case's human reference (GH-2026-000123, engine/runtime/references.py), unique, and the
    # values of the process's listFields as JSON text (shown and searched in the case and task lists)
    reference: Mapped[str | None] = mapped_column(String(32))
    summary: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    data: Mapped[dict] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(Text)
    visited: Mapped[list] = mapped_column(JSON)
    incident: Mapped[dict | None] = mapped_column(JSON)
    lock_version: Mapped[int] = mapped_column(Integer)
    started_by: Mapped[str | None] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    org_unit: Mapped[str | None] = mapped_column(String(64), index=True)
    # a called process's instance: the caller and its call activity (engine/runtime/calls.py)
    parent_id: Mapped[str | None] = mapped_column(String(36), index=True)
    parent_element: Mapped[str | None] = mapped_column(String(128))
    parent_task: Mapped[str | None] = mapped_column(String(36))  # the caller's waiting task

    __mapper_args__ = {"version_id_col": lock_version}


class ReferenceCounter(Base):
    """The last number handed out per reference prefix and (China) year: ``GH-2026-000123``
    (engine/runtime/references.py), incremented atomically in the starting transaction."""

    __tablename__ = "bpm_reference_counter"

    prefix: Mapped[str] = mapped_column(String(16), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_number: Mapped[int] = mapped_column(Integer)


class Task(Base):
    """A human task: open rows feed the tasklist, completed rows are the history."""

    __tablename__ = "bpm_task"
    __table_args__ = (
        Index("ix_task_status_assignee", "status", "assignee"),
        Index("ix_task_instance", "instance_id", "status"),
        Index("ix_task_created", "created_at"),  # 0005: reporting jobs (daily SLA cohort)
        Index("ix_task_completed", "completed_at"),  # 0005: reporting jobs (cycle times)
        # the tasklists read open tasks only, in due order: completed history never enters their plans
        Index("ix_task_open", "due_at", "created_at", "id", sqlite_where=text("status = 'open'"),
              postgresql_where=text("status = 'open'")),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    instance_id: Mapped[str] = mapped_column(ForeignKey("bpm_process_instance.id", ondelete="CASCADE"))
    process_key: Mapped[str] = mapped_column(String(128))
    element_id: Mapped[str] = mapped_column(String(128))
    name: Mapped[str | None] = mapped_column(String(256))
    form_key: Mapped[str | None] = mapped_column(String(128))
    form_version: Mapped[int | None] = mapped_column(Integer)
    candidate_groups: Mapped[list] = mapped_column(JSON)
    properties: Mapped[dict] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))
    assignee: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_by: Mapped[str | None] = mapped_column(String(64))
    submitted: Mapped[dict | None] = mapped_column(JSON)
    # what this task alone sees beyond the instance's data (a multi-instance task's item, loopCounter)
    local_data: Mapped[dict | None] = mapped_column(JSON)
    org_unit: Mapped[str | None] = mapped_column(String(64))
    sla: Mapped[dict | None] = mapped_column(JSON)
    sla_state: Mapped[str | None] = mapped_column(String(16))


class TaskCandidate(Base):
    """One row per (open task, candidate role): the indexed side of the tasklist query. A task's
    rows go when it closes (its roles stay in ``bpm_task.candidate_groups``), so the table holds the
    open tasks only, however long the history."""

    __tablename__ = "bpm_task_candidate"
    __table_args__ = (Index("ix_task_candidate_role", "role", "task_id"),)

    task_id: Mapped[str] = mapped_column(ForeignKey("bpm_task.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(String(64), primary_key=True)


class Timer(Base):
    __tablename__ = "bpm_timer"
    __table_args__ = (Index("ix_timer_due", "state", "fire_at"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    instance_id: Mapped[str | None] = mapped_column(
        ForeignKey("bpm_process_instance.id", ondelete="CASCADE"), index=True, nullable=True
    )
    task_id: Mapped[str] = mapped_column(String(36))
    element_id: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(16))
    process_key: Mapped[str | None] = mapped_column(String(128))
    fire_at: Mapped[datetime] = mapped_column(UTCDateTime)
    state: Mapped[str] = mapped_column(String(16))
    fired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    payload: Mapped[dict | None] = mapped_column(JSON)


class EventSubscription(Base):
    """What a running instance waits for by name (Camunda's event subscriptions): a message or a
    signal, at a catch event, receive task, boundary event, event-based gateway or an event
    subprocess's start. Kept in step with the instance by every save; a signal or message sent
    to "whoever waits" is found here without loading every instance."""

    __tablename__ = "bpm_event_subscription"
    __table_args__ = (Index("ix_event_subscription_name", "kind", "name"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    instance_id: Mapped[str] = mapped_column(ForeignKey("bpm_process_instance.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(256))
    element_id: Mapped[str] = mapped_column(String(128))
    task_id: Mapped[str | None] = mapped_column(String(36))  # the waiting task (none: an event subprocess's start)
    business_key: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ExternalTask(Base):
    """Work the engine hands to a system outside it (Camunda's external tasks): a service, send
    or business rule task with ``camunda:type="external"`` waits here, by topic, until a worker
    of that topic fetches and locks it, then completes it, reports a failure or throws a BPMN
    error. The row's id is the waiting SpiffWorkflow task's."""

    __tablename__ = "bpm_external_task"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    instance_id: Mapped[str] = mapped_column(ForeignKey("bpm_process_instance.id", ondelete="CASCADE"), index=True)
    process_key: Mapped[str] = mapped_column(String(128))
    element_id: Mapped[str] = mapped_column(String(128))
    name: Mapped[str | None] = mapped_column(String(256))
    topic: Mapped[str] = mapped_column(String(128))
    priority: Mapped[int] = mapped_column(Integer, default=0)
    # open: waiting or locked; completed; cancelled (its scope ended); failed (retries exhausted: an incident)
    state: Mapped[str] = mapped_column(String(16))
    worker_id: Mapped[str | None] = mapped_column(String(128))
    locked_by: Mapped[str | None] = mapped_column(String(64))  # the service account that holds the lock
    lock_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    retries: Mapped[int | None] = mapped_column(Integer)  # retries left
    failures: Mapped[int] = mapped_column(Integer, default=0)  # failures reported so far (picks the back-off)
    retry_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # not fetched before (a failure's back-off)
    backoff: Mapped[list | None] = mapped_column(JSON)  # seconds to wait after the 1st, 2nd ... failure
    error_message: Mapped[str | None] = mapped_column(String(1000))
    error_details: Mapped[str | None] = mapped_column(Text)
    business_key: Mapped[str | None] = mapped_column(String(128))
    org_unit: Mapped[str | None] = mapped_column(String(64))
    local_data: Mapped[dict | None] = mapped_column(JSON)
    result: Mapped[dict | None] = mapped_column(JSON)  # the variables it was completed with
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


# fetch-and-lock walks the open tasks of a topic in the order they are handed out (highest
# priority, then oldest) and stops after the few it locks: no sort of the whole pool
Index("ix_external_task_fetch", ExternalTask.state, ExternalTask.topic, ExternalTask.priority.desc(),
      ExternalTask.created_at, ExternalTask.id)


class DecisionDefinition(Base):
    """A deployed DMN decision (one decision table of a ``.dmn`` file), versioned by key like a
    process definition; ``businessRuleTask`` elements name it by key (``camunda:decisionRef``)."""

    __tablename__ = "bpm_decision_definition"
    __table_args__ = (UniqueConstraint("key", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(128), index=True)
    version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str | None] = mapped_column(String(256))
    sha256: Mapped[str] = mapped_column(String(64))
    xml: Mapped[str] = mapped_column(Text)  # the whole .dmn file it came from
    deployed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    deployed_by: Mapped[str | None] = mapped_column(String(64))


class Document(Base):
    __tablename__ = "bpm_document"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    sha256: Mapped[str] = mapped_column(ForeignKey("bpm_blob.sha256"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(BigInteger)
    content_type: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str | None] = mapped_column(String(64))


class Blob(Base):
    """Content-addressed bytes: written once, never updated."""

    __tablename__ = "bpm_blob"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    content: Mapped[bytes] = mapped_column(LargeBinary)


class DocumentLink(Base):
    """Which instance uses which document (read access follows the instance)."""

    __tablename__ = "bpm_document_link"

    document_id: Mapped[str] = mapped_column(ForeignKey("bpm_document.id", ondelete="CASCADE"), primary_key=True)
    instance_id: Mapped[str] = mapped_column(
        ForeignKey("bpm_process_instance.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class AuditHead(Base):
    """Single row holding the chain head; updating it serializes appends."""

    __tablename__ = "bpm_audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))


class AuditEvent(Base):
    __tablename__ = "bpm_audit_event"
    __table_args__ = (Index("ix_audit_instance", "instance_id", "seq"),)

    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    actor: Mapped[str | None] = mapped_column(String(64), index=True)
    action: Mapped[str] = mapped_column(String(64), index=True)
    instance_id: Mapped[str | None] = mapped_column(String(36))
    task_id: Mapped[str | None] = mapped_column(String(36))
    element_id: Mapped[str | None] = mapped_column(String(128))
    details: Mapped[dict] = mapped_column(JSON)
    actor_roles: Mapped[str | None] = mapped_column(String(256))
    actor_unit: Mapped[str | None] = mapped_column(String(64))
    before: Mapped[dict | None] = mapped_column(JSON)
    after: Mapped[dict | None] = mapped_column(JSON)
    reason: Mapped[str | None] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class Notification(Base):
    """An in-app notification (SLA warning, breach, escalation ...) for one user."""

    __tablename__ = "bpm_notification"
    __table_args__ = (Index("ix_notification_user", "username", "read_at", "created_at"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    username: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(256))
    body: Mapped[str | None] = mapped_column(Text)
    instance_id: Mapped[str | None] = mapped_column(String(36))
    task_id: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    emailed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class HallState(Base):
    """The congestion evaluator's memory per service hall (debounce and hysteresis)."""

    __tablename__ = "bpm_hall_state"

    hall: Mapped[str] = mapped_column(String(64), primary_key=True)
    level: Mapped[int] = mapped_column(Integer)
    candidate_level: Mapped[int | None] = mapped_column(Integer)
    candidate_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    instance_ids: Mapped[list] = mapped_column(JSON)


class QueueSnapshot(Base):
    """One reading of a hall's queue: waiting customers and open counters."""

    __tablename__ = "bpm_queue_snapshot"
    __table_args__ = (Index("ix_queue_snapshot_hall_at", "hall", "at"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    hall: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    waiting: Mapped[int] = mapped_column(Integer)
    open_counters: Mapped[int] = mapped_column(Integer)
    raw_level: Mapped[int] = mapped_column(Integer)
    level: Mapped[int] = mapped_column(Integer)
    reported_by: Mapped[str | None] = mapped_column(String(64))


class CalendarOverride(Base):
    """A local exception to the official calendar: a closure or an extra working day."""

    __tablename__ = "bpm_calendar_override"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    is_working: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str | None] = mapped_column(String(256))


class SealCredential(Base):
    """A certificate of the electronic seal (engine/seals): the organisation CA, the system
    signer or a person's seal. Private keys are held only as PKCS#12 encrypted under the
    holder's seal PIN (and the server's seal key-encryption secret); CA rows hold no key."""

    __tablename__ = "bpm_seal_credential"
    __table_args__ = (Index("ix_seal_credential_owner", "kind", "username", "active"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # ca | system | seal
    username: Mapped[str | None] = mapped_column(String(64))
    org_unit: Mapped[str | None] = mapped_column(String(64))
    certificate: Mapped[bytes] = mapped_column(LargeBinary)  # DER
    chain: Mapped[bytes | None] = mapped_column(LargeBinary)  # PEM bundle of the issuing certificates
    p12: Mapped[bytes | None] = mapped_column(LargeBinary)  # encrypted PKCS#12 (never a plain key)
    serial: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(512))
    issuer: Mapped[str] = mapped_column(String(512))
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)
    not_before: Mapped[datetime] = mapped_column(UTCDateTime)
    not_after: Mapped[datetime] = mapped_column(UTCDateTime)
    source: Mapped[str] = mapped_column(String(16))  # issued | imported
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str | None] = mapped_column(String(64))
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SealImage(Base):
    """An org unit's uploaded seal image (PNG in ``bpm_blob``); without one a red round seal is drawn."""

    __tablename__ = "bpm_seal_image"

    org_unit: Mapped[str] = mapped_column(String(64), primary_key=True)
    sha256: Mapped[str] = mapped_column(ForeignKey("bpm_blob.sha256"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_by: Mapped[str | None] = mapped_column(String(64))


# --- Scheduled scoring and reporting (engine/jobs, issue 7) ---------------------------------


class JobRun(Base):
    """One row per (job, period): a re-run of the same period updates it."""

    __tablename__ = "bpm_job_run"
    __table_args__ = (UniqueConstraint("job", "period", name="uq_job_run_job_period"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job: Mapped[str] = mapped_column(String(64))
    period: Mapped[str] = mapped_column(String(16))  # '2026-10-05' | '2026-W41' | '2026-10' | '2026'
    status: Mapped[str] = mapped_column(String(16))  # running | completed | failed
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rows: Mapped[int] = mapped_column(Integer, default=0)
    flow_run_id: Mapped[str | None] = mapped_column(String(64))
    triggered_by: Mapped[str] = mapped_column(String(64))  # username or 'schedule'
    error: Mapped[str | None] = mapped_column(Text)


class JobResult(Base):
    """Generic result rows of every job; replaced as a whole per (job, period)."""

    __tablename__ = "bpm_job_result"
    __table_args__ = (
        Index("ix_job_result_job_period", "job", "period"),
        Index("ix_job_result_subject", "subject_type", "subject_key"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    job: Mapped[str] = mapped_column(String(64))
    period: Mapped[str] = mapped_column(String(16))
    unit_key: Mapped[str | None] = mapped_column(String(64))
    subject_type: Mapped[str] = mapped_column(String(16))  # process | category | hall | user | unit | step | kpi
    subject_key: Mapped[str] = mapped_column(String(200))
    subject_label: Mapped[str | None] = mapped_column(String(200))
    metrics: Mapped[dict] = mapped_column(JSON)
    rank: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="final")  # draft until reviewed, else final
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Fact(Base):
    """An external fact imported from CSV (revenue, members, churn, 6S, innovation ...)."""

    __tablename__ = "bpm_fact"
    __table_args__ = (UniqueConstraint("period", "subject_key", "metric", name="uq_fact_period_subject_metric"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    period: Mapped[str] = mapped_column(String(16))
    subject_key: Mapped[str] = mapped_column(String(64))  # username or org unit key
    metric: Mapped[str] = mapped_column(String(64))
    value: Mapped[float] = mapped_column(Float)
    source: Mapped[str] = mapped_column(String(200))
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime)
    imported_by: Mapped[str] = mapped_column(String(64))


class ScoreSheet(Base):
    """A reviewed score sheet (customer_manager_kpi per hall and month)."""

    __tablename__ = "bpm_score_sheet"
    __table_args__ = (UniqueConstraint("job", "period", "unit_key", name="uq_score_sheet"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job: Mapped[str] = mapped_column(String(64))
    period: Mapped[str] = mapped_column(String(16))
    unit_key: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))  # in_review | final | rejected
    instance_id: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by: Mapped[str | None] = mapped_column(String(64))


class Inspection(Base):
    """One completed counter-service checklist (written when the inspection task completes)."""

    __tablename__ = "bpm_inspection"
    __table_args__ = (Index("ix_inspection_user_day", "inspected_user", "day"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    instance_id: Mapped[str] = mapped_column(String(36), unique=True)
    inspected_user: Mapped[str] = mapped_column(String(64))
    inspector: Mapped[str] = mapped_column(String(64))
    unit_key: Mapped[str | None] = mapped_column(String(64))
    inspected_at: Mapped[datetime] = mapped_column(UTCDateTime)
    day: Mapped[str] = mapped_column(String(10))  # local (Asia/Shanghai) date 'YYYY-MM-DD'
    items: Mapped[dict] = mapped_column(JSON)  # {item_key: points}
    score: Mapped[float] = mapped_column(Float)
