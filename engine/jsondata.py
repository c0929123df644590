"""Bounds of the JSON the engine accepts and keeps: nesting depth and size.

Every JSON request body is refused when nested deeper than ``MAX_DEPTH`` (checked on the
text, before parsing: a body nested ~1,000 deep would exhaust the parser's and every later
reader's recursion), and what scripts leave is held to the same depth.
"""

from __future__ import annotations

import json
import re

import orjson

MAX_DEPTH = 64
_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')


class TooDeep(ValueError):
    """A JSON text nested deeper than ``MAX_DEPTH`` (a ValueError: parsers report it as bad JSON)."""


def check_depth(text: str | bytes, limit: int = MAX_DEPTH) -> None:
    """Raise :class:`TooDeep` when ``text`` nests arrays/objects deeper than ``limit``."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    if text.count("[") + text.count("{") <= limit:
        return
    depth = 0
    for match in _TOKENS.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            if depth > limit:
                raise TooDeep(f"JSON is nested deeper than {limit} levels")
        elif token in "]}":
            depth -= 1


def json_size(value) -> int:
    """Bytes of ``value`` as compact UTF-8 JSON (how instance data is measured against its limit)."""
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str).encode("utf-8"))


def encode(value, default=None, option: int = 0) -> bytes:
    """``value`` as compact UTF-8 JSON by orjson (several times faster than the json module),
    or by the json module for what orjson refuses (an integer beyond 64 bits). ``option`` adds
    orjson options to ``OPT_NON_STR_KEYS`` (keys that are not strings become strings, as the json
    module writes them)."""
    try:
        return orjson.dumps(value, default=default, option=orjson.OPT_NON_STR_KEYS | option)
    except (orjson.JSONEncodeError, TypeError):
        return json.dumps(value, default=default, ensure_ascii=False).encode("utf-8")
