"""Drive a conformance model through the API and read back exactly what a user would see."""

from __future__ import annotations

from datetime import timedelta

from engine.clock import clock, utcnow
from engine.scheduling.timers import fire_due


class Run:
    """One instance of a freshly deployed model, seen as its users and an administrator see it."""

    def __init__(self, api, engine, xml: str, key: str, data: dict | None = None, user: str = "counter_staff"):
        self.api, self.engine, self.key = api, engine, key
        r = api.deploy_xml(xml)
        assert r.status_code == 201, r.get_json()
        r = api.post(f"/api/process-definitions/{key}/instances", user, json={"data": data or {}})
        assert r.status_code == 201, r.get_json()
        self.id = r.get_json()["id"]

    @property
    def instance(self) -> dict:
        return self.api.get(f"/api/process-instances/{self.id}", "admin").get_json()

    @property
    def status(self) -> str:
        return self.instance["status"]

    @property
    def open(self) -> list[str]:
        """Element ids of the open tasks, sorted."""
        return sorted(t["element_id"] for t in self.instance["open_tasks"])

    @property
    def timers(self) -> list[str]:
        return sorted(t["element_id"] for t in self.instance["pending_timers"])

    @property
    def data(self) -> dict:
        return self.instance["data"]

    @property
    def completed(self) -> set[str]:
        return set(self.instance["completed_elements"])

    def actions(self, action: str) -> list[dict]:
        events = self.api.get(f"/api/process-instances/{self.id}/timeline", "auditor").get_json()["events"]
        return [e for e in events if e["action"] == action]

    def task(self, element: str) -> dict:
        found = [t for t in self.instance["open_tasks"] if t["element_id"] == element]
        assert found, f"no open task {element!r}: open {self.open}"
        return found[0]

    def complete(self, element: str, data: dict | None = None, user: str = "counter_staff") -> None:
        r = self.api.post(f"/api/tasks/{self.task(element)['id']}/complete", user, json={"data": {"note": "ok", **(data or {})}})
        assert r.status_code == 200, r.get_json()

    def message(self, name: str, data: dict | None = None, user: str = "counter_staff"):
        return self.api.post(f"/api/process-instances/{self.id}/messages", user, json={"name": name, "data": data or {}})

    def wait(self, **delta) -> int:
        """Move the engine clock on and fire what is due."""
        clock.set(utcnow() + timedelta(**delta))
        fired = 0
        while n := fire_due(self.engine):
            fired += n
        return fired


def deploy(api, *docs: str) -> None:
    for xml in docs:
        r = api.deploy_xml(xml)
        assert r.status_code == 201, r.get_json()


def start(api, key: str, business_key: str | None = None, data: dict | None = None, user: str = "counter_staff") -> str:
    body = {"data": data or {}} | ({"business_key": business_key} if business_key else {})
    r = api.post(f"/api/process-definitions/{key}/instances", user, json=body)
    assert r.status_code == 201, r.get_json()
    return r.get_json()["id"]


def instance(api, iid: str) -> dict:
    return api.get(f"/api/process-instances/{iid}", "admin").get_json()


def open_elements(api, iid: str) -> list[str]:
    return sorted(t["element_id"] for t in instance(api, iid)["open_tasks"])
