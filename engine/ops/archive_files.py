"""History archive files: gzip JSON lines, a header and one record per instance, rows
encoded as JSON (datetimes in ISO 8601, bytes in base64), written atomically (fsynced,
renamed into place, read back) and read with their completeness checked. What goes into a
record and when is ``engine.ops.retention``'s."""

from __future__ import annotations

import base64
import gzip
import json
import os
import secrets
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Date, LargeBinary
from sqlalchemy.sql.schema import Table

from engine.errors import EngineError
from engine.ops.provenance import file_sha256
from engine.store.models import UTCDateTime

FORMAT = "bpm-history-archive/1"


class ArchiveError(EngineError):
    """An archive file cannot be read or does not match what the audit log recorded."""

    status, code = 422, "archive_invalid"


def iso(at: datetime) -> str:
    """A UTC timestamp with microseconds, as archive headers and file names record it."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def encode_row(table: Table, row) -> dict:
    """A JSON-native dict of one row: datetimes in ISO 8601, bytes in base64."""
    mapping = row._mapping if hasattr(row, "_mapping") else row
    out = {}
    for col in table.columns:
        value = mapping[col.name]
        if value is None:
            out[col.name] = None
        elif isinstance(col.type, LargeBinary):
            out[col.name] = base64.b64encode(bytes(value)).decode("ascii")
        elif isinstance(value, datetime):
            out[col.name] = (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
        elif isinstance(value, date):
            out[col.name] = value.isoformat()
        else:
            out[col.name] = value
    return out


def decode_row(table: Table, data: dict, skip: tuple[str, ...] = ()) -> dict:
    """The inverse of :func:`encode_row` (columns the table lacks are an error)."""
    unknown = set(data) - {c.name for c in table.columns}
    if unknown:
        raise ArchiveError(f"the archive has columns {sorted(unknown)} that {table.name} does not have")
    out: dict[str, Any] = {}
    for col in table.columns:
        if col.name in skip or col.name not in data:
            continue
        value = data[col.name]
        if value is not None:
            if isinstance(col.type, LargeBinary):
                value = base64.b64decode(value)
            elif isinstance(col.type, UTCDateTime):
                value = datetime.fromisoformat(value)
            elif isinstance(col.type, Date):
                value = date.fromisoformat(value)
        out[col.name] = value
    return out


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_archive(folder: Path, header: dict, records: list[dict], now: datetime) -> tuple[Path, str]:
    """Write, fsync and atomically publish an archive; return its path and sha256.

    The file is read back (gzip CRC, JSON, instance count) before it is trusted.
    """
    folder.mkdir(parents=True, exist_ok=True)
    name = f"history-{now.astimezone(UTC):%Y%m%dT%H%M%S}Z-{secrets.token_hex(4)}.jsonl.gz"
    final = folder / name
    tmp = folder / f".{name}.tmp"
    try:
        with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as raw:
            with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz:
                gz.write((json.dumps(header, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8"))
                for record in records:
                    gz.write((json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8"))
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(tmp, final)
        _fsync_dir(folder)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    got_header, got = read_archive(final)
    if got_header.get("instances") != len(records) or len(got) != len(records):
        final.unlink(missing_ok=True)
        raise ArchiveError(f"archive {name} did not read back complete")
    return final, file_sha256(final)


def read_archive(path: Path) -> tuple[dict, list[dict]]:
    """``(header, records)`` of an archive file; :class:`ArchiveError` when unreadable."""
    try:
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            lines = [json.loads(line) for line in fh if line.strip()]
    except (OSError, EOFError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ArchiveError(f"cannot read archive {path.name}: {exc}") from exc
    if not lines or not isinstance(lines[0], dict) or lines[0].get("format") != FORMAT:
        raise ArchiveError(f"{path.name} is not a history archive (format {FORMAT!r} expected)")
    header, records = lines[0], lines[1:]
    if header.get("instances") != len(records) or any(r.get("kind") != "instance" for r in records):
        raise ArchiveError(f"archive {path.name} is incomplete: header says {header.get('instances')} instances, "
                           f"the file holds {len(records)}")
    return header, records
