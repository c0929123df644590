"""Records pages: instance page (diagram, timeline with seal badges), my instances, audit log and CSV export."""

from __future__ import annotations

import json
import re

from lxml import etree

from tests.support.business import deploy, start, upload, work, work_external
from tests.support.pages import sign_in


def _sign_in(app, username: str):
    return sign_in(app, username)[0]

PIN = "123456"






def _sealed_supply(api, engine) -> str:
    from engine.seals.admin import setup_demo_seal

    setup_demo_seal(engine, PIN)
    deploy(api, "supply_approval")
    data = {"licence_no": "420100123456", "retailer_name": "城关便民烟酒店",
            "lines": [{"brand": "huanghelou", "specification": "硬1916", "quantity": 5}],
            "reason": "春节前备货", "attachments": [upload(api, "enforcement_officer", "供货审批表.pdf")]}
    iid = start(api, "enforcement_officer", "supply_approval", data, business_key="GH-2026-777")["id"]
    work(api, "service_center_head", iid, "review", {"decision": "approve", "review_comment": "同意供货"})
    work(api, "service_center_head", iid, "seal", {"seal_confirm": True, "seal_pin": PIN})
    work_external(api, iid, "supply_sync", engine.settings.var_dir)
    return iid


def _diagram_names(page: str) -> dict[str, str]:
    """Element id -> name in the diagram the case page hands to its viewer."""
    xml = json.loads(re.search(r'<script type="application/json" id="diagram-xml">(.*?)</script>', page, re.S).group(1))
    return {el.get("id"): el.get("name") for el in etree.fromstring(xml.encode()).iter() if el.get("name") is not None
            and isinstance(el.tag, str) and "BPMN/20100524/MODEL" in el.tag}


def test_records_pages_need_sign_in(app):
    client = app.test_client()
    for path in ("/instances", "/instances/x", "/audit", "/audit/export.csv"):
        r = client.get(path)
        assert r.status_code == 302 and r.headers["Location"].endswith("/login"), path


def test_instance_page_access_timeline_and_seal_badge(app, api, engine):
    iid = _sealed_supply(api, engine)
    # the starter reads it: diagram, data, open task, timeline in Chinese, valid seal badge
    client = _sign_in(app, "enforcement_officer")
    r = client.get(f"/instances/{iid}")
    assert r.status_code == 200
    page = r.get_data(as_text=True)
    assert "bpmn-navigated-viewer.production.min.js" in page and "instance-page.js" in page
    assert 'id="diagram-xml"' in page and 'id="diagram-config"' in page
    assert "启动流程" in page and "完成任务" in page and "加盖印章" in page  # Chinese action labels
    assert "GH-2026-777" in page and "城关便民烟酒店" in page
    assert 'data-testid="seal-badge" data-valid="true"' in page and "有效" in page
    assert 'data-testid="seal-badge" data-valid="false"' not in page
    assert "/tasks/" in page  # the open maintain task links to its task page
    # documents download through the session
    doc_links = re.findall(rf'href="(/instances/{iid}/documents/[^"]+)"', page)
    assert doc_links
    r = client.get(doc_links[0])
    assert r.status_code == 200 and r.data.startswith(b"%PDF")
    # the diagram names each step in the page's language: the drawn Chinese name here
    names = _diagram_names(page)
    assert names["review"] == "审核" and names["seal"] == "加盖电子公章"
    # English labels on request, and the steps' English names (camunda:properties name.en)
    client.get("/lang/en")
    english = client.get(f"/instances/{iid}").get_data(as_text=True)
    assert "Seal applied" in english
    names = _diagram_names(english)
    assert names["review"] == "Review" and names["seal"] == "Apply e-seal"
    assert names["lane_service_center_head"] == "Service-center head"  # a lane too
    # outsiders: 403 page; unknown instance: 404 page
    other = _sign_in(app, "counter_hall2")
    r = other.get(f"/instances/{iid}")
    assert r.status_code == 403 and "您无权执行此操作" in r.get_data(as_text=True)
    assert other.get(f"/instances/{iid}/documents/{doc_links[0].rsplit('/', 1)[1]}").status_code == 403
    assert other.get(f"/instances/{iid}/timeline.csv").status_code == 403
    assert other.get("/instances/nope").status_code == 404
    # auditors read every instance
    assert _sign_in(app, "auditor").get(f"/instances/{iid}").status_code == 200


