"""Reading registers (台账): the list of registers, their entries by period and unit, the export.

**Who opens a register** (role check): whoever may start it (makes entries), holds a role of one
of its steps (signs entries), is named in ``register.readers``, manages a unit (hall manager,
duty manager, service-center head, key-account room manager, department manager), or reads
everything (auditors, admins, the vice-president). Anyone else gets 403.

**Which entries they see** (unit check, in the database query): auditors, admins and the
vice-president every entry; managers and the ``register.readers`` roles the entries of their own
unit; department managers those of their unit and the units below it; everyone else the entries
they made or signed. A unit filter outside what the caller reads is refused (403).

**Periods** are China Standard Time days (``2026-12-05``), months (``2026-12``) or years
(``2026``) of the entry's time (the instance start). The export writes every visible entry of
the filter and is audited (``register_exported``).
"""

from __future__ import annotations

import re
from datetime import date, datetime, time

from sqlalchemy import func, or_, select

from engine.clock import LOCAL_TZ
from engine.errors import BadRequest, Forbidden, NotFound
from engine.forms import definitions as formdefs
from engine.forms import lists as option_lists
from engine.identity import policy
from engine.identity.actor import Actor
from engine.registers import is_register, parse_columns, readers
from engine.runtime import definitions
from engine.store.models import OrgUnit, ProcessDefinition, ProcessInstance, Task, User

PER_PAGE = 50
MAX_EXPORT_ROWS = 20000
# managers who read their own unit's registers (policy.MANAGER_ROLES plus the key-account room's manager)
UNIT_READER_ROLES = frozenset({"hall_manager", "duty_manager", "service_center_head", "key_account_manager"})
_PERIOD = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")


# --------------------------------------------------------------------------- periods


def period_bounds(period: str | None) -> tuple[datetime, datetime] | None:
    """UTC-aware [start, end) of a China-time day, month or year; None for no period."""
    if not period:
        return None
    m = _PERIOD.match(period)
    if not m:
        raise BadRequest(f"period {period!r} must be YYYY, YYYY-MM or YYYY-MM-DD")
    try:
        year, month, day = int(m.group(1)), int(m.group(2) or 1), int(m.group(3) or 1)
        first = date(year, month, day)
        if m.group(3):
            last = date.fromordinal(first.toordinal() + 1)
        elif m.group(2):
            last = date(year + (month == 12), month % 12 + 1, 1)
        else:
            last = date(year + 1, 1, 1)
    except ValueError as exc:
        raise BadRequest(f"period {period!r} is not a date: {exc}") from exc
    return (datetime.combine(first, time(), LOCAL_TZ), datetime.combine(last, time(), LOCAL_TZ))


# --------------------------------------------------------------------------- the registers


def _definition(session, key: str) -> ProcessDefinition:
    row = definitions.latest(session, key)
    if row is None or not is_register((row.meta or {}).get("properties")):
        raise NotFound(f"register {key!r} not found")
    return row


def _step_roles(meta: dict) -> set[str]:
    return {g for el in (meta.get("elements") or {}).values() if el.get("type") == "userTask"
            for g in el.get("candidate_groups") or []}


def _reads_all(actor: Actor) -> bool:
    return policy.reads_everything(actor) or "vice_president" in actor.roles


def may_open(actor: Actor, row: ProcessDefinition) -> bool:
    meta = row.meta or {}
    props = meta.get("properties") or {}
    allowed = (set(meta.get("candidate_starter_groups") or []) | _step_roles(meta) | readers(props)
               | UNIT_READER_ROLES | {"department_manager"})
    return _reads_all(actor) or bool(actor.roles & allowed)


def _units_below(session, unit: str) -> set[str]:
    units, frontier = {unit}, {unit}
    while frontier:
        frontier = set(session.execute(select(OrgUnit.key).where(OrgUnit.parent_key.in_(frontier))).scalars()) - units
        units |= frontier
    return units


