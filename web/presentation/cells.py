"""Cells of downloaded tables (CSV and XLSX), shared by the audit and report exports."""

from __future__ import annotations

import json

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
