"""Register pages (台账): the list, a register with filters and paging, the CSV export, in
Chinese first and English on request, refused to roles and units without a part in it."""

from __future__ import annotations

import csv
import io

from tests.support.business import deploy, start
from tests.support.pages import sign_in


def _handovers(api, n: int) -> None:
    deploy(api, "invoice_handover")
    for i in range(n):
        start(api, "counter_staff", "invoice_handover", {"doc_kind": "receipt", "handover_type": "return",
                                                         "number_from": f"{i:04d}01", "number_to": f"{i:04d}50",
                                                         "quantity": 50})


def test_register_page_lists_pages_and_exports_in_both_languages(app, api):
    """001 「营业厅应做好发票及收据的收、发登记工作,并与收发环节有交接签收手续」: the hand-over book as a
    page (Chinese, 50 entries a page) and a file, with English available."""
    _handovers(api, 51)
    client, _ = sign_in(app, "hall_manager")
    listing = client.get("/registers").get_data(as_text=True)
    assert "发票收据交接登记" in listing and "台账" in listing
    page = client.get("/registers/invoice_handover").get_data(as_text=True)
    assert "共 51 条" in page and "票据种类" in page and "收据" in page and "签收人" in page and "待签收" in page
    assert page.count("<tr data-entry=") == 50 and "下一页" in page
    assert client.get("/registers/invoice_handover?page=2").get_data(as_text=True).count("<tr data-entry=") == 1
    client.get("/lang/en")
    page = client.get("/registers/invoice_handover").get_data(as_text=True)
    assert "Kind" in page and "Awaiting signature" in page and "Signed by" in page
    body = client.get("/registers/invoice_handover/export").get_data().decode("utf-8").lstrip("\ufeff")
    rows = list(csv.reader(io.StringIO(body)))
    assert rows[0][:5] == ["No.", "Entered at", "Entered by", "Unit", "Kind"] and len(rows) == 52


def test_register_pages_refuse_other_roles_and_units(app, api):
    """001 「营业厅应做好发票及收据的收、发登记工作」: the hall's book is the hall's: another hall's manager
    may not filter it to this hall, and a role with no part in it cannot open it."""
    _handovers(api, 1)
    client, _ = sign_in(app, "manager_hall2")
    assert client.get("/registers/invoice_handover?unit=hall-1").status_code == 403
    assert "共 0 条" in client.get("/registers/invoice_handover").get_data(as_text=True)
    client, _ = sign_in(app, "enforcement_officer")
    assert client.get("/registers/invoice_handover").status_code == 403
    assert client.get("/registers/invoice_handover/export").status_code == 403
    assert "发票收据交接登记" not in client.get("/registers").get_data(as_text=True)


def test_a_new_entry_from_the_start_form_lands_on_its_register(app, api):
    """001 「营业厅应做好发票及收据的收、发登记工作」: the one who hands over fills in the entry form and sees
    the entry in the book, awaiting the receiver's signature."""
    deploy(api, "invoice_handover")
    client, csrf = sign_in(app, "counter_staff")
    data = {"doc_kind": "vat_invoice", "handover_type": "issue", "number_from": "7001", "number_to": "7010",
            "quantity": 10}
    r = client.post("/start/invoice_handover", json={"data": data}, headers={"X-CSRFToken": csrf})
    assert r.status_code == 201 and r.get_json()["redirect"] == "/registers/invoice_handover"
    page = client.get("/registers/invoice_handover").get_data(as_text=True)
    assert "增值税专用发票" in page and "7001" in page and "待签收" in page
