"""Browser page ``/dashboards``: charts and tables of the scheduled reports, CSV and XLSX downloads.

Like the other pages it calls the engine services directly (``engine.jobs.reports``)
with the browser session's actor: every signed-in user may open it and sees only the
rows they may see (own scores, their unit's, or everything for auditors). The charts are
drawn by ``static/src/dashboards.js`` with ECharts from the rows embedded in the page.
"""

from __future__ import annotations

from flask import Blueprint, g, render_template, request

from engine.errors import EngineError
from engine.identity.names import local_label
from engine.jobs import inspections, reports
from engine.jobs.schedules import job_schedules
from web.api.reports import download
from web.context import current_engine
from web.i18n import current_language, t
from web.messages import person_name
from web.pages.common import _error_page, signed_in
from web.presentation import reports as presentation
from web.presentation.cells import csv_cell
from web.presentation.periods import empty_reason, period_label

bp = Blueprint("dashboards", __name__)


def _arg(name: str, limit: int) -> str | None:
    value = (request.args.get(name) or "").strip()[:limit]
    return value if value and "\x00" not in value else None


# Metrics that repeat what the row's name and unit already say: left out of the page's
# tables (the API and the exports keep them).
# codes a row carries for the CSV and the charts, not for reading: kept out of the page's tables
PAGE_HIDDEN = frozenset({"process", "category", "hall", "element_id", "step_name", "kind", "metric", "instance_id"})


def _number(value) -> str:
    """At most two decimals, no trailing zeros, thousands separated."""
    if isinstance(value, float):
        text = f"{value:,.2f}".rstrip("0").rstrip(".")
        return "0" if text in ("-0", "") else text
    return f"{value:,}"


def duration(seconds: float, lang: str) -> str:
    """A duration in words: 42秒, 12分30秒, 3小时5分, 2天3小时 (English: 42 s, 12 min 30 s ...)."""
    total = int(round(seconds))
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    units = (("天", " d"), ("小时", " h"), ("分", " min"), ("秒", " s"))
    parts = [(days, 0), (hours, 1), (minutes, 2), (secs, 3)]
    first = next((i for i, (n, _) in enumerate(parts) if n), 3)
    shown = [(n, u) for n, u in parts[first:first + 2] if n] or [(0, 3)]
    en = lang == "en"
    return " ".join(f"{n}{units[u][1]}" for n, u in shown) if en else "".join(f"{n}{units[u][0]}" for n, u in shown)


@bp.app_template_filter("metric")
def metric_filter(value, key: str = "") -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return t("dash_yes") if value else t("dash_no")
    if isinstance(value, int | float):
        return duration(value, current_language()) if presentation.is_seconds(key) else _number(value)
    if isinstance(value, list | dict):
        return str(csv_cell(value))
    return str(value)


@bp.app_template_filter("period_label")
def period_label_filter(key) -> str:
    """2026年12月, 2026年第49周 (Dec 2026, 2026 W49) in the page's language."""
    return period_label(key, current_language())


# on time in green, late in red (a count above zero): the SLA report's and the waiting figures
GOOD_COUNTS = frozenset({"on_time", "complaints_on_time", "within_limit"})
BAD_COUNTS = frozenset({"breached", "complaints_breached", "over_limit"})


def tone(key: str, value) -> str:
    """The CSS class of a metric cell: ``good`` / ``bad`` for on-time / late counts above zero."""
    last = key.rsplit(".", 1)[-1]
    if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
        return ""
    return "good" if last in GOOD_COUNTS else "bad" if last in BAD_COUNTS else ""


def _empty_text(report: dict, current: dict, lang: str) -> str:
    """Why the report has no rows: the job has not run for the period (when it runs next), it ran
    and found nothing, or the rows are not the caller's to see."""
    period, run = report["period"], report.get("run")
    ran_empty = bool(period and run and run.get("status") == "completed" and not run.get("rows"))
    if period in current["periods"] and not ran_empty:
        return t("dash_no_rows")  # rows exist, none of them the caller's
    title = current["title_en"] if lang == "en" else current["title_zh"]
    return empty_reason(title, job_schedules(current["name"]), lang, run=run if ran_empty else None)


def _chart_name(row: dict) -> str:
    name = row["subject_label"] or row["subject_key"]
    if row["subject_type"] in ("category", "process", "step") and row["unit_key"]:
        name += f" · {row['unit_name'] or row['unit_key']}"  # one bar per hall
    return name


