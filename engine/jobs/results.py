"""Writing a job's result rows: a period's rows are replaced as a whole, never duplicated."""

from __future__ import annotations

from sqlalchemy import delete, insert

from engine.clock import utcnow
from engine.store.models import JobResult

RESULTS = JobResult.__table__
_FIELDS = ("unit_key", "subject_type", "subject_key", "subject_label", "metrics", "rank", "status")


def replace_results(uow, job: str, period, rows: list[dict], status: str = "final") -> int:
    """Delete this job's rows for the period and insert ``rows`` (dict keys: unit_key,
    subject_type, subject_key, subject_label, metrics, rank, optional status). Returns the count."""
    conn = uow.session.connection()
    key = getattr(period, "key", period)
    conn.execute(delete(RESULTS).where(RESULTS.c.job == job, RESULTS.c.period == key))
    if not rows:
        return 0
    now = utcnow()
    values = []
    for row in rows:
        unknown = set(row) - set(_FIELDS)
        if unknown:
            raise ValueError(f"unknown result fields {sorted(unknown)}")
        values.append(
            {
                "job": job,
                "period": key,
                "unit_key": row.get("unit_key"),
                "subject_type": row["subject_type"],
                "subject_key": str(row["subject_key"])[:200],
                "subject_label": (row.get("subject_label") or None) and str(row["subject_label"])[:200],
                "metrics": row.get("metrics") or {},
                "rank": row.get("rank"),
                "status": row.get("status") or status,
                "created_at": now,
            }
        )
    conn.execute(insert(RESULTS), values)
    return len(values)
