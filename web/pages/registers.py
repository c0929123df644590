"""Browser pages of the registers (台账): the registers one may open, a register's entries by
period and unit with paging, and the CSV export (audited like the API's)."""

from __future__ import annotations

import hashlib
import re

from flask import Blueprint, g, render_template, request

from engine.errors import EngineError
from engine.registers import service
from web.context import current_engine
from web.downloads import file_response
from web.i18n import current_language
from web.pages.common import _error_page, signed_in
from web.presentation import registers as presentation

bp = Blueprint("register_pages", __name__)

_PERIOD = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")


def _filters() -> tuple[str | None, str | None]:
    period = (request.args.get("period") or "").strip()[:10] or None
    unit = (request.args.get("unit") or "").strip()[:64] or None
    return (period if period and _PERIOD.match(period) else None), unit


def _page() -> int:
    try:
        return max(1, min(int(request.args.get("page", 1)), 100000))
    except ValueError:
        return 1


@bp.get("/registers")
@signed_in()
def register_list():
    with current_engine().read() as db:
        items = service.list_registers(db, g.page_actor)
    return render_template("registers.html", registers=items, lang=current_language())


@bp.get("/registers/<key>")
@signed_in()
def register_page(key: str):
    period, unit = _filters()
    lang = current_language()
    try:
        with current_engine().read() as db:
            register = service.entries(db, g.page_actor, key, period, unit, _page())
    except EngineError as exc:
        return _error_page(exc)
    for item in register["items"]:
        item["cells"] = [presentation.cell_text(item["values"].get(c["key"]), lang) for c in register["columns"]]
        item["status_text"] = presentation.status_text(item["status"], lang)
    pages = max(1, -(-register["total"] // register["per_page"]))
    query = {k: v for k, v in (("period", period), ("unit", unit)) if v}
    return render_template("register.html", register=register, pages=pages, query=query, lang=lang,
                           local=presentation.local)


@bp.get("/registers/<key>/export")
@signed_in()
def register_export(key: str):
    period, unit = _filters()
    try:
        register = service.export(current_engine(), g.page_actor, key, period, unit)
    except EngineError as exc:
        return _error_page(exc)
    body, filename = presentation.csv_file(register, current_language())
    return file_response(body, filename, "text/csv; charset=utf-8", hashlib.sha256(body).hexdigest())
