"""Scoring rules (a data file) and the pure functions that apply them.

The rules live in ``engine/jobs/data/scoring_rules.json`` (packaged); the environment variable
``BPM_SCORING_RULES`` names another file to use instead. :func:`load_rules` validates the file
and raises :class:`RulesError` naming the bad key (``customer_manager_kpi.dimensions[2].points:
...``). Nothing here touches the database: the SQL-fed jobs (``kpi``, ``inspections``,
``ranking``) aggregate in SQL and hand the per-subject numbers to these functions.

Scoring decisions (the sources, ``001_*.txt``, give only the first two):

* tiers: the DMN decision ``tiers.decision`` (``processes/kpi_tier.dmn``, deployed like any
  decision and edited in the decision-table editor) gives the tier and the share of the points:
  001 重要室经理考核制度 「完成指标得满分,若只完成基本目标得全分值的90%,若完成挑战目标得全分」:
  the full target and the challenge target both pay 100 %, the basic target only 90 %. Between two
  targets the lower tier applies (steps, no interpolation). Below the basic target
  ``below_basic``: ``proportional`` (the table's share x actual / basic target, the default) or
  ``zero``. Without a decision, ``basic_pct``/``full_pct``/``challenge_pct`` give the shares.
* delta (member growth, product promotion: 加分或减分): points + (actual - target) / unit x
  points_per_unit, whole units only, at most ``max_bonus`` above and ``max_penalty`` below the
  points, never below 0.
* churn: rate = churned / total x 100 against ``line_pct`` (2 %): at the line full points; each
  whole ``step_pct`` (0.1 percentage point) above subtracts ``penalty_per_step`` (never below
  ``points - max_penalty`` nor 0), each whole step below adds ``bonus_per_step`` (at most
  ``max_bonus``). No customers (total 0) is scored as missing.
* adjustments: value x points_per_unit, clamped to [min, max] (e.g. -1 per dissatisfied
  complaint about the manager, at most -5).
* both standards (001 客户经理考核制度 a-c 「对客户经理所负责的集团单位月收入及重要室当月集团收入为标准」):
  a tiers or delta dimension with ``room_share_pct`` is scored twice when the caller passes the
  room's figures (``room_values``: the sums over the room's managers, ``room_size`` managers):
  ``100 - room_share_pct`` % of its points (and of its per-unit points, bonus and penalty) on the
  manager's own figures (``<key>_own``), ``room_share_pct`` % on the room's month (``<key>_room``,
  ``<key>_room_tier``; a delta compares the room's actual and target per manager). Without
  ``room_values`` the dimension is scored on the manager's figures alone, as before.
* percent (the perception survey's average call score, 0-100): points x value / 100, the value
  clamped to [0, 100].
* the sheet's full mark ``max_total`` (满分, default 100; the dimension points must add up to
  it): the total is the dimensions plus the adjustments, never above the full mark (001
  重要室经理考核制度: the challenge target earns 「全分」, full points, not more) nor below 0.
  Bonuses still count inside an item (a dimension may reach its points + ``max_bonus``,
  which may not exceed the full mark), so the row keeps what each item earned and the sum
  before the cap (``raw_total``) next to the capped ``total`` and ``full_marks``: an auditor
  sees why a sheet with 105 points of items shows 100.
A dimension whose facts are missing scores 0 and is listed in ``missing``.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from engine.jobs.pay_rules import MonthlyPaySchema
from engine.jobs.pay_rules import cross_checks as pay_cross_checks
from engine.jobs.room_rules import PlanSchema, RoomGroupSchema
from engine.jobs.room_rules import cross_checks as room_cross_checks
from engine.jobs.tobacco_rules import TobaccoSchema
from engine.jobs.tobacco_rules import cross_checks as tobacco_cross_checks

DEFAULT_RULES = Path(__file__).resolve().parent / "data" / "scoring_rules.json"
# Metrics the engine computes from its own tables (engine/jobs/kpi.py); the rules may name them
# next to imported facts. They cannot be imported from CSV.
ENGINE_METRICS: dict[str, tuple[str, str]] = {
    "agreements_signed": ("本月签署集团协议数", "Group agreements signed in the month (group_agreement 'sign' tasks)"),
    "complaints_dissatisfied": ("被投诉不满意数",
                                "Dissatisfied complaints about the manager (manager concerned; closed in the month)"),
    "perception_score": ("感知度抽查得分（0-100）",
                         "Perception survey score (0-100): average of the month's reached perception_survey calls"),
}
METHODS = ("tiers", "delta", "churn", "percent")
ROOM_METHODS = ("tiers", "delta")  # the methods that may also score against the room's month (room_share_pct)
# result keys a dimension adds next to its own key
DIMENSION_SUFFIXES = ("_tier", "_own", "_room", "_room_tier")
TEAM_COMPONENTS = ("kpi", "activities", "six_s", "inspections", "innovation")
PERCEPTION_ANSWERS = ("yes", "partly", "no")  # the answer values of forms/perception_call.form
RESERVED_KEYS = {"total", "raw_total", "full_marks", "adjustments", "missing", "churn_rate_pct"}
DEFAULT_MAX_TOTAL = 100.0  # 满分100分: the customer-manager sheet's full mark unless the rules say otherwise
ROUND = 2


class RulesError(ValueError):
    """The rules file is invalid; the message names the file and the bad key."""


# --------------------------------------------------------------------------- file schema

_KEY = validate.Regexp(r"^[a-z][a-z0-9_]{0,63}$", error="must be a snake_case key (a-z, 0-9, _), at most 64 characters")
_NUM = {"allow_nan": False}


class _Labelled(Schema):
    key = fields.String(required=True, validate=_KEY)
    label_zh = fields.String(required=True, validate=validate.Length(min=1, max=100))
    label_en = fields.String(required=True, validate=validate.Length(min=1, max=200))
    note = fields.String()


class _MetricSchema(Schema):
    # a retailer is named by its 12-digit licence number (the tobacco side, engine/jobs/retailers.py)
    subject = fields.String(required=True, validate=validate.OneOf(("user", "unit", "retailer")))
    label_zh = fields.String(required=True, validate=validate.Length(min=1, max=100))
    label_en = fields.String(required=True, validate=validate.Length(min=1, max=200))
    min = fields.Float(**_NUM)
    max = fields.Float(**_NUM)

    @validates_schema
    def _range(self, data, **kwargs):
        if "min" in data and "max" in data and data["min"] > data["max"]:
            raise ValidationError("must not be greater than max", "min")


class _TiersSchema(Schema):
    # the deployed DMN decision that gives tier and share (processes/kpi_tier.dmn), or the shares here
    decision = fields.String(validate=_KEY)
    basic_pct = fields.Float(validate=validate.Range(min=0, max=1000), **_NUM)
    full_pct = fields.Float(validate=validate.Range(min=0, max=1000), **_NUM)
    challenge_pct = fields.Float(validate=validate.Range(min=0, max=1000), **_NUM)
    below_basic = fields.String(required=True, validate=validate.OneOf(("proportional", "zero")))
    note = fields.String()

    @validates_schema
    def _order(self, data, **kwargs):
        if "decision" not in data:
            missing = [k for k in ("basic_pct", "full_pct", "challenge_pct") if k not in data]
            if missing:
                raise ValidationError("name the tier decision, or give basic_pct, full_pct and challenge_pct",
                                      missing[0])
        if {"basic_pct", "full_pct", "challenge_pct"} <= set(data):
            if not data["basic_pct"] <= data["full_pct"] <= data["challenge_pct"]:
                raise ValidationError("must satisfy basic_pct <= full_pct <= challenge_pct", "basic_pct")


class _TargetsSchema(Schema):
    basic = fields.String(required=True, validate=_KEY)
    full = fields.String(required=True, validate=_KEY)
    challenge = fields.String(validate=_KEY)


_POSITIVE = validate.Range(min=0, min_inclusive=False)
_NON_NEGATIVE = validate.Range(min=0)


class _DimensionSchema(_Labelled):
    points = fields.Float(required=True, validate=_POSITIVE, **_NUM)
    method = fields.String(required=True, validate=validate.OneOf(METHODS))
    actual = fields.List(fields.String(validate=_KEY), validate=validate.Length(min=1))
    targets = fields.Nested(_TargetsSchema)
    target = fields.String(validate=_KEY)
    unit = fields.Float(validate=_POSITIVE, **_NUM)
    points_per_unit = fields.Float(validate=_NON_NEGATIVE, **_NUM)
    churned = fields.String(validate=_KEY)
    total = fields.String(validate=_KEY)
    line_pct = fields.Float(validate=_NON_NEGATIVE, **_NUM)
    step_pct = fields.Float(validate=_POSITIVE, **_NUM)
    penalty_per_step = fields.Float(validate=_NON_NEGATIVE, **_NUM)
    bonus_per_step = fields.Float(validate=_NON_NEGATIVE, **_NUM)
    max_bonus = fields.Float(validate=_NON_NEGATIVE, **_NUM)
    max_penalty = fields.Float(validate=_NON_NEGATIVE, **_NUM)
    # share of the points scored on the room's month (001 a-c: 「及重要室当月…为标准」), the rest on the manager's own
    room_share_pct = fields.Float(validate=validate.Range(min=0, max=100), **_NUM)

    NEEDS = {
        "tiers": ("actual", "targets"),
        "delta": ("actual", "target", "unit", "points_per_unit", "max_bonus", "max_penalty"),
        "churn": ("churned", "total", "line_pct", "step_pct", "penalty_per_step", "bonus_per_step", "max_bonus",
                  "max_penalty"),
        "percent": ("actual",),
    }

    @validates_schema
    def _method_fields(self, data, **kwargs):
        errors = {name: [f"is required by method {data['method']!r}"]
                  for name in self.NEEDS.get(data.get("method"), ()) if name not in data}
        if data.get("room_share_pct") and data.get("method") not in ROOM_METHODS:
            errors["room_share_pct"] = [f"only methods {', '.join(ROOM_METHODS)} score against the room"]
        if errors:
            raise ValidationError(errors)


class _AdjustmentSchema(_Labelled):
    metric = fields.String(required=True, validate=_KEY)
    points_per_unit = fields.Float(required=True, **_NUM)
    min = fields.Float(**_NUM)
    max = fields.Float(**_NUM)


class _KpiSchema(Schema):
    label_zh = fields.String(required=True)
    label_en = fields.String(required=True)
    # the sheet's full mark (满分): the total never exceeds it, whatever the bonuses
    max_total = fields.Float(load_default=DEFAULT_MAX_TOTAL, validate=_POSITIVE, **_NUM)
    tiers = fields.Nested(_TiersSchema, required=True)
    dimensions = fields.List(fields.Nested(_DimensionSchema), required=True, validate=validate.Length(min=1))
    adjustments = fields.List(fields.Nested(_AdjustmentSchema), load_default=list)
    note = fields.String()


class _ItemSchema(_Labelled):
    points = fields.Float(required=True, validate=_POSITIVE, **_NUM)


class _CounterSchema(Schema):
    label_zh = fields.String(required=True)
    label_en = fields.String(required=True)
    items = fields.List(fields.Nested(_ItemSchema), required=True, validate=validate.Length(min=1, max=50))
    note = fields.String()


class _TeamSchema(Schema):
    label_zh = fields.String(required=True)
    label_en = fields.String(required=True)
    weights = fields.Dict(keys=fields.String(validate=validate.OneOf(TEAM_COMPONENTS)),
                          values=fields.Float(validate=_NON_NEGATIVE, **_NUM), required=True)
    facts = fields.Dict(keys=fields.String(validate=validate.OneOf(("activities", "six_s", "innovation"))),
                        values=fields.String(validate=_KEY), required=True)
    missing = fields.String(required=True, validate=validate.OneOf(("reweight", "zero")))
    note = fields.String()


class _PerceptionSchema(Schema):
    """The perception survey (000 篇3/4 客户经理感知度): items asked on each call, the share of an
    item's points each answer earns, and the size of a manager's sample."""

    label_zh = fields.String(required=True)
    label_en = fields.String(required=True)
    items = fields.List(fields.Nested(_ItemSchema), required=True, validate=validate.Length(min=1, max=20))
    answers = fields.Dict(keys=fields.String(validate=validate.OneOf(PERCEPTION_ANSWERS)),
                          values=fields.Float(validate=validate.Range(min=0, max=100), **_NUM), required=True)
    sample_min = fields.Integer(required=True, validate=validate.Range(min=1, max=100))
    sample_max = fields.Integer(required=True, validate=validate.Range(min=1, max=100))
    note = fields.String()

    @validates_schema
    def _shape(self, data, **kwargs):
        if set(data.get("answers", {})) != set(PERCEPTION_ANSWERS):
            raise ValidationError(f"must give a share for each of {', '.join(PERCEPTION_ANSWERS)}", "answers")
        if data.get("sample_min", 0) > data.get("sample_max", 0):
            raise ValidationError("must not be greater than sample_max", "sample_min")


class _RoomKpiSchema(_KpiSchema):
    """The key-account room manager's sheet (engine/jobs/room_rules.py): a KPI sheet on the room's facts."""

    groups = fields.List(fields.Nested(RoomGroupSchema), required=True, validate=validate.Length(min=1))
    plan = fields.Nested(PlanSchema, required=True)


class _RulesSchema(Schema):
    version = fields.Integer(required=True, validate=validate.Equal(1))
    description = fields.String()
    metrics = fields.Dict(keys=fields.String(validate=_KEY), values=fields.Nested(_MetricSchema), required=True)
    customer_manager_kpi = fields.Nested(_KpiSchema, required=True)
    counter_service = fields.Nested(_CounterSchema, required=True)
    team_ranking = fields.Nested(_TeamSchema, required=True)
    # the customer managers' perception survey (processes/perception_survey.bpmn); optional in a custom file
    perception_survey = fields.Nested(_PerceptionSchema, load_default=None)
    # study days, tests and attendance (engine/jobs/pay_rules.py); optional in a custom file
    monthly_pay = fields.Nested(MonthlyPaySchema, load_default=None)
    # anomaly alerts and visit scores of the tobacco side (engine/jobs/tobacco_rules.py); optional
    tobacco = fields.Nested(TobaccoSchema, load_default=None)
    # the key-account room manager's monthly sheet and target plan (engine/jobs/room_rules.py); optional
    key_account_room_kpi = fields.Nested(_RoomKpiSchema, load_default=None)


def _flatten(messages, prefix: str = "") -> list[str]:
    """marshmallow's nested ``{field: {index: {field: [msg]}}}`` as ``a.b[2].c: msg`` lines."""
    out: list[str] = []
    if isinstance(messages, dict):
        for key, value in messages.items():
            if isinstance(key, int):
                path = f"{prefix}[{key}]"
            elif key == "value" and prefix:  # Dict field values: marshmallow nests them under "value"
                path = prefix
            elif key == "_schema":
                path = prefix
            else:
                path = f"{prefix}.{key}" if prefix else str(key)
            out.extend(_flatten(value, path))
    elif isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        out.extend(f"{prefix or '(root)'}: {m}" for m in messages)
    elif isinstance(messages, list):
        for index, value in enumerate(messages):
            out.extend(_flatten(value, f"{prefix}[{index}]"))
    else:
        out.append(f"{prefix or '(root)'}: {messages}")
    return out


