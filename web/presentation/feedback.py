"""What the pages tell a user after an action: the process's name in the page's language and a
short reference of a case (its business key, else the first characters of its id)."""

from __future__ import annotations

import re

# "一台清 One counter clears it": the Chinese name, then the English one (the models' convention)
_BILINGUAL = re.compile(r"^(?P<zh>[^A-Za-z]*[\u4e00-\u9fff][^A-Za-z]*?)\s+(?P<en>[A-Za-z].*)$")


def process_label(name: str | None, key: str, language: str) -> str:
    """The process's name in ``language``: the Chinese part of a bilingual name on a Chinese page,
    the English part on an English one; a name in one language only is shown as it is."""
    if not name:
        return key
    match = _BILINGUAL.match(name.strip())
    if not match:
        return name
    return match.group("zh").strip() if language.startswith("zh") else match.group("en").strip()


def case_reference(business_key: str | None, instance_id: str, reference: str | None = None) -> str:
    """The reference a clerk can read out: the case's reference (``GH-2026-000123``,
    engine/runtime/references.py), else its business key, else the id's first 8 characters."""
    return reference or business_key or instance_id[:8]
