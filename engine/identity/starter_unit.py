"""The process property ``starterUnit``: a case that must belong to an org unit.

An instance belongs to the org unit of whoever started it, and its unit-bounded user tasks
(``candidateScope`` ``instance_unit``, the default, and ``parent_unit``) are open to their
roles within that unit only (engine/identity/policy.py). A starter who belongs to no unit
starts an organisation-wide instance, whose unit-bounded tasks are open to the role in every
unit: right for the engine's own organisation-wide starts, wrong for a case that one unit
must decide (a group agreement approved by the hall manager of the hall it was registered
in). Such a process says so on the ``bpmn:process``::

    <camunda:property name="starterUnit" value="hall" />

============== ==========================================================================
``required``   whoever starts it by hand must belong to an org unit
``hall`` ...   ... to an org unit of that kind (``hall``, ``room``, ``department``, ``branch``)
``hall,room``  ... to an org unit of one of those kinds (a group agreement: a service hall
               or a key-account room, 001)
============== ==========================================================================

A start by a user who does not is refused (403) and nothing is stored; the check runs on the
new instance's first step (the ``saved`` hook), so every way a user starts one is covered (the
API, the start page, a message a user sends, a linked start, which takes the unit of the
instance that starts it). The engine's own starts (schedules) keep their own rule
(``schedule.units``).
"""

from __future__ import annotations

from engine.errors import Forbidden
from engine.extensions import DeployContext, Element, Extension
from engine.identity.roles import UNIT_KINDS
from engine.store.models import OrgUnit

PROPERTY = "starterUnit"
VALUES = ("required", *UNIT_KINDS)


def required_kind(properties: dict | None) -> str | None:
    """None: no requirement; ``"required"``: any unit; else the unit kind the starter must be in."""
    return (properties or {}).get(PROPERTY) or None


def _kinds(kind: str) -> list[str]:
    return [k.strip() for k in kind.split(",")]


def check(element: Element, ctx: DeployContext) -> list[str]:
    value = element.properties.get(PROPERTY)
    if value is not None and (value in ("", ",") or any(k not in VALUES for k in _kinds(value))
                              or ("required" in _kinds(value) and value != "required")):
        return [f"{PROPERTY} {value!r} is not one of {', '.join(VALUES)} (or a comma-separated list of unit kinds)"]
    return []


def refusal(session, org_unit: str | None, kind: str) -> str | None:
    """Why an instance of ``org_unit`` may not start under ``starterUnit=kind`` (None: it may)."""
    kinds = " or ".join(repr(k) for k in _kinds(kind))
    if not org_unit:
        what = "an org unit" if kind == "required" else f"an org unit of kind {kinds}"
        return f"only a user who belongs to {what} may start this process (its steps are bounded to the starter's unit)"
    if kind == "required":
        return None
    unit = session.get(OrgUnit, org_unit)
    if unit is None or unit.kind not in _kinds(kind):
        return (f"only a user who belongs to an org unit of kind {kinds} may start this process "
                f"(org unit {org_unit!r} is not one)")
    return None


def _check_new_instance(uow, inst, definition, step) -> None:
    """A new instance started by a user: refused (the whole start rolls back) when its unit does
    not meet the process's ``starterUnit``."""
    if step.previous is not None or inst.started_by == "system":
        return
    kind = required_kind((definition.meta or {}).get("properties"))
    if kind is None:
        return
    why = refusal(uow.session, inst.org_unit, kind)
    if why is not None:
        raise Forbidden(why)


EXTENSION = Extension("starter_unit", properties=(PROPERTY,), kinds=("process",), check=check,
                      saved=_check_new_instance)
