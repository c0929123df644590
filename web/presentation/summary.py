"""The case summary on the pages (web/templates/_case_summary.html): the engine's sections
(engine/runtime/summary.py) in the page's language."""

from __future__ import annotations

from engine.forms.summary import Section
from engine.runtime import summary
from engine.store.models import ProcessInstance


def case_sections(engine, session, instance_id: str, language: str, skip_element: str | None = None) -> list[Section]:
    """The summary of a case its reader may already see (the caller checked: a task of it, or the
    case itself); ``[]`` when the instance is gone."""
    inst = session.get(ProcessInstance, instance_id)
    if inst is None:
        return []
    return summary.case_summary(engine, session, inst, language=language, skip_element=skip_element)
