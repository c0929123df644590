"""The key-account room manager's section of the scoring rules (``key_account_room_kpi``).

001 重要室经理考核制度: 「集团客户离网率10分 / 集团其他指标10分 / 企信通5分」 and the completion of
the indicators 「集团收入、集团信息化收入、集团个人客户到达数、集团新增家数、集团彩铃个人客户到达数、
集团产品推广家数、中高端客户保有率及集团客户离网率、放号」, each split from the year into months,
per customer manager into weeks and days. The section is a KPI sheet like
``customer_manager_kpi`` (its dimensions are validated by the same schema in
``engine.jobs.scoring``) whose facts are the room's (subject = the room's org unit key), plus:

* ``groups``: the headings of the sheet over its dimensions, with their points (the points of a
  heading are the sum of its dimensions');
* ``plan``: the yearly target plan (``engine.jobs.target_plan``): default basic / challenge
  percentages of the target, the month weights (月进度) and the plan's indicators, each the
  target of one tiers dimension and, optionally, the customer-manager metrics its per-manager
  monthly targets are written to.

Kept in a module of its own (no import of ``engine.jobs.scoring``) so the rules schema can
include it.
"""

from __future__ import annotations

import math

from marshmallow import Schema, fields, validate

_KEY = validate.Regexp(r"^[a-z][a-z0-9_]{0,63}$", error="must be a snake_case key (a-z, 0-9, _), at most 64 characters")
_NUM = {"allow_nan": False}
_POSITIVE = validate.Range(min=0, min_inclusive=False)
SECTION = "key_account_room_kpi"
PLAN_KINDS = ("amount", "count", "rate")  # split in cents, in whole units, or not split (a rate)
TIERS = ("basic", "full", "challenge")
_RESERVED = {"total", "raw_total", "full_marks", "adjustments", "missing", "churn_rate_pct", "manager"}


class _Labelled(Schema):
    key = fields.String(required=True, validate=_KEY)
    label_zh = fields.String(required=True, validate=validate.Length(min=1, max=100))
    label_en = fields.String(required=True, validate=validate.Length(min=1, max=200))
    note = fields.String()


class RoomGroupSchema(_Labelled):
    """A heading of the sheet (离网率10分, 其他指标10分, 企信通5分) over its dimensions."""

    points = fields.Float(required=True, validate=_POSITIVE, **_NUM)
    dimensions = fields.List(fields.String(validate=_KEY), required=True, validate=validate.Length(min=1))


class _PlanIndicatorSchema(_Labelled):
    kind = fields.String(required=True, validate=validate.OneOf(PLAN_KINDS))
    dimension = fields.String(required=True, validate=_KEY)  # the room dimension whose targets it sets
    manager_targets = fields.Dict(keys=fields.String(validate=validate.OneOf(TIERS)),
                                  values=fields.String(validate=_KEY), load_default=dict)


class PlanSchema(Schema):
    basic_pct = fields.Float(required=True, validate=validate.Range(min=0, max=100, min_inclusive=False), **_NUM)
    challenge_pct = fields.Float(required=True, validate=validate.Range(min=100, max=1000), **_NUM)
    month_weights = fields.List(fields.Float(validate=validate.Range(min=0), **_NUM), required=True,
                                validate=validate.Length(equal=12))
    indicators = fields.List(fields.Nested(_PlanIndicatorSchema), required=True, validate=validate.Length(min=1))
    note = fields.String()


def cross_checks(rules: dict) -> list[str]:
    """Points add up (per heading and in total), the facts are unit metrics, and the plan names
    tiers dimensions and customer-manager metrics that exist."""
    room = rules.get(SECTION)
    if not room:
        return []
    errors: list[str] = []
    metrics = rules["metrics"]
    known_unit = {k for k, m in metrics.items() if m["subject"] == "unit"}
    known_user = {k for k, m in metrics.items() if m["subject"] == "user"}
    full_marks = room["max_total"]
    dims = {d["key"]: d for d in room["dimensions"]}
    total = sum(d["points"] for d in room["dimensions"])
    if not math.isclose(total, full_marks, abs_tol=1e-9):
        errors.append(f"{SECTION}.dimensions: points must sum to {full_marks:g} (they sum to {total:g}): max_total")
    if len(dims) != len(room["dimensions"]):
        errors.append(f"{SECTION}.dimensions: duplicate keys")
    if room.get("adjustments"):
        errors.append(f"{SECTION}.adjustments: the room sheet has no adjustments")
    for i, dim in enumerate(room["dimensions"]):
        where = f"{SECTION}.dimensions[{i}]"
        if dim["key"] in metrics or dim["key"] in _RESERVED or dim["key"].endswith(("_tier", "_own", "_room")):
            errors.append(f"{where}.key: {dim['key']!r} is a metric name or reserved: choose another key")
        if dim.get("room_share_pct"):
            errors.append(f"{where}.room_share_pct: the room sheet is scored on the room's figures only")
        if dim["points"] + dim.get("max_bonus", 0) > full_marks + 1e-9:
            errors.append(f"{where}.max_bonus: points + max_bonus exceed the full mark max_total")
        named = [("actual", m) for m in dim.get("actual", [])]
        named += [(f"targets.{t}", m) for t, m in dim.get("targets", {}).items()]
        named += [(n, dim[n]) for n in ("target", "churned", "total") if n in dim]
        for field_name, metric in named:
            if metric not in known_unit:
                errors.append(f"{where}.{field_name}: unknown metric {metric!r} "
                              "(declare it under 'metrics' with subject 'unit': the room's facts)")
    grouped: list[str] = []
    for i, group in enumerate(room["groups"]):
        unknown = [d for d in group["dimensions"] if d not in dims]
        if unknown:
            errors.append(f"{SECTION}.groups[{i}].dimensions: unknown dimensions {', '.join(unknown)}")
        points = sum(dims[d]["points"] for d in group["dimensions"] if d in dims)
        if not unknown and not math.isclose(points, group["points"], abs_tol=1e-9):
            errors.append(f"{SECTION}.groups[{i}].points: {group['points']:g}, but its dimensions sum to {points:g}")
        grouped.extend(group["dimensions"])
    if sorted(grouped) != sorted(dims):
        errors.append(f"{SECTION}.groups: every dimension must be in exactly one group")
    plan = room["plan"]
    if not sum(plan["month_weights"]) > 0:
        errors.append(f"{SECTION}.plan.month_weights: at least one month must have a weight")
    seen: set[str] = set()
    for i, ind in enumerate(plan["indicators"]):
        where = f"{SECTION}.plan.indicators[{i}]"
        if ind["key"] in seen:
            errors.append(f"{where}.key: duplicate key {ind['key']!r}")
        seen.add(ind["key"])
        dim = dims.get(ind["dimension"])
        if dim is None or dim["method"] != "tiers":
            errors.append(f"{where}.dimension: {ind['dimension']!r} is not a tiers dimension of the sheet")
        elif ind["kind"] == "rate" and ind["manager_targets"]:
            errors.append(f"{where}.manager_targets: a rate is not split per manager")
        for tier, metric in ind["manager_targets"].items():
            if metric not in known_user:
                errors.append(f"{where}.manager_targets.{tier}: unknown metric {metric!r} "
                              "(declare it under 'metrics' with subject 'user')")
    return errors
