"""Registers (台账): paper books kept as processes, listed, filtered, exported and signed.

Every test drives the shipped register processes (processes/invoice_handover.bpmn,
morning_meeting.bpmn, group_visit.bpmn, group_agreement.bpmn) through the REST API as the
demo users (hall-1; ``counter_hall2``, ``manager_hall2`` in hall-2), on SQLite and PostgreSQL.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

import pytest

from engine.clock import clock
from tests.support.business import deploy, errors_of, open_task, process_xml, try_complete, try_start, upload

REGISTERS = ("invoice_handover", "morning_meeting", "group_visit", "group_agreement")


@pytest.fixture
def registers(api):
    deploy(api, *REGISTERS)
    return api


def handover(**changes) -> dict:
    data = {"doc_kind": "general_invoice", "handover_type": "issue", "number_from": "04512301",
            "number_to": "04512350", "quantity": 50}
    return {**data, **changes}


def enter(api, user: str, key: str, data: dict) -> dict:
    r = try_start(api, user, key, data)
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def sign(api, user: str, instance_id: str, password: str = "demo"):
    task = open_task(api, instance_id, "receive")
    return try_complete(api, user, task["id"], {"counted_ok": True, "sign_password": password})


def entries(api, user: str, key: str, **query):
    qs = "&".join(f"{k}={v}" for k, v in query.items())
    return api.get(f"/api/registers/{key}{'?' + qs if qs else ''}", user)


def audit(api, action: str) -> list[dict]:
    return api.get(f"/api/audit/events?action={action}", "auditor").get_json()["items"]


# --------------------------------------------------------------------------- the invoice hand-over


def test_invoice_handover_is_signed_by_the_receiver_with_their_password(registers):
    """001 「营业厅应做好发票及收据的收、发登记工作,并与收发环节有交接签收手续」: the entry waits for the
    receiver's signature, and the register shows who handed over, who signed and when."""
    api = registers
    inst = enter(api, "counter_staff", "invoice_handover", handover())
    assert inst["status"] == "running"
    listed = entries(api, "info_clerk", "invoice_handover").get_json()
    assert [e["status"] for e in listed["items"]] == ["running"] and listed["items"][0]["signatures"] == []
    assert listed["items"][0]["values"]["doc_kind"] == "增值税普通发票"  # the option's label, not its value

    r = sign(api, "info_clerk", inst["id"])
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["instance"]["status"] == "completed"
    item = entries(api, "info_clerk", "invoice_handover").get_json()["items"][0]
    assert item["status"] == "completed" and item["started_by"] == "counter_staff"
    assert [s["by"] for s in item["signatures"]] == ["info_clerk"]
    assert [e["details"]["signer"] for e in audit(api, "register_signed")] == ["info_clerk"]


def test_a_handover_needs_two_people_and_the_right_password(registers):
    """001 「与收发环节有交接签收手续」: a hand-over is signed by the receiving side, not by the one who
    hands over; a wrong password signs nothing; both refusals are audited; the password is never stored."""
    api = registers
    inst = enter(api, "counter_staff", "invoice_handover", handover())
    # the one who hands over cannot sign for the receiver (counter_staff is also a candidate role)
    r = sign(api, "counter_staff", inst["id"])
    assert r.status_code == 403, r.get_json()
    r = sign(api, "counter2", inst["id"], password="wrong-password")
    assert r.status_code == 403, r.get_json()
    reasons = sorted(e["reason"] for e in audit(api, "signature_refused"))
    assert reasons == ["password", "same_person"]
    # a receiver of another hall does not even see the step
    assert sign(api, "counter_hall2", inst["id"]).status_code == 403
    r = sign(api, "counter2", inst["id"])
    assert r.status_code == 200, r.get_json()
    everything = json.dumps([api.get(f"/api/process-instances/{inst['id']}", "auditor").get_json(),
                             api.get(f"/api/process-instances/{inst['id']}/timeline", "auditor").get_json(),
                             api.get("/api/audit/events", "auditor").get_json()], ensure_ascii=False, default=str)
    assert "sign_password" not in everything and "wrong-password" not in everything


def test_handover_entry_form_rejects_bad_numbers(registers):
    """001 「做好发票及收据的收、发登记工作」: an entry names the kind, the numbers and the count."""
    r = try_start(registers, "counter_staff", "invoice_handover", handover(number_from="", quantity=0))
    assert set(errors_of(r)) >= {"number_from", "quantity"}


# --------------------------------------------------------------------------- who reads what


