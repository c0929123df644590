"""The supply approval sealed end to end through the API, with the real processes and forms.

officer submits -> head reviews -> head seals with the PIN (a real PAdES signature with the
visible seal) -> the instance holds the sealed PDF -> those who may read the instance
download it -> verification: intact and trusted -> the clerk's confirmation adds an
incremental signature that keeps the seal valid -> the officer finishes. A wrong PIN is
refused (403), audited in its own transaction, and changes nothing.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess

import pytest

from tests.engine.seals.conftest import PIN
from tests.support.business import deploy, instance, open_task, start, try_complete, upload, work, work_external


def supply_request(api, **changes):
    data = {"licence_no": "420100123456", "retailer_name": "城关便民烟酒店",
            "lines": [{"brand": "huanghelou", "specification": "硬1916", "quantity": 5},
                      {"brand": "zhonghua", "specification": "软", "quantity": 2}],
            "reason": "春节前备货", "attachments": [upload(api, "enforcement_officer", "供货审批表.pdf")]}
    data.update(changes)
    return data


def reviewed(api, business_key="GH-2026-101") -> tuple[str, dict]:
    """A supply approval submitted and approved, waiting for the seal."""
    deploy(api, "supply_approval")
    data = supply_request(api)
    iid = start(api, "enforcement_officer", "supply_approval", data, business_key=business_key)["id"]
    work(api, "service_center_head", iid, "review", {"decision": "approve", "review_comment": "同意供货"})
    return iid, data


def audit_events(api, action, instance_id=None):
    query = f"/api/audit/events?action={action}" + (f"&instance={instance_id}" if instance_id else "")
    r = api.get(query, "auditor")
    assert r.status_code == 200, r.get_json()
    return r.get_json()["items"]


def verification(api, doc_id, user="auditor"):
    r = api.get(f"/api/documents/{doc_id}/verification", user)
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def pdf_text(content: bytes) -> str | None:
    if shutil.which("pdftotext") is None:
        return None
    done = subprocess.run(["pdftotext", "-layout", "-", "-"], input=content, capture_output=True, check=True)
    return done.stdout.decode("utf-8", "replace")


def test_supply_approval_is_sealed_confirmed_and_verifiable(api, engine, seals_ready):
    iid, data = reviewed(api)
    seal_task = open_task(api, iid, "seal")
    assert seal_task["properties"] == {"candidateScope": "instance_unit", "seal": "supply_approval"}
    inst = work(api, "service_center_head", iid, "seal", {"seal_confirm": True, "seal_pin": PIN},
                wrong=("enforcement_officer", "info_clerk"))
    sealed_id = inst["data"]["sealed_document"]
    assert "seal_pin" not in inst["data"]

    # downloaded by whoever may read the instance; not by others
    r = api.get(f"/api/documents/{sealed_id}", "auditor")
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    sealed = r.data
    assert sealed.startswith(b"%PDF-")
    assert api.get(f"/api/documents/{sealed_id}", "enforcement_officer").data == sealed
    for outsider in ("counter_staff", "nobody", "manager_hall2"):
        assert api.get(f"/api/documents/{sealed_id}", outsider).status_code == 403, outsider
        assert api.get(f"/api/documents/{sealed_id}/verification", outsider).status_code == 403, outsider

    # the audit trail holds the sha256 of exactly these bytes
    applied = audit_events(api, "seal_applied", iid)
    assert len(applied) == 1
    details = applied[0]["details"]
    assert details["document_id"] == sealed_id and details["sha256"] == hashlib.sha256(sealed).hexdigest()
    assert applied[0]["actor"] == "service_center_head" and details["field"] == "seal"
    assert details["certificate_serial"] and details["level"] == "PAdES-B-B"

    # every submitted field, the attachment with its sha256, and an empty field for the clerk
    text = pdf_text(sealed)
    if text is not None:
        for expected in ("卷烟供货审批表", "GH-2026-101", "420100123456", "城关便民烟酒店", "黄鹤楼", "硬1916",
                         "春节前备货", "同意供货", "供货审批表.pdf"):
            assert expected in text, expected
    attachment = api.get(f"/api/documents/{data['attachments'][0]}", "auditor").data
    assert hashlib.sha256(attachment).hexdigest().encode() in sealed or text is None or \
        hashlib.sha256(attachment).hexdigest()[:40] in text.replace("\n", "").replace(" ", "")

    report = verification(api, sealed_id, "enforcement_officer")
    assert report["valid"] and report["matches_record"] and report["signatures_ok"]
    assert report["empty_fields"] == ["clerk_confirmation"]
    (sig,) = report["signatures"]
    assert sig["field"] == "seal" and sig["intact"] and sig["valid"] and sig["trusted"] and sig["ok"]
    assert sig["coverage"] == "ENTIRE_FILE" and sig["modifications"] == "NONE"
    assert sig["certification"] == "FILL_FORMS" and sig["signing_time"]
    assert "service_center_head" in sig["signer"] and sig["certificate_serial"] == details["certificate_serial"]
    assert audit_events(api, "seal_verified")[-1]["details"]["document_id"] == sealed_id

    # listed with the instance and with the task that sealed it
    listing = api.get(f"/api/process-instances/{iid}/documents", "enforcement_officer").get_json()["items"]
    kinds = {d["id"]: d["kind"] for d in listing}
    assert kinds == {data["attachments"][0]: "attachment", sealed_id: "sealed"}
    by_task = api.get(f"/api/tasks/{seal_task['id']}/documents", "auditor").get_json()["items"]
    assert [d["id"] for d in by_task if d["from_this_task"]] == [sealed_id]
    assert api.get(f"/api/process-instances/{iid}/documents", "counter_staff").status_code == 403
    assert api.get(f"/api/tasks/{seal_task['id']}/documents", "nobody").status_code == 403

    # recorded in the monopoly's system by the integration worker, then the clerk's confirmation: an
    # incremental signature; the seal stays valid
    work_external(api, iid, "supply_sync", engine.settings.var_dir)
    inst = work(api, "info_clerk", iid, "maintain", {"system_ref": "JYXT-20261123-0007"})
    confirmed_id = inst["data"]["confirmed_document"]
    assert inst["data"]["sealed_document"] == sealed_id
    confirmed = api.get(f"/api/documents/{confirmed_id}", "enforcement_officer").data
    assert confirmed.startswith(sealed), "an incremental update appends to the sealed bytes"
    report = verification(api, confirmed_id)
    assert report["valid"] and report["empty_fields"] == []
    seal_sig, clerk_sig = report["signatures"]
    assert seal_sig["field"] == "seal" and seal_sig["ok"] and seal_sig["intact"] and seal_sig["trusted"]
    assert seal_sig["coverage"] == "ENTIRE_REVISION" and seal_sig["modifications"] == "FORM_FILLING"
    assert seal_sig["docmdp_ok"] is True
    assert clerk_sig["field"] == "clerk_confirmation" and clerk_sig["ok"] and clerk_sig["coverage"] == "ENTIRE_FILE"
    countersigned = audit_events(api, "seal_countersigned", iid)
    assert countersigned[0]["details"]["previous_sha256"] == details["sha256"]
    assert countersigned[0]["details"]["sha256"] == hashlib.sha256(confirmed).hexdigest()
    assert countersigned[0]["actor"] == "info_clerk"
    # the sealed version is kept unchanged next to the confirmed one
    assert api.get(f"/api/documents/{sealed_id}", "auditor").data == sealed
    assert verification(api, sealed_id)["valid"]

    done = work(api, "enforcement_officer", iid, "supply",
                {"supply_date": "2026-11-25",
                 "delivered": [{"brand": "huanghelou", "specification": "硬1916", "delivered_qty": 5}]})
    assert done["status"] == "completed"
    assert instance(api, iid, "enforcement_officer")["data"]["confirmed_document"] == confirmed_id


def test_wrong_pin_is_refused_audited_and_changes_nothing(api, seals_ready):
    iid, _ = reviewed(api)
    seal_task = open_task(api, iid, "seal")
    assert api.post(f"/api/tasks/{seal_task['id']}/claim", "service_center_head").status_code == 200
    r = try_complete(api, "service_center_head", seal_task["id"], {"seal_confirm": True, "seal_pin": "654321"})
    assert r.status_code == 403, r.get_json()
    assert r.get_json()["details"]["reason"] == "wrong_pin"
    failed = audit_events(api, "seal_failed", iid)
    assert len(failed) == 1 and failed[0]["actor"] == "service_center_head" and failed[0]["reason"] == "wrong_pin"
    assert failed[0]["task_id"] == seal_task["id"] and failed[0]["details"]["failures"] == 1
    assert "654321" not in str(failed)
    # nothing sealed, the task still open, no document
    inst = instance(api, iid)
    assert [t["element_id"] for t in inst["open_tasks"]] == ["seal"]
    assert "sealed_document" not in inst["data"]
    assert audit_events(api, "seal_applied", iid) == []
    listing = api.get(f"/api/process-instances/{iid}/documents", "auditor").get_json()["items"]
    assert [d["kind"] for d in listing] == ["attachment"]
    # the right PIN still works
    r = try_complete(api, "service_center_head", seal_task["id"], {"seal_confirm": True, "seal_pin": PIN})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["instance"]["data"]["sealed_document"]


def test_five_wrong_pins_lock_the_seal(api, seals_ready):
    iid, _ = reviewed(api)
    task_id = open_task(api, iid, "seal")["id"]
    for attempt in range(5):
        r = try_complete(api, "service_center_head", task_id, {"seal_confirm": True, "seal_pin": f"00000{attempt}"})
        assert r.status_code == 403 and r.get_json()["details"]["reason"] == "wrong_pin"
    assert len(audit_events(api, "seal_locked", iid)) == 1
    r = try_complete(api, "service_center_head", task_id, {"seal_confirm": True, "seal_pin": PIN})
    assert r.status_code == 403 and r.get_json()["details"]["reason"] == "locked"
    assert [e["reason"] for e in audit_events(api, "seal_failed", iid)][-1] == "locked"
    listed = {c["username"]: c for c in api.get("/api/seals", "auditor").get_json()["items"] if c["kind"] == "seal"}
    assert listed["service_center_head"]["locked"]
    from engine.identity.actor import SYSTEM
    from engine.seals.credentials import unlock_user

    with seals_ready.uow(SYSTEM) as uow:
        unlock_user(uow, "service_center_head")
    assert work(api, "service_center_head", iid, "seal", {"seal_confirm": True, "seal_pin": PIN})["data"]["sealed_document"]


def test_a_head_without_a_seal_is_refused(api, engine):
    iid, _ = reviewed(api)
    task_id = open_task(api, iid, "seal")["id"]
    r = try_complete(api, "service_center_head", task_id, {"seal_confirm": True, "seal_pin": PIN})
    assert r.status_code == 403 and r.get_json()["details"]["reason"] == "no_seal"
    assert audit_events(api, "seal_failed", iid)[0]["reason"] == "no_seal"
    assert [t["element_id"] for t in instance(api, iid)["open_tasks"]] == ["seal"]


def test_only_a_service_center_head_can_seal(engine, api, seals_ready):
    """Candidate groups refuse others at the API; the service refuses them too when called directly."""
    from engine.identity.auth import actor_by_name
    from engine.runtime import tasks
    from engine.seals import SealRefused
    from engine.store.models import Task

    iid, _ = reviewed(api)
    task_id = open_task(api, iid, "seal")["id"]
    with engine.read() as session:
        clerk = actor_by_name(session, "info_clerk")
    # a clerk made a candidate by hand (as a misconfigured model would) is still refused by the seal service
    with engine.uow(clerk) as uow:
        uow.session.get(Task, task_id).candidate_groups = ["service_center_head", "info_clerk"]
    with pytest.raises(SealRefused) as refused:
        tasks.complete_task(engine, clerk, task_id, {"seal_confirm": True, "seal_pin": PIN})
    assert refused.value.reason == "role"
    assert audit_events(api, "seal_failed", iid)[-1]["actor"] == "info_clerk"
    assert [t["element_id"] for t in instance(api, iid)["open_tasks"]] == ["seal"]
