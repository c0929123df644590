"""Two units side by side, as an attacker with a valid account sees the system: every shipped
process and form deployed, the seeded users of hall-1 (and department dept-1, branch), the
same roles in hall-2 (``<role>_h2``), a colleague of the same roles in hall-1 (``<role>_b``),
a department manager of another department (``department_manager_d2``), a key-account room of
dept-1 (``room-1``: its manager ``key_account_manager_r`` and customer manager
``customer_manager_r``), and a seal for the head of each hall (PIN 123456), each of its own unit."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import delete

from engine.errors import Conflict
from engine.identity.actor import SYSTEM
from engine.identity.auth import add_user, issue_token
from engine.store.models import OrgUnit, User
from tests.support.pages import sign_in

PIN = "123456"
ROOM = "room-1"  # a key-account room (室) of department dept-1: its plans, study days and score reviews live there
# the room's own people (the seeded users of these roles work in hall-1)
ROOM_STAFF = {"key_account_manager": "key_account_manager_r", "customer_manager": "customer_manager_r"}
HALL_ROLES = ("enforcement_officer", "service_center_head", "info_clerk", "customer_manager", "counter_staff",
              "duty_manager", "hall_manager", "key_account_manager", "data_analyst", "tobacco_customer_manager",
              "marketing_back_office")


@dataclass
class World:
    api: object
    app: object
    engine: object

    def page(self, username: str):
        """A browser session of ``username`` (test client, CSRF token), signed in now (the tests
        move the clock past a session's lifetime)."""
        return sign_in(self.app, username)

    def member(self, role: str, unit: str | None) -> str:
        """The world's user of ``role`` who works in ``unit``: the seeded one (hall-1, dept-1,
        branch) unless the unit is the room."""
        return ROOM_STAFF.get(role, role) if unit == ROOM else role


def _user(uow, username: str, roles: list[str], unit: str) -> None:
    try:
        add_user(uow.session, username, "demo", roles, org_unit=unit)
    except Conflict:
        pass  # PostgreSQL keeps users between tests


def deploy_everything(engine) -> None:
    from engine.ops.setup import deploy_shipped

    deploy_shipped(engine, echo=lambda *_: None)


@pytest.fixture
def two_units(api, app, engine, tokens):
    """The users of the two units and of the room (no processes deployed)."""
    with engine.uow(SYSTEM) as uow:
        if uow.session.get(OrgUnit, "dept-2") is None:
            uow.session.add(OrgUnit(key="dept-2", name="另一部门", kind="department", parent_key="branch"))
            uow.session.flush()
        if uow.session.get(OrgUnit, ROOM) is None:
            uow.session.add(OrgUnit(key=ROOM, name="重要室", kind="room", parent_key="dept-1"))
            uow.session.flush()
        for role in HALL_ROLES:
            _user(uow, f"{role}_h2", [role], "hall-2")
            _user(uow, f"{role}_b", [role], "hall-1")
        _user(uow, "department_manager_d2", ["department_manager"], "dept-2")
        for role, name in ROOM_STAFF.items():
            _user(uow, name, [role], ROOM)
    names = [f"{r}_h2" for r in HALL_ROLES] + [f"{r}_b" for r in HALL_ROLES] + ["department_manager_d2", *ROOM_STAFF.values()]
    with engine.uow(SYSTEM) as uow:
        for name in names:
            tokens[name] = issue_token(uow.session, name, "demo", 10 * 365 * 24 * 3600)[0]
    yield World(api, app, engine)
    # PostgreSQL keeps users and units between tests: a room with its manager would be assessed by
    # every later key_account_room_kpi run (and its study days scheduled)
    with engine.uow(SYSTEM) as uow:
        uow.session.execute(delete(User).where(User.username.in_(list(ROOM_STAFF.values()))))
        uow.session.execute(delete(OrgUnit).where(OrgUnit.key == ROOM))
    for name in ROOM_STAFF.values():
        tokens.pop(name, None)


@pytest.fixture
def world(two_units):
    """The two units with every shipped process and form deployed and a seal for each hall's head."""
    from engine.seals import credentials
    from engine.seals.admin import setup_demo_seal

    engine = two_units.engine
    deploy_everything(engine)
    setup_demo_seal(engine, PIN)  # the CA, the system signer, hall-1's head's seal
    with engine.uow(SYSTEM) as uow:
        if credentials.active_seal(uow.session, "service_center_head_h2") is None:
            credentials.issue_seal(uow, engine.settings, "service_center_head_h2", PIN)
    return two_units
