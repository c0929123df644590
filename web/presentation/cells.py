"""Cells of downloaded tables (CSV and XLSX), shared by the audit, register and report exports."""

from __future__ import annotations

import json
from datetime import datetime

from engine.clock import LOCAL_TZ

# A cell starting with one of these is run as a formula by spreadsheet programs.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value) -> str | int:
    """A CSV cell; text that Excel would run as a formula is prefixed with an apostrophe."""
    if value is None:
        return ""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return "'" + text if text.startswith(FORMULA_START) else text


def china_time(moment, seconds: bool = True) -> str:
    """``2026-12-06 14:05:09`` (``14:05`` without seconds): a stored moment in China time
    (Asia/Shanghai); ISO strings are parsed; empty for none."""
    if not moment:
        return ""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")