def _cross_checks(rules: dict) -> list[str]:
    """What a schema cannot see: sums, unique keys and metric names that must exist."""
    errors: list[str] = []
    metrics = rules["metrics"]
    known_user = {k for k, m in metrics.items() if m["subject"] == "user"} | set(ENGINE_METRICS)
    for name in metrics:
        if name in ENGINE_METRICS:
            errors.append(f"metrics.{name}: is computed by the engine and cannot be declared as an imported fact")
    kpi = rules["customer_manager_kpi"]
    total, full_marks = sum(d["points"] for d in kpi["dimensions"]), kpi["max_total"]
    if not math.isclose(total, full_marks, abs_tol=1e-9):
        errors.append(f"customer_manager_kpi.dimensions: points must sum to {full_marks:g} (they sum to {total:g}): "
                      "max_total, the sheet's full mark")
    seen: set[str] = set()
    # dimension and adjustment scores share the result row's metrics with the inputs
    reserved = set(metrics) | set(ENGINE_METRICS) | RESERVED_KEYS
    for i, dim in enumerate(kpi["dimensions"]):
        where = f"customer_manager_kpi.dimensions[{i}]"
        if dim["key"] in seen:
            errors.append(f"{where}.key: duplicate key {dim['key']!r}")
        if dim["key"] in reserved or dim["key"].endswith(DIMENSION_SUFFIXES):
            errors.append(f"{where}.key: {dim['key']!r} is a metric name or reserved: choose another key")
        seen.add(dim["key"])
        if dim["points"] + dim.get("max_bonus", 0) > full_marks + 1e-9:
            errors.append(f"{where}.max_bonus: points + max_bonus ({dim['points'] + dim.get('max_bonus', 0):g}) exceed "
                          f"the full mark max_total ({full_marks:g})")
        named = list(dim.get("actual", []))
        named += [(f"targets.{t}", m) for t, m in dim.get("targets", {}).items()]
        named += [(n, dim[n]) for n in ("target", "churned", "total") if n in dim]
        for entry in named:
            field, metric = entry if isinstance(entry, tuple) else ("actual", entry)
            if metric not in known_user:
                errors.append(f"{where}.{field}: unknown metric {metric!r} (declare it under 'metrics' with subject 'user')")
    for i, adj in enumerate(kpi["adjustments"]):
        if adj["metric"] not in known_user:
            errors.append(f"customer_manager_kpi.adjustments[{i}].metric: unknown metric {adj['metric']!r}")
        if adj["key"] in seen:
            errors.append(f"customer_manager_kpi.adjustments[{i}].key: duplicate key {adj['key']!r}")
        if adj["key"] in reserved:
            errors.append(f"customer_manager_kpi.adjustments[{i}].key: {adj['key']!r} is a metric name or reserved")
        seen.add(adj["key"])
    items = rules["counter_service"]["items"]
    keys = [item["key"] for item in items]
    for i, key in enumerate(keys):
        if keys.index(key) != i:
            errors.append(f"counter_service.items[{i}].key: duplicate key {key!r}")
    team = rules["team_ranking"]
    missing = [c for c in TEAM_COMPONENTS if c not in team["weights"]]
    if missing:
        errors.append(f"team_ranking.weights: missing {', '.join(missing)}")
    elif not math.isclose(sum(team["weights"].values()), 100.0, abs_tol=1e-9):
        errors.append(f"team_ranking.weights: must sum to 100 (they sum to {sum(team['weights'].values()):g})")
    for comp in ("activities", "six_s", "innovation"):
        metric = team["facts"].get(comp)
        if metric is None:
            errors.append(f"team_ranking.facts.{comp}: missing (name the unit metric imported for it)")
        elif metrics.get(metric, {}).get("subject") != "unit":
            errors.append(f"team_ranking.facts.{comp}: unknown metric {metric!r} (declare it under 'metrics' with subject 'unit')")
    return errors


