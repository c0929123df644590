"""A case's summary for its task pages and its case page: the application and every completed
step, each as the labelled values of its own form (engine/forms/summary.py).

* the application: the start form's fields over the data the instance was started with (the
  ``instance_started`` audit record; the instance's data when there is none), by its starter;
* every completed task, in the order they were completed: its form (the version it ran with)
  over what it submitted, by whoever completed it.

The caller has already checked that its reader may see the instance (a task page: the task's
candidates and holder, who may read its instance; the case page: ``get_readable``).
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select

from engine.forms import definitions as formdefs
from engine.forms import lists as option_lists
from engine.forms import summary as presenter
from engine.identity.names import local_name, person_name
from engine.runtime import definitions
from engine.store.models import AuditEvent, Document, FormDefinition, OrgUnit, ProcessInstance, Task, User, UserRole


def _start_form(engine, session, key: str, inst: ProcessInstance) -> dict | None:
    """The start form's version the instance was started with (the latest deployed by then)."""
    row = session.execute(
        select(FormDefinition.version).where(FormDefinition.form_key == key,
                                             FormDefinition.deployed_at <= inst.started_at)
        .order_by(FormDefinition.version.desc()).limit(1)
    ).scalar_one_or_none()
    if row is not None:
        return formdefs.form_content(engine, session, key, row)
    latest = formdefs.latest(session, key)
    return option_lists.resolve(latest.content) if latest is not None else None


def _start_data(session, inst: ProcessInstance) -> dict:
    details = session.execute(
        select(AuditEvent.details).where(AuditEvent.instance_id == inst.id, AuditEvent.action == "instance_started")
        .order_by(AuditEvent.seq).limit(1)
    ).scalar_one_or_none()
    data = details.get("data") if isinstance(details, dict) else None
    return data if isinstance(data, dict) else dict(inst.data or {})


def _people(session, usernames: set[str], language: str) -> dict[str, str]:
    """username -> the name a page in ``language`` shows (engine/identity/names.py)."""
    if not usernames:
        return {}
    users = session.execute(select(User.id, User.username, User.display_name)
                            .where(User.username.in_(usernames))).all()
    roles: dict[int, list[str]] = {}
    for user_id, role in session.execute(select(UserRole.user_id, UserRole.role)
                                         .where(UserRole.user_id.in_([u.id for u in users]))).all():
        roles.setdefault(user_id, []).append(role)
    return {u.username: person_name(u.display_name, u.username, roles.get(u.id, ()), language) for u in users}


def case_summary(engine, session, inst: ProcessInstance, *, language: str = "zh-CN", skip_element: str | None = None,
                 translate: Callable[[str], str] | None = None) -> list[presenter.Section]:
    """The sections of ``inst``'s summary, oldest first; ``skip_element``: leave out the completed
    rounds of that step (a task page that shows them as its earlier rounds)."""
    definition = definitions.by_id(engine, session, inst.definition_id)
    parts: list[tuple[presenter.Section, dict | None, dict]] = []
    start_key = (definition.meta or {}).get("start_form")
    if start_key:
        parts.append((presenter.Section("start", None, inst.started_by, None, inst.started_at),
                      _start_form(engine, session, start_key, inst), _start_data(session, inst)))
    steps = session.execute(
        select(Task).where(Task.instance_id == inst.id, Task.status == "completed").order_by(Task.completed_at, Task.id)
    ).scalars().all()
    for task in steps:
        if skip_element and task.element_id == skip_element:
            continue
        form = (formdefs.form_content(engine, session, task.form_key, task.form_version)
                if task.form_key and task.form_version else None)
        parts.append((presenter.Section("task", task.name or task.element_id, task.completed_by, None,
                                        task.completed_at, task.element_id), form, task.submitted or {}))
    doc_ids = list(dict.fromkeys(d for _, form, data in parts for d in presenter.document_ids(form, data)))
    docs = {d.id: presenter.DocRef(d.id, d.filename, d.content_type) for d in session.execute(
        select(Document).where(Document.id.in_(doc_ids))).scalars()} if doc_ids else {}
    usernames = {s.by for s, _, _ in parts if s.by} | set().union(
        *[presenter.people_values(form, data) for _, form, data in parts])
    people = _people(session, usernames, language)
    # org unit keys typed into a form (the congestion alert's 营业厅) read as the unit's name
    people.update({key: local_name(name, language) for key, name in session.execute(select(OrgUnit.key, OrgUnit.name))})
    out = []
    for section, form, data in parts:
        section.by_name = people.get(section.by) or section.by
        section.title = local_name(section.title, language) if section.title else None
        section.values = presenter.present(form, data, language=language, documents=docs, people=people,
                                           translate=translate)
        out.append(section)
    return out
