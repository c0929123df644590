"""Browser pages: tasklist, claim/unclaim with CSRF, task form page and its JSON completion endpoint."""

from __future__ import annotations

import io
import json
import re
from datetime import UTC

from tests.support.business import PDF, deploy, instance, open_task, start, work_external
from tests.support.pages import sign_in as _sign_in


def _complaint(api):
    deploy(api, "complaint_handling")
    inst = start(api, "counter_staff", "complaint_handling",
                 {"category": "standard", "complaint_type": "billing_support", "customer_name": "张三", "contact_phone": "13800138000",
                  "description": "话费扣费有误"})
    return inst, open_task(api, inst["id"], "resolve_counter")


def test_pages_need_sign_in(app):
    client = app.test_client()
    for path in ("/tasks", "/start", "/tasks/x", "/start/complaint_handling"):
        r = client.get(path)
        assert r.status_code == 302 and r.headers["Location"].endswith("/login"), path
    assert client.post("/tasks/x/complete", json={"data": {}}).status_code in (400, 401)  # no CSRF / not signed in


def test_tasklist_claim_and_unclaim_need_csrf(app, api):
    inst, task = _complaint(api)
    client, csrf = _sign_in(app, "counter2")
    page = client.get("/tasks").get_data(as_text=True)
    assert "可认领任务" in page and "我的任务" in page and "柜台处理" in page and "认领" in page
    assert 'data-testid="due-badge"' in page and "按时" in page and "截止时间" in page
    # filter by process
    assert "柜台处理" not in client.get("/tasks?process=supply_approval").get_data(as_text=True)
    assert "柜台处理" in client.get("/tasks?process=complaint_handling").get_data(as_text=True)
    # claiming without the CSRF token is refused
    assert client.post(f"/tasks/{task['id']}/claim").status_code == 400
    assert open_task(api, inst["id"], "resolve_counter")["assignee"] is None
    r = client.post(f"/tasks/{task['id']}/claim", data={"csrf_token": csrf})
    assert r.status_code == 302 and r.headers["Location"].endswith("/tasks")
    assert open_task(api, inst["id"], "resolve_counter")["assignee"] == "counter2"
    page = client.get("/tasks").get_data(as_text=True)
    assert "已认领任务" in page and "放弃认领" in page and "退回" not in page
    assert client.post(f"/tasks/{task['id']}/unclaim").status_code == 400
    assert client.post(f"/tasks/{task['id']}/unclaim", data={"csrf_token": csrf}).status_code == 302
    assert open_task(api, inst["id"], "resolve_counter")["assignee"] is None
    # English labels on request
    client.get("/lang/en")
    page = client.get("/tasks").get_data(as_text=True)
    assert "Claimable tasks" in page and "Claim" in page


def test_the_header_names_the_users_roles_and_unit(app, api):
    """People read names, not keys: 角色: 部门经理 · 单位: 市场部 (the keys are the tooltips)."""
    client, _ = _sign_in(app, "department_manager")
    who = re.search(r'data-testid="who">(.*?)</span>\s*<', client.get("/tasks").get_data(as_text=True), re.S).group(1)
    assert "角色: 部门经理" in who and "单位: 市场部" in who and 'title="dept-1"' in who
    assert 'title="department_manager"' in who
    client.get("/lang/en")
    who = re.search(r'data-testid="who">(.*?)</span>\s*<', client.get("/tasks").get_data(as_text=True), re.S).group(1)
    assert "Role: Department manager" in who


