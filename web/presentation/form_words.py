"""A form-js schema in the page's language.

Forms carry their words in Chinese and English: a component's ``label``, ``description``,
``text`` (a text view), ``dateLabel`` / ``timeLabel`` and option labels hold the Chinese, with
the English after it in the same string ("客户姓名 Customer name") or explicitly in the
component's ``properties`` (``label.en``, ``description.en``, ...). The page shows one language
(engine/identity/names.py); the schema's keys, ids and rules are untouched.
"""

from __future__ import annotations

import copy
import re

from engine.identity.names import local_name, split_name

_CJK = re.compile(r"[\u3400-\u9fff]")
_LATIN = re.compile(r"[A-Za-z]{2,}")

# field -> English words needed after the Chinese before they count as its English (a description's
# "格式：YYYY-MM" is not English; a label's "复核 Check" is)
WORDED = {"label": 1, "dateLabel": 1, "timeLabel": 1, "description": 2, "text": 2}


def localize_schema(schema: dict | None, language: str) -> dict | None:
    """A copy of ``schema`` whose words are in ``language`` only."""
    if not isinstance(schema, dict):
        return schema
    out = copy.deepcopy(schema)
    _walk(out.get("components"), language)
    return out


def _words(text, english, language: str, min_words: int):
    if not isinstance(text, str):
        return text
    zh, en = split_name(text, english if isinstance(english, str) else None, min_words)
    return en if (language or "").lower().startswith("en") else zh


def _english_only(text) -> bool:
    return isinstance(text, str) and bool(_LATIN.search(text)) and not _CJK.search(text)


def _walk(components, language: str) -> None:
    english_page = (language or "").lower().startswith("en")
    for c in components or ():
        if not isinstance(c, dict):
            continue
        props = c.get("properties") if isinstance(c.get("properties"), dict) else {}
        english_only = _english_only(c.get("description")) and _CJK.search(str(c.get("label") or ""))
        for field, min_words in WORDED.items():
            if field in c:
                c[field] = _words(c[field], props.get(f"{field}.en"), language, min_words)
            elif english_page and isinstance(props.get(f"{field}.en"), str):
                c[field] = props[f"{field}.en"]  # English only (a Chinese label explains enough on a Chinese page)
        if english_only and not english_page:
            c.pop("description")  # a Chinese label's English-only description is its English: not on a Chinese page
        for option in c.get("values") or ():
            if isinstance(option, dict) and isinstance(option.get("label"), str):
                option["label"] = local_name(option["label"], language)
        _walk(c.get("components"), language)
