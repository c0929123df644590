"""The ``monthly_pay`` section of the scoring rules file: its schema and cross checks.

Kept apart from ``engine.jobs.scoring`` (which loads the whole file and calls these) so that the
study / attendance / shift-leader rules of ``engine.jobs.monthly_pay`` have one home. The
section is optional in a custom rules file; the packaged file always has it.

Sources (``001_*.txt``):

* 学习制度 「重要客户室每两周安排一次学习日,次月对上月所学的内容进行综合测试,评出最优客户经理和最差客户
  经理,连续三次被评为最优客户经理的员工颁发奖状;连续三次被评为最差客户经理的员工扣除当月绩效的10%。」
* 考勤制度 「每次迟到/早退在30分钟以内的扣除员工50元,30-60分钟的扣除100元,60分钟以上扣除200元。旷工一次
  扣除100元。上班期间若私自去逛街、购物、吃饭等处理自己的事情,发现一次扣200元,并在本片区内通报。不穿
  工作服一次,扣50元。每月请假超过3次以上的,扣除100元。」
* ``000_*.txt`` 篇3/篇4 「把营业厅服务质量改善程度和当月成绩与班长、值班长绩效考核挂钩」.
"""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

_KEY = validate.Regexp(r"^[a-z][a-z0-9_]{0,63}$", error="must be a snake_case key (a-z, 0-9, _), at most 64 characters")
_NUM = {"allow_nan": False}
_NON_NEGATIVE = validate.Range(min=0)


class _StudySchema(Schema):
    test_metric = fields.String(required=True, validate=_KEY)  # per user and month: the test score
    pay_metric = fields.String(required=True, validate=_KEY)  # per user and month: performance pay (元)
    roles = fields.List(fields.String(validate=_KEY), required=True, validate=validate.Length(min=1))
    consecutive = fields.Integer(required=True, validate=validate.Range(min=1, max=24))
    worst_pay_cut_pct = fields.Float(required=True, validate=validate.Range(min=0, max=100), **_NUM)
    min_takers = fields.Integer(required=True, validate=validate.Range(min=2, max=1000))
    history_months = fields.Integer(required=True, validate=validate.Range(min=1, max=120))
    note = fields.String()


class _AttendanceItemSchema(Schema):
    key = fields.String(required=True, validate=_KEY)
    metric = fields.String(required=True, validate=_KEY)  # per user and month: a count
    label_zh = fields.String(required=True, validate=validate.Length(min=1, max=100))
    label_en = fields.String(required=True, validate=validate.Length(min=1, max=200))
    amount = fields.Float(required=True, validate=_NON_NEGATIVE, **_NUM)  # 元
    # "per_time": amount x count; "over": amount once when the count exceeds ``over``
    charge = fields.String(required=True, validate=validate.OneOf(("per_time", "over")))
    over = fields.Integer(validate=validate.Range(min=0))
    notice = fields.Boolean(load_default=False)  # 通报: the row says the person is named in the area
    note = fields.String()

    @validates_schema
    def _over(self, data, **kwargs):
        if data.get("charge") == "over" and "over" not in data:
            raise ValidationError("is required by charge 'over'", "over")


class _AttendanceSchema(Schema):
    items = fields.List(fields.Nested(_AttendanceItemSchema), required=True, validate=validate.Length(min=1, max=30))
    working_hours = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))
    note = fields.String()


class _ShiftLeaderSchema(Schema):
    roles = fields.List(fields.String(validate=_KEY), required=True, validate=validate.Length(min=1))
    points_per_pct = fields.Float(required=True, validate=_NON_NEGATIVE, **_NUM)
    note = fields.String()


class MonthlyPaySchema(Schema):
    label_zh = fields.String(required=True)
    label_en = fields.String(required=True)
    study = fields.Nested(_StudySchema, required=True)
    attendance = fields.Nested(_AttendanceSchema, required=True)
    shift_leader = fields.Nested(_ShiftLeaderSchema, required=True)
    note = fields.String()


def cross_checks(rules: dict) -> list[str]:
    """Metric names must be declared per user; item keys unique."""
    section = rules.get("monthly_pay")
    if not section:
        return []
    errors: list[str] = []
    users = {k for k, m in rules["metrics"].items() if m["subject"] == "user"}
    for name in ("test_metric", "pay_metric"):
        metric = section["study"][name]
        if metric not in users:
            errors.append(f"monthly_pay.study.{name}: unknown metric {metric!r} (declare it under 'metrics' with subject 'user')")
    seen: set[str] = set()
    for i, item in enumerate(section["attendance"]["items"]):
        if item["metric"] not in users:
            errors.append(f"monthly_pay.attendance.items[{i}].metric: unknown metric {item['metric']!r} "
                          "(declare it under 'metrics' with subject 'user')")
        if item["key"] in seen:
            errors.append(f"monthly_pay.attendance.items[{i}].key: duplicate key {item['key']!r}")
        seen.add(item["key"])
    return errors


def attendance_deduction(items: list[dict], counts: dict[str, float | None]) -> tuple[dict[str, float], float, bool]:
    """Deduction per item (元), their sum and whether the person is to be named (通报)."""
    out: dict[str, float] = {}
    notice = False
    for item in items:
        count = counts.get(item["metric"]) or 0.0
        if item["charge"] == "per_time":
            amount = count * item["amount"]
        else:
            amount = item["amount"] if count > item["over"] else 0.0
        out[item["key"]] = round(amount, 2)
        notice = notice or (bool(item.get("notice")) and count > 0)
    return out, round(sum(out.values()), 2), notice


def best_and_worst(scores: dict[str, float], min_takers: int) -> tuple[set[str], set[str]]:
    """The best and the worst of one test (ties share the place); nobody when fewer than
    ``min_takers`` took it or everybody scored the same."""
    if len(scores) < min_takers:
        return set(), set()
    high, low = max(scores.values()), min(scores.values())
    if high == low:
        return set(), set()
    return {u for u, s in scores.items() if s == high}, {u for u, s in scores.items() if s == low}


def streak(user: str, tests: list[set[str]]) -> int:
    """How many of the newest tests in a row (``tests`` newest first) placed ``user`` in the set."""
    count = 0
    for placed in tests:
        if user not in placed:
            break
        count += 1
    return count