def test_task_page_embeds_form_and_completion_validates(app, api):
    inst, task = _complaint(api)
    client, csrf = _sign_in(app, "counter_staff")
    page = client.get(f"/tasks/{task['id']}").get_data(as_text=True)
    assert "柜台处理" in page and "form-viewer.umd.js" in page and "提交" in page
    schema = json.loads(re.search(r'id="form-schema">(.*?)</script>', page, re.S).group(1))
    assert schema["id"] == "complaint_counter"
    url = f"/tasks/{task['id']}/complete"
    # the JSON endpoint needs the CSRF header
    assert client.post(url, json={"data": {"counter_action": "已处理"}}).status_code == 400
    headers = {"X-CSRFToken": csrf}
    r = client.post(url, json={"data": {}}, headers=headers)
    assert r.status_code == 422 and "counter_action" in r.get_json()["errors"]
    r = client.post(url, json={"data": {"counter_action": "x", "bogus": 1}}, headers=headers)
    assert r.status_code == 422 and "bogus" in r.get_json()["errors"]
    assert client.post(url, data="nope", headers=headers).status_code == 400
    r = client.post(url, json={"data": {"counter_action": "已更正扣费"}}, headers=headers)
    assert r.status_code == 200 and r.get_json() == {"ok": True, "redirect": "/tasks"}
    assert "柜台处理" not in client.get("/tasks").get_data(as_text=True)


def test_wrong_role_is_forbidden(app, api):
    _, task = _complaint(api)
    client, csrf = _sign_in(app, "info_clerk")
    assert "柜台处理" not in client.get("/tasks").get_data(as_text=True)
    r = client.post(f"/tasks/{task['id']}/complete", json={"data": {"counter_action": "x"}}, headers={"X-CSRFToken": csrf})
    assert r.status_code == 403 and r.get_json()["message"]
    assert client.get(f"/tasks/{task['id']}").status_code == 403
    r = client.post(f"/tasks/{task['id']}/claim", data={"csrf_token": csrf})
    assert r.status_code == 302
    assert "flash-error" in client.get("/tasks").get_data(as_text=True)
    assert client.get("/start/complaint_handling").status_code == 403
    r = client.post("/start/complaint_handling", json={"data": {}}, headers={"X-CSRFToken": csrf})
    assert r.status_code == 403


def test_start_page_lists_startable_processes_and_starts(app, api):
    deploy(api, "complaint_handling", "agreement_inventory")
    client, csrf = _sign_in(app, "counter_staff")
    page = client.get("/start").get_data(as_text=True)
    assert "发起流程" in page and "投诉处理" in page and 'href="/start/complaint_handling"' in page
    assert "agreement_inventory" not in page  # started by the info clerk
    form_page = client.get("/start/complaint_handling").get_data(as_text=True)
    assert "complaint_intake" in form_page and "/start/complaint_handling" in form_page
    headers = {"X-CSRFToken": csrf}
    r = client.post("/start/complaint_handling", json={"data": {"category": "standard"}}, headers=headers)
    assert r.status_code == 422 and {"customer_name", "contact_phone", "description"} <= set(r.get_json()["errors"])
    r = client.post("/uploads", data={"file": (io.BytesIO(PDF), "scan.pdf")}, headers=headers,
                    content_type="multipart/form-data")
    assert r.status_code == 201
    doc_id = r.get_json()["id"]
    assert client.post("/uploads", data={"file": (io.BytesIO(PDF), "scan.pdf")},
                       content_type="multipart/form-data").status_code == 400  # no CSRF
    data = {"category": "standard", "complaint_type": "network", "customer_name": "李四", "contact_phone": "13900139000",
            "description": "网络信号差", "attachments": [doc_id]}
    r = client.post("/start/complaint_handling", json={"data": data}, headers=headers)
    assert r.status_code == 201, r.get_json()
    assert "柜台处理" in client.get("/tasks").get_data(as_text=True)


def test_start_page_starts_directly_without_a_start_form(app, api):
    deploy(api, "agreement_inventory")
    client, csrf = _sign_in(app, "info_clerk")
    page = client.get("/start").get_data(as_text=True)
    assert 'action="/start/agreement_inventory"' in page
    assert client.post("/start/agreement_inventory").status_code == 400  # no CSRF
    r = client.post("/start/agreement_inventory", data={"csrf_token": csrf})
    assert r.status_code == 302 and r.headers["Location"].endswith("/tasks")
    assert "流程已发起" in client.get("/tasks").get_data(as_text=True)


