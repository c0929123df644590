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
DEMO_USER_UNITS = {"department_manager": "dept-market", "vice_president": "branch", "key_account_manager": "room-key",
                   # 001 客户经理考核制度: customer managers work in the key-account room, assessed by its manager;
                   # the data group (000 篇3/4) in the group customer department
                   "customer_manager": "room-key", "data_analyst": "dept-group"}


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
        missing = _missing_for_business_demo(engine)
        if missing:
            echo(f"demo history skipped: this project does not deploy {', '.join(missing)} (the shipped models)")
        else:
            _business_demo(engine, demo_password, echo)
        # --- electronic seal (engine/seals): organisation CA, system signer, the demo head's seal ---
        from engine.seals.admin import setup_demo_seal

        for line in setup_demo_seal(engine, demo_seal_pin):
            echo(line)
        echo(f"demo seal PIN of service_center_head: {demo_seal_pin}")


# what the demo history drives: a project with models of its own gets the demo users and seal only
DEMO_PROCESSES = ("kpi_review", "perception_survey", "room_kpi_review", "target_plan", "study_day", "retailer_anomaly",
                  "retailer_needs_review", "retailer_visit", "invoice_handover", "morning_meeting", "group_visit",
                  "one_counter", "hall_congestion")
DEMO_DECISIONS = ("kpi_tier", "one_counter_time_limit", "congestion_response")


def _missing_for_business_demo(engine) -> list[str]:
    from sqlalchemy import select

    from engine.store.models import DecisionDefinition, ProcessDefinition

    with engine.read() as session:
        processes = set(session.execute(select(ProcessDefinition.key).distinct()).scalars())
        decisions = set(session.execute(select(DecisionDefinition.key).distinct()).scalars())
    return [k for k in DEMO_PROCESSES if k not in processes] + [k for k in DEMO_DECISIONS if k not in decisions]


def _business_demo(engine, demo_password: str, echo) -> None:
    """The demo history of the shipped models: the key-account room, scores, surveys, pay rules,
    the tobacco side, registers and the halls' queues."""
    from engine.ops.demo_key_accounts import seed_key_account_room

    seed_key_account_room(engine, demo_password, echo)
    from engine.ops.room_demo import seed_room_demo  # the room manager's own assessment and target plan

    seed_room_demo(engine, demo_password, echo)
    from engine.ops.pay_demo import seed_pay_demo  # study days, monthly tests, attendance (monthly_pay)

    seed_pay_demo(engine, demo_password, echo)
    from engine.jobs.tobacco_demo import seed_tobacco_demo  # retailer facts, anomaly alerts, needs reviews, visits

    for line in seed_tobacco_demo(engine):
        echo(line)
    from engine.registers.demo import seed_demo_registers  # registers (台账): hand-overs, meetings, visits

    for line in seed_demo_registers(engine, demo_password):
        echo(line)
    from engine.ops.halls_demo import seed_halls_demo  # queue tickets, waiting per hall/hour, congestion alerts

    seed_halls_demo(engine, echo)
    from engine.ops.history_demo import seed_history_demo  # twelve weeks of finished work: every report has rows

    seed_history_demo(engine, echo)
