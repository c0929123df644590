"""A small vocabulary for driving the business processes (processes/, forms/) through the API.

Every call goes through the REST API with the demo users of the test database (username =
role key, all in hall-1; ``counter_hall2``, ``duty_hall2``, ``manager_hall2`` in hall-2).
Instances and tasks are looked up as ``auditor``, who may read everything, so a lookup never
depends on the permissions under test.
"""

from __future__ import annotations

import io
import json
import re
from functools import cache

from tests.conftest import ROOT

PROCESSES = ROOT / "processes"
FORMS = ROOT / "forms"
READER = "auditor"
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n"


# --------------------------------------------------------------------------- files


@cache
def process_xml(key: str) -> str:
    return (PROCESSES / f"{key}.bpmn").read_text(encoding="utf-8")


@cache
def form_json(form_id: str) -> dict:
    return json.loads((FORMS / f"{form_id}.form").read_text(encoding="utf-8"))


def process_keys() -> list[str]:
    return sorted(p.stem for p in PROCESSES.glob("*.bpmn"))


def form_ids() -> list[str]:
    return sorted(p.stem for p in FORMS.glob("*.form"))


def forms_of(key: str) -> list[str]:
    """The forms a process names (start form and user-task forms), in document order."""
    return list(dict.fromkeys(re.findall(r'camunda:formKey="([^"]+)"', process_xml(key))))


def linked_processes(key: str) -> list[str]:
    """Processes this one starts through a linked-start throw event (``startProcess``)."""
    return re.findall(r'<camunda:property name="startProcess" value="([^"]+)"', process_xml(key))


def decisions_of(key: str) -> list[str]:
    """The decision keys a shipped process's business rule tasks name (each in processes/<key>.dmn)."""
    return re.findall(r'camunda:decisionRef="([^"]+)"', process_xml(key))


def deploy_order(keys) -> list[str]:
    """``keys`` and the processes they start, those started first (dependency order)."""
    order: list[str] = []

    def visit(key, path=()):
        if key in order:
            return
        assert key not in path, f"linked starts form a cycle: {path + (key,)}"
        for linked in linked_processes(key):
            visit(linked, path + (key,))
        order.append(key)

    for key in keys:
        visit(key)
    return order


def deploy_decisions(api, *keys: str) -> None:
    """Deploy the shipped decisions (processes/*.dmn): those named, or all."""
    for decision in keys or sorted(p.stem for p in (ROOT / "processes").glob("*.dmn")):
        xml = (ROOT / "processes" / f"{decision}.dmn").read_bytes()
        r = api.call("POST", "/api/decision-definitions", "process_owner", data=xml, content_type="application/xml")
        assert r.status_code in (200, 201), (decision, r.get_json())


def deploy(api, *keys: str) -> None:
    """Deploy the given processes (all when none given): their forms first, then the processes."""
    order = deploy_order(keys or process_keys())
    deploy_decisions(api)  # those they evaluate, and those the jobs read (the KPI tiers): every shipped one
    for form_id in dict.fromkeys(f for key in order for f in forms_of(key)):
        r = api.deploy_form(form_json(form_id))
        assert r.status_code in (200, 201), (form_id, r.get_json())
    for key in order:
        r = api.deploy_xml(process_xml(key))
        assert r.status_code in (200, 201), (key, r.get_json())


# --------------------------------------------------------------------------- documents


def upload(api, user: str, filename: str = "scan.pdf") -> str:
    r = api.post("/api/documents", user, json=None, data={"file": (io.BytesIO(PDF), filename)},
                 content_type="multipart/form-data")
    assert r.status_code == 201, r.get_json()
    return r.get_json()["id"]


# --------------------------------------------------------------------------- instances


def try_start(api, user: str, key: str, data: dict, business_key: str | None = None):
    body = {"data": data} if business_key is None else {"data": data, "business_key": business_key}
    return api.post(f"/api/process-definitions/{key}/instances", user, json=body)


def start(api, user: str, key: str, data: dict, business_key: str | None = None) -> dict:
    r = try_start(api, user, key, data, business_key)
    assert r.status_code == 201, r.get_json()
    inst = r.get_json()
    assert inst["status"] == "running", inst
    return inst