def test_my_instances_list_filters(app, api, engine):
    iid = _sealed_supply(api, engine)
    client = _sign_in(app, "enforcement_officer")
    page = client.get("/instances").get_data(as_text=True)
    assert iid in page and "我的流程实例" in page and "进行中" in page
    assert iid in client.get("/instances?process=supply_approval&status=running").get_data(as_text=True)
    assert iid not in client.get("/instances?status=completed").get_data(as_text=True)
    assert iid not in client.get("/instances?process=complaint_handling").get_data(as_text=True)
    assert iid not in _sign_in(app, "counter_hall2").get("/instances").get_data(as_text=True)


def test_audit_pages_are_for_auditors_and_export_csv(app, api, engine):
    iid = _sealed_supply(api, engine)
    for user in ("enforcement_officer", "counter_staff"):
        client = _sign_in(app, user)
        assert client.get("/audit").status_code == 403
        assert client.get("/audit/export.csv").status_code == 403
    client = _sign_in(app, "auditor")
    page = client.get("/audit").get_data(as_text=True)
    assert "审计日志" in page and "审计链完整" in page and "暂无检查点" in page
    page = client.get(f"/audit?action=seal_applied&instance={iid}").get_data(as_text=True)
    assert "加盖印章" in page and "共 1 条" in page
    assert "共 0 条" in client.get("/audit?actor=nobody-here").get_data(as_text=True)
    assert "共 0 条" in client.get("/audit?from=2000-01-01T00:00&to=2000-01-02T00:00").get_data(as_text=True)
    assert _sign_in(app, "admin").get("/audit").status_code == 200
    # CSV export through the session: BOM, header, audited like the API's
    r = client.get(f"/audit/export.csv?instance={iid}")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/csv")
    assert r.headers["Content-Disposition"].startswith("attachment;")
    body = r.data
    assert body.startswith("\ufeff".encode())
    text = body.decode("utf-8-sig")
    assert text.splitlines()[0].startswith("序号,时间（北京时间）,姓名,用户名") and "加盖印章" in text
    exported = api.get("/api/audit/events?action=audit_exported", "auditor").get_json()["items"]
    assert exported and exported[-1]["actor"] == "auditor" and exported[-1]["details"]["filters"] == {"instance": iid}
    assert exported[-1]["details"]["format"] == "csv"
    # the instance timeline export (whoever reads the instance)
    r = _sign_in(app, "enforcement_officer").get(f"/instances/{iid}/timeline.csv")
    assert r.status_code == 200 and r.data.startswith("\ufeff".encode()) and "启动流程" in r.data.decode("utf-8-sig")