# --------------------------------------------------------------------------- electronic seal on the task page

SEAL_PIN = "123456"


def _reviewed_supply(api, engine):
    """A supply approval submitted by the officer and approved by the head: waiting for the seal."""
    from engine.seals.admin import setup_demo_seal
    from tests.support.business import upload, work

    setup_demo_seal(engine, SEAL_PIN)
    deploy(api, "supply_approval")
    data = {"licence_no": "420100987650", "retailer_name": "城关便民烟酒店",
            "lines": [{"brand": "huanghelou", "specification": "硬1916", "quantity": 5}],
            "reason": "春节前备货", "attachments": [upload(api, "enforcement_officer", "供货审批表.pdf")]}
    inst = start(api, "enforcement_officer", "supply_approval", data, business_key="GH-2026-777")
    work(api, "service_center_head", inst["id"], "review", {"decision": "approve"})
    return inst["id"], open_task(api, inst["id"], "seal")


def _audit(api, action, instance_id):
    r = api.get(f"/api/audit/events?action={action}&instance={instance_id}", "auditor")
    assert r.status_code == 200, r.get_json()
    return r.get_json()["items"]


def test_seal_page_asks_for_the_pin_as_a_password_and_a_wrong_pin_is_refused_and_audited(app, api, engine):
    iid, task = _reviewed_supply(api, engine)
    client, csrf = _sign_in(app, "service_center_head")
    page = client.get(f"/tasks/{task['id']}").get_data(as_text=True)
    assert 'data-testid="seal-step"' in page and "电子公章" in page and "卷烟供货审批表" in page and "GH-2026-777" in page
    pin_input = re.search(r'<input id="seal-pin"[^>]*>', page).group(0)
    assert 'type="password"' in pin_input and 'inputmode="numeric"' in pin_input and 'autocomplete="off"' in pin_input
    schema = json.loads(re.search(r'id="form-schema">(.*?)</script>', page, re.S).group(1))
    assert "seal_pin" not in json.dumps(schema) and "seal_confirm" in json.dumps(schema)  # no plain-text PIN field
    url, headers = f"/tasks/{task['id']}/complete", {"X-CSRFToken": csrf}

    r = client.post(url, json={"data": {"seal_confirm": True, "seal_pin": "654321"}}, headers=headers)
    assert r.status_code == 403 and r.is_json
    body = r.get_json()
    assert "PIN 错误" in body["message"] and "未盖章" in body["message"] and body["reason"] == "wrong_pin"
    assert "654321" not in r.get_data(as_text=True)
    assert open_task(api, iid, "seal")["status"] == "open"  # nothing sealed, the task stays open
    failed = _audit(api, "seal_failed", iid)
    assert len(failed) == 1 and failed[0]["reason"] == "wrong_pin" and failed[0]["actor"] == "service_center_head"
    assert failed[0]["task_id"] == task["id"] and failed[0]["details"]["failures"] == 1
    assert "654321" not in json.dumps(failed)
    assert not _audit(api, "seal_applied", iid)

    r = client.post(url, json={"data": {"seal_confirm": True, "seal_pin": SEAL_PIN}}, headers=headers)
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["ok"] and body["sealed_document"] and body["redirect"] == f"/tasks/{task['id']}"
    page = client.get(body["redirect"]).get_data(as_text=True)
    doc_id = body["sealed_document"]
    assert f'src="/documents/{doc_id}"' in page and f"/documents/{doc_id}?download=1" in page
    assert 'data-valid="true"' in page and "有效" in page and "已加盖电子公章" in page
    assert 'id="seal-pin"' not in page and SEAL_PIN not in page


