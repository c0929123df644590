"""Score sheets under review, shared by the jobs whose results a person approves.

A job such as ``customer_manager_kpi`` or ``key_account_room_kpi`` writes draft rows and keeps one
:class:`~engine.store.models.ScoreSheet` per (job, period, unit) with the review process that
decides on it. On every run :func:`review_sheet` either

* starts the review (a new sheet: audited ``score_sheet_created``),
* sends an open review the new figures by the job's "recomputed" message, clearing the decision
  fields so no earlier decision pre-fills a form (``score_sheet_recomputed``; nothing is sent when
  the compared fields did not change), or
* starts a fresh review of a rejected sheet, or one whose review is gone (``score_sheet_reopened``).

:func:`tier_table` reads the tier decision table a job's rules name (``processes/kpi_tier.dmn``).
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.clock import utcnow
from engine.errors import Conflict, NotFound
from engine.jobs.scoring import RulesError, decision_table
from engine.store.models import ProcessInstance, ScoreSheet


@dataclass(frozen=True)
class SheetReview:
    job: str
    process: str  # the review process started per sheet
    recomputed_message: str  # the message an open review receives the new figures by
    cleared: tuple[str, ...]  # the review's decision fields, emptied when new figures arrive
    compared: tuple[str, ...] = ("summary",)  # the data whose change is worth sending to an open review


def missing_text(missing, labels: dict[str, str]) -> str:
    """A sheet's "缺数据：…" line part: the score keys without data (stored comma-separated) by their
    Chinese labels, a key without one as it is."""
    return "缺数据：" + "、".join(labels.get(k, k) for k in str(missing).split(",") if k)


def tier_table(session, key: str | None, what: str = "KPI"):
    """The tier table from the latest deployed version of the decision ``key`` (None: no tiers)."""
    if not key:
        return None
    from engine.runtime import decisions

    row = decisions.find(session, key)
    if row is None:
        raise RulesError(f"the {what} tiers come from the decision {key!r}, which is not deployed (bpm init deploys "
                         "processes/kpi_tier.dmn)")
    return decision_table(decisions.decision_of(row))


def _start(uow, spec: SheetReview, sheet: ScoreSheet, data: dict) -> str | None:
    from engine.runtime.instances import start_unchecked

    try:
        inst = start_unchecked(uow, spec.process, data, org_unit=sheet.unit_key,
                               business_key=f"{spec.job}:{sheet.period}:{sheet.unit_key}", job=spec.job,
                               period=sheet.period)
    except NotFound:
        uow.audit("score_review_not_started", job=spec.job, period=sheet.period, unit_key=sheet.unit_key,
                  reason=f"process {spec.process!r} is not deployed")
        return None
    return inst.id


def _refresh(uow, spec: SheetReview, sheet: ScoreSheet, data: dict) -> bool:
    """Send the new figures to the open review when they changed; False when the review is gone."""
    from engine.runtime.messages import deliver

    inst = uow.session.get(ProcessInstance, sheet.instance_id) if sheet.instance_id else None
    if inst is None or inst.status != "running":
        return False
    if all((inst.data or {}).get(key) == data.get(key) for key in spec.compared):
        return True
    # the review starts again at its first step: no earlier decision may pre-fill its forms
    try:
        deliver(uow, inst.id, spec.recomputed_message, {**dict.fromkeys(spec.cleared), **data}, internal=True)
    except Conflict:
        return True  # the task is being completed right now: its completion decides on the sheet
    return True


def review_sheet(uow, spec: SheetReview, period, unit: str, sheet: ScoreSheet | None, data: dict,
                 managers: int) -> ScoreSheet:
    """The unit's sheet under review after this run: started, refreshed, or reopened."""
    if sheet is None:
        sheet = ScoreSheet(job=spec.job, period=period.key, unit_key=unit, status="in_review", created_at=utcnow())
        uow.session.add(sheet)
        uow.session.flush()
        sheet.instance_id = _start(uow, spec, sheet, {**data, "sheet_id": sheet.id})
        uow.audit("score_sheet_created", job=spec.job, period=period.key, unit_key=unit, sheet_id=sheet.id,
                  review_instance_id=sheet.instance_id, managers=managers)
    elif sheet.status == "in_review" and _refresh(uow, spec, sheet, {**data, "sheet_id": sheet.id}):
        uow.audit("score_sheet_recomputed", job=spec.job, period=period.key, unit_key=unit, sheet_id=sheet.id,
                  review_instance_id=sheet.instance_id, managers=managers)
    else:  # rejected, or its review is gone (cancelled / never started): a fresh review
        before = {"status": sheet.status, "instance_id": sheet.instance_id}
        sheet.status, sheet.decided_at, sheet.decided_by = "in_review", None, None
        sheet.instance_id = _start(uow, spec, sheet, {**data, "sheet_id": sheet.id})
        uow.audit("score_sheet_reopened", job=spec.job, period=period.key, unit_key=unit, sheet_id=sheet.id,
                  before=before, after={"status": "in_review", "instance_id": sheet.instance_id})
    return sheet
