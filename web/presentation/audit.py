"""The audit log for people: the actions' labels (Chinese and English) and the CSV and JSON
downloads of events (``engine.audit.query`` reads them)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator

from engine.identity.names import local_name
from engine.identity.roles import ROLES
from web.presentation.cells import china_time, csv_cell

ACTION_LABELS: dict[str, tuple[str, str]] = {
    "instance_started": ("启动流程", "Instance started"),
    "external_task_created": ("等待外部系统处理", "External task created"),
    "external_task_locked": ("外部系统领取任务", "External task locked by a worker"),
    "external_task_completed": ("外部系统完成任务", "External task completed"),
    "external_task_failed": ("外部系统处理失败", "External task failed"),
    "external_task_bpmn_error": ("外部系统报告业务错误", "BPMN error from an external task"),
    "external_task_cancelled": ("外部任务取消", "External task cancelled"),
    "external_task_reopened": ("外部任务重新开放", "External task reopened"),
    "external_task_unlocked": ("外部任务解除锁定", "External task unlocked"),
    "external_task_lock_extended": ("外部任务延长锁定", "External task lock extended"),
    "decision_evaluated": ("决策表判定", "Decision evaluated"),
    "decision_deployed": ("部署决策表", "Decision deployed"),
    "instance_completed": ("流程结束", "Instance completed"),
    "instance_cancelled": ("流程撤销", "Instance cancelled"),
    "incident_raised": ("流程异常", "Incident raised"),
    "incident_retried": ("异常重试", "Incident retried"),
    "instance_continued_later": ("自动步骤分段，稍后继续", "Long run paused, continues in a new transaction"),
    "instance_continued": ("继续自动运行", "Long run continued"),
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
    "signal_received": ("收到信号", "Signal received"),
    "instance_suspended": ("流程挂起", "Instance suspended"),
    "instance_resumed": ("流程恢复", "Instance resumed"),
    "variables_set": ("修改流程数据", "Variables set"),
    "instance_modified": ("调整流程位置", "Instance modified"),
    "called_instance_started": ("启动子流程实例", "Called instance started"),
    "called_instance_completed": ("子流程实例完成", "Called instance completed"),
    "called_instance_error": ("子流程实例出错", "Error from called instance"),
    "called_instance_escalation": ("子流程实例上报", "Escalation from called instance"),
    "signal_sent": ("发送信号", "Signal sent"),
    "start_scheduled": ("定时启动", "Scheduled start"),
    "calendar_override_set": ("调整工作日历", "Calendar exception set"),
    "congestion_level_changed": ("拥堵等级变化", "Congestion level changed"),
    "queue_waiting_recorded": ("登记排队等候", "Queue waiting recorded"),
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
    "perception_call_recorded": ("记录感知度回访", "Perception call recorded"),
    "perception_sample_drawn": ("抽取感知度样本", "Perception sample drawn"),
    "register_exported": ("导出台账", "Register exported"),
    "register_signed": ("台账签字", "Register signed"),
    "retailer_anomaly_not_started": ("零售户预警流程未启动", "Retailer alert not started"),
    "retailer_anomaly_unrouted": ("零售户预警无法分派", "Retailer alert not routed"),
    "signature_refused": ("签字确认未通过（密码错误）", "Signature refused (wrong password)"),
    "study_day_signed_in": ("学习日签到", "Study day signed in"),
    "target_plan_approved": ("目标计划审批通过", "Target plan approved"),
    "target_plan_drafted": ("拟定目标计划", "Target plan drafted"),
    "target_plan_rejected": ("目标计划退回", "Target plan rejected"),
    "timer_failed": ("定时器执行失败", "Timer failed"),
}
# the groups of engine.audit.actions.ACTION_GROUPS, as the action filter shows them
GROUP_LABELS: dict[str, tuple[str, str]] = {
    "process": ("流程实例", "Process instances"), "task": ("任务", "Tasks"), "external": ("外部系统", "External systems"),
    "timer": ("定时与时限", "Timers and time limits"), "deploy": ("部署", "Deployment"),
    "users": ("用户与登录", "Users and sign-in"), "seal": ("电子印章", "Electronic seal"),
    "reports": ("报表与考核", "Reports and scores"), "halls": ("营业厅与台账", "Service halls and registers"),
    "ops": ("审计与运维", "Audit and operations"),
}
# Families whose members come from other parts of the engine: a generic label until listed.
PREFIX_LABELS = {"sla_": ("时限事件", "SLA event"), "seal_": ("印章事件", "Seal event")}

CSV_COLUMNS = (
    "seq", "at", "actor", "actor_name", "actor_roles", "actor_unit", "action", "action_label_zh", "action_label_en",
    "instance_id", "task_id", "element_id", "element_name", "details", "before", "after", "reason", "hash",
)


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


def label(action: str, lang: str) -> str:
    """The action's label in the page's language."""
    return action_label(action)["en" if lang == "en" else "zh"]


def csv_row(row: dict) -> list:
    flat = {
        **row,
        "actor_roles": ",".join(row["actor_roles"]),
        "action_label_zh": row["action_label"]["zh"],
        "action_label_en": row["action_label"]["en"],
    }
    return [csv_cell(flat.get(c)) for c in CSV_COLUMNS]


def action_groups(lang: str) -> list[dict]:
    """The action filter's option groups: ``[{"label", "actions": [{"code", "label"}]}]``, each
    group's actions in the order of their labels."""
    from engine.audit.actions import ACTION_GROUPS

    out = []
    for key, codes in ACTION_GROUPS.items():
        pair = GROUP_LABELS.get(key, (key, key))
        actions = sorted(({"code": c, "label": label(c, lang)} for c in codes), key=lambda a: a["label"])
        out.append({"key": key, "label": pair[1] if lang == "en" else pair[0], "actions": actions})
    return out


