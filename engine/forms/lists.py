"""Managed option lists: a select's options kept as data, not written into the form.

A form-js select (or radio, checklist, taglist) names a list in its custom properties::

    {"type": "select", "key": "brand", "values": [], "properties": {"optionsList": "brands"}}

and every time the form is rendered or checked (task page, start page, the server's
validation of a submission, ``GET /api/forms/<id>?lists=current``) its ``values`` are the
list's current entries; ``GET /api/forms/<id>`` alone returns the form as deployed. The
lists are JSON files ``<name>.json`` (``{"name", "label_zh", "label_en", "values": [{label,
value}]}``): the packaged ones in ``engine/forms/data/``, or those in the directory named by
``BPM_LISTS_DIR`` (a file there replaces the packaged list of the same name). A file is read
again when it changes (its modification time), so a new brand needs no new form version.

Values are stable identifiers: a value removed from a list is refused for new submissions
(``Not a valid choice``); a value stored in earlier instances keeps its meaning.
"""

from __future__ import annotations

import copy
import functools
import json
import os
import re
from pathlib import Path

PACKAGED = Path(__file__).resolve().parent / "data"
PROPERTY = "optionsList"
NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_OPTION_TYPES = ("select", "radio", "checklist", "taglist")


class ListError(ValueError):
    """A list file that cannot be read or is malformed; the message names the file."""


def _path(name: str) -> Path | None:
    if not NAME_RE.match(name or ""):
        return None
    override = os.environ.get("BPM_LISTS_DIR")
    if override:
        candidate = Path(override) / f"{name}.json"
        if candidate.is_file():
            return candidate
    candidate = PACKAGED / f"{name}.json"
    return candidate if candidate.is_file() else None


@functools.lru_cache(maxsize=32)
def _read(path: str, mtime_ns: int) -> tuple[dict, ...]:
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ListError(f"{path}: cannot read the option list: {exc}") from None
    values = raw.get("values") if isinstance(raw, dict) else None
    if not isinstance(values, list) or not values:
        raise ListError(f"{path}: 'values' must be a non-empty list of {{label, value}} objects")
    seen: set = set()
    out = []
    for i, entry in enumerate(values):
        if not (isinstance(entry, dict) and isinstance(entry.get("label"), str) and entry["label"].strip()
                and isinstance(entry.get("value"), str) and entry["value"].strip()):
            raise ListError(f"{path}: values[{i}]: expected {{label, value}} with non-empty strings")
        if entry["value"] in seen:
            raise ListError(f"{path}: values[{i}]: duplicate value {entry['value']!r}")
        seen.add(entry["value"])
        out.append({"label": entry["label"], "value": entry["value"]})
    return tuple(out)


def exists(name: str) -> bool:
    return _path(name) is not None


def entries(name: str) -> list[dict]:
    """The list's ``[{label, value}]`` as it is now; ListError when unknown or malformed."""
    path = _path(name)
    if path is None:
        raise ListError(f"unknown option list {name!r}")
    return [dict(e) for e in _read(str(path), path.stat().st_mtime_ns)]


def named(comp: dict) -> str | None:
    props = comp.get("properties")
    value = props.get(PROPERTY) if isinstance(props, dict) else None
    return value if isinstance(value, str) else None


def _walk(components):
    for comp in components or ():
        if isinstance(comp, dict):
            yield comp
            yield from _walk(comp.get("components"))


def uses_lists(content: dict | None) -> bool:
    return isinstance(content, dict) and any(named(c) for c in _walk(content.get("components")))


def check(comp: dict) -> str | None:
    """Deploy-time message for a component's ``optionsList`` (None when fine or absent)."""
    name = named(comp)
    props = comp.get("properties")
    if name is None and not (isinstance(props, dict) and PROPERTY in props):
        return None
    if comp.get("type") not in _OPTION_TYPES:
        return f"'{PROPERTY}' belongs on a {', '.join(_OPTION_TYPES)}"
    if name is None or not exists(name):
        return f"unknown option list {props.get(PROPERTY)!r} (a file <name>.json in engine/forms/data or BPM_LISTS_DIR)"
    try:
        entries(name)
    except ListError as exc:
        return str(exc)
    return None


def resolve(content: dict | None) -> dict | None:
    """``content`` with the current entries of every named list as its selects' ``values``
    (a copy; the argument is never changed). Content naming no list is returned as is."""
    if not uses_lists(content):
        return content
    out = copy.deepcopy(content)
    for comp in _walk(out.get("components")):
        name = named(comp)
        if name:
            try:
                comp["values"] = entries(name)
            except ListError:
                pass  # a list removed after deploy: the form keeps the values it was deployed with
    return out