def instance(api, instance_id: str, user: str = READER) -> dict:
    r = api.get(f"/api/process-instances/{instance_id}", user)
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def open_elements(api, instance_id: str) -> list[str]:
    return sorted(t["element_id"] for t in instance(api, instance_id)["open_tasks"])


def open_task(api, instance_id: str, element_id: str) -> dict:
    """The one open task of ``element_id`` (full detail: form, properties, candidate groups)."""
    inst = instance(api, instance_id)
    hits = [t for t in inst["open_tasks"] if t["element_id"] == element_id]
    assert len(hits) == 1, f"expected one open {element_id!r}, open: {[t['element_id'] for t in inst['open_tasks']]}"
    r = api.get(f"/api/tasks/{hits[0]['id']}", READER)
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def candidate_task_ids(api, user: str, instance_id: str, scope: str = "candidate") -> list[str]:
    r = api.get(f"/api/tasks?scope={scope}&instance={instance_id}", user)
    assert r.status_code == 200, r.get_json()
    return [t["id"] for t in r.get_json()["items"]]


def assert_forbidden(api, user: str, task_id: str) -> None:
    """``user`` may neither claim nor complete the task (403), and does not see it as a candidate."""
    for action in ("claim", "complete"):
        r = api.post(f"/api/tasks/{task_id}/{action}", user, json={"data": {}})
        assert r.status_code == 403, (user, action, r.status_code, r.get_json())


def try_complete(api, user: str, task_id: str, data: dict):
    return api.post(f"/api/tasks/{task_id}/complete", user, json={"data": data})


def work(api, user: str, instance_id: str, element_id: str, data: dict, wrong: tuple[str, ...] = ()) -> dict:
    """``user`` finds the task in their candidate list, claims and completes it.

    Each of ``wrong`` is first refused (403). Returns the instance after the step.
    """
    task = open_task(api, instance_id, element_id)
    for other in wrong:
        assert_forbidden(api, other, task["id"])
    if task["properties"].get("candidateScope") == "starter":  # the starter's own step: theirs from the start
        assert task["assignee"] == user, (element_id, task["assignee"], user)
        assert task["id"] in candidate_task_ids(api, user, instance_id, "mine"), f"{user} does not have {element_id}"
    else:
        assert task["id"] in candidate_task_ids(api, user, instance_id), f"{user} does not see {element_id}"
    r = api.post(f"/api/tasks/{task['id']}/claim", user)
    assert r.status_code == 200, r.get_json()
    r = try_complete(api, user, task["id"], data)
    assert r.status_code == 200, r.get_json()
    return r.get_json()["instance"]


def errors_of(response) -> dict:
    """``details.errors`` of a 422 response."""
    assert response.status_code == 422, (response.status_code, response.get_json())
    return response.get_json()["details"]["errors"]


def instances_of(api, key: str, user: str = READER) -> list[dict]:
    r = api.get(f"/api/process-instances?key={key}", user)
    assert r.status_code == 200, r.get_json()
    return r.get_json()["items"]



def work_external(api, instance_id: str, topic: str, var_dir) -> dict:
    """The ``integration`` service account's worker takes the instance's open task of ``topic`` and
    runs the topic's shipped handler (bpm_cli/handlers.py, writing under ``var_dir``); returns the
    variables it completed the task with."""
    import os

    from bpm_cli.worker import load_handler
    from engine.runtime.connectors import load_topics

    r = api.post("/api/external-tasks/fetch-and-lock", "integration",
                 json={"worker_id": "test-worker", "max_tasks": 50, "topics": [{"name": topic}]})
    assert r.status_code == 200, r.get_json()
    mine = [t for t in r.get_json()["items"] if t["instance_id"] == instance_id]
    assert len(mine) == 1, f"expected one {topic!r} task of {instance_id}, got {r.get_json()['items']}"
    spec = load_topics(None)[topic]
    before = os.environ.get("BPM_VAR_DIR")
    os.environ["BPM_VAR_DIR"] = str(var_dir)
    try:
        variables = load_handler(spec["handler"])(mine[0], spec["settings"])
    finally:
        if before is None:
            os.environ.pop("BPM_VAR_DIR")
        else:
            os.environ["BPM_VAR_DIR"] = before
    r = api.post(f"/api/external-tasks/{mine[0]['id']}/complete", "integration",
                 json={"worker_id": "test-worker", "variables": variables})
    assert r.status_code == 200, r.get_json()
    return variables