# the people's CSV of the audit page: (field, Chinese header, English header)
LOCAL_COLUMNS = (
    ("seq", "序号", "No."), ("at", "时间（北京时间）", "Time (China)"), ("actor_name", "姓名", "Name"),
    ("actor", "用户名", "Username"), ("actor_roles", "角色", "Roles"), ("actor_unit", "单位", "Unit"),
    ("action_label", "操作", "Action"), ("action", "操作代码", "Action code"), ("instance_id", "流程实例", "Instance"),
    ("task_id", "任务", "Task"), ("element_name", "环节", "Step"), ("element_id", "环节标识", "Step id"),
    ("details", "详情", "Details"), ("before", "修改前", "Before"), ("after", "修改后", "After"),
    ("reason", "原因", "Reason"), ("hash", "哈希值", "Hash"),
)


def local_csv_row(row: dict, lang: str) -> list:
    index = 1 if lang == "en" else 0
    flat = {**row, "at": china_time(row["at"]), "action_label": label(row["action"], lang),
            "actor_name": local_name(row.get("actor_name"), lang), "element_name": local_name(row.get("element_name"), lang),
            "actor_roles": "、".join(ROLES[r][index] if r in ROLES else r for r in row["actor_roles"])}
    return [csv_cell(flat.get(c)) for c, *_ in LOCAL_COLUMNS]


def csv_stream(rows: Iterable[dict], lang: str | None = None) -> Iterator[bytes]:
    """UTF-8 CSV with a BOM (so Excel reads Chinese), a header row, one line per event. Without
    ``lang`` (the API's) the header is the field names and times are UTC ISO 8601; with it (the
    pages') the header is in that language and times are China time, ``2026-12-06 14:05:09``."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS if lang is None else [en if lang == "en" else zh for _, zh, en in LOCAL_COLUMNS])
    yield ("\ufeff" + buffer.getvalue()).encode("utf-8")
    for row in rows:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(csv_row(row) if lang is None else local_csv_row(row, lang))
        yield buffer.getvalue().encode("utf-8")


def json_stream(rows: Iterable[dict]) -> Iterator[bytes]:
    """A JSON array, one element per chunk."""
    yield b"["
    separator = "\n"
    for row in rows:
        yield (separator + json.dumps(row, ensure_ascii=False, default=str)).encode("utf-8")
        separator = ",\n"
    yield b"\n]\n"