def readable_units(session, actor: Actor, row: ProcessDefinition) -> set[str] | None:
    """The units whose every entry ``actor`` reads (None: all units)."""
    if _reads_all(actor):
        return None
    if not actor.org_unit:
        return set()
    if "department_manager" in actor.roles:
        return _units_below(session, actor.org_unit)
    if actor.roles & (UNIT_READER_ROLES | readers((row.meta or {}).get("properties"))):
        return {actor.org_unit}
    return set()


def columns_of(row: ProcessDefinition) -> list[dict]:
    return parse_columns(((row.meta or {}).get("properties") or {}).get("register.columns"))


def _form_keys(row: ProcessDefinition) -> list[str]:
    meta = row.meta or {}
    keys = [meta.get("start_form")] + [el.get("form_key") for el in (meta.get("elements") or {}).values()]
    return [k for k in dict.fromkeys(keys) if k]


def _option_labels(session, row: ProcessDefinition) -> dict[str, dict]:
    """``{field: {value: label}}`` of the selects and radios of the process's forms (latest versions)."""
    out: dict[str, dict] = {}

    def walk(components):
        for comp in components or []:
            if comp.get("type") in ("select", "radio", "checklist", "taglist") and comp.get("key"):
                out.setdefault(comp["key"], {}).update(
                    {str(v.get("value")): v.get("label") for v in comp.get("values") or [] if isinstance(v, dict)})
            walk(comp.get("components"))

    for key in _form_keys(row):
        form = formdefs.latest(session, key)
        if form is not None:
            walk((option_lists.resolve(form.content) or {}).get("components"))  # managed lists (optionsList)
    return out


def _sign_elements(session, key: str) -> dict[str, str]:
    """Element id -> name of every signature step (``register.sign``) of any version of ``key``."""
    out: dict[str, str] = {}
    for meta in session.execute(select(ProcessDefinition.meta).where(ProcessDefinition.key == key)).scalars():
        for eid, el in ((meta or {}).get("elements") or {}).items():
            if (el.get("properties") or {}).get("register.sign"):
                out.setdefault(eid, el.get("name") or eid)
    return out


def list_registers(session, actor: Actor) -> list[dict]:
    """The registers the caller may open, with their columns and whether the caller may add entries."""
    out = []
    for row in definitions.list_latest(session):
        meta = row.meta or {}
        if not is_register(meta.get("properties")) or not may_open(actor, row):
            continue
        out.append({"key": row.key, "name": row.name or row.key, "version": row.version, "columns": columns_of(row),
                    "may_add": policy.may_start(actor, meta.get("candidate_starter_groups") or []),
                    "start_form": meta.get("start_form"), "signed": bool(_sign_elements(session, row.key))})
    return out


def _query(session, actor: Actor, row: ProcessDefinition, period: str | None, unit: str | None):
    if not may_open(actor, row):
        raise Forbidden(f"you may not read the register {row.key!r}")
    bounds = period_bounds(period)
    units = readable_units(session, actor, row)
    query = select(ProcessInstance).where(ProcessInstance.process_key == row.key)
    if unit:
        if units is not None and unit not in units and unit != actor.org_unit:
            raise Forbidden(f"you may not read the register entries of org unit {unit!r}")
        query = query.where(ProcessInstance.org_unit == unit)
    if bounds is not None:
        query = query.where(ProcessInstance.started_at >= bounds[0], ProcessInstance.started_at < bounds[1])
    if units is not None:
        took_part = select(Task.instance_id).where(Task.process_key == row.key, Task.completed_by == actor.username)
        visible = or_(ProcessInstance.started_by == actor.username, ProcessInstance.id.in_(took_part))
        if units:
            visible = or_(visible, ProcessInstance.org_unit.in_(sorted(units)))
        query = query.where(visible)
    return query, units


def _display(value, labels: dict | None):
    if labels and isinstance(value, str | int) and str(value) in labels:
        return labels[str(value)]
    if labels and isinstance(value, list):
        return [labels.get(str(v), v) for v in value]
    return value