def test_register_entries_are_filtered_by_role_and_unit(registers):
    """001 「营业厅应做好发票及收据的收、发登记工作」: a hall's register is that hall's; managers read their
    unit's, the department the halls below it, others their own entries; strangers are refused."""
    api = registers
    enter(api, "counter_staff", "invoice_handover", handover())
    enter(api, "counter_hall2", "invoice_handover", handover(number_from="1", number_to="9", quantity=9))
    seen = {user: sorted(e["org_unit"] for e in entries(api, user, "invoice_handover").get_json()["items"])
            for user in ("hall_manager", "manager_hall2", "department_manager", "auditor", "counter2", "counter_staff")}
    assert seen == {"hall_manager": ["hall-1"], "manager_hall2": ["hall-2"], "department_manager": ["hall-1", "hall-2"],
                    "auditor": ["hall-1", "hall-2"], "counter2": [], "counter_staff": ["hall-1"]}
    assert entries(api, "manager_hall2", "invoice_handover", unit="hall-1").status_code == 403
    assert entries(api, "department_manager", "invoice_handover", unit="hall-2").get_json()["total"] == 1
    assert entries(api, "enforcement_officer", "invoice_handover").status_code == 403
    names = [r["key"] for r in api.get("/api/registers", "enforcement_officer").get_json()["items"]]
    assert "invoice_handover" not in names
    assert entries(api, "auditor", "supply_approval").status_code == 404  # not a register


def test_register_period_filter_uses_china_time(registers):
    """001 「集团客户部每月做好集团协议的收、发、存盘点工作」: a month's register is the entries of that month,
    counted in China time (an entry at 23:30 UTC on Nov 30 belongs to December 1 in the hall)."""
    api = registers
    clock.set(datetime(2026, 11, 30, 23, 30, tzinfo=UTC))
    enter(api, "counter_staff", "invoice_handover", handover())
    clock.set(datetime(2026, 11, 30, 10, 0, tzinfo=UTC))
    enter(api, "counter_staff", "invoice_handover", handover())
    assert entries(api, "hall_manager", "invoice_handover", period="2026-12").get_json()["total"] == 1
    assert entries(api, "hall_manager", "invoice_handover", period="2026-11").get_json()["total"] == 1
    assert entries(api, "hall_manager", "invoice_handover", period="2026-12-01").get_json()["total"] == 1
    assert entries(api, "hall_manager", "invoice_handover", period="2026").get_json()["total"] == 2
    assert entries(api, "hall_manager", "invoice_handover", period="2026-13").status_code == 400


def test_register_export_is_csv_with_chinese_headers_china_time_and_audited(registers):
    """001 「营业厅应做好发票及收据的收、发登记工作,并与收发环节有交接签收手续」: the book can be printed or
    handed on: a CSV with Chinese headers, China time, the signer, and the export is audited."""
    api = registers
    clock.set(datetime(2026, 12, 4, 1, 5, tzinfo=UTC))  # 09:05 in the hall
    inst = enter(api, "counter_staff", "invoice_handover", handover(handover_remarks="=1+1"))
    assert sign(api, "info_clerk", inst["id"]).status_code == 200
    r = api.get("/api/registers/invoice_handover/export?period=2026-12", "hall_manager")
    assert r.status_code == 200 and r.mimetype == "text/csv"
    text = r.data.decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows[0][:5] == ["序号", "登记时间", "登记人", "单位", "票据种类"] and "签收人" in rows[0]
    row = dict(zip(rows[0], rows[1], strict=True))
    assert row["登记时间"] == "2026-12-04 09:05" and row["票据种类"] == "增值税普通发票" and row["状态"] == "已完成"
    assert row["备注"] == "'=1+1"  # a formula is never run by the spreadsheet
    assert row["签收人"]  # the information clerk's name
    exported = audit(api, "register_exported")
    assert [(e["details"]["process_key"], e["details"]["rows"]) for e in exported] == [("invoice_handover", 1)]
    assert api.get("/api/registers/invoice_handover/export", "enforcement_officer").status_code == 403


# --------------------------------------------------------------------------- morning meetings, visits, agreements


def meeting(**changes) -> dict:
    data = {"meeting_date": "2026-12-04", "host": "李班长", "attendees": "重要室经理、客户经理张三、李四",
            "duration_minutes": 12, "work_plan": "走访城关一中；跟进V网续签", "books_checked": True,
            "minutes": "统一解释新资费口径"}
    return {**data, **changes}


