"""Words and files of the registers (台账): cell text and the CSV export.

The CSV has Chinese headers (English on an English page), times in China Standard Time, UTF-8
with a BOM so Excel opens it, and cells guarded against formulas (``web.presentation.cells``).
"""

from __future__ import annotations

import csv
import io
from datetime import datetime

from web.presentation.cells import china_time, csv_cell

STATUS = {"running": ("待签收", "Awaiting signature"), "completed": ("已完成", "Completed"),
          "cancelled": ("已作废", "Cancelled"), "incident": ("异常", "Incident"), "suspended": ("已挂起", "Suspended")}
HEADERS = {
    "no": ("序号", "No."), "entered_at": ("登记时间", "Entered at"), "entered_by": ("登记人", "Entered by"),
    "unit": ("单位", "Unit"), "status": ("状态", "Status"), "signed_by": ("签收人", "Signed by"),
    "signed_at": ("签收时间", "Signed at"), "id": ("流程实例", "Instance"),
}


def _zh(lang: str) -> bool:
    return not lang.startswith("en")


def local(value) -> str:
    return china_time(value, seconds=False)


def cell_text(value, lang: str = "zh-CN") -> str:
    """A register value as people read it: yes/no, lists joined, files counted, ISO times in China time."""
    zh = _zh(lang)
    if value is None or value == "":
        return ""
    if isinstance(value, bool):
        return ("是" if value else "否") if zh else ("yes" if value else "no")
    if isinstance(value, list):
        if value and all(isinstance(v, str) and len(v) == 36 and v.count("-") == 4 for v in value):
            return f"{len(value)} 个附件" if zh else f"{len(value)} file(s)"
        return "、".join(cell_text(v, lang) for v in value) if zh else ", ".join(cell_text(v, lang) for v in value)
    if isinstance(value, str) and len(value) >= 16 and value[4:5] == "-" and value[10:11] == "T":
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return value
        return local(moment) if moment.tzinfo else moment.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, dict):
        return "; ".join(f"{k}: {cell_text(v, lang)}" for k, v in value.items())
    return str(value)


def status_text(status: str, lang: str) -> str:
    pair = STATUS.get(status)
    return (pair[0] if _zh(lang) else pair[1]) if pair else status


def csv_file(register: dict, lang: str) -> tuple[bytes, str]:
    """(body, filename) of the export."""
    zh = _zh(lang)
    h = {k: v[0] if zh else v[1] for k, v in HEADERS.items()}
    columns = register["columns"]
    head = [h["no"], h["entered_at"], h["entered_by"], h["unit"]]
    head += [c["zh"] if zh else c["en"] for c in columns]
    head += [h["status"]] + ([h["signed_by"], h["signed_at"]] if register["signed"] else []) + [h["id"]]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(head)
    for n, item in enumerate(register["items"], 1):
        sigs = item["signatures"]
        row = [n, local(item["started_at"]), item["started_by_name"] or "", item["org_unit_name"] or item["org_unit"] or ""]
        row += [cell_text(item["values"].get(c["key"]), lang) for c in columns]
        row.append(status_text(item["status"], lang))
        if register["signed"]:
            row += ["、".join(s["by_name"] or s["by"] for s in sigs), "、".join(local(s["at"]) for s in sigs)]
        row.append(item["id"])
        writer.writerow([csv_cell(v) for v in row])
    suffix = "-".join(p for p in (register.get("period"), register.get("unit")) if p)
    filename = f"{register['name'].split(' ')[0] if zh else register['key']}{'-' + suffix if suffix else ''}.csv"
    return ("\ufeff" + out.getvalue()).encode("utf-8"), filename
