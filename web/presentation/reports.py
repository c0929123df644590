"""The reports for people: metric labels in Chinese and English, chart hints, the column
groups of a report, and its CSV and XLSX files. ``engine.jobs.reports`` answers the rows (as
each user may see them); this module says how they read.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass

from engine.jobs import reports
from engine.jobs.reports import flatten
from web.presentation.cells import csv_cell

SUBJECT_TYPES: dict[str, tuple[str, str]] = {  # in the order the page and the XLSX sheets show them
    "user": ("人员", "Person"),
    "unit": ("部门", "Department"),
    "process": ("流程", "Process"),
    "category": ("类别", "Category"),
    "hall": ("营业厅", "Hall"),
    "room": ("重要室", "Key-account room"),  # the customer-manager KPI's sheet per room (engine/jobs/kpi.py)
    "complaint_type": ("投诉类型（按营业厅）", "Complaint type by hall"),
    "waiting_hall": ("客户等候（按营业厅）", "Customer waiting by hall"),
    "waiting_hour": ("客户等候（按营业厅、时段）", "Customer waiting by hall and hour"),
    "step": ("环节", "Step"),
    "kpi": ("指标", "KPI"),
    "shift_leader": ("班长/值班长", "Shift leader"),
    "retailer": ("零售户", "Retailer"),  # the tobacco anomalies and visits (engine/jobs/tobacco_jobs.py)
}
STATUS_LABELS = {"final": ("已确认", "Final"), "draft": ("待审核", "Draft"), "in_review": ("审核中", "In review"),
                 "rejected": ("已退回", "Rejected"), "completed": ("已完成", "Completed"),
                 "running": ("运行中", "Running"), "failed": ("失败", "Failed")}

# Chinese and English labels of the metric keys each job writes (see the job's module
# docstring). The customer-manager KPI, the checklist and the team ranking take further labels
# from the scoring rules file (dimension, item and fact names: :func:`metric_labels`). A key
# missing everywhere is shown as it is.
METRIC_LABELS: dict[str, dict[str, tuple[str, str]]] = {
    "sla_daily_report": {  # engine/jobs/sla_report.py
        "process": ("流程", "Process"),
        "category": ("类别", "Category"),
        "type": ("投诉类型", "Complaint type"),
        "hall": ("营业厅", "Hall"),
        "total": ("任务数", "Tasks"),
        "completed": ("已完成", "Completed"),
        "on_time": ("按时", "On time"),
        "breached": ("超时", "Breached"),
        "pending": ("未到期", "Pending"),
        "cancelled": ("已撤销", "Cancelled"),
        "on_time_pct": ("按时率 %", "On time %"),
        "p50_resolution_s": ("P50 办结时长", "P50 resolution"),
        "p90_resolution_s": ("P90 办结时长", "P90 resolution"),
        "avg_resolution_s": ("平均办结时长", "Average resolution"),
        "complaints": ("投诉量", "Complaints"),
        "counter_transactions": ("柜台业务量", "Counter transactions"),
        "complaint_rate_per_1000": ("投诉率（每千笔）", "Complaints per 1,000 transactions"),
        "complaints_on_time": ("投诉按时处理", "Complaints handled on time"),
        "complaints_breached": ("投诉超时处理", "Complaints handled late"),
        "on_time_handling_rate": ("处理及时率 %", "On-time handling %"),
        "satisfaction_answers": ("回访评价数", "Satisfaction answers"),
        "satisfied": ("满意数", "Satisfied"),
        "satisfaction_rate": ("满意率 %", "Satisfaction %"),
        "hour": ("取号时段", "Ticket hour"),  # engine/jobs/waiting.py
        "transactions": ("受理笔数", "Transactions accepted"),
        "without_ticket": ("未登记取号", "Without a ticket time"),
        "customers": ("取号客户数", "Customers with a ticket"),
        "within_limit": ("5分钟内受理", "Accepted within 5 min"),
        "over_limit": ("等候超时", "Waited too long"),
        "within_limit_pct": ("等候达标率 %", "Within the waiting limit %"),
        "avg_waiting_s": ("平均等候", "Average waiting"),
        "p50_waiting_s": ("等候 P50", "Waiting P50"),
        "p90_waiting_s": ("等候 P90", "Waiting P90"),
        "max_waiting_s": ("最长等候", "Longest waiting"),
        "wait_limit_s": ("等候时限", "Waiting limit"),
    },
    "customer_manager_kpi": {  # engine/jobs/kpi.py
        "total": ("总分", "Total score"),
        "raw_total": ("封顶前合计", "Sum before the cap"),
        "full_marks": ("满分", "Full marks"),
        "adjustments": ("加减分", "Adjustments"),
        "churn_rate_pct": ("离网率 %", "Churn rate %"),
        "missing": ("缺少数据的维度", "Dimensions without data"),
        "managers": ("客户经理人数", "Customer managers"),
        "avg_total": ("平均总分", "Average total"),
        "min_total": ("最低总分", "Lowest total"),
        "max_total": ("最高总分", "Highest total"),
        "with_missing": ("缺少数据人数", "With missing data"),
    },
    "key_account_room_kpi": {  # engine/jobs/room_kpi.py (dimension and heading labels from the rules)
        "total": ("总分", "Total score"),
        "raw_total": ("封顶前合计", "Sum before the cap"),
        "full_marks": ("满分", "Full marks"),
        "score_pct": ("得分率 %", "Score % of full marks"),
        "adjustments": ("加减分", "Adjustments"),
        "churn_rate_pct": ("离网率 %", "Churn rate %"),
        "missing": ("缺少数据的维度", "Dimensions without data"),
        "target": ("本月指标", "Month target"),
        "target_basic": ("本月基本目标", "Month basic target"),
        "target_challenge": ("本月挑战目标", "Month challenge target"),
        "actual": ("本月完成", "Month actual"),
        "completion_pct": ("完成率 %", "Completion %"),
        "completion_tier": ("档位", "Tier"),
        "points": ("分值", "Points"),
        "score": ("得分", "Score"),
        "managers": ("客户经理人数", "Customer managers"),
        "working_days": ("本月工作日", "Working days of the month"),
        "manager_month": ("每人月指标", "Month target per manager"),
        "manager_day": ("每人每工作日", "Per manager and working day"),
        "manager_weeks": ("每人每周", "Per manager and week"),
    },
    "counter_service_score": {  # engine/jobs/inspections.py
        "inspections": ("检查次数", "Inspections"),
        "days": ("检查天数", "Days checked"),
        "total": ("检查总分", "Points in total"),
        "avg_points": ("平均每次得分", "Average points"),
        "max_points": ("单次满分", "Full points per check"),
        "avg_pct": ("平均得分率 %", "Average % of full points"),
        "score": ("月度服务得分", "Monthly service score (sum of the checks)"),
    },
    "team_ranking": {  # engine/jobs/ranking.py
        "score": ("综合得分", "Overall score"),
        "kpi": ("月度KPI考核", "Monthly KPI"),
        "activities": ("建功立业活动", "Activities"),
        "six_s": ("6S现场管理", "6S on-site management"),
        "inspections": ("上级检查", "Inspections"),
        "innovation": ("服务部创新", "Innovation"),
        "missing": ("缺少数据的项目", "Components without data"),
    },
    "process_cycle_times": {  # engine/jobs/cycle_times.py
        "process": ("流程", "Process"),
        "version": ("版本", "Version"),
        "element_id": ("环节标识", "Step id"),
        "step_name": ("环节", "Step"),
        "count": ("办结任务数", "Tasks completed"),
        "p50_waiting_s": ("等待 P50", "Waiting P50"),
        "p90_waiting_s": ("等待 P90", "Waiting P90"),
        "avg_waiting_s": ("平均等待", "Average waiting"),
        "p50_working_s": ("办理 P50", "Working P50"),
        "p90_working_s": ("办理 P90", "Working P90"),
        "avg_working_s": ("平均办理", "Average working"),
        "p50_total_s": ("总用时 P50", "Total P50"),
        "p90_total_s": ("总用时 P90", "Total P90"),
        "avg_total_s": ("平均总用时", "Average total"),
        "overall_rank": ("全部环节中排名", "Rank among all steps"),
        "slowest": ("本流程最慢环节", "Slowest step of its process"),
    },
}
METRIC_LABELS["monthly_pay"] = {  # engine/jobs/monthly_pay.py (attendance items: from the rules)
    "test_score": ("测试成绩", "Test score"),
    "test_takers": ("参加测试人数", "Test takers"),
    "study_days": ("本月学习日", "Study days this month"),
    "study_days_attended": ("学习日到场", "Study days attended"),
    "best": ("本次最优", "Best this time"),
    "worst": ("本次最差", "Worst this time"),
    "best_streak": ("连续最优次数", "Best in a row"),
    "worst_streak": ("连续最差次数", "Worst in a row"),
    "certificate": ("颁发奖状", "Certificate"),
    "consequence": ("奖惩", "Consequence"),
    "pay_cut_pct": ("扣绩效比例 %", "Pay cut %"),
    "performance_pay": ("当月绩效（元）", "Performance pay (CNY)"),
    "pay_cut": ("扣绩效（元）", "Pay cut (CNY)"),
    "attendance_deduction": ("考勤扣款（元）", "Attendance deductions (CNY)"),
    "notice": ("片区通报", "Named in the area"),
    "total_deduction": ("合计扣款（元）", "Total deductions (CNY)"),
    "hall_result_pct": ("本厅当月服务成绩 %", "Hall's service result this month %"),
    "prev_result_pct": ("上月服务成绩 %", "Last month's result %"),
    "improvement_pct": ("改善程度（百分点）", "Improvement (points)"),
    "inspections": ("服务检查次数", "Service checks"),
    "linked_score": ("挂钩考核得分", "Linked assessment score"),
}
# coded text values shown in words: {job: {metric key: {value: (zh, en)}}}
VALUE_LABELS: dict[str, dict[str, dict[str, tuple[str, str]]]] = {
    "monthly_pay": {"consequence": {"certificate": ("颁发奖状", "Certificate"),
                                    "pay_cut": ("扣除当月绩效", "Performance pay cut")}},
}
TIER_LABELS = {"challenge": ("挑战目标", "Challenge"), "full": ("完成指标", "Full"), "basic": ("基本目标", "Basic"),
               "below_basic": ("未达基本目标", "Below basic")}


def _rules_labels(job: str) -> dict[str, tuple[str, str]]:
    """Labels named in the scoring rules file for ``job`` (empty when the file cannot be read)."""
    try:
        from engine.jobs.scoring import ENGINE_METRICS, load_rules

        rules = load_rules()
    except Exception:  # noqa: BLE001 - a broken rules file must not break the dashboards
        return {}
    out = {name: (m["label_zh"], m["label_en"]) for name, m in rules.get("metrics", {}).items()}
    if job == "customer_manager_kpi":
        out.update({name: (zh, en.split(" (")[0]) for name, (zh, en) in ENGINE_METRICS.items()})
        for dim in rules["customer_manager_kpi"]["dimensions"]:
            out[dim["key"]] = (dim["label_zh"], dim["label_en"])
            out[f"{dim['key']}_tier"] = (f"{dim['label_zh']}档位", f"{dim['label_en']} tier")
            if dim.get("room_share_pct"):  # 001 a-c: the manager's own customers and the room's month
                out[f"{dim['key']}_own"] = (f"{dim['label_zh']}（本人）", f"{dim['label_en']} (own)")
                out[f"{dim['key']}_room"] = (f"{dim['label_zh']}（重要室）", f"{dim['label_en']} (room)")
                out[f"{dim['key']}_room_tier"] = (f"{dim['label_zh']}重要室档位", f"{dim['label_en']} room tier")
        for name, metric in rules.get("metrics", {}).items():
            if metric.get("subject") == "user":
                out[f"room_{name}"] = (f"重要室{metric['label_zh']}", f"Room: {metric['label_en']}")
        for adj in rules["customer_manager_kpi"]["adjustments"]:
            out[adj["key"]] = (adj["label_zh"], adj["label_en"])
    elif job == "monthly_pay" and rules.get("monthly_pay"):
        for item in rules["monthly_pay"]["attendance"]["items"]:
            out[f"att_{item['key']}"] = (f"{item['label_zh']}扣款（元）", f"{item['label_en']} (CNY)")
    elif job == "key_account_room_kpi" and rules.get("key_account_room_kpi"):
        section = rules["key_account_room_kpi"]
        for entry in [*section["dimensions"], *section["groups"]]:
            out[entry["key"]] = (entry["label_zh"], entry["label_en"])
        for dim in section["dimensions"]:
            out[f"{dim['key']}_tier"] = (f"{dim['label_zh']}档位", f"{dim['label_en']} tier")
    elif job == "counter_service_score":
        for item in rules["counter_service"]["items"]:
            out[f"avg_{item['key']}"] = (f"{item['label_zh']}（平均）", f"{item['label_en']} (average)")
    return out


def metric_labels(job: str) -> dict[str, tuple[str, str]]:
    """``{metric key: (zh, en)}`` of ``job``."""
    return {**_rules_labels(job), **METRIC_LABELS.get(job, {})}


def kpi_dimensions() -> list[str]:
    """The dimension keys of the customer-manager KPI (the stacked bars of its chart)."""
    try:
        from engine.jobs.scoring import load_rules

        return [d["key"] for d in load_rules()["customer_manager_kpi"]["dimensions"]]
    except Exception:  # noqa: BLE001
        return []


def display_value(job: str, key: str, value, lang: str, labels: dict | None = None):
    """Coded text values in words: KPI tiers, and the dimension keys listed in ``missing``."""
    if not isinstance(value, str) or not value:
        return value
    index = 1 if lang == "en" else 0
    coded = VALUE_LABELS.get(job, {}).get(key, {})
    if value in coded:
        return coded[value][index]
    if key.endswith("_tier") and value in TIER_LABELS:
        return TIER_LABELS[value][index]
    if key == "missing":
        labels = labels if labels is not None else metric_labels(job)
        return "、".join(labels[k][index] if k in labels else k for k in value.split(",") if k) if index == 0 else \
            ", ".join(labels[k][index] if k in labels else k for k in value.split(",") if k)
    return value


# The columns before the metrics: key, Chinese and English label.
BASE_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("period", "期间", "Period"),
    ("unit_key", "单位", "Unit"),
    ("unit_name", "单位名称", "Unit name"),
    ("subject_type", "对象类型", "Subject type"),
    ("subject_key", "对象", "Subject"),
    ("subject_label", "名称", "Name"),
    ("rank", "排名", "Rank"),
    ("status", "状态", "Status"),
)

# What the page charts for each job: per subject type, the metric candidates (the first one
# present is drawn; with ``stack`` every present one is stacked). The page falls back to the
# first numeric metric when none is present.
CHARTS: dict[str, list[dict]] = {
    "sla_daily_report": [
        {"subject_type": "process", "metrics": ["on_time_pct"], "zh": "各流程按时率 %", "en": "On time % by process"},
        {"subject_type": "category", "metrics": ["on_time_pct"], "horizontal": True,
         "zh": "各类别按时率 %（按营业厅）", "en": "On time % by category and hall"},
        {"subject_type": "hall", "metrics": ["on_time_handling_rate", "satisfaction_rate"], "multi": True,
         "zh": "各营业厅投诉处理及时率与满意率 %", "en": "Complaint on-time handling and satisfaction % by hall"},
        {"subject_type": "complaint_type", "metrics": ["complaints"], "horizontal": True,
         "zh": "各类型投诉量（按营业厅）", "en": "Complaints by type and hall"},
        {"subject_type": "process", "metrics": ["on_time", "breached", "pending"], "stack": True,
         "zh": "各流程按时与超时任务数", "en": "Tasks on time and breached by process"},
        {"subject_type": "waiting_hall", "metrics": ["within_limit_pct"],
         "zh": "各营业厅等候达标率 %（5分钟内受理）", "en": "Customers accepted within 5 minutes of their ticket, % by hall"},
        {"subject_type": "waiting_hour", "metrics": ["avg_waiting_s", "p90_waiting_s"], "multi": True, "minutes": True,
         "zh": "各营业厅分时段等候时间（分钟）", "en": "Waiting time by hall and hour (min)"},
    ],
    "customer_manager_kpi": [
        # "metrics": the dimension keys of the rules file, filled in by charts_of()
        {"subject_type": "user", "stack": True, "dimensions": True, "zh": "客户经理考核得分（按维度）",
         "en": "Customer manager KPI by dimension", "metrics": [], "fallback": ["total"]},
        {"subject_type": "room", "metrics": ["avg_total", "min_total", "max_total"], "multi": True,
         "zh": "各重要室客户经理总分", "en": "Customer manager totals by room"},
        {"subject_type": "hall", "metrics": ["avg_total", "min_total", "max_total"], "multi": True,
         "zh": "各营业厅客户经理总分", "en": "Customer manager totals by hall"},
    ],
    "key_account_room_kpi": [
        # the headings of 001 重要室经理考核制度 (离网率10分, 其他指标10分, 企信通5分), stacked
        {"subject_type": "user", "stack": True, "metrics": ["churn_group", "other_indicators", "qixintong_group"],
         "zh": "重要室经理考核得分（按考核项）", "en": "Room manager KPI by heading", "fallback": ["total"]},
        {"subject_type": "kpi", "metrics": ["completion_pct"], "horizontal": True,
         "zh": "重要室各项指标本月完成率 %", "en": "Room indicators: completion % of the month's target"},
    ],
    "counter_service_score": [
        {"subject_type": "user", "metrics": ["score"], "sort": True,
         "zh": "营业员月度服务得分", "en": "Counter staff monthly service score"},
    ],
    "team_ranking": [
        {"subject_type": "unit", "metrics": ["score"], "zh": "团队比拼综合得分", "en": "Team ranking: overall score"},
        {"subject_type": "unit", "metrics": ["kpi", "inspections", "six_s", "activities", "innovation"], "multi": True,
         "zh": "团队比拼各项得分", "en": "Team ranking: component scores"},
    ],
    "monthly_pay": [
        {"subject_type": "user", "metrics": ["pay_cut", "attendance_deduction"], "stack": True, "sort": True,
         "zh": "当月扣款（元）：绩效与考勤", "en": "Deductions this month (CNY): pay cut and attendance"},
        {"subject_type": "shift_leader", "metrics": ["hall_result_pct", "linked_score"], "multi": True,
         "zh": "班长/值班长：本厅服务成绩与挂钩得分", "en": "Shift leaders: hall service result and linked score"},
    ],
    "process_cycle_times": [
        {"subject_type": "step", "horizontal": True, "limit": 10, "sort": True, "stack": True, "minutes": True,
         "metrics": ["p90_waiting_s", "p90_working_s"],
         "zh": "最慢的 10 个环节（P90 等待 + 办理，分钟）", "en": "Slowest 10 steps (P90 waiting + working, min)"},
    ],
}

# the tobacco side (engine/jobs/tobacco_jobs.py)
METRIC_LABELS["retailer_anomalies"] = {
    "kind": ("异常类型", "Kind"), "kind_label": ("异常", "Anomaly"), "metric": ("指标", "Metric"),
    "value": ("数值", "Value"), "threshold": ("阈值", "Threshold"), "direction": ("方向", "Direction"),
    "month": ("月份", "Month"), "customer_manager": ("客户经理", "Customer manager"),
    "alert": ("预警", "Alert"), "instance_id": ("预警流程", "Alert instance"),
}
VALUE_LABELS["retailer_anomalies"] = {
    "alert": {"raised": ("已发出", "Raised"), "already_raised": ("此前已发出", "Raised before"),
              "unrouted": ("无法分派（未登记零售户）", "Unrouted (retailer not registered)"),
              "not_deployed": ("流程未部署", "Process not deployed")},
    "direction": {"below": ("低于", "below"), "above": ("高于", "above")},
}
METRIC_LABELS["tobacco_visit_score"] = {
    "visits": ("拜访次数", "Visits"), "counted_visits": ("有效拜访", "Visits counted"),
    "short_visits": ("时长不足", "Too short"), "retailers_visited": ("走访客户数", "Retailers visited"),
    "total_minutes": ("拜访总时长（分钟）", "Minutes in total"), "avg_minutes": ("平均时长（分钟）", "Average minutes"),
    "min_minutes": ("有效时长下限（分钟）", "Minimum minutes"), "score": ("拜访得分", "Visit score"),
}
CHARTS["tobacco_visit_score"] = [
    {"subject_type": "user", "metrics": ["score"], "sort": True,
     "zh": "烟草客户经理月度拜访得分", "en": "Tobacco customer managers: monthly visit score"},
]


def is_seconds(key: str) -> bool:
    """Metric keys ending in ``_s`` are durations in seconds."""
    return key.endswith("_s")


def charts_of(job: str) -> list[dict]:
    """The chart hints of ``job`` with the KPI dimensions filled in from the rules."""
    return [{**spec, "metrics": kpi_dimensions()} if spec.get("dimensions") else spec for spec in CHARTS.get(job, [])]


def label(key: str, lang: str = "zh-CN", with_unit: bool = True, labels: dict | None = None) -> str:
    """The label of a metric key in ``labels`` (:func:`metric_labels` of the job); dotted keys of
    nested metrics are joined with ' · '; durations get their unit unless ``with_unit`` is false
    (the page shows them as 1小时5分)."""
    out = []
    for part in key.split("."):
        pair = (labels or {}).get(part)
        out.append(pair[1 if lang == "en" else 0] if pair else part)
    text = " · ".join(out)
    if with_unit and is_seconds(key):
        text += " (s)" if lang == "en" else "（秒）"
    return text


def _pair(table: dict[str, tuple[str, str]], key: str | None, lang: str) -> str | None:
    if key is None:
        return None
    pair = table.get(key)
    return (pair[1] if lang == "en" else pair[0]) if pair else key


# --------------------------------------------------------------------------- column groups


def _metric_keys(rows: Iterable[dict]) -> list[str]:
    keys: dict[str, None] = {}
    for row in rows:
        for key in flatten(row["metrics"]):
            keys.setdefault(key, None)
    return list(keys)


def _columns(keys: Iterable[str], labels: dict) -> list[dict]:
    return [{"key": k, "zh": label(k, "zh-CN", labels=labels), "en": label(k, "en", labels=labels),
             "unit": "s" if is_seconds(k) else None} for k in keys]


def _by_type(rows: list[dict]) -> dict[str, list[dict]]:
    """Rows by subject type, in the order of :data:`SUBJECT_TYPES` (process, category, hall ...)."""
    by_type: dict[str, list[dict]] = {}
    for row in rows:
        by_type.setdefault(row["subject_type"], []).append(row)
    order = list(SUBJECT_TYPES)
    return dict(sorted(by_type.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else len(order)))


def groups(rows: list[dict], labels: dict) -> list[dict]:
    """The subject types of ``rows``, each with its metric columns and row count."""
    return [
        {"subject_type": kind, "zh": _pair(SUBJECT_TYPES, kind, "zh-CN"), "en": _pair(SUBJECT_TYPES, kind, "en"),
         "columns": _columns(_metric_keys(items), labels), "count": len(items)}
        for kind, items in _by_type(rows).items()
    ]


def labelled(report: dict) -> dict:
    """A report of ``engine.jobs.reports.report`` with its column groups and chart hints."""
    return {**report, "groups": groups(report["rows"], metric_labels(report["job"])), "charts": charts_of(report["job"])}


# --------------------------------------------------------------------------- files


@dataclass(frozen=True)
class Export:
    body: bytes
    content_type: str
    filename: str
    rows: int


def _table(job: str, rows: list[dict], lang: str, with_type: bool = True) -> tuple[list[str], list[list]]:
    """Header labels and cell values (metrics flattened) for ``rows``."""
    keys = _metric_keys(rows)
    base = [c for c in BASE_COLUMNS if with_type or c[0] != "subject_type"]
    labels = metric_labels(job)
    header = [(en if lang == "en" else zh) for _, zh, en in base] + [label(k, lang, labels=labels) for k in keys]
    body = []
    for row in rows:
        flat = flatten(row["metrics"])
        values = {**row, "subject_type": _pair(SUBJECT_TYPES, row["subject_type"], lang),
                  "status": _pair(STATUS_LABELS, row["status"], lang)}
        body.append([values.get(k) for k, _, _ in base]
                    + [display_value(job, k, flat.get(k), lang, labels) for k in keys])
    return header, body


def _csv(job: str, rows: list[dict], lang: str) -> bytes:
    header, body = _table(job, rows, lang)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([csv_cell(h) for h in header])
    for line in body:
        writer.writerow([csv_cell(_plain(v, lang)) for v in line])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def _plain(value, lang: str):
    """A cell value for both formats: yes/no for booleans, JSON text for lists."""
    if isinstance(value, bool):
        return ("yes" if value else "no") if lang == "en" else ("是" if value else "否")
    if value is None or isinstance(value, int | float | str):
        return value
    return csv_cell(value)


def _xlsx(job: str, rows: list[dict], lang: str, title: str) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    book = Workbook()
    book.remove(book.active)
    groups = _by_type(rows) or {None: []}
    bold = Font(bold=True)
    used: set[str] = set()
    for kind, items in groups.items():
        name = _pair(SUBJECT_TYPES, kind, lang) or title
        for bad in "[]:*?/\\":
            name = name.replace(bad, " ")
        name = name[:31]
        while name in used:
            name = (name[:28] + f"_{len(used)}")[:31]
        used.add(name)
        sheet = book.create_sheet(name)
        header, body = _table(job, items, lang, with_type=False)
        sheet.append(header)
        for cell in sheet[1]:
            cell.font = bold
        for line in body:
            sheet.append([_plain(v, lang) for v in line])
        # cells are data, never formulas: a text starting with '=' stays text
        for row_cells in sheet.iter_rows(min_row=2):
            for cell in row_cells:
                if isinstance(cell.value, str):
                    cell.data_type = "s"
        for index, text in enumerate(header, start=1):
            widest = max([len(str(text)) * 2] + [len(str(line[index - 1] or "")) for line in body[:200]])
            sheet.column_dimensions[get_column_letter(index)].width = min(max(10, widest + 2), 40)
        sheet.freeze_panes = "A2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def export_file(exported: reports.ExportRows, lang: str = "zh-CN") -> Export:
    """The rows of a download as a CSV (UTF-8 with BOM, formula-guarded cells) or XLSX file
    (bold header in the page's language, one sheet per subject type)."""
    job, rows = exported.job, exported.rows
    title = exported.title_en if lang == "en" else exported.title_zh
    unit = exported.unit
    stem = re.sub(r"[^A-Za-z0-9._-]", "_", f"{job}-{exported.period}" + (f"-{unit}" if unit else ""))  # a safe file name
    if exported.fmt == "csv":
        return Export(_csv(job, rows, lang), "text/csv; charset=utf-8", f"{stem}.csv", len(rows))
    return Export(_xlsx(job, rows, lang, title),
                  "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", f"{stem}.xlsx", len(rows))
