"""What auditors read: audit events with names and labels, filtered, paged or streamed.

Each event is shown with the actor's display name, the action's label in Chinese and
English and the BPMN element's name from the instance's definition. Lists are paged;
exports stream (keyset pagination in batches) as CSV or JSON so that millions of events
never sit in memory, and every export is itself audited (``audit_exported``).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.audit.chain import read_head
from engine.identity.actor import SYSTEM, Actor
from engine.store.models import AuditEvent, ProcessDefinition, ProcessInstance, User

EXPORT_BATCH = 1000

ACTION_LABELS: dict[str, tuple[str, str]] = {
    "instance_started": ("启动流程", "Instance started"),
    "instance_completed": ("流程结束", "Instance completed"),
    "instance_cancelled": ("流程撤销", "Instance cancelled"),
    "incident_raised": ("流程异常", "Incident raised"),
    "incident_retried": ("异常重试", "Incident retried"),
    "instance_migrated": ("迁移到新版本", "Migrated to a new version"),
    "task_created": ("生成任务", "Task created"),
    "task_claimed": ("认领任务", "Task claimed"),
    "task_unclaimed": ("释放任务", "Task released"),
    "task_completed": ("完成任务", "Task completed"),
    "task_cancelled": ("任务取消", "Task cancelled"),
    "task_reassigned": ("转派任务", "Task reassigned"),
    "timer_scheduled": ("设定定时器", "Timer scheduled"),
    "timer_fired": ("定时器触发", "Timer fired"),
    "process_deployed": ("部署流程", "Process deployed"),
    "form_deployed": ("部署表单", "Form deployed"),
    "document_uploaded": ("上传附件", "Document uploaded"),
    "user_created": ("创建用户", "User created"),
    "user_updated": ("修改用户", "User updated"),
    "tokens_revoked": ("注销令牌", "Tokens revoked"),
    "login": ("登录", "Signed in"),
    "login_failed": ("登录失败", "Sign-in failed"),
    "account_locked": ("账户锁定", "Account locked"),
    "account_unlocked": ("账户解锁", "Account unlocked"),
    "org_unit_created": ("创建机构", "Org unit created"),
    "sla_warning": ("时限预警", "SLA warning"),
    "sla_breached": ("超过时限", "SLA breached"),
    "sla_escalated": ("超时升级", "SLA escalated"),
    "seal_applied": ("加盖印章", "Seal applied"),
    "seal_verified": ("核验印章", "Seal verified"),
    "seal_failed": ("盖章失败（PIN错误）", "Seal refused (wrong PIN)"),
    "seal_locked": ("印章已锁定", "Seal locked"),
    "seal_unlocked": ("印章解锁", "Seal unlocked"),
    "seal_countersigned": ("确认签名", "Countersigned"),
    "seal_issued": ("签发印章证书", "Seal certificate issued"),
    "seal_system_issued": ("签发系统签名证书", "System signer certificate issued"),
    "seal_imported": ("导入印章证书", "Seal certificate imported"),
    "seal_retired": ("停用印章证书", "Seal certificate retired"),
    "seal_pin_changed": ("修改印章PIN", "Seal PIN changed"),
    "seal_image_set": ("更换印章图片", "Seal image replaced"),
    "seal_ca_created": ("创建机构根证书", "Organisation CA created"),
    "seal_ca_trusted": ("信任外部根证书", "External CA trusted"),
    "audit_exported": ("导出审计记录", "Audit log exported"),
    "report_exported": ("导出报表", "Report exported"),
    "linked_instance_started": ("启动关联流程", "Linked instance started"),
    "message_received": ("收到消息", "Message received"),
    "start_scheduled": ("定时启动", "Scheduled start"),
    "calendar_override_set": ("调整工作日历", "Calendar exception set"),
    "congestion_level_changed": ("拥堵等级变化", "Congestion level changed"),
    "job_completed": ("统计任务完成", "Scheduled job completed"),
    "job_failed": ("统计任务失败", "Scheduled job failed"),
    "facts_imported": ("导入考核数据", "Facts imported"),
    "inspection_recorded": ("记录服务检查", "Inspection recorded"),
    "score_sheet_created": ("生成考核表", "Score sheet created"),
    "score_sheet_recomputed": ("重算考核表", "Score sheet recomputed"),
    "score_sheet_checked": ("考核表本级审核通过", "Score sheet checked (passed to the next step)"),
    "score_sheet_approved": ("考核表审批通过", "Score sheet approved"),
    "score_sheet_rejected": ("考核表退回", "Score sheet rejected"),
    "score_sheet_reopened": ("重新开启考核表", "Score sheet reopened"),
    "score_review_not_started": ("考核复核未启动", "Score review not started"),
    "history_archived": ("归档历史数据", "History archived"),
    "history_restored": ("恢复归档流程", "Archived instance restored"),
    "backup_created": ("创建备份", "Backup created"),
    "backup_restored": ("恢复备份", "Backup restored"),
}
# Families whose members come from other parts of the engine: a generic label until listed.
PREFIX_LABELS = {"sla_": ("时限事件", "SLA event"), "seal_": ("印章事件", "Seal event")}

CSV_COLUMNS = (
    "seq", "at", "actor", "actor_name", "actor_roles", "actor_unit", "action", "action_label_zh", "action_label_en",
    "instance_id", "task_id", "element_id", "element_name", "details", "before", "after", "reason", "hash",
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def action_label(action: str) -> dict[str, str]:
    """``{"zh", "en"}`` for an action; unknown actions get a readable fallback."""
    if action in ACTION_LABELS:
        zh, en = ACTION_LABELS[action]
    else:
        words = action.replace("_", " ")
        prefix = next((p for p in PREFIX_LABELS if action.startswith(p)), None)
        if prefix:
            zh, en = PREFIX_LABELS[prefix]
            zh, en = f"{zh}（{action[len(prefix):]}）", f"{en} ({action[len(prefix):].replace('_', ' ')})"
        else:
            zh, en = action, words[:1].upper() + words[1:]
    return {"zh": zh, "en": en}


@dataclass(frozen=True)
class EventFilter:
    """Conditions on audit events; ``start`` is inclusive, ``end`` exclusive."""

    actor: str | None = None
    action: str | None = None
    instance: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    up_to_seq: int | None = None

    def apply(self, query):
        conditions = ((AuditEvent.actor, self.actor), (AuditEvent.action, self.action), (AuditEvent.instance_id, self.instance))
        for column, value in conditions:
            if value is not None:
                query = query.where(column == value)
        if self.start is not None:
            query = query.where(AuditEvent.at >= self.start)
        if self.end is not None:
            query = query.where(AuditEvent.at < self.end)
        if self.up_to_seq is not None:
            query = query.where(AuditEvent.seq <= self.up_to_seq)
        return query

    def describe(self) -> dict:
        """The filter as plain JSON (for the ``audit_exported`` event)."""
        out = {k: v for k, v in asdict(self).items() if v is not None and k != "up_to_seq"}
        return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in out.items()}


class Enricher:
    """Adds names and labels to raw events, caching users and definitions it has looked up."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.names: dict[str, str | None] = {SYSTEM.username: SYSTEM.display_name}
        self.definition_of: dict[str, int | None] = {}
        self.elements: dict[int, dict[str, str | None]] = {}

    def _load(self, events: list[AuditEvent]) -> None:
        users = {e.actor for e in events if e.actor and e.actor not in self.names}
        if users:
            found = dict(self.session.execute(select(User.username, User.display_name).where(User.username.in_(users))).all())
            self.names.update({u: found.get(u) for u in users})
        instances = {e.instance_id for e in events if e.instance_id and e.instance_id not in self.definition_of}
        if instances:
            rows = self.session.execute(
                select(ProcessInstance.id, ProcessInstance.definition_id).where(ProcessInstance.id.in_(instances))
            ).all()
            self.definition_of.update({i: None for i in instances} | dict(rows))
        wanted = {self.definition_of.get(e.instance_id) for e in events} - {None} - set(self.elements)
        if wanted:
            for def_id, meta in self.session.execute(
                select(ProcessDefinition.id, ProcessDefinition.meta).where(ProcessDefinition.id.in_(wanted))
            ):
                elements = (meta or {}).get("elements") or {}
                self.elements[def_id] = {eid: (el or {}).get("name") for eid, el in elements.items()}

    def element_name(self, event: AuditEvent) -> str | None:
        definition = self.definition_of.get(event.instance_id) if event.instance_id else None
        if definition is None or not event.element_id:
            return None
        return self.elements.get(definition, {}).get(event.element_id)

    def rows(self, events: list[AuditEvent]) -> list[dict]:
        self._load(events)
        return [self.row(e) for e in events]

    def row(self, e: AuditEvent) -> dict:
        return {
            "seq": e.seq,
            "at": e.at,
            "actor": e.actor,
            "actor_name": self.names.get(e.actor) if e.actor else None,
            "actor_roles": e.actor_roles.split(",") if e.actor_roles else [],
            "actor_unit": e.actor_unit,
            "action": e.action,
            "action_label": action_label(e.action),
            "instance_id": e.instance_id,
            "task_id": e.task_id,
            "element_id": e.element_id,
            "element_name": self.element_name(e),
            "details": e.details or {},
            "before": e.before,
            "after": e.after,
            "reason": e.reason,
            "hash": e.hash,
        }


