"""What the pages tell a user after an action: the process's name in the page's language and a
short reference of a case (its business key, else the first characters of its id)."""

from __future__ import annotations

from engine.identity.names import local_name


def process_label(name: str | None, key: str, language: str) -> str:
    """The process's name in ``language``: the Chinese part of a bilingual name on a Chinese page,
    the English part on an English one; a name in one language only is shown as it is."""
    return local_name(name, language) or key


def case_reference(business_key: str | None, instance_id: str, reference: str | None = None) -> str:
    """The reference a clerk can read out: the case's reference (``GH-2026-000123``,
    engine/runtime/references.py), else its business key, else the id's first 8 characters."""
    return reference or business_key or instance_id[:8]
