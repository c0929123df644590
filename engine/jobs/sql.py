"""Small SQL fragments the job queries share, written once for SQLite and PostgreSQL.

* :func:`seconds` — the length of ``a -> b`` in seconds (rounded to milliseconds);
* :func:`json_text` — a JSON column's top-level key as text;
* :func:`percentile` — nearest-rank percentile from ``ROW_NUMBER()``/``COUNT()`` window
  columns: the smallest value whose 1-based rank ``rn`` satisfies ``rn >= p/100 * n``. It
  needs only window functions (SQLite >= 3.25, PostgreSQL), so both databases return
  exactly the same numbers (PostgreSQL's ``percentile_disc`` would agree; SQLite has none).
"""

from __future__ import annotations

from sqlalchemy import bindparam

from engine.store.models import UTCDateTime


def seconds(dialect: str, a: str, b: str) -> str:
    if dialect == "sqlite":
        return f"ROUND((julianday({b}) - julianday({a})) * 86400.0, 3)"
    return f"ROUND(CAST(EXTRACT(EPOCH FROM ({b} - {a})) AS NUMERIC), 3)"


def json_text(dialect: str, column: str, key: str) -> str:
    if dialect == "sqlite":
        return f"json_extract({column}, '$.{key}')"
    return f"({column} ->> '{key}')"


def percentile(p: int, value: str, rn: str = "rn", n: str = "n", when: str = "1 = 1") -> str:
    return f"MIN(CASE WHEN {when} AND {rn} * 100 >= {p} * {n} THEN {value} END)"


def times(*names: str) -> list:
    """Bind parameters carrying aware datetimes in the stored UTC form of each backend."""
    return [bindparam(name, type_=UTCDateTime()) for name in names]


def num(value, digits: int = 3):
    """A database number (Decimal, int, float or None) as a JSON-friendly float/int."""
    if value is None:
        return None
    value = float(value)
    return int(value) if value.is_integer() else round(value, digits)


def pct(part, whole, digits: int = 1):
    """``part / whole`` in percent, None when nothing was counted."""
    if not whole:
        return None
    return round(100.0 * float(part or 0) / float(whole), digits)
