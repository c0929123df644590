"""Import external facts (revenue, member counts, churn, 6S ...) from CSV into ``bpm_fact``.

File format (one fact per row)::

    period,subject,metric,value
    2026-10,customer_manager,group_revenue,118000
    2026-10,hall-1,six_s_score,92

* Encoding: UTF-8 with or without BOM; a file that is not valid UTF-8 is read as GB18030
  (what Excel on a Chinese Windows saves as "CSV"), the audit records which.
* Header: ``period,subject,metric,value`` in any order, or the Chinese names
  ``期间,对象,指标,数值`` (also ``周期``, ``考核对象``, ``数值``/``值``); a ``note``/``备注`` column
  is ignored; any other column is an error.
* ``period``: a month ``YYYY-MM`` (or a year ``YYYY`` for yearly facts of the team ranking).
* ``metric``: one named under ``metrics`` in the scoring rules; each says whether its subject is
  a user (``subject`` = an active username), an org unit (``subject`` = an org unit key) or a
  tobacco retailer (``subject`` = its 12-digit licence number, 许可证号).
* ``value``: a finite number within the metric's ``min``/``max`` when the rules give them.

Every row is validated (marshmallow) and every problem reported as ``line N: field: message``
(N = line in the file, the header is line 1), duplicates of (period, subject, metric) within
the file included. If any row is bad NOTHING is imported. A good file replaces existing facts
of the same (period, subject, metric) and is audited as ``facts_imported`` with the file name,
row count, sha256 and how many facts it replaced.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from pathlib import Path

from marshmallow import Schema, ValidationError, fields, validates, validates_schema
from sqlalchemy import bindparam, delete, func, insert, select, tuple_

from engine.clock import utcnow
from engine.errors import ValidationFailed
from engine.jobs.periods import Period, PeriodError
from engine.jobs.scoring import ENGINE_METRICS, load_rules
from engine.store.models import Fact, OrgUnit, User

HEADER_ALIASES = {
    "period": "period", "期间": "period", "周期": "period",
    "subject": "subject", "对象": "subject", "考核对象": "subject",
    "metric": "metric", "指标": "metric",
    "value": "value", "数值": "value", "值": "value",
}
IGNORED_COLUMNS = {"note", "备注", "comment"}
COLUMNS = ("period", "subject", "metric", "value")
PERIOD_KINDS = ("month", "year")
MAX_BYTES = 20 * 1024 * 1024
FACTS = Fact.__table__
LICENCE_RE = re.compile(r"^\d{12}$")  # a tobacco retailer's licence number (许可证号), the subject of its facts


class FactsImportError(ValidationFailed):
    """422 with ``errors`` = ``["line N: field: message", ...]``."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__(f"facts file is invalid ({len(errors)} error{'s' if len(errors) != 1 else ''}); nothing imported",
                         errors)


class FactRowSchema(Schema):
    """One CSV row; ``metrics``, ``users`` and ``units`` are what names may refer to."""

    period = fields.String(required=True)
    subject = fields.String(required=True)
    metric = fields.String(required=True)
    value = fields.Float(required=True, allow_nan=False)

    def __init__(self, metrics: dict, users: set[str], units: set[str], **kwargs) -> None:
        super().__init__(**kwargs)
        self.metric_rules, self.users, self.units = metrics, users, units

    @validates("period")
    def _period(self, value: str, **kwargs) -> None:
        try:
            period = Period.parse(value)
        except PeriodError as exc:
            raise ValidationError(f"{exc.message.split(':')[0]}: expected YYYY-MM (month) or YYYY (year)") from None
        if period.kind not in PERIOD_KINDS:
            raise ValidationError(f"{value!r} is a {period.kind}: facts are per month (YYYY-MM) or year (YYYY)")

    @validates("metric")
    def _metric(self, value: str, **kwargs) -> None:
        if value in ENGINE_METRICS:
            raise ValidationError(f"{value!r} is computed by the engine from its own records and cannot be imported")
        if value not in self.metric_rules:
            raise ValidationError(f"unknown metric {value!r}; known: {', '.join(sorted(self.metric_rules))}")

    @validates_schema(skip_on_field_errors=False)
    def _subject_and_range(self, data: dict, **kwargs) -> None:
        rule = self.metric_rules.get(data.get("metric"))
        if "subject" not in data:
            return
        subject = data["subject"]
        if rule is None:  # the metric is wrong (or missing): the subject must still exist
            if subject not in self.users and subject not in self.units:
                raise ValidationError(f"unknown subject {subject!r}: neither an active user nor an org unit", "subject")
            return
        if rule["subject"] == "user" and subject not in self.users:
            raise ValidationError(f"unknown user {subject!r} (metric {data['metric']} is per user)", "subject")
        if rule["subject"] == "unit" and subject not in self.units:
            raise ValidationError(f"unknown org unit {subject!r} (metric {data['metric']} is per org unit)", "subject")
        if rule["subject"] == "retailer" and not LICENCE_RE.match(subject):
            raise ValidationError(f"{subject!r} is not a retailer licence number (12 digits; metric {data['metric']} is "
                                  "per retailer)", "subject")
        value = data.get("value")
        if value is not None and "min" in rule and value < rule["min"]:
            raise ValidationError(f"must be at least {rule['min']:g} for {data['metric']}", "value")
        if value is not None and "max" in rule and value > rule["max"]:
            raise ValidationError(f"must be at most {rule['max']:g} for {data['metric']}", "value")


def _decode(data: bytes) -> tuple[str, str]:
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError as exc:
        try:
            return data.decode("gb18030"), "gb18030"
        except UnicodeDecodeError:
            line = data[: exc.start].count(b"\n") + 1
            raise FactsImportError([f"line {line}: file: not UTF-8 (nor GB18030) text: {exc.reason}"]) from None