def test_morning_meeting_minutes_are_kept_and_at_most_15_minutes(registers):
    """001 晨会 「每次上班前10-15分钟(不超过15分钟)」「每个参会人员做好会议记录」: the minutes are an entry of
    the register at once; a meeting longer than 15 minutes is refused; the customer managers read them."""
    api = registers
    assert set(errors_of(try_start(api, "key_account_manager", "morning_meeting", meeting(duration_minutes=16)))) == {
        "duration_minutes"}
    assert try_start(api, "customer_manager", "morning_meeting", meeting()).status_code == 403
    inst = enter(api, "duty_manager", "morning_meeting", meeting())
    assert inst["status"] == "completed"
    items = entries(api, "customer_manager", "morning_meeting").get_json()["items"]
    assert [i["values"]["host"] for i in items] == ["李班长"]
    assert [i["values"]["books_checked"] for i in items] == [True]


def test_visit_solving_a_problem_needs_the_customers_signature(registers):
    """001 「每次走访要有严格的处方登记记录,对于涉及到具体问题解决方面的客户要有客户的签名」: a visit that
    solved a problem is refused without the signed record; a plain visit is recorded as it is."""
    api = registers
    visit = {"customer_name": "城关第一中学", "visited_at": "2026-12-04T10:00:00", "contact_person": "王主任",
             "visit_purpose": "problem", "visit_content": "V网成员无法互拨", "problem_involved": "yes",
             "problem_solution": "已重新开通集团短号"}
    assert "customer_signature" in errors_of(try_start(api, "customer_manager", "group_visit", visit))
    enter(api, "customer_manager", "group_visit", {**visit, "customer_signature": [upload(api, "customer_manager")]})
    plain = {k: v for k, v in visit.items() if k not in ("problem_solution",)}
    enter(api, "customer_manager", "group_visit", {**plain, "problem_involved": "no", "visit_purpose": "routine"})
    items = entries(api, "key_account_manager", "group_visit").get_json()["items"]
    assert sorted(i["values"]["visit_purpose"] for i in items) == ["定期拜访", "问题解决"]


def test_group_agreements_are_their_own_register(registers):
    """001 「集团客户部每月做好集团协议的收、发、存盘点工作」「客户经理将因故注销的协议,并在协议上注明"×××"编号注销」:
    the agreement register lists every registered agreement with its number (no second entry)."""
    api = registers
    data = {"group_name": "城关第一中学", "agreement_no": "JT-2026-0042", "tariff_plan": "集团V网 58元套餐",
            "term_start": "2026-01-01", "term_end": "2026-06-30",
            "customer_id_copy": [upload(api, "customer_manager", "id.pdf")]}
    enter(api, "customer_manager", "group_agreement", data)
    items = entries(api, "info_clerk", "group_agreement").get_json()["items"]
    assert [(i["values"]["agreement_no"], i["values"]["archive_no"]) for i in items] == [("JT-2026-0042", None)]


# --------------------------------------------------------------------------- the model properties


def test_register_properties_are_checked_at_deploy(registers):
    """001 「营业厅应做好发票及收据的收、发登记工作」: a register that names bad columns or an unknown
    signature is refused at deploy, naming the element."""
    api = registers
    xml = process_xml("invoice_handover")
    bad_columns = xml.replace('name="register.columns" value="doc_kind=', 'name="register.columns" value="Doc Kind=', 1)
    r = api.deploy_xml(bad_columns)
    assert r.status_code == 422 and "register.columns" in json.dumps(r.get_json(), ensure_ascii=False)
    bad_sign = xml.replace('name="register.sign" value="password"', 'name="register.sign" value="fingerprint"', 1)
    r = api.deploy_xml(bad_sign)
    errors = r.get_json()["details"]["errors"]
    assert r.status_code == 422 and [e["element_id"] for e in errors] == ["receive"], errors


def test_wrong_signature_passwords_are_throttled_then_locked(registers):
    """001 「与收发环节有交接签收手续」: a signature stands for the receiver, so guessing their password is
    slowed down after three wrong tries and locked after six, for 15 minutes, like a sign-in."""
    from datetime import timedelta

    api = registers
    clock.set(datetime(2026, 12, 4, 2, 0, tzinfo=UTC))
    inst = enter(api, "counter_staff", "invoice_handover", handover())
    for _ in range(3):
        assert sign(api, "counter2", inst["id"], password="guess").status_code == 403
    assert sign(api, "counter2", inst["id"], password="guess").status_code == 429  # must wait before trying again
    for _ in range(3):
        clock.advance(timedelta(seconds=10))
        assert sign(api, "counter2", inst["id"], password="guess").status_code == 403
    clock.advance(timedelta(seconds=30))
    assert sign(api, "counter2", inst["id"]).status_code == 429  # locked: even the right password waits
    clock.advance(timedelta(minutes=15, seconds=1))
    assert sign(api, "counter2", inst["id"]).status_code == 200
    assert [e["details"]["failures"] for e in audit(api, "signature_refused")] == [1, 2, 3, 4, 5, 6]