def search(session: Session, flt: EventFilter, page: int, per_page: int) -> dict:
    """One page of matching events in seq order, with the total count."""
    total = session.execute(flt.apply(select(func.count()).select_from(AuditEvent))).scalar_one()
    events = session.execute(
        flt.apply(select(AuditEvent)).order_by(AuditEvent.seq).offset((page - 1) * per_page).limit(per_page)
    ).scalars().all()
    return {"items": Enricher(session).rows(list(events)), "page": page, "per_page": per_page, "total": total}


def iter_events(session: Session, flt: EventFilter, batch: int = EXPORT_BATCH) -> Iterator[dict]:
    """Every matching event in seq order, read ``batch`` at a time (keyset on seq)."""
    enricher, last = Enricher(session), 0
    while True:
        events = session.execute(
            flt.apply(select(AuditEvent)).where(AuditEvent.seq > last).order_by(AuditEvent.seq).limit(batch)
        ).scalars().all()
        if not events:
            return
        yield from enricher.rows(list(events))
        last = events[-1].seq
        session.expunge_all()  # keep the identity map from growing with the export


def timeline(session: Session, instance_id: str) -> list[dict]:
    """All events of one instance in seq order (the caller checks read access)."""
    return list(iter_events(session, EventFilter(instance=instance_id)))


