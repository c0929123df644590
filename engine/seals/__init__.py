"""Electronic seal (电子公章): PAdES-signed PDFs of process instances.

Modules: ``templates`` (what can be sealed), ``render`` (reportlab PDF), ``provider`` (the
signing interface) and ``pdfsign`` (pyHanko, the default provider), ``keys`` and
``credentials`` (CA, seal certificates, encrypted PKCS#12), ``images`` (seal images),
``service`` (seal, countersign, verify, documents of an instance), ``admin`` (set-up).

This module stays light: ``engine.runtime.tasks`` calls :func:`on_task_complete` for every task
completion, and the heavy libraries (pyHanko, reportlab, Pillow) are imported only when
a seal is really applied or checked.
"""

from __future__ import annotations

from contextlib import contextmanager

from engine.seals.errors import ReauthenticationRequired, SealRefused

__all__ = ["ReauthenticationRequired", "SealRefused", "on_task_complete", "reauthenticate", "record_refusal",
           "refusals_recorded"]


def on_task_complete(engine, uow, task, inst, spiff_task, cleaned: dict) -> dict:
    """Called by ``tasks.complete`` before anything is written; returns the data to store.

    * a task with the property ``seal=<template>`` seals the instance's document with the
      seal opened by :func:`reauthenticate` before the transaction (``uow.secrets``; without it
      :class:`ReauthenticationRequired` is raised) and adds e.g. ``sealed_document`` to the data;
    * in an instance that holds a sealed document, a task named by a later slot of the
      template (e.g. ``maintain``) adds its incremental signature (``confirmed_document``);
    * any other task: ``cleaned`` unchanged, at the cost of two dictionary look-ups.

    A refusal raises :class:`SealRefused` (403); the caller's unit of work then rolls back,
    so nothing is sealed and the task stays open.
    """
    template_key = (task.properties or {}).get("seal")
    if template_key:
        from engine.seals.service import seal_task

        return seal_task(engine, uow, task, inst, spiff_task, cleaned, template_key)
    if (inst.data or {}).get("sealed_document"):
        from engine.seals.service import later_signature

        return later_signature(engine, uow, task, inst, spiff_task, cleaned)
    return cleaned


def reauthenticate(engine, actor, task_id: str, data: dict) -> dict:
    """The seal PIN, tried before the completion's transaction (see ``engine.runtime.tasks.complete_task``)."""
    from engine.seals.service import reauthenticate as run

    return run(engine, actor, task_id, data)


def record_refusal(engine, refusal: SealRefused) -> None:
    """Audit a refused seal (``seal_failed``; a wrong PIN also counts towards the lock-out)
    in a unit of work of its own, after the refused one has rolled back."""
    from engine.seals.credentials import record_refusal as record

    record(engine, refusal)


@contextmanager
def refusals_recorded(engine):
    """For callers outside the web layer: ``with refusals_recorded(engine): with engine.uow(...)``."""
    try:
        yield
    except SealRefused as exc:
        record_refusal(engine, exc)
        raise
