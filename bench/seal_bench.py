"""Electronic seal benchmark: prints one JSON object with median sign and verify times.

    python bench/seal_bench.py [--n 30] [--database-url URL]

Goals (this 2-core machine): sign <= 60 ms and verify <= 40 ms, audit write included.

* ``sign_ms``: open the head's PKCS#12 with the PIN, PAdES-sign the rendered supply
  approval (certification signature, visible seal, the clerk's empty field), store the
  bytes content-addressed, link them, append ``seal_applied`` to the audit chain, commit;
* ``render_ms``: building the document (instance, history, attachments) and reportlab;
* ``seal_task_ms``: the whole ``seal`` task completion as the API runs it (the two above
  plus the workflow step), and ``countersign_task_ms`` the clerk's ``maintain`` completion;
* ``verify_ms``: load the document, check every signature (pyHanko, trust, modifications),
  find its SHA-256 in the audit trail, append ``seal_verified``, commit — for the sealed
  document (one signature) and the confirmed one (two).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PIN = "123456"
SCAN = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n"


def ms(values) -> dict:
    values = sorted(values)
    return {"median": round(statistics.median(values) * 1000, 2),
            "p95": round(values[min(len(values) - 1, int(0.95 * len(values)))] * 1000, 2), "n": len(values)}


def setup(url: str | None, var_dir: Path):
    from engine.app import BpmEngine
    from engine.config import load_settings
    from engine.identity import auth as identity
    from engine.identity import users
    from engine.identity.actor import SYSTEM
    from engine.ops.setup import init_database
    from engine.seals.admin import setup_demo_seal
    from engine.store.models import OrgUnit

    settings = load_settings(var_dir=var_dir, **({"database_url": url} if url else {}))
    engine = BpmEngine(settings)
    init_database(engine, echo=lambda *_: None)
    with engine.uow(SYSTEM) as uow:
        if uow.session.get(OrgUnit, "hall-1") is None:
            uow.session.add(OrgUnit(key="hall-1", name="中心营业厅 Central service hall", kind="hall"))
        known = {u["username"] for u in users.list_users(uow.session, SYSTEM)}
        for role in ("enforcement_officer", "service_center_head", "info_clerk", "auditor"):
            if role not in known:
                identity.add_user(uow.session, role, "demo", [role], org_unit="hall-1")
    setup_demo_seal(engine, PIN)
    return engine


def actor(engine, name):
    from engine.identity.auth import actor_by_name

    with engine.read() as session:
        return actor_by_name(session, name)


def open_task(engine, instance_id, element_id):
    from sqlalchemy import select

    from engine.store.models import Task

    with engine.read() as session:
        return session.execute(select(Task.id).where(Task.instance_id == instance_id, Task.element_id == element_id,
                                                     Task.status == "open")).scalar_one()


def reviewed(engine, officer, head, i):
    from engine.runtime import documents, instances, tasks

    with engine.uow(officer) as uow:
        scan = documents.upload(uow, engine.settings, f"供货审批表-{i}.pdf", "application/pdf", SCAN + str(i).encode()).id
    with engine.uow(officer) as uow:
        inst = instances.start(engine, uow, "supply_approval", {
            "licence_no": "420100123456", "retailer_name": "城关便民烟酒店",
            "lines": [{"brand": "huanghelou", "specification": "硬1916", "quantity": 5},
                      {"brand": "zhonghua", "specification": "软", "quantity": 2}],
            "reason": "春节前备货", "attachments": [scan]}, business_key=f"GH-BENCH-{i:04d}")
    with engine.uow(head) as uow:
        tasks.complete(engine, uow, open_task(engine, inst.id, "review"), {"decision": "approve", "review_comment": "同意"})
    return inst.id


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=30)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()

    from engine.runtime import tasks
    from engine.seals import credentials
    from engine.seals.images import unit_seal
    from engine.seals.provider import Appearance, Signer, get_provider
    from engine.seals.render import render
    from engine.seals.service import build_content, document_font, store_pdf, verify_document
    from engine.seals.templates import template
    from engine.store.records import load_instance

    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'seal-bench.sqlite3'}"
        engine = setup(url, Path(tmp) / "var")
        officer, head, clerk, auditor = (actor(engine, n) for n in ("enforcement_officer", "service_center_head",
                                                                    "info_clerk", "auditor"))
        tpl = template("supply_approval")
        provider = get_provider()
        warm = reviewed(engine, officer, head, 9999)
        tasks.complete_task(engine, head, open_task(engine, warm, "seal"), {"seal_confirm": True, "seal_pin": PIN})

        render_t, sign_t, seal_task_t, countersign_t, verify1_t, verify2_t = [], [], [], [], [], []
        sizes = []
        for i in range(args.n):
            # render + sign separately (what a seal costs apart from the workflow step)
            iid = reviewed(engine, officer, head, 2 * i)
            with engine.read() as session:
                inst = load_instance(session, iid)
                t0 = time.perf_counter()
                content = build_content(engine, session, tpl, inst, dict(inst.data), head, "bench")
                pdf, positions = render(content, document_font(engine))
                render_t.append(time.perf_counter() - t0)
                png, _ = unit_seal(session, head.org_unit)
            t0 = time.perf_counter()
            unlocked = credentials.open_seal(engine, head, PIN)
            with engine.uow(head) as uow:
                signer = Signer(unlocked.key, unlocked.certificate, unlocked.chain, name=head.username, reason="bench")
                sealed = provider.sign(pdf, signer, positions["seal"], Appearance(png), certify=True,
                                       prepare=[positions["clerk_confirmation"]])
                doc = store_pdf(uow, sealed, "bench.pdf", f"bench-{i:06d}", iid)
                uow.audit("seal_applied", instance_id=iid, document_id=doc.id, sha256=doc.sha256, field="seal",
                          signer=head.username, certificate_serial=unlocked.row.serial, bench=True)
            sign_t.append(time.perf_counter() - t0)
            sizes.append(len(sealed))

            # the whole seal task, then the clerk's confirmation, then verification
            iid = reviewed(engine, officer, head, 2 * i + 1)
            task_id = open_task(engine, iid, "seal")
            t0 = time.perf_counter()
            _, inst, _ = tasks.complete_task(engine, head, task_id, {"seal_confirm": True, "seal_pin": PIN})
            seal_task_t.append(time.perf_counter() - t0)
            sealed_id = inst.data["sealed_document"]
            task_id = open_task(engine, iid, "maintain")
            t0 = time.perf_counter()
            with engine.uow(clerk) as uow:
                _, inst = tasks.complete(engine, uow, task_id, {"system_ref": f"JYXT-{i}"})
            countersign_t.append(time.perf_counter() - t0)
            for doc_id, bucket in ((sealed_id, verify1_t), (inst.data["confirmed_document"], verify2_t)):
                t0 = time.perf_counter()
                with engine.uow(auditor) as uow:
                    report = verify_document(engine, uow, doc_id)
                bucket.append(time.perf_counter() - t0)
                assert report["valid"], report
        engine.close()

    from importlib.metadata import version

    out = {
        "benchmark": "electronic seal",
        "database": "postgresql" if url.startswith("postgresql") else "sqlite",
        "provider": f"{provider.name} {version('pyhanko')} ({provider.level}, EC P-256)",
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "sign_ms": ms(sign_t),
        "verify_ms": ms(verify1_t),
        "verify_two_signatures_ms": ms(verify2_t),
        "render_ms": ms(render_t),
        "seal_task_ms": ms(seal_task_t),
        "countersign_task_ms": ms(countersign_t),
        "sealed_pdf_bytes": int(statistics.median(sizes)),
        "goals": {"sign_ms_median_max": 60, "verify_ms_median_max": 40},
    }
    out["goals"]["met"] = out["sign_ms"]["median"] <= 60 and out["verify_ms"]["median"] <= 40
    print(json.dumps(out, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