def record_export(engine, actor: Actor, scope: str, fmt: str, flt: EventFilter) -> EventFilter:
    """Audit an export, then return the filter bounded to the events that existed before it.

    The ``audit_exported`` event names the filter and the last seq exported, so the log
    states exactly what left the system (and the export does not contain itself).
    """
    with engine.read() as session:
        up_to = read_head(session.connection())[0]
    with engine.uow(actor) as uow:
        uow.audit(
            "audit_exported",
            instance_id=flt.instance if scope == "timeline" else None,
            scope=scope,
            format=fmt,
            filters=flt.describe(),
            up_to_seq=up_to,
        )
    return EventFilter(**{**asdict(flt), "up_to_seq": up_to})


# --------------------------------------------------------------------------- encoders


def _cell(value) -> str | int:
    """A CSV cell; text that Excel would run as a formula is prefixed with an apostrophe."""
    if value is None:
        return ""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return "'" + text if text.startswith(_FORMULA_START) else text


def csv_row(row: dict) -> list:
    flat = {
        **row,
        "actor_roles": ",".join(row["actor_roles"]),
        "action_label_zh": row["action_label"]["zh"],
        "action_label_en": row["action_label"]["en"],
    }
    return [_cell(flat.get(c)) for c in CSV_COLUMNS]


def csv_stream(rows: Iterable[dict]) -> Iterator[bytes]:
    """UTF-8 CSV with a BOM (so Excel reads Chinese), a header row, one line per event."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    yield ("\ufeff" + buffer.getvalue()).encode("utf-8")
    for row in rows:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(csv_row(row))
        yield buffer.getvalue().encode("utf-8")


def json_stream(rows: Iterable[dict]) -> Iterator[bytes]:
    """A JSON array, one element per chunk."""
    yield b"["
    separator = "\n"
    for row in rows:
        yield (separator + json.dumps(row, ensure_ascii=False, default=str)).encode("utf-8")
        separator = ",\n"
    yield b"\n]\n"
