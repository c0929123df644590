"""Electronic seal (电子公章): PAdES-signed PDFs of process instances.

Modules: ``templates`` (what can be sealed), ``render`` (reportlab PDF), ``provider`` (the
signing interface) and ``pdfsign`` (pyHanko, the default provider), ``keys`` and
``credentials`` (CA, seal certificates, encrypted PKCS#12), ``images`` (seal images),
``service`` (seal, countersign, verify, documents of an instance), ``admin`` (set-up).

The seal is an extension of the runtime (:data:`EXTENSION`): a user task with the property
``seal=<template>`` seals the instance's document, later steps named by the template add
their signatures. This module stays light: the heavy libraries (pyHanko, reportlab, Pillow)
are imported only when a seal is really applied or checked.
"""

from __future__ import annotations

from engine.extensions import Completion, DeployContext, Element, Extension, PreparationRequired
from engine.seals.errors import SealRefused

__all__ = ["EXTENSION", "SealRefused", "configure"]


def _check(element: Element, ctx: DeployContext) -> list[str]:
    from engine.errors import Conflict
    from engine.seals.templates import template

    try:
        template(element.properties.get("seal") or "")
    except Conflict as exc:
        return [exc.message]
    return []


def _completing(ctx: Completion) -> dict:
    """Before anything is written; returns the data to store.

    * a task with the property ``seal=<template>`` seals the instance's document with the seal
      opened by :func:`_prepare` before the transaction (asked for with PreparationRequired) and
      adds e.g. ``sealed_document`` to the data;
    * in an instance that holds a sealed document, a task named by a later slot of the
      template (e.g. ``maintain``) adds its incremental signature (``confirmed_document``);
    * any other task: the data unchanged, at the cost of two dictionary look-ups.

    A refusal raises :class:`SealRefused` (403): the unit of work rolls back, so nothing is
    sealed and the task stays open.
    """
    template_key = (ctx.task.properties or {}).get("seal")
    if template_key:
        from engine.seals.service import UNLOCKED, seal_task

        if UNLOCKED not in ctx.uow.secrets:
            raise PreparationRequired(EXTENSION.name)
        return seal_task(ctx.engine, ctx.uow, ctx.task, ctx.inst, ctx.spiff_task, ctx.data, template_key)
    if (ctx.inst.data or {}).get("sealed_document"):
        from engine.seals.service import later_signature

        return later_signature(ctx.engine, ctx.uow, ctx.task, ctx.inst, ctx.spiff_task, ctx.data)
    return ctx.data


def configure(seals) -> None:
    """The seal settings of this process (``Settings.seals``): font, provider, time-stamping."""
    from engine.seals import fonts, provider

    fonts.configure(seals.font)
    provider.configure(seals)


def _submitted(task, data: dict) -> dict:
    """The SHA-256 of the previewed document (``seal_document_sha256``) travels with a seal
    step's submission but is no form field: it is taken out before the form is validated
    (:func:`_prepare` reads it from the raw submission)."""
    if isinstance(data, dict) and "seal_document_sha256" in data:
        from engine.seals.service import without_fingerprint

        return without_fingerprint(data)
    return data


def _prepare(engine, actor, task_id: str, data: dict) -> dict:
    """The seal PIN, tried before the completion's transaction."""
    from engine.seals.service import reauthenticate

    return reauthenticate(engine, actor, task_id, data)


EXTENSION = Extension("seal", properties=("seal",), check=_check, task_submitted=_submitted, task_completing=_completing,
                      prepare=_prepare)
