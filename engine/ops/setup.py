"""Setting up a database: migrations, the shipped forms and processes, and the demo data.

``bpm init`` (bpm_cli) calls :func:`init_database`; tests and benchmarks use it too.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from engine.config import project_root
from engine.errors import EngineError
from engine.identity.actor import SYSTEM
from engine.identity.roles import ROLES


def deploy_path(engine, path: Path, echo=print) -> None:
    """Deploy one .bpmn, .dmn or .form file as the system actor."""
    from engine.forms import definitions as formdefs
    from engine.runtime import decisions, definitions

    with engine.uow(SYSTEM) as uow:
        if path.suffix == ".dmn":
            stored = decisions.deploy(uow, path.read_bytes())
            created = any(c for _r, c in stored)
            label = ", ".join(f"decision {r.key} v{r.version}" for r, _c in stored)
        elif path.suffix == ".bpmn":
            row, created = definitions.deploy_process(uow, path.read_bytes())
            label = f"process {row.key} v{row.version}"
        else:
            try:
                content = json.loads(path.read_text(encoding="utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise EngineError(f"{path}: not valid JSON: {exc}") from exc
            row, created = formdefs.deploy_form(uow, content)
            label = f"form {row.form_key} v{row.version}"
    echo(f"{'deployed' if created else 'unchanged'}: {label} ({path.name})")


def deploy_shipped(engine, processes: tuple[str, ...] = (), echo=print) -> None:
    """Deploy the project's ``forms/`` and ``processes/``: every file, or only the processes
    ``processes`` (keys) and the forms they name."""
    root = project_root()
    if processes:
        paths = [root / "processes" / f"{key}.bpmn" for key in processes]
        forms = dict.fromkeys(f for p in paths for f in re.findall(r'camunda:formKey="([^"]+)"', p.read_text("utf-8")))
        form_paths = [root / "forms" / f"{form}.form" for form in forms]
    else:
        paths = sorted((root / "processes").glob("*.bpmn"))
        form_paths = sorted((root / "forms").glob("*.form"))
    form_paths = [*sorted((root / "processes").glob("*.dmn")), *form_paths]  # the decisions processes name
    for path in [*form_paths, *paths]:
        deploy_path(engine, path, echo)


# (key, name, kind, parent): the county branch, its marketing department with two service halls,
# and its group customer department (集团客户部) with the key-account room (重要室)
DEMO_UNITS = [
    ("branch", "县分公司 County branch", "branch", None),
    ("dept-market", "市场部 Marketing department", "department", "branch"),
    ("dept-group", "集团客户部 Group customer department", "department", "branch"),
    ("room-key", "重要室 Key-account room", "room", "dept-group"),
    ("hall-1", "中心营业厅 Central service hall", "hall", "dept-market"),
    ("hall-2", "城东营业厅 East service hall", "hall", "dept-market"),
]
# demo users work in hall-1, except those whose role sits above the halls
DEMO_USER_UNITS = {"department_manager": "dept-market", "vice_president": "branch", "key_account_manager": "room-key"}


def init_database(engine, demo: bool = False, demo_password: str = "demo", echo=print,
                  demo_seal_pin: str = "123456") -> None:
    from engine.identity import auth as identity
    from engine.store.migrate import upgrade

    upgrade(engine.settings.database_url)
    from engine.runtime.events import backfill_subscriptions

    filled = backfill_subscriptions(engine)
    if filled:
        echo(f"event subscriptions recorded for {filled} running instances (they wait for messages or signals)")
    deploy_shipped(engine, echo=echo)
    if demo:
        from engine.identity import users as svc

        with engine.uow(SYSTEM) as uow:
            known_units = {u["key"] for u in svc.list_units(uow.session)}
            for key, name, kind, parent in DEMO_UNITS:
                if key not in known_units:
                    svc.create_unit(uow, key, name, kind, parent)
            existing = {u["username"] for u in svc.list_users(uow.session, SYSTEM)}
            for role, (zh, en) in ROLES.items():
                if role not in existing:
                    user = identity.add_user(uow.session, role, demo_password, [role], display_name=f"{zh} ({en})",
                                             org_unit=DEMO_USER_UNITS.get(role, "hall-1"))
                    after = {k: v for k, v in svc.user_to_dict(uow.session, user).items() if k != "created_at"}
                    uow.audit("user_created", username=role, after=after)
        echo(f"demo users (username = role, password: {demo_password}): {', '.join(ROLES)}")
        # --- electronic seal (engine/seals): organisation CA, system signer, the demo head's seal ---
        from engine.seals.admin import setup_demo_seal

        for line in setup_demo_seal(engine, demo_seal_pin):
            echo(line)
        echo(f"demo seal PIN of service_center_head: {demo_seal_pin}")
