"""Retailer records of the tobacco branch, kept as data (no table of their own).

000 零售客户基本信息查询模块: 「为许可证号、经营地址、拜访服务类型、星级情况及之前的拜访情况记录、
订单以及违法违章情况记录」. A record is put together when it is read, from:

* the retailer file (``engine/jobs/data/retailers.json``, or ``BPM_RETAILERS_FILE``): licence
  number, name, customer code, owner, address, market type, business format, the visit service
  type (``customer_type``: ordinary / modern_terminal / special), its org unit (辖区) and the
  username of the customer manager responsible for it;
* imported facts keyed by the licence number (``bpm facts import``; metrics with subject
  ``retailer`` in the scoring rules): star rating, orders and violations of the latest months;
* the engine's own records: the retailer's earlier completed ``retailer_visit`` instances.

A licence number that is in no file still gets a record from its facts and visits, marked
``registered: false``, so a reviewer sees that the retailer is unknown to the register.
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path

from sqlalchemy import select

from engine.store.models import Fact, ProcessInstance

DEFAULT_FILE = Path(__file__).resolve().parent / "data" / "retailers.json"
CUSTOMER_TYPES = {
    "ordinary": ("普通客户", "Ordinary customer"),
    "modern_terminal": ("现代零售终端客户", "Modern retail terminal"),
    "special": ("特殊型客户", "Special customer"),
}
RECORD_METRICS = ("retailer_rating", "retailer_order_amount", "retailer_order_count", "retailer_violations")
MONTHS_SHOWN = 3
VISITS_SHOWN = 5
VISIT_PROCESS = "retailer_visit"
_FIELDS = ("licence_no", "name", "customer_code", "owner", "address", "market_type", "business_format",
           "customer_type", "unit", "customer_manager")


class RetailerFileError(ValueError):
    """The retailer file cannot be read or is malformed (the message names the file)."""


def retailers_path() -> Path:
    override = os.environ.get("BPM_RETAILERS_FILE")
    return Path(override) if override else DEFAULT_FILE


@functools.lru_cache(maxsize=4)
def _read(path: str, mtime_ns: int) -> dict[str, dict]:
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RetailerFileError(f"{path}: cannot read the retailer file: {exc}") from None
    rows = raw.get("retailers") if isinstance(raw, dict) else None
    if not isinstance(rows, list):
        raise RetailerFileError(f"{path}: expected {{\"retailers\": [...]}}")
    out: dict[str, dict] = {}
    for i, row in enumerate(rows):
        licence = row.get("licence_no") if isinstance(row, dict) else None
        if not (isinstance(licence, str) and len(licence) == 12 and licence.isdigit()):
            raise RetailerFileError(f"{path}: retailers[{i}].licence_no: expected 12 digits")
        if row.get("customer_type") not in CUSTOMER_TYPES:
            raise RetailerFileError(f"{path}: retailers[{i}].customer_type: expected one of {', '.join(CUSTOMER_TYPES)}")
        if licence in out:
            raise RetailerFileError(f"{path}: retailers[{i}].licence_no: duplicate {licence}")
        out[licence] = {k: row.get(k) for k in _FIELDS}
    return out


@functools.lru_cache(maxsize=4)
def _templates(path: str, mtime_ns: int) -> dict[str, list[str]]:
    raw = json.loads(Path(path).read_text(encoding="utf-8"))
    templates = raw.get("needs_templates") if isinstance(raw, dict) else None
    if not isinstance(templates, dict):
        return {}
    return {k: [str(v) for v in values] for k, values in templates.items()
            if k in CUSTOMER_TYPES and isinstance(values, list)}


def needs_template(customer_type: str | None) -> list[str]:
    """The service items a retailer of that type starts its needs table with (客户分析模块:
    「系统自动根据客户类型制作服务需求表」); empty for an unknown type."""
    path = retailers_path()
    try:
        templates = _templates(str(path), path.stat().st_mtime_ns)
    except (OSError, ValueError):
        return []
    return list(templates.get(customer_type or "", []))


def all_retailers() -> dict[str, dict]:
    """``{licence_no: retailer}`` from the retailer file (read again when it changes)."""
    path = retailers_path()
    try:
        mtime = path.stat().st_mtime_ns
    except OSError as exc:
        raise RetailerFileError(f"{path}: cannot read the retailer file: {exc}") from None
    return _read(str(path), mtime)


def get(licence_no: str | None) -> dict | None:
    if not licence_no:
        return None
    found = all_retailers().get(str(licence_no))
    return dict(found) if found else None


def _facts(session, licence_no: str) -> list[dict]:
    """The latest months' record metrics, newest first: ``[{period, metric: value ...}]``."""
    rows = session.execute(
        select(Fact.period, Fact.metric, Fact.value)
        .where(Fact.subject_key == licence_no, Fact.metric.in_(RECORD_METRICS))
        .order_by(Fact.period.desc())
    ).all()
    by_period: dict[str, dict] = {}
    for row in rows:
        if len(row.period) != 7:  # monthly facts only
            continue
        if row.period not in by_period and len(by_period) >= MONTHS_SHOWN:
            continue
        by_period.setdefault(row.period, {"period": row.period})[row.metric] = row.value
    return [by_period[p] for p in sorted(by_period, reverse=True)]


def _visits(session, licence_no: str, exclude: str | None) -> list[dict]:
    """The retailer's latest completed visits (newest first)."""
    rows = session.execute(
        select(ProcessInstance.id, ProcessInstance.data, ProcessInstance.started_by, ProcessInstance.ended_at)
        .where(ProcessInstance.process_key == VISIT_PROCESS, ProcessInstance.status == "completed")
        .order_by(ProcessInstance.ended_at.desc())
        .limit(500)
    ).all()
    out = []
    for row in rows:
        data = row.data or {}
        if row.id == exclude or data.get("licence_no") != licence_no:
            continue
        out.append({"instance_id": row.id, "by": row.started_by, "checked_in_at": data.get("checked_in_at"),
                    "duration_minutes": data.get("duration_minutes"), "notes": data.get("visit_notes")})
        if len(out) >= VISITS_SHOWN:
            break
    return out


def record(session, licence_no: str | None, exclude_instance: str | None = None) -> dict | None:
    """The retailer's record for a reader (None without a licence number)."""
    if not licence_no:
        return None
    licence_no = str(licence_no)
    base = get(licence_no)
    facts = _facts(session, licence_no)
    latest = facts[0] if facts else {}
    type_zh, type_en = CUSTOMER_TYPES.get((base or {}).get("customer_type"), ("", ""))
    return {
        "licence_no": licence_no,
        "registered": base is not None,
        **{k: v for k, v in (base or {}).items() if k != "licence_no"},
        "customer_type_label": type_zh,
        "customer_type_label_en": type_en,
        "rating": latest.get("retailer_rating"),
        "months": facts,
        "violations_total": sum(m.get("retailer_violations") or 0 for m in facts),
        "visits": _visits(session, licence_no, exclude_instance),
    }