def parse_rules(raw: dict, source: str = "rules") -> dict:
    """Validate a rules document (already JSON-decoded); return the cleaned rules."""
    if not isinstance(raw, dict):
        raise RulesError(f"{source}: the rules must be a JSON object")
    try:
        rules = _RulesSchema().load(raw)
    except ValidationError as exc:
        raise RulesError(f"{source}: " + "; ".join(_flatten(exc.messages))) from None
    errors = _cross_checks(rules) + pay_cross_checks(rules) + tobacco_cross_checks(rules) + room_cross_checks(rules)
    if errors:
        raise RulesError(f"{source}: " + "; ".join(errors))
    return rules


_rules_path: Path | None = None  # BPM_SCORING_RULES, set by configure


def configure(path: Path | None) -> None:
    """The scoring rules file of this process (``Settings.scoring_rules``; None: the packaged one)."""
    global _rules_path
    _rules_path = path


def rules_path() -> Path:
    return _rules_path or DEFAULT_RULES


@functools.lru_cache(maxsize=4)
def _load_cached(path: str, mtime_ns: int) -> dict:
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RulesError(f"{path}: cannot read the scoring rules: {exc}") from None
    return parse_rules(raw, path)


def load_rules(path: str | Path | None = None) -> dict:
    """The validated rules of ``path`` (default: the configured file, else the packaged one)."""
    target = Path(path) if path else rules_path()
    try:
        mtime = target.stat().st_mtime_ns
    except OSError as exc:
        raise RulesError(f"{target}: cannot read the scoring rules: {exc}") from None
    return _load_cached(str(target), mtime)