def _rows(session, row: ProcessDefinition, instances: list[ProcessInstance]) -> list[dict]:
    columns = columns_of(row)
    labels = _option_labels(session, row)
    signs = _sign_elements(session, row.key)
    ids = [i.id for i in instances]
    signatures: dict[str, list] = {}
    if ids and signs:
        for t in session.execute(select(Task.instance_id, Task.element_id, Task.completed_by, Task.completed_at)
                                 .where(Task.instance_id.in_(ids), Task.element_id.in_(sorted(signs)),
                                        Task.status == "completed").order_by(Task.completed_at)):
            signatures.setdefault(t.instance_id, []).append(
                {"element_id": t.element_id, "step": signs[t.element_id], "by": t.completed_by, "at": t.completed_at})
    users = {i.started_by for i in instances} | {s["by"] for v in signatures.values() for s in v}
    names = dict(session.execute(select(User.username, User.display_name).where(User.username.in_(sorted(u for u in users if u))))
                 .all()) if users else {}
    unit_names = dict(session.execute(select(OrgUnit.key, OrgUnit.name)).all())
    out = []
    for inst in instances:
        data = inst.data or {}
        sigs = [{**s, "by_name": names.get(s["by"]) or s["by"]} for s in signatures.get(inst.id, [])]
        out.append({
            "id": inst.id,
            "business_key": inst.business_key,
            "status": inst.status,
            "started_at": inst.started_at,
            "ended_at": inst.ended_at,
            "started_by": inst.started_by,
            "started_by_name": names.get(inst.started_by) or inst.started_by,
            "org_unit": inst.org_unit,
            "org_unit_name": unit_names.get(inst.org_unit) if inst.org_unit else None,
            "values": {c["key"]: _display(data.get(c["key"]), labels.get(c["key"])) for c in columns},
            "signatures": sigs,
        })
    return out


def entries(session, actor: Actor, key: str, period: str | None = None, unit: str | None = None, page: int = 1,
            per_page: int = PER_PAGE) -> dict:
    """One page of the entries the caller may see, newest first."""
    row = _definition(session, key)
    query, units = _query(session, actor, row, period, unit)
    total = session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    page = max(1, page)
    instances = session.execute(query.order_by(ProcessInstance.started_at.desc(), ProcessInstance.id)
                                .offset((page - 1) * per_page).limit(per_page)).scalars().all()
    meta = row.meta or {}
    if units is None:
        unit_keys = None
    else:
        unit_keys = sorted(units | ({actor.org_unit} if actor.org_unit else set()))
    unit_rows = session.execute(select(OrgUnit.key, OrgUnit.name).order_by(OrgUnit.key)).all()
    return {
        "key": row.key,
        "name": row.name or row.key,
        "columns": columns_of(row),
        "signed": bool(_sign_elements(session, row.key)),
        "may_add": policy.may_start(actor, meta.get("candidate_starter_groups") or []),
        "period": period,
        "unit": unit,
        "units": [{"key": k, "name": n} for k, n in unit_rows if unit_keys is None or k in unit_keys],
        "page": page,
        "per_page": per_page,
        "total": total,
        "items": _rows(session, row, instances),
    }


def export(engine, actor: Actor, key: str, period: str | None = None, unit: str | None = None) -> dict:
    """Every visible entry of the filter (at most MAX_EXPORT_ROWS), audited as ``register_exported``."""
    with engine.uow(actor) as uow:
        session = uow.session
        row = _definition(session, key)
        query, _ = _query(session, actor, row, period, unit)
        instances = session.execute(query.order_by(ProcessInstance.started_at, ProcessInstance.id)
                                    .limit(MAX_EXPORT_ROWS + 1)).scalars().all()
        if len(instances) > MAX_EXPORT_ROWS:
            raise BadRequest(f"more than {MAX_EXPORT_ROWS} entries: choose a shorter period or one unit")
        rows = _rows(session, row, instances)
        uow.audit("register_exported", process_key=key, period=period, unit=unit, rows=len(rows))
        return {"key": row.key, "name": row.name or row.key, "columns": columns_of(row),
                "signed": bool(_sign_elements(session, row.key)), "period": period, "unit": unit, "items": rows}
