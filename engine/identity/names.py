"""Names in two languages kept in one stored string, shown in one language.

Units, users, processes, tasks and forms carry a Chinese and an English name. They are stored
in the one name column they have (no second column), in any of these shapes:

* ``"中心营业厅|Central service hall"`` - explicit: Chinese, a bar, English;
* ``"营业员 (Counter staff)"`` or ``"营业员（Counter staff）"`` - English in brackets after the Chinese;
* ``"中心营业厅 Central service hall"`` - the English after the last Chinese character.

:func:`split_name` takes one apart; :func:`local_name` is what a page shows for its language:
one of the two, never both glued together. A name without Chinese characters, or without an
English part, is the same in both languages. A model may also name its English explicitly
(``camunda:properties`` ``name.en``): pass it as ``english`` and it wins over the stored string.
"""

from __future__ import annotations

import re

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_CLOSERS = re.compile("[。，、；：！？）」』》】〕…”’]")  # punctuation that ends the Chinese part
_LATIN = re.compile(r"[A-Za-z]{2}")  # a word, not a letter: "（002 A–D）" is no English name
_TITLE = re.compile(r"[A-Z][a-z]{2,}[.?!]?")  # one English word: "Topic", "Remarks" (not "YYYY-MM", "kg")


def split_name(text: str | None, english: str | None = None, min_words: int = 1) -> tuple[str, str]:
    """``(chinese, english)`` of a stored name (see the module docstring for the shapes). A trailing
    Latin part counts as the English name from ``min_words`` words on (a description's "格式：YYYY-MM"
    keeps its format with ``min_words=2``)."""
    text = (text or "").strip()
    english = (english or "").strip()
    if "|" in text:
        zh, _, en = text.partition("|")
        zh, en = zh.strip(), en.strip()
        return zh or en, english or en or zh
    last = None
    for match in _CJK.finditer(text):
        last = match.end()
    if last is None:  # no Chinese at all: the same words in both languages
        return text, english or text
    while last < len(text) and _CLOSERS.match(text[last]):
        last += 1
    zh, rest = text[:last].strip(), text[last:].strip()
    if len(rest) >= 2 and rest[0] in "(（" and rest[-1] in ")）":
        rest = rest[1:-1].strip()
    words = sum(1 for w in rest.split() if _LATIN.search(w))
    if not words or (words < min_words and not _TITLE.fullmatch(rest)):  # no English after the Chinese
        return text, english or text
    return zh, english or rest


def join_name(name: str | None, english: str | None) -> str | None:
    """The one stored string of a name drawn in Chinese with its English given apart (a model's
    ``name`` and ``name.en``): ``中文|English``, read back by :func:`split_name`; the name alone
    when there is no other English, the English alone when nothing was drawn."""
    name, english = (name or "").strip(), (english or "").strip()
    if name and english and english != name:
        return f"{name}|{english}"
    return name or english or None


def local_name(text: str | None, language: str = "zh-CN", english: str | None = None) -> str:
    """The name as a page in ``language`` shows it: the English one on an English page, else the Chinese one."""
    zh, en = split_name(text, english)
    return en if (language or "").lower().startswith("en") else zh


def person_name(display_name: str | None, username: str, roles=(), language: str = "zh-CN") -> str:
    """A user as people read them: the display name in ``language``; a user whose display name
    is only the username (the default) reads as their roles ("营业员"), so that a Chinese page
    shows no login names; a user without roles as the username."""
    from engine.identity.roles import ROLES

    if display_name and display_name.strip() != username:
        return local_name(display_name, language)
    english = (language or "").lower().startswith("en")
    names = [ROLES[r][1 if english else 0] for r in sorted(roles or ()) if r in ROLES]
    return (", " if english else "、").join(names) or username


def people_options(rows) -> list[dict]:
    """Select options for people, from ``(username, display_name)`` rows: labelled by the Chinese
    display name (people's names are Chinese; a picker is data, not page words), the username
    added only where two people read the same; valued by username; sorted by label."""
    labels = [split_name(display or username)[0] for username, display in rows]
    shared = {label for label in labels if labels.count(label) > 1}
    options = [{"label": f"{label}（{username}）" if label in shared else label, "value": username}
               for (username, _display), label in zip(rows, labels, strict=True)]
    return sorted(options, key=lambda o: (o["label"], o["value"]))


def local_label(text: str | None, language: str = "zh-CN") -> str | None:
    """:func:`local_name` of each part of a composed label ("一台清 One counter clears it / 证件")."""
    if not text:
        return text
    return " / ".join(local_name(part, language) for part in text.split(" / "))