def importable_metrics(rules: dict) -> dict[str, dict]:
    """The metrics a facts CSV may contain (``{name: {subject, label_zh, ...}}``)."""
    return rules["metrics"]


def kpi_metric_names(rules: dict) -> list[str]:
    """Every metric the customer-manager KPI reads (imported and engine metrics), sorted."""
    kpi = rules["customer_manager_kpi"]
    names: set[str] = set()
    for dim in kpi["dimensions"]:
        names.update(dim.get("actual", []))
        names.update(dim.get("targets", {}).values())
        names.update(dim[n] for n in ("target", "churned", "total") if n in dim)
    names.update(a["metric"] for a in kpi["adjustments"])
    return sorted(names)


def checklist_max(rules: dict) -> float:
    return float(sum(item["points"] for item in rules["counter_service"]["items"]))


# --------------------------------------------------------------------------- pure scoring


def _r(value: float) -> float:
    return round(value + 0.0, ROUND)


def _steps(amount: float, step: float) -> int:
    """Whole steps in ``amount`` (>= 0), robust to binary fractions (0.3 / 0.1 is 2.999...)."""
    return int(math.floor(round(amount / step, 6)))


@dataclass(frozen=True)
class TierResult:
    score: float
    tier: str  # challenge | full | basic | below_basic
    pct: float  # percentage of the points awarded