def _chart_data(report: dict, lang: str, names: dict) -> dict:
    """What dashboards.js needs: chart specs, the numeric metrics per row, labels in the page's language."""
    zh = lang != "en"
    labels = {}
    for group in report["groups"]:
        for column in group["columns"]:
            labels[column["key"]] = presentation.label(column["key"], lang, with_unit=False, labels=names)
    rows = [
        {"subject_type": row["subject_type"], "name": _chart_name(row),
         "unit": row["unit_key"], "rank": row["rank"],
         "metrics": {k: v for k, v in row["flat"].items() if isinstance(v, int | float) and not isinstance(v, bool)}}
        for row in report["rows"]
    ]
    charts = [
        {**{k: v for k, v in spec.items() if k not in ("zh", "en")}, "title": spec["zh"] if zh else spec["en"]}
        for spec in report["charts"]
    ]
    return {"charts": charts, "rows": rows, "labels": labels, "empty": t("dash_no_chart")}


@bp.get("/dashboards")
@signed_in()
def dashboard_page():
    actor = g.page_actor
    lang = current_language()
    job, period, unit = _arg("job", 64), _arg("period", 16), _arg("unit", 64)
    notice = None
    with current_engine().read() as db:
        jobs = reports.list_jobs(db, actor)
        names = [j["name"] for j in jobs]
        if job is None:
            job = next((j["name"] for j in jobs if j["periods"]), names[0] if names else None)
        if job is None:
            return _error_page(EngineError("no report jobs are registered"))
        if period is None:  # the newest period in the selector: with results, or a run that found nothing
            period = next((j["periods"][0] for j in jobs if j["name"] == job and j["periods"]), None)
        try:
            report = presentation.labelled(reports.report(db, actor, job, period, unit))
        except EngineError as exc:
            if exc.status == 404:
                return _error_page(exc)
            notice = f"{t('dash_bad_period')}: {period}"
            report = presentation.labelled(reports.report(db, actor, job, None, unit))
        # the counter checklist is checked every day for every clerk: who is not yet checked today
        coverage = inspections.coverage(db, actor, None, unit) if job == "counter_service_score" else None
    labels = presentation.metric_labels(job)
    for u in report.get("units") or ():
        u["name"] = local_label(u.get("name"), lang)
    for row in report["rows"]:
        # names in the page's language only (engine/identity/names.py); the keys stay in the CSV
        row["subject_label"] = local_label(row["subject_label"], lang)
        row["unit_name"] = local_label(row["unit_name"], lang)
        row["flat"] = reports.flatten(row["metrics"])
        row["shown"] = {k: presentation.display_value(job, k, v, lang, labels) for k, v in row["flat"].items()}
        row["tones"] = {k: tone(k, v) for k, v in row["flat"].items()}
        if row["flat"].get("customer_manager"):  # a person by name, not by login name
            row["shown"]["customer_manager"] = person_name(row["flat"]["customer_manager"])
    for group in report["groups"]:
        group["has_unit"] = any(r["unit_key"] for r in report["rows"] if r["subject_type"] == group["subject_type"])
        group["page_columns"] = [{**c, "label": presentation.label(c["key"], lang, with_unit=False, labels=labels)}
                                 for c in group["columns"] if c["key"] not in PAGE_HIDDEN]
    current = next(j for j in jobs if j["name"] == job)
    empty = None if report["rows"] else _empty_text(report, current, lang)
    has_rank = any(row["rank"] is not None for row in report["rows"])
    has_status = job == "customer_manager_kpi" or any(row["status"] != "final" for row in report["rows"])
    query = {k: v for k, v in (("job", job), ("period", report["period"]), ("unit", report["unit"])) if v}
    return render_template(
        "dashboards.html", jobs=jobs, job=job, current=current, report=report, notice=notice, lang=lang,
        has_rank=has_rank, has_status=has_status, query=query, chart_data=_chart_data(report, lang, labels),
        coverage=coverage, empty=empty,
        status_labels={k: (v[1] if lang == "en" else v[0]) for k, v in presentation.STATUS_LABELS.items()},
    )


@bp.get("/dashboards/export")
@signed_in()
def dashboard_export():
    fmt = _arg("format", 8) or "csv"
    try:
        rows = reports.rows_for_export(current_engine(), g.page_actor, _arg("job", 64) or "", _arg("period", 16),
                                       _arg("unit", 64), fmt)
    except EngineError as exc:
        return _error_page(exc)
    return download(presentation.export_file(rows, "en" if current_language() == "en" else "zh-CN"))
