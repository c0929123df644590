"""The case summary: what a form's data says, as its reader sees it.

A decider needs the application and the earlier steps' answers in front of them, not the
data's keys: ``present(form, data)`` turns one form's data into ``Value`` rows in the form's
order, with the form's labels, and

* a choice (select, radio, checklist, taglist) as its option label (``furongwang`` -> 芙蓉王;
  a choice bound to a data key, e.g. a user picked from ``options.*``, through ``people``);
* a checkbox (or any boolean) as 是/否 (Yes/No in English);
* a date as ``2026-11-23``, a date-time in China time (``2026-11-23 14:30``), a time as typed;
* a file picker's document ids as documents ``{id, name, content_type}`` (``documents``);
* a dynamic list as a small table: its columns' labels and one row per entry
  (the brand / specification / quantity lines of a supply request);
* a group's fields by their own labels.

Never shown: secret fields (``properties.secret``, e.g. a seal PIN), keys starting with ``_``,
empty values, display-only components, and data the form does not name (engine variables).
Labels come from the form (Chinese). A label or option label written ``中文|English`` shows the
part of the page's language; an English page also reads ``properties["label.en"]`` (or
``label_en``) of a component when the form carries one, else ``translate`` (a phrase book),
else the Chinese label. Pure data: no database, no web.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from engine.clock import LOCAL_TZ
from engine.forms import order
from engine.forms.model import FormDefinitionError, FormField, form_fields, is_secret

__all__ = ["DocRef", "Table", "Value", "Section", "present", "document_ids", "people_values", "yes_no"]

_SKIPPED = frozenset({"expression"})
IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})


@dataclass(frozen=True)
class DocRef:
    """A document named in the data: its id, file name and type (None when it is gone)."""

    id: str
    name: str
    content_type: str | None = None
    exists: bool = True

    @property
    def is_image(self) -> bool:
        return self.content_type in IMAGE_TYPES

    @property
    def is_pdf(self) -> bool:
        return self.content_type == "application/pdf"


@dataclass
class Table:
    """A dynamic list: its columns' labels and one row of cells per entry."""

    columns: list[str]
    rows: list[list[Value]]


@dataclass
class Value:
    """One labelled value: ``text`` for plain values, ``documents`` for a file picker,
    ``table`` for a dynamic list (exactly one of them is set)."""

    key: str
    label: str
    text: str | None = None
    documents: list[DocRef] = field(default_factory=list)
    table: Table | None = None


@dataclass
class Section:
    """One step of a case: the application (``kind="start"``) or a completed task."""

    kind: str  # "start" | "task"
    title: str | None
    by: str | None
    by_name: str | None
    at: datetime | None
    element_id: str | None = None
    values: list[Value] = field(default_factory=list)


def _english(language: str) -> bool:
    return language.lower().startswith("en")


def yes_no(value: bool, language: str) -> str:
    if _english(language):
        return "Yes" if value else "No"
    return "是" if value else "否"


def _separator(language: str) -> str:
    return ", " if _english(language) else "、"


def _bilingual(text: str, language: str) -> str:
    """A label written ``中文|English`` (the explicit shape of engine/identity/names.py) in ``language``."""
    if "|" not in text:
        return text
    zh, _, en = text.partition("|")
    zh, en = zh.strip(), en.strip()
    return (en or zh) if _english(language) else (zh or en)


def _label(f: FormField, language: str, translate: Callable[[str], str] | None) -> str:
    base = _bilingual(f.label or f.key, language)
    if _english(language) and "|" not in (f.label or ""):
        props = f.comp.get("properties")
        if isinstance(props, dict):
            for name in ("label.en", "label_en"):
                if isinstance(props.get(name), str) and props[name].strip():
                    return props[name].strip()
        if translate is not None and f.label:
            return translate(f.label) or base
    return base


def _number(value: int | float) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    try:
        return format(Decimal(str(value)).normalize(), "f")
    except InvalidOperation:
        return str(value)


def _date_text(f: FormField, value: str) -> str:
    subtype = f.comp.get("subtype", "date")
    if subtype == "datetime":
        parsed = order.parse(value)
        return parsed.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M") if parsed else value
    return value


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