def tier_score(points: float, actual: float, basic: float, full: float, challenge: float | None = None, *,
               basic_pct: float = 90, full_pct: float = 100, challenge_pct: float = 100,
               below_basic: str = "proportional", table: Callable | None = None) -> TierResult:
    """Score a revenue-like dimension against its basic / full / challenge targets; ``table``
    (:func:`decision_table`) gives the tier and its share from a DMN decision instead."""
    if table is not None:
        tier, pct = table(actual, basic, full, challenge)
        if tier == "below_basic":
            pct = pct * max(actual, 0.0) / basic if below_basic == "proportional" and basic > 0 else 0.0
    elif challenge is not None and actual >= challenge:
        tier, pct = "challenge", challenge_pct
    elif actual >= full:
        tier, pct = "full", full_pct
    elif actual >= basic:
        tier, pct = "basic", basic_pct
    else:
        tier = "below_basic"
        pct = basic_pct * max(actual, 0.0) / basic if below_basic == "proportional" and basic > 0 else 0.0
    return TierResult(_r(points * pct / 100.0), tier, _r(pct))


def decision_table(decision) -> Callable:
    """A tier table from a DMN decision (``engine.bpmn.dmn``) over ``actual``, ``basic``, ``full``
    and ``challenge``, answering ``(tier, pct)``."""
    from engine.bpmn import dmn

    def table(actual, basic, full, challenge):
        value = dmn.evaluate(decision, {"actual": actual, "basic": basic, "full": full, "challenge": challenge}).value
        if not value or "tier" not in value or "pct" not in value:
            raise RulesError(f"decision {decision.id!r} gave no tier for actual {actual} (basic {basic}, full {full}, "
                             f"challenge {challenge}): it needs a rule for every case and the outputs tier and pct")
        return value["tier"], float(value["pct"])

    return table


