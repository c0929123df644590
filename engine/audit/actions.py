"""Every action the engine writes to the audit log, in the groups the audit page offers them.

The audit page's action filter lists these (labels in ``web/presentation/audit.py``); a test
(tests/engine/audit/test_audit_actions.py) scans engine/, web/ and bpm_cli/ for the actions
passed to ``uow.audit`` and fails when one is missing here or has no label. Add a new action
to its group (or a new group) when you write it.
"""

from __future__ import annotations

ACTION_GROUPS: dict[str, tuple[str, ...]] = {
    "process": (
        "instance_started", "decision_evaluated", "instance_completed", "instance_cancelled", "incident_raised",
        "incident_retried", "instance_continued_later", "instance_continued", "instance_migrated",
        "document_uploaded", "linked_instance_started", "message_received", "signal_received", "instance_suspended",
        "instance_resumed", "variables_set", "instance_modified", "called_instance_started",
        "called_instance_completed", "called_instance_error", "called_instance_escalation", "signal_sent",
    ),
    "task": (
        "task_created", "task_claimed", "task_unclaimed", "task_completed", "task_cancelled", "task_reassigned",
    ),
    "external": (
        "external_task_created", "external_task_locked", "external_task_completed", "external_task_failed",
        "external_task_bpmn_error", "external_task_cancelled", "external_task_reopened", "external_task_unlocked",
        "external_task_lock_extended",
    ),
    "timer": (
        "timer_scheduled", "timer_fired", "sla_warning", "sla_breached", "sla_escalated", "start_scheduled",
        "calendar_override_set", "timer_failed",
    ),
    "deploy": (
        "decision_deployed", "process_deployed", "form_deployed",
    ),
    "users": (
        "user_created", "user_updated", "tokens_revoked", "login", "login_failed", "account_locked",
        "account_unlocked", "org_unit_created", "signature_refused",
    ),
    "seal": (
        "seal_applied", "seal_verified", "seal_failed", "seal_locked", "seal_unlocked", "seal_countersigned",
        "seal_issued", "seal_system_issued", "seal_imported", "seal_retired", "seal_pin_changed", "seal_image_set",
        "seal_ca_created", "seal_ca_trusted",
    ),
    "reports": (
        "report_exported", "job_completed", "job_failed", "facts_imported", "inspection_recorded",
        "score_sheet_created", "score_sheet_recomputed", "score_sheet_checked", "score_sheet_approved",
        "score_sheet_rejected", "score_sheet_reopened", "score_review_not_started", "perception_call_recorded",
        "perception_sample_drawn", "retailer_anomaly_not_started", "retailer_anomaly_unrouted", "study_day_signed_in",
        "target_plan_approved", "target_plan_drafted", "target_plan_rejected",
    ),
    "halls": (
        "congestion_level_changed", "queue_waiting_recorded", "register_exported", "register_signed",
    ),
    "ops": (
        "audit_exported", "history_archived", "history_restored", "backup_created", "backup_restored",
    ),
}
ACTIONS: tuple[str, ...] = tuple(action for group in ACTION_GROUPS.values() for action in group)
