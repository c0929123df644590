"""API: results of the scheduled scoring and reporting jobs, filtered to what the caller may see.

``GET /api/reports/jobs`` lists the jobs with their periods and last run;
``GET /api/reports/{job}`` answers the rows of one period (default: the newest) and unit;
``GET /api/reports/{job}/export`` downloads them as CSV or XLSX (audited as ``report_exported``).
Open to every signed-in user: a staff member sees their own rows, a manager their unit's,
auditors and admins everything (see ``engine.jobs.reports``); labels, charts and the
files come from ``web.presentation.reports``.
"""

from __future__ import annotations

from flask import Blueprint, Response

from engine.jobs import reports
from web.context import current_engine
from web.i18n import current_language
from web.presentation import reports as presentation
from web.routing import actor, api_route
from web.schemas.reports import (
    JobListSchema,
    ReportExportQuery,
    ReportQuery,
    ReportSchema,
)

bp = Blueprint("reports", __name__, url_prefix="/api/reports")


# --------------------------------------------------------------------------- views


def download(exported: presentation.Export) -> Response:
    response = Response(exported.body, content_type=exported.content_type)
    response.headers["Content-Disposition"] = f'attachment; filename="{exported.filename}"'
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@api_route(bp, "/jobs", summary="Report jobs with their titles, periods with results and last run", response=JobListSchema)
def list_report_jobs():
    with current_engine().read() as session:
        return {"items": reports.list_jobs(session, actor())}


@api_route(bp, "/<job>", summary="Result rows of a job for a period and unit (only the rows the caller may see)",
           query=ReportQuery, response=ReportSchema, errors=(404,))
def get_report(job, args):
    with current_engine().read() as session:
        return presentation.labelled(reports.report(session, actor(), job, args.get("period"), args.get("unit")))


@api_route(bp, "/<job>/export", summary="Download the visible rows as CSV or XLSX (audited)", query=ReportExportQuery,
           errors=(404,))
def export_report(job, args):
    rows = reports.rows_for_export(current_engine(), actor(), job, args.get("period"), args.get("unit"), args["format"])
    return download(presentation.export_file(rows, "en" if current_language() == "en" else "zh-CN"))
