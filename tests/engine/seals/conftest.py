"""Fixtures for the electronic seal: the organisation CA, the system signer and the demo head's seal."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import pytest

from engine.app import BpmEngine
from engine.config import load_settings, project_root
from engine.identity.actor import SYSTEM

PIN = "123456"
SCAN = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n"


@pytest.fixture
def seals_ready(engine):
    """CA, system signer and a seal for ``service_center_head`` (PIN 123456) in the test database."""
    from engine.seals.admin import setup_demo_seal

    setup_demo_seal(engine, PIN)
    return engine


@dataclass
class SealWorld:
    """A SQLite database with the real processes, demo users, seals and one sealed supply approval."""

    engine: BpmEngine
    url: str
    var_dir: Path
    instance_id: str
    sealed_id: str
    sealed: bytes
    confirmed_id: str
    confirmed: bytes

    def actor(self, username):
        from engine.identity.auth import actor_by_name

        with self.engine.read() as session:
            return actor_by_name(session, username)

    def verify(self, content: bytes, extra_roots=()) -> dict:
        from engine.seals.service import verify_bytes

        with self.engine.read() as session:
            return verify_bytes(session, content, extra_roots)


def _complete(engine, actor, instance_id, element_id, data):
    from sqlalchemy import select

    from engine.runtime import tasks
    from engine.store.models import Task

    with engine.read() as session:
        task_id = session.execute(select(Task.id).where(
            Task.instance_id == instance_id, Task.element_id == element_id, Task.status == "open")).scalar_one()
    _, inst, _ = tasks.complete_task(engine, actor, task_id, data)
    return inst.data if hasattr(inst, "data") else None


def _sync(engine, actor, instance_id) -> None:
    """The integration worker records the sealed approval (engine/runtime/external.py)."""
    from engine.runtime import external

    [task] = external.fetch_and_lock(engine, actor, "test-worker", 10, [{"name": "supply_sync"}])
    assert task["instance_id"] == instance_id
    external.complete(engine, actor, task["id"], "test-worker", {"supply_ref": "YC-TEST-00001"})


def build_world(folder: Path) -> SealWorld:
    from engine.identity import auth as identity
    from engine.ops.setup import deploy_path
    from engine.runtime import documents, instances
    from engine.seals.admin import setup_demo_seal
    from engine.store.migrate import upgrade
    from engine.store.models import OrgUnit

    url = f"sqlite:///{folder / 'seal.sqlite3'}"
    upgrade(url)
    engine = BpmEngine(load_settings(database_url=url, var_dir=folder / "var"))
    with engine.uow(SYSTEM) as uow:
        uow.session.add(OrgUnit(key="hall-1", name="中心营业厅 Central service hall", kind="hall"))
        for role in ("enforcement_officer", "service_center_head", "info_clerk", "customer_manager", "hall_manager",
                     "auditor", "counter_staff", "integration"):
            identity.add_user(uow.session, role, "demo", [role], org_unit="hall-1")
    root = project_root()
    for name in ("supply_request", "supply_review", "supply_seal", "supply_maintain", "supply_execute",
                 "supply_revise"):
        deploy_path(engine, root / "forms" / f"{name}.form", echo=lambda *_: None)
    deploy_path(engine, root / "processes" / "supply_approval.bpmn", echo=lambda *_: None)
    setup_demo_seal(engine, PIN)
    world = SealWorld(engine, url, folder / "var", "", "", b"", "", b"")
    officer = world.actor("enforcement_officer")
    with engine.uow(officer) as uow:
        scan = documents.upload(uow, engine.settings, "供货审批表.pdf", "application/pdf", SCAN).id
    with engine.uow(officer) as uow:
        inst = instances.start(engine, uow, "supply_approval", {
            "licence_no": "420100123456", "retailer_name": "城关便民烟酒店",
            "lines": [{"brand": "huanghelou", "specification": "硬1916", "quantity": 5}],
            "reason": "春节前备货", "attachments": [scan]}, business_key="GH-2026-900")
        world.instance_id = inst.id
    head = world.actor("service_center_head")
    _complete(engine, head, inst.id, "review", {"decision": "approve"})
    data = _complete(engine, head, inst.id, "seal", {"seal_confirm": True, "seal_pin": PIN})
    world.sealed_id = data["sealed_document"]
    _sync(engine, world.actor("integration"), inst.id)
    data = _complete(engine, world.actor("info_clerk"), inst.id, "maintain", {"system_ref": "JYXT-1"})
    world.confirmed_id = data["confirmed_document"]
    with engine.read() as session:
        world.sealed = documents.content(session, documents.get(session, world.sealed_id))
        world.confirmed = documents.content(session, documents.get(session, world.confirmed_id))
    return world


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    w = build_world(tmp_path_factory.mktemp("seal-world"))
    yield w
    w.engine.close()


def pdf_page(text: str = "x") -> bytes:
    """A one-page PDF (reportlab)."""
    from reportlab.pdfgen import canvas

    out = io.BytesIO()
    c = canvas.Canvas(out)
    c.drawString(72, 720, text)
    c.showPage()
    c.save()
    return out.getvalue()