def delta_score(points: float, actual: float, target: float, *, unit: float, points_per_unit: float,
                max_bonus: float, max_penalty: float) -> float:
    """Add or subtract points per whole ``unit`` above or below the target."""
    diff = actual - target
    steps = _steps(abs(diff), unit)
    if diff >= 0:
        return _r(points + min(steps * points_per_unit, max_bonus))
    return _r(max(points - min(steps * points_per_unit, max_penalty), 0.0))


def churn_rate(churned: float, total: float) -> float | None:
    """Churned / total x 100 (percent), None when there are no customers."""
    if total <= 0:
        return None
    return round(churned / total * 100.0, 6)


def churn_score(points: float, rate_pct: float, *, line_pct: float = 2.0, step_pct: float = 0.1,
                penalty_per_step: float = 1.0, bonus_per_step: float = 0.5, max_bonus: float = 3.0,
                max_penalty: float | None = None) -> float:
    """Points for a churn rate against the line: whole steps above cost, whole steps below earn."""
    max_penalty = points if max_penalty is None else max_penalty
    diff = round(rate_pct - line_pct, 6)
    steps = _steps(abs(diff), step_pct)
    if diff > 0:
        return _r(max(points - min(steps * penalty_per_step, max_penalty), 0.0))
    return _r(points + min(steps * bonus_per_step, max_bonus))


