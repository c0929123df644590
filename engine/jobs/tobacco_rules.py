"""The tobacco side's section of the scoring rules (``tobacco`` in scoring_rules.json).

000 精益营销平台 (电子商务版块 预警功能模块, 客户服务版块 客户经理走访路线模块):

* ``anomalies``: what the nightly ``retailer_anomalies`` job watches. Each kind names a metric
  imported per retailer (subject = the retailer's 12-digit licence number), a threshold it must
  not fall ``below`` (or rise ``above``), and the back office's default instruction to the
  customer manager (the back-office step may rewrite it). 「通过参数设置，对POS扫描情况、网上订货
  情况、网上配货情况、后台结算等情况进行监控」: the parameters are these numbers.
* ``visit_score``: how the monthly ``tobacco_visit_score`` job turns the check-in/check-out
  records of ``retailer_visit`` into a score (「签到时间、拜访时长、走访客户数等数据…可用于客户
  经理的月度绩效考核」): a visit counts when it lasted at least ``min_minutes``; each counted visit
  gives ``points_per_visit``, the score never exceeds ``max_score``.

Kept in a module of its own (no import of ``engine.jobs.scoring``) so the rules schema can
include it.
"""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

_KEY = validate.Regexp(r"^[a-z][a-z0-9_]{0,63}$", error="must be a snake_case key (a-z, 0-9, _), at most 64 characters")
_NUM = {"allow_nan": False}


class _AnomalySchema(Schema):
    key = fields.String(required=True, validate=_KEY)
    label_zh = fields.String(required=True, validate=validate.Length(min=1, max=100))
    label_en = fields.String(required=True, validate=validate.Length(min=1, max=200))
    metric = fields.String(required=True, validate=_KEY)
    below = fields.Float(**_NUM)
    above = fields.Float(**_NUM)
    instruction = fields.String(required=True, validate=validate.Length(min=1, max=1000))
    note = fields.String()

    @validates_schema
    def _one_bound(self, data, **kwargs):
        if ("below" in data) == ("above" in data):
            raise ValidationError("give exactly one of below / above", "below")


class _VisitScoreSchema(Schema):
    min_minutes = fields.Float(required=True, validate=validate.Range(min=0), **_NUM)
    points_per_visit = fields.Float(required=True, validate=validate.Range(min=0), **_NUM)
    max_score = fields.Float(required=True, validate=validate.Range(min=0, min_inclusive=False), **_NUM)
    note = fields.String()


class TobaccoSchema(Schema):
    label_zh = fields.String(required=True)
    label_en = fields.String(required=True)
    anomalies = fields.List(fields.Nested(_AnomalySchema), required=True, validate=validate.Length(min=1, max=50))
    visit_score = fields.Nested(_VisitScoreSchema, required=True)
    note = fields.String()


def cross_checks(rules: dict) -> list[str]:
    """Each anomaly kind names a retailer metric; kinds are unique."""
    section = rules.get("tobacco")
    if not section:
        return []
    errors: list[str] = []
    metrics = rules["metrics"]
    seen: set[str] = set()
    for i, kind in enumerate(section["anomalies"]):
        where = f"tobacco.anomalies[{i}]"
        if kind["key"] in seen:
            errors.append(f"{where}.key: duplicate key {kind['key']!r}")
        seen.add(kind["key"])
        if metrics.get(kind["metric"], {}).get("subject") != "retailer":
            errors.append(f"{where}.metric: unknown metric {kind['metric']!r} "
                          "(declare it under 'metrics' with subject 'retailer')")
    return errors