def test_admin_cancels_an_instance_from_its_page(app, api, engine):
    from tests.conftest import deploy_fixture_forms, fixture_text
    from tests.support.pages import csrf

    deploy_fixture_forms(api)
    assert api.deploy_xml(fixture_text("four_step.bpmn")).status_code == 201
    iid = api.post("/api/process-definitions/four_step/instances", "counter_staff", json={"data": {}}).get_json()["id"]
    staff = _sign_in(app, "counter_staff")
    page = staff.get(f"/instances/{iid}").get_data(as_text=True)
    assert 'data-testid="cancel-section"' not in page  # only administrators see the way out
    assert staff.post(f"/instances/{iid}/cancel", data={"reason": "x", "csrf_token": csrf(page)}).status_code == 403
    admin = _sign_in(app, "admin")
    page = admin.get(f"/instances/{iid}", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert 'data-testid="cancel-section"' in page and "撤销实例" in page
    assert admin.post(f"/instances/{iid}/cancel", data={"reason": "x"}).status_code == 400  # no CSRF token
    r = admin.post(f"/instances/{iid}/cancel", data={"reason": "重复申请 duplicate", "csrf_token": csrf(page)})
    assert r.status_code == 302
    after = admin.get(f"/instances/{iid}", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert "流程实例已撤销" in after and 'data-testid="cancel-section"' not in after
    status = api.get(f"/api/process-instances/{iid}", "admin").get_json()
    assert status["status"] == "cancelled" and status["open_tasks"] == []
    events = api.get(f"/api/process-instances/{iid}/timeline", "auditor").get_json()["events"]
    assert [e["reason"] for e in events if e["action"] == "instance_cancelled"] == ["重复申请 duplicate"]


def test_admin_suspends_and_resumes_from_the_page_and_sees_called_instances(app, api, engine):
    from tests.conformance.models import chain, document, user_task
    from tests.conftest import deploy_fixture_forms
    from tests.support.pages import csrf

    deploy_fixture_forms(api)
    child = document("paged_child", '<bpmn:startEvent id="s" />' + user_task("review") + '<bpmn:endEvent id="e" />'
                     + chain("s", "review", "e"), starters="").replace(' camunda:candidateStarterGroups=""', "")
    parent = document("paged_parent", '<bpmn:startEvent id="s" /><bpmn:callActivity id="call" calledElement="paged_child" />'
                      '<bpmn:endEvent id="e" />' + chain("s", "call", "e"))
    assert api.deploy_xml(child).status_code == 201 and api.deploy_xml(parent).status_code == 201
    iid = api.post("/api/process-definitions/paged_parent/instances", "counter_staff", json={"data": {}}).get_json()["id"]
    child_id = api.get(f"/api/process-instances/{iid}", "admin").get_json()["children"][0]["id"]
    admin = _sign_in(app, "admin")
    page = admin.get(f"/instances/{iid}", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert 'data-testid="called-instances"' in page and f"/instances/{child_id}" in page
    child_page = admin.get(f"/instances/{child_id}", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert 'data-testid="called-by"' in child_page and f"/instances/{iid}" in child_page
    assert 'data-testid="suspend-button"' in page
    r = admin.post(f"/instances/{iid}/suspend", data={"reason": "核查 review", "csrf_token": csrf(page)})
    assert r.status_code == 302
    page = admin.get(f"/instances/{iid}", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert "已挂起" in page and 'data-testid="resume-button"' in page
    r = admin.post(f"/instances/{iid}/resume", data={"reason": "好了 done", "csrf_token": csrf(page)})
    assert r.status_code == 302
    assert api.get(f"/api/process-instances/{iid}", "admin").get_json()["status"] == "running"


def test_admin_retries_incidents_in_bulk_from_the_list(app, api, engine):
    from engine.runtime import spiff
    from engine.scheduling.timers import fire_due
    from tests.conformance.models import counting_loop
    from tests.conftest import deploy_fixture_forms
    from tests.support.pages import csrf

    deploy_fixture_forms(api)
    spiff.configure_steps(chunk=200, runaway=400)
    try:
        assert api.deploy_xml(counting_loop("looping_list", None)).status_code == 201
        ids = [api.post("/api/process-definitions/looping_list/instances", "counter_staff",
                        json={"data": {}}).get_json()["id"] for _ in range(2)]
        while fire_due(engine):
            pass
        admin = _sign_in(app, "admin")
        page = admin.get("/instances?status=incident", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
        assert 'data-testid="bulk-retry"' in page and "[limit: steps]" in page
        staff = _sign_in(app, "counter_staff")
        staff_page = staff.get("/instances?status=incident").get_data(as_text=True)
        assert 'data-testid="bulk-retry"' not in staff_page
        assert staff.post("/incidents/retry", data={"instance_id": ids, "csrf_token": csrf(staff_page)}).status_code == 403
        r = admin.post("/incidents/retry", data={"instance_id": ids, "csrf_token": csrf(page)})
        assert r.status_code == 302
        flashed = admin.get("/instances?status=incident", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
        assert "已重试 2 个，失败 0 个" in flashed
        events = api.get(f"/api/process-instances/{ids[0]}/timeline", "auditor").get_json()["events"]
        assert any(e["action"] == "incident_retried" for e in events)
    finally:
        spiff.configure_steps(chunk=engine.settings.step_chunk, runaway=engine.settings.runaway_steps)


def test_admin_moves_a_token_from_the_instance_page(app, api, engine):
    from tests.conformance.models import chain, document, user_task
    from tests.conftest import deploy_fixture_forms
    from tests.support.pages import csrf

    deploy_fixture_forms(api)
    xml = document("movable", '<bpmn:startEvent id="s" />' + user_task("a") + user_task("b") + user_task("c")
                   + '<bpmn:endEvent id="e" />' + chain("s", "a", "b", "c", "e"))
    assert api.deploy_xml(xml).status_code == 201
    iid = api.post("/api/process-definitions/movable/instances", "counter_staff", json={"data": {}}).get_json()["id"]
    admin = _sign_in(app, "admin")
    page = admin.get(f"/instances/{iid}", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert 'data-testid="modify-section"' in page and "调整流程位置" in page
    r = admin.post(f"/instances/{iid}/modify", data={"cancel_element": "a", "start_element": "c", "start_mode": "before",
                                                    "reason": "跳过复核 skip review", "csrf_token": csrf(page)})
    assert r.status_code == 302
    inst = api.get(f"/api/process-instances/{iid}", "admin").get_json()
    assert [t["element_id"] for t in inst["open_tasks"]] == ["c"]