def test_sealed_pdf_page_route_for_participants_only(app, api, engine):
    iid, task = _reviewed_supply(api, engine)
    client, csrf = _sign_in(app, "service_center_head")
    r = client.post(f"/tasks/{task['id']}/complete", json={"data": {"seal_confirm": True, "seal_pin": SEAL_PIN}},
                    headers={"X-CSRFToken": csrf})
    doc_id = r.get_json()["sealed_document"]
    work_external(api, iid, "supply_sync", engine.settings.var_dir)

    # the clerk's maintain task shows the sealed PDF with its status
    clerk, clerk_csrf = _sign_in(app, "info_clerk")
    maintain = open_task(api, iid, "maintain")
    page = clerk.get(f"/tasks/{maintain['id']}").get_data(as_text=True)
    assert f'src="/documents/{doc_id}"' in page and "有效" in page and 'data-testid="seal-step"' not in page

    for user in ("enforcement_officer", "service_center_head", "auditor", "info_clerk"):
        reader, _ = _sign_in(app, user)
        r = reader.get(f"/documents/{doc_id}")
        assert r.status_code == 200 and r.mimetype == "application/pdf" and r.data.startswith(b"%PDF-"), user
        assert r.headers["Content-Disposition"].startswith("inline")
        r = reader.get(f"/documents/{doc_id}?download=1")
        assert r.status_code == 200 and r.headers["Content-Disposition"].startswith("attachment"), user
    outsider, _ = _sign_in(app, "counter_staff")
    assert outsider.get(f"/documents/{doc_id}").status_code == 403
    assert outsider.get(f"/documents/{doc_id}?download=1").status_code == 403
    assert outsider.get("/documents/nope").status_code == 404
    anonymous = app.test_client().get(f"/documents/{doc_id}")
    assert anonymous.status_code == 302 and anonymous.headers["Location"].endswith("/login")

    # the clerk's confirmation adds the countersigned version, shown on the officer's supply task
    r = clerk.post(f"/tasks/{maintain['id']}/complete", json={"data": {"system_ref": "JYXT-9"}},
                   headers={"X-CSRFToken": clerk_csrf})
    assert r.status_code == 200 and r.get_json()["redirect"] == "/tasks"
    confirmed = instance(api, iid)["data"]["confirmed_document"]
    officer, _ = _sign_in(app, "enforcement_officer")
    page = officer.get(f"/tasks/{open_task(api, iid, 'supply')['id']}").get_data(as_text=True)
    assert f'src="/documents/{confirmed}"' in page and 'data-valid="true"' in page and "盖章版" in page


def test_tasklist_filters_by_due_and_unit(app, api):
    from datetime import datetime, timedelta

    from engine.clock import clock

    clock.set(datetime(2026, 11, 23, 2, 0, tzinfo=UTC))  # Monday 10:00 in the halls
    try:
        deploy(api, "complaint_handling", "supply_approval")
        start(api, "counter_staff", "complaint_handling",
              {"category": "standard", "complaint_type": "billing_support", "customer_name": "张三", "contact_phone": "13800138000", "description": "扣费"})
        client, _ = _sign_in(app, "counter_staff")

        def listed(query=""):
            html = client.get("/tasks" + query).get_data(as_text=True)
            return html.count('class="task"')

        assert listed() == 1
        assert listed("?due=today") == 1 and listed("?due=with_due") == 1
        assert listed("?due=overdue") == 0  # 3 minutes not yet passed
        assert listed("?unit=hall-1") == 1 and listed("?unit=hall-2") == 0
        page = client.get("/tasks").get_data(as_text=True)
        assert "期限" in page and "今日到期" in page and "全部单位" in page
        clock.advance(timedelta(minutes=4))
        assert listed("?due=overdue") == 1
        clock.advance(timedelta(hours=7))  # 17:04 the same day: still due today, and the session still valid
        assert listed("?due=today") == 1 and listed("?due=overdue") == 1
    finally:
        clock.reset()
