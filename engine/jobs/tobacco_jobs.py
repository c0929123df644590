"""The tobacco side's scheduled jobs (000 精益营销平台).

``retailer_anomalies`` (nightly; a day or a month): 预警功能模块 「通过参数设置，对POS扫描情况、
网上订货情况、网上配货情况、后台结算等情况进行监控，发现异常情况系统会自动排查并且发出预警，后台人员
可以通过预警对相应辖区的客户经理发出指令」. Over the facts imported per retailer for the month
(a day's run reads its month), each kind of the rules' ``tobacco.anomalies`` whose metric is
below (or above) its threshold starts one ``retailer_anomaly`` instance in the retailer's org
unit (辖区), for the back office to instruct and the retailer's customer manager to handle.
Idempotent per (month, retailer, kind): the instance's business key
``retailer_anomaly:<month>:<licence>:<kind>`` is looked up first, so nightly re-runs and
re-runs of a day never raise an alert twice. A retailer in no retailer file (no unit to route
to) is reported ``unrouted`` in the results and audited, never started organisation-wide.

``tobacco_visit_score`` (monthly): 客户经理走访路线模块 「签到时间、拜访时长、走访客户数等数据
同步上传至"精益营销"管理平台，可用于客户经理的月度绩效考核」. Per active tobacco customer
manager: the month's completed ``retailer_visit`` instances (by check-out time), their minutes,
the visits that lasted at least ``min_minutes`` (counted), the retailers visited, and the score
(counted visits x ``points_per_visit``, at most ``max_score``), ranked within the unit.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from engine.errors import NotFound
from engine.identity.names import split_name
from engine.jobs import retailers
from engine.jobs.results import replace_results
from engine.jobs.scoring import load_rules
from engine.store.models import Fact, ProcessInstance, User, UserRole

ANOMALY_JOB = "retailer_anomalies"
ANOMALY_PROCESS = "retailer_anomaly"
VISIT_JOB = "tobacco_visit_score"
VISIT_PROCESS = "retailer_visit"
MANAGER_ROLE = "tobacco_customer_manager"


def _month(period) -> str:
    return period.key[:7]


def _breaches(kind: dict, value: float) -> bool:
    return value < kind["below"] if "below" in kind else value > kind["above"]


def _threshold_text(kind: dict) -> str:
    return f"低于 {kind['below']:g}" if "below" in kind else f"高于 {kind['above']:g}"


def business_key(month: str, licence: str, kind: str) -> str:
    return f"{ANOMALY_PROCESS}:{month}:{licence}:{kind}"


def compute_retailer_anomalies(uow, period) -> int:
    rules = load_rules()
    section = rules.get("tobacco")
    if not section:
        return replace_results(uow, ANOMALY_JOB, period, [])
    month = _month(period)
    kinds = section["anomalies"]
    by_metric: dict[str, list[dict]] = {}
    for kind in kinds:
        by_metric.setdefault(kind["metric"], []).append(kind)
    facts = uow.session.execute(
        select(Fact.subject_key, Fact.metric, Fact.value)
        .where(Fact.period == month, Fact.metric.in_(list(by_metric)))
        .order_by(Fact.subject_key, Fact.metric)
    ).all()
    labels = {u.username: split_name(u.display_name or u.username)[0]  # the Chinese name (engine/identity/names.py)
              for u in uow.session.execute(select(User.username, User.display_name))}
    rows = []
    for fact in facts:
        for kind in by_metric[fact.metric]:
            if not _breaches(kind, fact.value):
                continue
            rows.append(_raise(uow, period, month, kind, fact, rules["metrics"][fact.metric], labels))
    return replace_results(uow, ANOMALY_JOB, period, rows)


def _raise(uow, period, month: str, kind: dict, fact, metric: dict, labels: dict) -> dict:
    from engine.runtime.instances import start_unchecked

    licence = fact.subject_key
    retailer = retailers.get(licence) or {}
    key = business_key(month, licence, kind["key"])
    manager = retailer.get("customer_manager") or ""
    metrics = {"kind": kind["key"], "kind_label": kind["label_zh"], "metric": fact.metric, "value": fact.value,
               "threshold": kind.get("below", kind.get("above")), "direction": "below" if "below" in kind else "above",
               "month": month, "customer_manager": manager or None}
    row = {"unit_key": retailer.get("unit"), "subject_type": "retailer", "subject_key": licence,
           "subject_label": retailer.get("name") or licence, "metrics": metrics, "rank": None}
    existing = uow.session.execute(
        select(ProcessInstance.id).where(ProcessInstance.business_key == key).limit(1)).scalar_one_or_none()
    if existing is not None:
        metrics.update(alert="already_raised", instance_id=existing)
        return row
    if not retailer.get("unit"):
        metrics.update(alert="unrouted", instance_id=None)
        uow.audit("retailer_anomaly_unrouted", job=ANOMALY_JOB, period=period.key, licence_no=licence, kind=kind["key"],
                  reason="the retailer is in no retailer file: no org unit to route the alert to")
        return row
    data = {"period": month, "licence_no": licence, "retailer_name": retailer.get("name") or licence,
            "kind": kind["key"], "kind_label": kind["label_zh"], "metric": fact.metric,
            "metric_label": metric["label_zh"], "value": fact.value, "threshold": metrics["threshold"],
            "threshold_text": _threshold_text(kind), "customer_manager": manager,
            "customer_manager_label": labels.get(manager, manager or "（未指定）"), "instruction": kind["instruction"]}
    try:
        inst = start_unchecked(uow, ANOMALY_PROCESS, data, org_unit=retailer["unit"], business_key=key,
                               job=ANOMALY_JOB, period=period.key)
    except NotFound:
        metrics.update(alert="not_deployed", instance_id=None)
        uow.audit("retailer_anomaly_not_started", job=ANOMALY_JOB, period=period.key, licence_no=licence,
                  kind=kind["key"], reason=f"process {ANOMALY_PROCESS!r} is not deployed")
        return row
    metrics.update(alert="raised", instance_id=inst.id)
    return row


# --------------------------------------------------------------------------- visit score


def _minutes(data: dict) -> float | None:
    value = data.get("duration_minutes")
    if isinstance(value, int | float):
        return float(value)
    try:
        began = datetime.fromisoformat(data["checked_in_at"])
        ended = datetime.fromisoformat(data["checked_out_at"])
    except (KeyError, TypeError, ValueError):
        return None
    return round(max((ended - began).total_seconds(), 0) / 60, 1)


def compute_tobacco_visit_score(uow, period) -> int:
    rules = (load_rules().get("tobacco") or {}).get("visit_score")
    if not rules:
        return replace_results(uow, VISIT_JOB, period, [])
    managers = {
        r.username: r for r in uow.session.execute(
            select(User.username, User.display_name, User.org_unit)
            .join(UserRole, UserRole.user_id == User.id)
            .where(UserRole.role == MANAGER_ROLE, User.is_active.is_(True)))
    }
    visits = uow.session.execute(
        select(ProcessInstance.started_by, ProcessInstance.data, ProcessInstance.org_unit)
        .where(ProcessInstance.process_key == VISIT_PROCESS, ProcessInstance.status == "completed",
               ProcessInstance.ended_at >= period.start, ProcessInstance.ended_at < period.end)
    ).all()
    stats: dict[str, dict] = {}
    for visit in visits:
        entry = stats.setdefault(visit.started_by, {"visits": 0, "counted": 0, "short": 0, "minutes": 0.0,
                                                    "retailers": set(), "unit": visit.org_unit})
        minutes = _minutes(visit.data or {})
        entry["visits"] += 1
        entry["minutes"] += minutes or 0.0
        if minutes is not None and minutes >= rules["min_minutes"]:
            entry["counted"] += 1
            entry["retailers"].add((visit.data or {}).get("licence_no"))
        else:
            entry["short"] += 1
    rows = []
    for username in sorted(set(managers) | set(stats)):
        entry = stats.get(username) or {"visits": 0, "counted": 0, "short": 0, "minutes": 0.0, "retailers": set()}
        user = managers.get(username)
        score = min(rules["max_score"], entry["counted"] * rules["points_per_visit"])
        rows.append({
            "unit_key": (user.org_unit if user else None) or entry.get("unit"), "subject_type": "user",
            "subject_key": username, "subject_label": (user.display_name if user else None) or username,
            "metrics": {"visits": entry["visits"], "counted_visits": entry["counted"], "short_visits": entry["short"],
                        "retailers_visited": len(entry["retailers"]), "total_minutes": round(entry["minutes"], 1),
                        "avg_minutes": round(entry["minutes"] / entry["visits"], 1) if entry["visits"] else 0.0,
                        "min_minutes": rules["min_minutes"], "score": round(score, 2)},
        })
    by_unit: dict = {}
    for row in rows:
        by_unit.setdefault(row["unit_key"], []).append(row)
    for unit_rows in by_unit.values():
        unit_rows.sort(key=lambda r: (-r["metrics"]["score"], r["subject_key"]))
        for row in unit_rows:  # equal scores share a rank (1, 1, 3)
            row["rank"] = 1 + sum(other["metrics"]["score"] > row["metrics"]["score"] for other in unit_rows)
    return replace_results(uow, VISIT_JOB, period, rows)
