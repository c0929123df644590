"""Registers (台账): the paper books of the halls kept as processes.

A register is a process whose start form is the entry form: every entry is one short instance
(it completes at once, or after a second party signs it). The sources keep these on paper today:
the invoice and receipt hand-over with signatures (001 「营业厅应做好发票及收据的收、发登记工作,
并与收发环节有交接签收手续」), the customer managers' visit book (001 「客户经理应认真填写日工作计划本
及客户经理出访登记本」), the morning-meeting minutes (001 「每个参会人员做好会议记录」) and the group
agreements' register (001 「集团客户部每月做好集团协议的收、发、存盘点工作」).

Any process becomes a register by its ``camunda:properties`` (this module's :data:`EXTENSION`
owns them and checks them at deploy):

===================== ======== ===========================================================
``register``          process  ``true``: the instances of this process are listed as a register
``register.columns``  process  the list's columns from the instance data,
                               ``key=中文标题|English title`` separated by commas (at most 12)
``register.readers``  process  roles that read the whole register of their own org unit
                               (besides managers, department managers, auditors ...)
``register.sign``     userTask ``password``: the step is a signature; its completer types their
                               own password again (form field ``sign_password``, a secret) and
                               may not be the one who made the entry (a hand-over needs two people)
===================== ======== ===========================================================

The list, its filters, the export and who reads what are in :mod:`engine.registers.service`.
"""

from __future__ import annotations

from engine.errors import ValidationFailed
from engine.extensions import Completion, DeployContext, Element, Extension
from engine.identity.roles import ROLES
from engine.runtime.references import parse_titled_keys

FLAG = "register"
COLUMNS = "register.columns"
READERS = "register.readers"
SIGN = "register.sign"
PROCESS_KEYS = (FLAG, COLUMNS, READERS)
SIGN_KINDS = ("password",)
PASSWORD_FIELD = "sign_password"  # the secret field of a signature step's form
MAX_COLUMNS = 12


def parse_columns(raw: str | None) -> list[dict]:
    """``[{key, zh, en}]`` from ``register.columns``; raises ValueError naming the bad part."""
    return parse_titled_keys(raw, titles_required=True, limit=MAX_COLUMNS, noun="column ")


def is_register(properties: dict | None) -> bool:
    return (properties or {}).get(FLAG) == "true"


def readers(properties: dict | None) -> frozenset[str]:
    return frozenset(filter(None, (r.strip() for r in (properties or {}).get(READERS, "").split(","))))


def check(element: Element, ctx: DeployContext) -> list[str]:
    props = element.properties
    problems: list[str] = []
    if element.kind == "process":
        if SIGN in props:
            problems.append(f"{SIGN} belongs on a user task (the signature step), not on the process")
        flag = props.get(FLAG)
        if flag is not None and flag not in ("true", "false"):
            problems.append(f"{FLAG} must be true or false, not {flag!r}")
        if (COLUMNS in props or READERS in props) and flag != "true":
            problems.append(f"{COLUMNS} and {READERS} need {FLAG}=true")
        if COLUMNS in props:
            try:
                if not parse_columns(props[COLUMNS]):
                    problems.append(f"{COLUMNS} lists no column")
            except ValueError as exc:
                problems.append(f"{COLUMNS}: {exc}")
        unknown = sorted(r for r in readers(props) if r not in ROLES)
        if unknown:
            problems.append(f"{READERS} names unknown roles: {', '.join(unknown)}")
    else:
        wrong = [k for k in PROCESS_KEYS if k in props]
        if wrong:
            problems.append(f"{', '.join(wrong)} belong on the process, not on a {element.kind}")
        if SIGN in props and props[SIGN] not in SIGN_KINDS:
            problems.append(f"{SIGN} must be one of {', '.join(SIGN_KINDS)}, not {props[SIGN]!r}")
    return problems


def _completing(ctx: Completion) -> dict:
    """A signature step: the completer is not the one who made the entry, and types their own
    password (the form's secret ``sign_password``, handed over in ``uow.secrets``)."""
    if (ctx.task.properties or {}).get(SIGN) != "password":
        return ctx.data
    from engine.identity.signature import SignatureRefused, check_password

    actor = ctx.uow.actor
    where = {"instance_id": ctx.inst.id, "task_id": ctx.task.id, "element_id": ctx.task.element_id}
    if ctx.inst.started_by == actor.username:
        raise SignatureRefused("the one who made the entry cannot also sign for the other side: a hand-over needs "
                               "two people", actor=actor, reason="same_person", where=where, count=False)
    password = ctx.uow.secrets.get(PASSWORD_FIELD)
    if not password:
        raise ValidationFailed("the signature needs your password", {PASSWORD_FIELD: ["required"]})
    check_password(ctx.uow, actor, password, where)
    ctx.uow.audit("register_signed", signer=actor.username, process_key=ctx.inst.process_key, **where)
    return ctx.data


EXTENSION = Extension("registers", properties=(FLAG, "register."), kinds=("process", "userTask"), check=check,
                      task_completing=_completing)
