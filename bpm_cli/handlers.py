"""The demo handlers of the shipped topics (processes/connectors.toml).

Both are idempotent by task id: a worker killed after doing the work but before reporting it
does the work again once the lock expires, and must not record it twice. Their files live in
``<var_dir>/integration/`` (``BPM_VAR_DIR``, default ``var/``).
"""

from __future__ import annotations

import fcntl
import json
import os
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from engine.config import project_root


def _folder() -> Path:
    root = Path(os.environ.get("BPM_VAR_DIR") or project_root() / "var") / "integration"
    root.mkdir(parents=True, exist_ok=True)
    return root


def _append_once(path: Path, key: str, make: callable) -> dict:
    """The record of ``key`` in the JSON-lines file, appended by ``make(count)`` if not there yet."""
    with open(path, "a+", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # several workers on one machine
        handle.seek(0)
        records = [json.loads(line) for line in handle if line.strip()]
        for record in records:
            if record["key"] == key:
                return record
        record = {"key": key, **make(len(records) + 1)}
        handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        return record


def record_supply(task: dict, settings: dict) -> dict:
    """Record a sealed supply approval in the monopoly's system (demo: a local ledger) and return
    the reference the information clerk sees."""
    data = task.get("variables") or {}
    now = datetime.now(UTC)

    def entry(n: int) -> dict:
        day = now.astimezone(ZoneInfo("Asia/Shanghai"))  # the branch's date, as on its paper register
        return {"reference": f"YC-{day:%Y%m%d}-{n:05d}", "instance_id": task["instance_id"],
                "retailer": data.get("retailer_name") or data.get("retailer"), "recorded_at": now.isoformat()}

    record = _append_once(_folder() / "supply_ledger.jsonl", task["instance_id"], entry)
    return {"supply_ref": record["reference"], "supply_recorded_at": record["recorded_at"]}


def send_sms(task: dict, settings: dict) -> dict:
    """Tell the customer by SMS: to the configured HTTP gateway (settings.url or BPM_SMS_URL), or,
    in the demo, into an outbox file."""
    data = task.get("variables") or {}
    phone = data.get("customer_phone") or data.get("phone")
    if not phone:
        raise ValueError("the case has no customer phone number")
    text = data.get("sms_text") or f"您的业务（{task.get('business_key') or task['instance_id'][:8]}）已受理，我们将尽快处理。"
    url = settings.get("url") or os.environ.get("BPM_SMS_URL")
    if url:
        body = json.dumps({"to": phone, "text": text, "id": task["id"]}).encode()
        req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"}, method="POST")
        with urllib.request.urlopen(req, timeout=10):  # noqa: S310 - the configured gateway
            pass
        return {"sms_sent_at": datetime.now(UTC).isoformat()}
    record = _append_once(_folder() / "sms_outbox.jsonl", task["id"],
                          lambda n: {"to": phone, "text": text, "queued_at": datetime.now(UTC).isoformat()})
    return {"sms_sent_at": record["queued_at"]}