def adjustment_score(value: float, points_per_unit: float, low: float | None = None, high: float | None = None) -> float:
    out = value * points_per_unit
    if low is not None:
        out = max(out, low)
    if high is not None:
        out = min(out, high)
    return _r(out)


def _sum(values: dict, names: list[str]) -> float | None:
    """Sum of the named metrics; None only when every one of them is missing."""
    present = [values[n] for n in names if values.get(n) is not None]
    return float(sum(present)) if present else None


def _dimension_score(dim: dict, values: dict, tiers: dict, tier_table: Callable | None, scale: float,
                     per: float = 1.0, out: dict | None = None) -> tuple[float, str | None] | None:
    """``(score, tier or None)`` of one dimension on ``values`` for ``scale`` of its points (and of its
    per-unit points, bonus and penalty); None when its facts are missing. ``per`` divides a delta's
    actual and target (the room's sums compared per manager); ``out`` receives ``churn_rate_pct``."""
    points, method = dim["points"] * scale, dim["method"]
    if method == "tiers":
        actual = _sum(values, dim["actual"])
        targets = {t: values.get(m) for t, m in dim["targets"].items()}
        if actual is None or targets.get("basic") is None or targets.get("full") is None:
            return None
        res = tier_score(points, actual, targets["basic"], targets["full"], targets.get("challenge"),
                         basic_pct=tiers.get("basic_pct", 90), full_pct=tiers.get("full_pct", 100),
                         challenge_pct=tiers.get("challenge_pct", 100), below_basic=tiers["below_basic"],
                         table=tier_table)
        return res.score, res.tier
    if method == "delta":
        actual = _sum(values, dim["actual"])
        target = values.get(dim["target"])
        if actual is None or target is None:
            return None
        return delta_score(points, actual / per, target / per, unit=dim["unit"],
                           points_per_unit=dim["points_per_unit"] * scale, max_bonus=dim["max_bonus"] * scale,
                           max_penalty=dim["max_penalty"] * scale), None
    if method == "percent":
        value = _sum(values, dim["actual"])
        return None if value is None else (percent_score(points, value), None)
    churned, total_customers = values.get(dim["churned"]), values.get(dim["total"])
    rate = churn_rate(churned, total_customers) if churned is not None and total_customers is not None else None
    if rate is None:
        return None
    if out is not None:
        out["churn_rate_pct"] = round(rate, 4)
    return churn_score(points, rate, line_pct=dim["line_pct"], step_pct=dim["step_pct"],
                       penalty_per_step=dim["penalty_per_step"] * scale, bonus_per_step=dim["bonus_per_step"] * scale,
                       max_bonus=dim["max_bonus"] * scale, max_penalty=dim["max_penalty"] * scale), None


def percent_score(points: float, value: float) -> float:
    """Points x value / 100, the value (a 0-100 score) clamped to [0, 100]."""
    return _r(points * min(max(value, 0.0), 100.0) / 100.0)


