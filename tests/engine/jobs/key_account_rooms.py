"""The group customer department (集团客户部) and its key-account rooms (重要室) for the tests of
the customer-manager KPI and the perception survey, built on the seeded test database.

001 客户经理考核制度 「客户经理的的考核直接由重要室经理进行考核,报集团客户部,集团客户部进行审核无误后报分管市场副总审批」.

* ``dept-group`` 集团客户部 (department, under ``branch``) with ``dm_group`` (department_manager)
  and, moved there, the seeded ``data_analyst`` (数据组);
* ``room-key`` 重要室 (room, under dept-group): the seeded ``customer_manager`` and
  ``key_account_manager`` moved there;
* ``room-2`` 重要二室 (room, under dept-group): ``cm_room2`` (customer_manager) and ``kam_room2``
  (key_account_manager).

PostgreSQL keeps the user and unit tables between tests: :func:`key_account_rooms` puts
everything back afterwards.
"""

from __future__ import annotations

from contextlib import contextmanager

from sqlalchemy import delete, update

from engine.identity import auth as identity
from engine.identity.actor import SYSTEM
from engine.store.models import OrgUnit, User

UNITS = [("dept-group", "集团客户部", "department", "branch"), ("room-key", "重要室", "room", "dept-group"),
         ("room-2", "重要二室", "room", "dept-group")]
NEW_USERS = [("dm_group", "department_manager", "dept-group", "集团客户部经理"),
             ("cm_room2", "customer_manager", "room-2", "李四"),
             ("kam_room2", "key_account_manager", "room-2", "重要二室经理")]
MOVED = {"customer_manager": "room-key", "key_account_manager": "room-key", "data_analyst": "dept-group"}
TTL = 10 * 365 * 24 * 3600  # tests move the clock


@contextmanager
def key_account_rooms(api, engine):
    with engine.uow(SYSTEM) as uow:
        for key, name, kind, parent in UNITS:
            uow.session.add(OrgUnit(key=key, name=name, kind=kind, parent_key=parent))
        uow.session.flush()
        for username, role, unit, display in NEW_USERS:
            identity.add_user(uow.session, username, "demo", [role], display_name=display, org_unit=unit)
            api.tokens[username] = identity.issue_token(uow.session, username, "demo", TTL)[0]
        for username, unit in MOVED.items():
            uow.session.execute(update(User).where(User.username == username).values(org_unit=unit))
    _forget(api)
    try:
        yield api
    finally:
        with engine.uow(SYSTEM) as uow:
            for username in MOVED:
                uow.session.execute(update(User).where(User.username == username).values(org_unit="hall-1"))
            uow.session.execute(delete(User).where(User.username.in_([u for u, *_ in NEW_USERS])))
            for key, *_ in reversed(UNITS):
                uow.session.execute(delete(OrgUnit).where(OrgUnit.key == key))
        _forget(api)
        for username, *_ in NEW_USERS:
            api.tokens.pop(username, None)


def _forget(api) -> None:
    """The API caches a token's user (and unit) for a few seconds: the moved users' new units count at once."""
    from web.auth import forget_token

    for username in [*MOVED, *(u for u, *_ in NEW_USERS)]:
        forget_token(api.tokens.get(username))
