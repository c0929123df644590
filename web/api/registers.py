"""API: registers (台账), processes whose instances are the entries of a paper book.

``GET /api/registers`` lists the registers the caller may open; ``GET /api/registers/{key}``
answers one page of entries by period and unit; ``GET /api/registers/{key}/export`` downloads the
visible entries as CSV (audited as ``register_exported``). Entries are made by starting the
process (``POST /api/process-definitions/{key}/instances``) and signed by completing its
signature step. Who may read what: ``engine.registers.service``.
"""

from __future__ import annotations

import hashlib

from flask import Blueprint

from engine.registers import service
from web.context import current_engine
from web.downloads import file_response
from web.i18n import current_language
from web.presentation import registers as presentation
from web.routing import actor, api_route
from web.schemas.registers import RegisterEntriesSchema, RegisterExportQuery, RegisterListSchema, RegisterQuery

bp = Blueprint("registers", __name__, url_prefix="/api/registers")


@api_route(bp, "", summary="The registers (台账) the caller may open", response=RegisterListSchema)
def list_registers():
    with current_engine().read() as session:
        return {"items": service.list_registers(session, actor())}


@api_route(bp, "/<key>", summary="One page of a register's entries by period and unit (only those the caller may see)",
           query=RegisterQuery, response=RegisterEntriesSchema, errors=(403, 404))
def register_entries(key, args):
    with current_engine().read() as session:
        return service.entries(session, actor(), key, args.get("period"), args.get("unit"), args["page"])


@api_route(bp, "/<key>/export", summary="Download the visible entries as CSV (Chinese headers, China time; audited)",
           query=RegisterExportQuery, errors=(403, 404))
def export_register(key, args):
    register = service.export(current_engine(), actor(), key, args.get("period"), args.get("unit"))
    body, filename = presentation.csv_file(register, current_language())
    return file_response(body, filename, "text/csv; charset=utf-8", hashlib.sha256(body).hexdigest())