def score_customer_manager(kpi_rules: dict, values: dict[str, float | None], tier_table: Callable | None = None,
                           room_values: dict[str, float | None] | None = None, room_size: int = 1) -> dict:
    """One customer manager's month: ``values`` maps metric names to numbers (None = missing).

    ``room_values`` (the sums of the metrics over the manager's room, ``room_size`` managers)
    scores the dimensions with ``room_share_pct`` against both standards (module docstring).

    Returns flat metrics for the result row: one score per dimension key (what the item
    earned, bonuses included), ``<key>_tier`` for tier dimensions, ``<key>_own`` and
    ``<key>_room`` (and ``<key>_room_tier``) for dimensions scored against both standards, ``churn_rate_pct``, one
    score per adjustment key, ``adjustments``, ``total`` (capped to [0, ``max_total``]),
    ``raw_total`` (dimensions + adjustments before the cap), ``full_marks`` (``max_total``),
    ``missing`` (comma-separated dimension keys) and the inputs that were present.
    """
    tiers = kpi_rules["tiers"]
    if tiers.get("decision") and tier_table is None:
        raise RulesError(f"the tiers come from the decision {tiers['decision']!r}: pass its table (decision_table)")
    out: dict = {}
    missing: list[str] = []
    total = 0.0
    for dim in kpi_rules["dimensions"]:
        key, method = dim["key"], dim["method"]
        share = dim.get("room_share_pct", 0.0) / 100.0 if room_values is not None and method in ROOM_METHODS else 0.0
        if share:
            own = _dimension_score(dim, values, tiers, tier_table, 1.0 - share)
            room = _dimension_score(dim, room_values, tiers, tier_table, share, per=max(room_size, 1))
            score = None if own is None else _r(own[0] + (room[0] if room else 0.0))
            if own is not None:
                out[f"{key}_own"] = own[0]
                out[f"{key}_room"] = room[0] if room else 0.0
                if own[1] is not None:
                    out[f"{key}_tier"] = own[1]
                if room and room[1] is not None:
                    out[f"{key}_room_tier"] = room[1]
        else:
            result = _dimension_score(dim, values, tiers, tier_table, 1.0, out=out)
            score = None if result is None else result[0]
            if result is not None and result[1] is not None:
                out[f"{key}_tier"] = result[1]
        if score is None:
            missing.append(key)
            score = 0.0
        out[key] = score
        total += score
    adjustments = 0.0
    for adj in kpi_rules["adjustments"]:
        value = values.get(adj["metric"])
        points = adjustment_score(value, adj["points_per_unit"], adj.get("min"), adj.get("max")) if value else 0.0
        out[adj["key"]] = points
        adjustments += points
    out["adjustments"] = _r(adjustments)
    full_marks = float(kpi_rules.get("max_total", DEFAULT_MAX_TOTAL))
    raw_total = _r(total + adjustments)
    out["total"] = capped_total(raw_total, full_marks)
    out["raw_total"] = raw_total
    out["full_marks"] = full_marks
    out["missing"] = ",".join(missing)
    for name in kpi_metric_names_from(kpi_rules):
        if values.get(name) is not None:
            out[name] = values[name]
    return out


def capped_total(raw_total: float, full_marks: float) -> float:
    """The sheet's total: the raw sum, never above the full mark nor below 0."""
    return _r(min(max(raw_total, 0.0), full_marks))


def kpi_metric_names_from(kpi_rules: dict) -> list[str]:
    return kpi_metric_names({"customer_manager_kpi": kpi_rules})


def checklist_score(items_rules: list[dict], answers: dict) -> tuple[dict[str, float], float]:
    """Points per checklist item (each clamped to [0, item points]) and their sum."""
    points = {}
    for item in items_rules:
        value = float(answers.get(item["key"]) or 0)
        points[item["key"]] = max(0.0, min(value, float(item["points"])))
    return points, _r(sum(points.values()))


def team_score(weights: dict[str, float], components: dict[str, float | None], missing: str = "reweight") -> float | None:
    """Weighted score of one unit; components without data are left out (``reweight``) or 0 (``zero``)."""
    present = {k: v for k, v in components.items() if v is not None and weights.get(k, 0) > 0}
    if not present:
        return None
    if missing == "zero":
        denominator = sum(weights.get(k, 0) for k in TEAM_COMPONENTS)
    else:
        denominator = sum(weights[k] for k in present)
    return _r(sum(weights[k] * v for k, v in present.items()) / denominator) if denominator else None


def competition_ranks(scores: list[tuple[str, float]]) -> dict[str, int]:
    """1, 2, 2, 4 ranking of ``(key, score)`` pairs, best first (ties share a rank)."""
    ordered = sorted(scores, key=lambda kv: (-kv[1], kv[0]))
    ranks: dict[str, int] = {}
    for position, (key, score) in enumerate(ordered, start=1):
        if position > 1 and score == ordered[position - 2][1]:
            ranks[key] = ranks[ordered[position - 2][0]]
        else:
            ranks[key] = position
    return ranks