class _Presenter:
    def __init__(self, language: str, documents: Mapping[str, Any] | None, people: Mapping[str, str] | None,
                 translate: Callable[[str], str] | None) -> None:
        self.language, self.translate = language, translate
        self.documents, self.people = documents or {}, people or {}

    def option(self, f: FormField, value: Any) -> str:
        if isinstance(value, bool):
            return yes_no(value, self.language)
        if f.options and str(value) in f.options:
            label = f.options[str(value)]
            if "|" in label:
                return _bilingual(label, self.language)
            return (self.translate(label) or label) if self.translate is not None and _english(self.language) else label
        if f.values_key and isinstance(value, str):
            return self.people.get(value, value)
        return _number(value) if isinstance(value, int | float) else str(value)

    def text(self, f: FormField, value: Any) -> str:
        if isinstance(value, bool):
            return yes_no(value, self.language)
        if f.type in ("select", "radio", "checklist", "taglist"):
            items = value if isinstance(value, list) else [value]
            return _separator(self.language).join(self.option(f, v) for v in items if not _empty(v))
        if f.type == "datetime" and isinstance(value, str):
            return _date_text(f, value)
        if isinstance(value, int | float):
            return _number(value)
        if isinstance(value, list):
            return _separator(self.language).join(self.text(f, v) for v in value if not _empty(v))
        if isinstance(value, dict):
            return "；".join(f"{k}: {self.text(f, v)}" for k, v in value.items() if not str(k).startswith("_"))
        # a text that is a known login name or org unit key reads as the name ("hall-1" -> 中心营业厅)
        return self.people.get(value, str(value)) if isinstance(value, str) else str(value)

    def docs(self, value: Any) -> list[DocRef]:
        ids = value if isinstance(value, list) else [value]
        out = []
        for doc_id in ids:
            if not isinstance(doc_id, str):
                continue
            known = self.documents.get(doc_id)
            if isinstance(known, DocRef):
                out.append(known)
            elif isinstance(known, Mapping):
                out.append(DocRef(doc_id, str(known.get("name") or known.get("filename") or doc_id),
                                  known.get("content_type")))
            else:
                out.append(DocRef(doc_id, "(missing file)" if _english(self.language) else "（文件不存在）", exists=False))
        return out

    def value(self, f: FormField, raw: Any) -> Value:
        label = _label(f, self.language, self.translate)
        if f.type == "filepicker":
            return Value(f.path, label, documents=self.docs(raw))
        if f.type == "dynamiclist":
            return Value(f.path, label, table=self.table(f, raw))
        return Value(f.path, label, text=self.text(f, raw))

    def table(self, f: FormField, rows: Any) -> Table:
        columns = [c for c in f.columns if c.type not in _SKIPPED and not is_secret(c.comp)
                   and not c.key.startswith("_")]
        out = Table([_label(c, self.language, self.translate) for c in columns], [])
        for row in rows if isinstance(rows, list) else []:
            row = row if isinstance(row, dict) else {}
            cells = []
            for c, label in zip(columns, out.columns, strict=True):
                raw = _lookup(row, c.key)
                cells.append(Value(c.path, label, text="") if _empty(raw) else self.value(c, raw))
            out.rows.append(cells)
        return out


def _lookup(data: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(data, dict) or part not in data:
            return None
        data = data[part]
    return data


def _shown(form: dict | None) -> list[FormField]:
    """The form's fields a summary shows at the top (dynamic lists' columns are in their tables)."""
    if not form:
        return []
    try:
        every = form_fields(form)
    except FormDefinitionError:
        return []
    return [f for f in every if "[]" not in f.path and f.type not in _SKIPPED and not is_secret(f.comp)
            and not any(part.startswith("_") for part in f.path.split("."))]


def present(form: dict | None, data: Mapping[str, Any] | None, *, language: str = "zh-CN",
            documents: Mapping[str, Any] | None = None, people: Mapping[str, str] | None = None,
            translate: Callable[[str], str] | None = None) -> list[Value]:
    """``data`` as the labelled values of ``form``, in the form's order; empty values left out.

    ``documents``: document id -> ``DocRef`` or ``{name, content_type}``; ``people``: username ->
    shown name (a choice bound to a data key); ``translate``: a Chinese label -> its English text
    on an English page."""
    presenter = _Presenter(language, documents, people, translate)
    out = []
    for f in _shown(form):
        raw = _lookup(dict(data or {}), f.path)
        if _empty(raw):
            continue
        out.append(presenter.value(f, raw))
    return out


def document_ids(form: dict | None, data: Mapping[str, Any] | None) -> list[str]:
    """Every document id the summary of ``data`` would show (file pickers, also in list rows)."""
    out: list[str] = []
    for f in _shown(form):
        raw = _lookup(dict(data or {}), f.path)
        if f.type == "filepicker":
            out += [d for d in (raw if isinstance(raw, list) else [raw]) if isinstance(d, str)]
        elif f.type == "dynamiclist" and isinstance(raw, list):
            pickers = [c for c in f.columns if c.type == "filepicker"]
            for row in raw:
                for c in pickers:
                    cell = _lookup(row, c.key)
                    out += [d for d in (cell if isinstance(cell, list) else [cell]) if isinstance(d, str)]
    return list(dict.fromkeys(out))


def people_values(form: dict | None, data: Mapping[str, Any] | None) -> set[str]:
    """The values of choices bound to a data key (``valuesKey``: usernames from ``options.*``)."""
    out: set[str] = set()
    for f in _shown(form):
        if f.values_key:
            raw = _lookup(dict(data or {}), f.path)
            out |= {v for v in (raw if isinstance(raw, list) else [raw]) if isinstance(v, str)}
    return out
