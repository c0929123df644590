"""Every API endpoint is either open to any signed-in user or refuses the wrong role with 403.

The route list is read from Flask, so a new endpoint fails this test until it is classified.
(401 without a token is proved for every route in test_auth_api.py.)
"""

from __future__ import annotations

import pytest

# Endpoints every authenticated user may call (results are filtered to what they may see).
OPEN_TO_ALL = {
    ("GET", "/api/me"),
    ("POST", "/api/auth/logout"),
    ("GET", "/api/process-definitions"),
    ("GET", "/api/process-definitions/<key>"),
    ("GET", "/api/process-definitions/<key>/xml"),
    ("GET", "/api/forms"),
    ("GET", "/api/forms/<form_id>"),
    ("POST", "/api/documents"),
    ("GET", "/api/process-instances"),
    ("GET", "/api/tasks"),
    ("GET", "/api/org-units"),
    ("GET", "/api/notifications"),
    ("GET", "/api/halls/<hall>/congestion"),
    ("GET", "/api/halls/inspection-coverage"),  # only the halls the caller manages (test_scoring_inspections.py)
    ("GET", "/api/org-units/<key>/seal-image"),
    ("GET", "/api/seals/ca-certificates"),
    # report rows are filtered to the caller's own, their unit's or all (tests/engine/jobs/test_reports_api.py)
    ("GET", "/api/reports/jobs"),
    ("GET", "/api/reports/<job>"),
    ("GET", "/api/reports/<job>/export"),
    # registers (台账): the list is filtered; a register's entries and export refuse roles without a part in it
    # and units outside the caller's (403, tests/engine/registers/test_registers.py)
    ("GET", "/api/registers"),
    ("GET", "/api/registers/<key>"),
    ("GET", "/api/registers/<key>/export"),
    ("GET", "/api/decision-definitions"),
    ("GET", "/api/decision-definitions/<key>"),
    ("GET", "/api/external-tasks/topics"),  # only the topics the caller works (all: admins, auditors)
}
PUBLIC = {("GET", "/api/health"), ("GET", "/api/openapi.json"), ("POST", "/api/auth/token")}


@pytest.fixture
def world(four_step):
    """An instance with an open task claimed by counter_staff, and an uploaded document."""
    api = four_step
    inst = api.post("/api/process-definitions/four_step/instances", "counter_staff", json={"data": {}}).get_json()
    task_id = inst["open_tasks"][0]["id"]
    assert api.post(f"/api/tasks/{task_id}/claim", "counter_staff").status_code == 200
    doc = api.client.post("/api/documents", headers=api.headers("counter_staff"),
                          data={"file": (__import__("io").BytesIO(b"%PDF-1.4 x"), "a.pdf", "application/pdf")},
                          content_type="multipart/form-data").get_json()
    return api, inst["id"], task_id, doc["id"]