def _messages(value) -> list[str]:
    if isinstance(value, dict):
        return [m for v in value.values() for m in _messages(v)]
    if isinstance(value, list):
        return [m for v in value for m in _messages(v)]
    return [str(value)]


def _header_columns(header: list[str]) -> tuple[list[str | None], list[str]]:
    """The column each header cell names (None: ignored), and the header's errors."""
    errors: list[str] = []
    columns: list[str | None] = []
    for name in header:
        clean = name.strip().lstrip("\ufeff")
        if clean.lower() in HEADER_ALIASES or clean in HEADER_ALIASES:
            columns.append(HEADER_ALIASES.get(clean.lower(), HEADER_ALIASES.get(clean)))
        elif clean.lower() in IGNORED_COLUMNS or clean in IGNORED_COLUMNS:
            columns.append(None)
        else:
            errors.append(f"line 1: header: unknown column {clean!r} (expected {', '.join(COLUMNS)} or 期间, 对象, 指标, 数值)")
            columns.append(None)
    for col in COLUMNS:
        if columns.count(col) == 0:
            errors.append(f"line 1: header: missing column {col!r}")
        elif columns.count(col) > 1:
            errors.append(f"line 1: header: column {col!r} appears more than once")
    return columns, errors


def _row(schema: FactRowSchema, columns: list[str | None], record: list[str], line: int) -> tuple[dict | None, list[str]]:
    """One data row validated: ``(clean row, [])`` or ``(None, its errors)``."""
    if len(record) > len(columns):
        return None, [f"line {line}: row: {len(record)} cells but the header has {len(columns)} columns"]
    raw = {col: record[i].strip() for i, col in enumerate(columns) if col and i < len(record) and record[i].strip() != ""}
    try:
        clean = schema.load(raw)
    except ValidationError as exc:
        errors = [f"line {line}: {field}: {message}"
                  for field in COLUMNS for message in _messages(exc.messages.get(field, []))]
        errors += [f"line {line}: row: {message}" for message in _messages(exc.messages.get("_schema", []))]
        return None, errors
    clean["period"] = Period.parse(clean["period"]).key
    return clean, []


def parse_facts(session, text: str, rules: dict | None = None) -> tuple[list[dict], list[str]]:
    """Validate CSV text; returns (clean rows, ``line N: field: message`` errors)."""
    rules = rules or load_rules()
    users = set(session.execute(select(User.username).where(User.is_active.is_(True))).scalars())
    units = set(session.execute(select(OrgUnit.key)).scalars())
    schema = FactRowSchema(rules["metrics"], users, units)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        return [], ["line 1: file: the file is empty (expected a header period,subject,metric,value)"]
    except csv.Error as exc:
        return [], [f"line 1: file: {exc}"]
    columns, errors = _header_columns(header)
    if errors:
        return [], errors
    rows: list[dict] = []
    seen: dict[tuple[str, str, str], int] = {}
    while True:
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            errors.append(f"line {reader.line_num}: file: {exc}")
            break
        line = reader.line_num
        if not any(cell.strip() for cell in record):
            continue
        clean, problems = _row(schema, columns, record, line)
        if clean is None:
            errors += problems
            continue
        key = (clean["period"], clean["subject"], clean["metric"])
        if key in seen:
            errors.append(f"line {line}: metric: duplicate of line {seen[key]} (same period, subject and metric)")
            continue
        seen[key] = line
        clean["line"] = line
        rows.append(clean)
    if not rows and not errors:
        errors.append("line 2: file: no data rows")
    return rows, errors


def import_facts(uow, filename: str, data: bytes, dry_run: bool = False) -> dict:
    """Validate and (unless ``dry_run``) import a facts CSV; FactsImportError when any row is bad."""
    if len(data) > MAX_BYTES:
        raise FactsImportError([f"line 1: file: larger than {MAX_BYTES // (1024 * 1024)} MiB"])
    digest = hashlib.sha256(data).hexdigest()
    text, encoding = _decode(data)
    rows, errors = parse_facts(uow.session, text)
    if errors:
        raise FactsImportError(errors)
    name = Path(filename).name[:200]
    keys = [(r["period"], r["subject"], r["metric"]) for r in rows]
    replaced = 0
    for start in range(0, len(keys), 500):
        chunk = keys[start:start + 500]
        replaced += uow.session.execute(
            select(func.count()).select_from(FACTS)
            .where(tuple_(FACTS.c.period, FACTS.c.subject_key, FACTS.c.metric).in_(chunk))
        ).scalar_one()
    summary = {"file": name, "sha256": digest, "encoding": encoding, "rows": len(rows), "replaced": replaced,
               "periods": sorted({r["period"] for r in rows}), "metrics": sorted({r["metric"] for r in rows}),
               "dry_run": dry_run}
    if dry_run:
        return summary
    conn = uow.session.connection()
    conn.execute(
        delete(FACTS).where(FACTS.c.period == bindparam("b_period"), FACTS.c.subject_key == bindparam("b_subject"),
                            FACTS.c.metric == bindparam("b_metric")),
        [{"b_period": p, "b_subject": s, "b_metric": m} for p, s, m in keys],
    )
    now, who = utcnow(), uow.actor.username
    conn.execute(insert(FACTS), [
        {"period": r["period"], "subject_key": r["subject"], "metric": r["metric"], "value": r["value"],
         "source": name, "imported_at": now, "imported_by": who}
        for r in rows
    ])
    uow.audit("facts_imported", file=name, rows=len(rows), sha256=digest, replaced=replaced, encoding=encoding,
              periods=summary["periods"], metrics=summary["metrics"])
    return summary