def _forbidden_cases(inst, task, doc):
    """(method, rule) -> (wrong user, concrete path, json body)."""
    xml = "<bpmn:definitions xmlns:bpmn='http://www.omg.org/spec/BPMN/20100524/MODEL'/>"
    return {
        ("POST", "/api/process-definitions"): ("counter_staff", "/api/process-definitions", xml),
        ("POST", "/api/forms"): ("auditor", "/api/forms", {"id": "x", "type": "default", "components": []}),
        ("POST", "/api/process-definitions/<key>/instances"): ("hall_manager", "/api/process-definitions/four_step/instances", {"data": {}}),
        ("GET", "/api/process-instances/<instance_id>"): ("manager_hall2", f"/api/process-instances/{inst}", None),
        ("GET", "/api/process-instances/<instance_id>/timeline"): ("manager_hall2", f"/api/process-instances/{inst}/timeline", None),
        ("POST", "/api/process-instances/<instance_id>/retry"): ("counter_staff", f"/api/process-instances/{inst}/retry", {}),
        ("POST", "/api/process-instances/<instance_id>/cancel"): ("counter_staff", f"/api/process-instances/{inst}/cancel",
                                                                   {"reason": "no longer needed"}),
        ("POST", "/api/process-instances/<instance_id>/migration"): ("counter_staff", f"/api/process-instances/{inst}/migration", {"dry_run": True}),
        ("POST", "/api/process-definitions/<key>/migrations"): ("hall_manager", "/api/process-definitions/four_step/migrations", {"from_version": 1, "dry_run": True}),
        ("GET", "/api/tasks/<task_id>"): ("nobody", f"/api/tasks/{task}", None),
        ("POST", "/api/tasks/<task_id>/claim"): ("hall_manager", f"/api/tasks/{task}/claim", None),
        ("POST", "/api/tasks/<task_id>/unclaim"): ("counter2", f"/api/tasks/{task}/unclaim", None),
        ("POST", "/api/process-instances/<instance_id>/messages"): ("auditor", f"/api/process-instances/{inst}/messages", {"name": "x"}),
        ("POST", "/api/halls/<hall>/queue-snapshots"): ("counter_hall2", "/api/halls/hall-1/queue-snapshots", {"waiting": 1, "open_counters": 1}),
        ("POST", "/api/tasks/<task_id>/assign"): ("counter_staff", f"/api/tasks/{task}/assign",
                                                   {"assignee": "counter2", "reason": "请假"}),
        ("POST", "/api/tasks/<task_id>/complete"): ("hall_manager", f"/api/tasks/{task}/complete", {"data": {"note": "x"}}),
        ("GET", "/api/documents/<doc_id>"): ("hall_manager", f"/api/documents/{doc}", None),
        ("GET", "/api/users"): ("auditor", "/api/users", None),
        ("POST", "/api/users"): ("hall_manager", "/api/users", {"username": "zz", "password": "12345678", "roles": []}),
        ("GET", "/api/users/<username>"): ("counter_staff", "/api/users/admin", None),
        ("PATCH", "/api/users/<username>"): ("counter_staff", "/api/users/counter_staff", {"display_name": "me"}),
        ("POST", "/api/users/<username>/revoke-tokens"): ("auditor", "/api/users/counter2/revoke-tokens", None),
        ("POST", "/api/users/<username>/unlock"): ("auditor", "/api/users/counter2/unlock", None),
        ("POST", "/api/org-units"): ("hall_manager", "/api/org-units", {"key": "h9", "name": "x", "kind": "hall"}),
        ("GET", "/api/audit/events"): ("counter_staff", "/api/audit/events", None),
        ("GET", "/api/audit/verify"): ("hall_manager", "/api/audit/verify", None),
        ("POST", "/api/notifications/<int:notification_id>/read"): ("counter_staff", "/api/notifications/999999/read", None),
        ("GET", "/api/documents/<doc_id>/verification"): ("hall_manager", f"/api/documents/{doc}/verification", None),
        ("GET", "/api/process-instances/<instance_id>/documents"): ("manager_hall2", f"/api/process-instances/{inst}/documents", None),
        ("GET", "/api/tasks/<task_id>/documents"): ("nobody", f"/api/tasks/{task}/documents", None),
        ("PUT", "/api/org-units/<key>/seal-image"): ("hall_manager", "/api/org-units/hall-1/seal-image", None),
        ("GET", "/api/seals"): ("counter_staff", "/api/seals", None),
        # only what a model declares sendable, by its sendableBy roles
        ("POST", "/api/signals"): ("counter_staff", "/api/signals", {"name": "internal_only"}),
        ("POST", "/api/messages"): ("counter_staff", "/api/messages", {"name": "internal_only"}),
        ("POST", "/api/process-instances/<instance_id>/suspend"): ("counter_staff", f"/api/process-instances/{inst}/suspend",
                                                                    {"reason": "x"}),
        ("POST", "/api/process-instances/<instance_id>/resume"): ("counter_staff", f"/api/process-instances/{inst}/resume",
                                                                   {"reason": "x"}),
        ("POST", "/api/process-instances/<instance_id>/variables"): ("counter_staff",
                                                                      f"/api/process-instances/{inst}/variables",
                                                                      {"data": {"a": 1}, "reason": "x"}),
        ("GET", "/api/incidents"): ("auditor", "/api/incidents", None),
        ("POST", "/api/process-instances/<instance_id>/modification"): (
            "counter_staff", f"/api/process-instances/{inst}/modification",
            {"instructions": [{"type": "cancel", "element_id": "x"}], "reason": "x"}),
        ("POST", "/api/incidents/retry"): ("counter_staff", "/api/incidents/retry", {"instance_ids": [inst]}),
        # external tasks: service accounts (the integration role) of the topic; decisions: deployers
        ("POST", "/api/external-tasks/fetch-and-lock"): ("admin", "/api/external-tasks/fetch-and-lock",
                                                         {"worker_id": "w", "topics": [{"name": "supply_sync"}]}),
        ("GET", "/api/external-tasks"): ("counter_staff", "/api/external-tasks", None),
        ("POST", "/api/external-tasks/<task_id>/complete"): ("counter_staff", f"/api/external-tasks/{task}/complete",
                                                              {"worker_id": "w"}),
        ("POST", "/api/external-tasks/<task_id>/failure"): ("counter_staff", f"/api/external-tasks/{task}/failure",
                                                             {"worker_id": "w", "error_message": "x"}),
        ("POST", "/api/external-tasks/<task_id>/bpmn-error"): ("counter_staff", f"/api/external-tasks/{task}/bpmn-error",
                                                                {"worker_id": "w", "error_code": "x"}),
        ("POST", "/api/external-tasks/<task_id>/extend-lock"): ("counter_staff",
                                                                 f"/api/external-tasks/{task}/extend-lock",
                                                                 {"worker_id": "w", "new_duration": 1000}),
        ("POST", "/api/external-tasks/<task_id>/unlock"): ("counter_staff", f"/api/external-tasks/{task}/unlock", None),
        ("POST", "/api/decision-definitions"): ("counter_staff", "/api/decision-definitions", xml),
        ("POST", "/api/decision-definitions/<key>/evaluate"): ("counter_staff", "/api/decision-definitions/x/evaluate",
                                                               {"variables": {}}),
    }


def _api_routes(app):
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api"):
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield method, rule.rule


def test_every_endpoint_is_classified_and_refuses_the_wrong_role(world):
    api, inst, task, doc = world
    cases = _forbidden_cases(inst, task, doc)
    unclassified, allowed = [], []
    for method, rule in _api_routes(api.client.application):
        key = (method, rule)
        if key in PUBLIC or key in OPEN_TO_ALL:
            continue
        if key not in cases:
            unclassified.append(key)
            continue
        user, path, body = cases[key]
        if isinstance(body, str):
            r = api.call(method, path, user, data=body.encode(), content_type="application/xml")
        else:
            r = api.call(method, path, user, json=body)
        if r.status_code not in (403, 404) or (r.status_code == 404 and "notification" not in rule):
            allowed.append((key, user, r.status_code))
        else:
            assert r.get_json()["error"] in ("forbidden", "not_found")
    assert not unclassified, f"classify these endpoints in test_permissions.py: {unclassified}"
    assert not allowed, f"wrong role was not refused: {allowed}"


def test_open_endpoints_filter_what_they_return(world):
    api, inst, task, doc = world
    assert api.get("/api/process-instances", "counter2").get_json()["total"] == 0
    assert api.get("/api/tasks?scope=all", "hall_manager").get_json()["total"] == 0
    assert api.get("/api/tasks?scope=all", "nobody").get_json()["total"] == 0
