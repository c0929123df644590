"""Case references and list fields: what tells one case from another in a list.

Two ``camunda:properties`` of a process (this module's :data:`EXTENSION` owns and checks them):

===================== ===========================================================================
``businessKeyPrefix`` 1-8 capital letters, e.g. ``GH``: every case of the process gets the reference
                      ``GH-2026-000123`` when it starts (the year in China time, a sequence per
                      prefix and year). It is unique (``bpm_process_instance.reference``) and becomes
                      the case's business key when the starter gave none.
``listFields``        the data keys whose values the case and task lists show next to the reference
                      and search: ``key`` or ``key=中文标题|English title``, comma-separated, at most
                      6 (without a title, the start form's label of that field)
===================== ===========================================================================

The number comes from ``bpm_reference_counter`` by one atomic upsert (``INSERT ... ON CONFLICT
DO UPDATE ... RETURNING``) in the transaction that starts the case: concurrent starts on
PostgreSQL queue on the counter's row until the first commits, and a start that rolls back gives
its number back. A process without the prefix still works; its cases show their business key
or the first characters of their id.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from functools import lru_cache

from sqlalchemy import bindparam, or_

from engine.clock import LOCAL_TZ, utcnow
from engine.extensions import DeployContext, Element, Extension
from engine.store.models import ProcessInstance, ReferenceCounter

PREFIX = "businessKeyPrefix"
LIST_FIELDS = "listFields"
MAX_FIELDS = 6
MAX_VALUE = 80  # characters of one value kept for the lists
_PREFIX = re.compile(r"[A-Z]{1,8}")
_KEY = re.compile(r"[a-z][a-z0-9_]{0,63}")
COUNTERS = ReferenceCounter.__table__
INSTANCES = ProcessInstance.__table__


def prefix_of(properties: dict | None) -> str | None:
    value = (properties or {}).get(PREFIX)
    return value if value and _PREFIX.fullmatch(value) else None


def parse_titled_keys(raw: str | None, *, titles_required: bool, limit: int, noun: str = "") -> list[dict]:
    """``[{key, zh, en}]`` from ``key=中文标题|English title, ...`` (a process's ``listFields``, a
    register's ``register.columns``); titles None when optional and not given. ValueError naming
    the bad part (``noun`` prefixes it: "column ")."""
    out: list[dict] = []
    for part in filter(None, (p.strip() for p in (raw or "").split(","))):
        key, sep, labels = part.partition("=")
        key = key.strip()
        if not _KEY.fullmatch(key):
            raise ValueError(f"{noun}{part!r}: {key!r} is not a data key (lower case, digits, _)")
        zh, _, en = labels.partition("|")
        zh, en = zh.strip(), en.strip()
        if (sep or titles_required) and not zh:
            raise ValueError(f"{noun}{part!r}: a title after = is missing (key=中文标题|English title)")
        if any(f["key"] == key for f in out):
            raise ValueError(f"{noun}{key!r} is listed twice")
        out.append({"key": key, "zh": zh or None, "en": en or zh or None})
    if len(out) > limit:
        raise ValueError(f"at most {limit} {noun.strip() or 'field'}s, not {len(out)}")
    return out


@lru_cache(maxsize=256)
def parse_fields(raw: str | None) -> tuple[dict, ...]:
    """``({key, zh, en}, ...)`` from ``listFields`` (titles None when not given); ValueError on a bad part."""
    return tuple(parse_titled_keys(raw, titles_required=False, limit=MAX_FIELDS))


def fields_of(properties: dict | None) -> tuple[dict, ...]:
    try:
        return parse_fields((properties or {}).get(LIST_FIELDS))
    except ValueError:
        return ()


def check(element: Element, ctx: DeployContext) -> list[str]:
    problems = []
    prefix = element.properties.get(PREFIX)
    if prefix is not None and not _PREFIX.fullmatch(prefix):
        problems.append(f"{PREFIX} {prefix!r} must be 1 to 8 capital letters A-Z (e.g. GH: GH-2026-000123)")
    if LIST_FIELDS in element.properties:
        try:
            if not parse_fields(element.properties[LIST_FIELDS]):
                problems.append(f"{LIST_FIELDS} lists no field")
        except ValueError as exc:
            problems.append(f"{LIST_FIELDS}: {exc}")
    return problems


def next_reference(session, prefix: str, when: datetime | None = None) -> str:
    """The next reference of ``prefix`` in the China year of ``when`` (now), counted in the caller's transaction."""
    year = (when or utcnow()).astimezone(LOCAL_TZ).year
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    stmt = insert(COUNTERS).values(prefix=prefix, year=year, last_number=1)
    stmt = stmt.on_conflict_do_update(index_elements=[COUNTERS.c.prefix, COUNTERS.c.year],
                                      set_={"last_number": COUNTERS.c.last_number + 1})
    number = conn.execute(stmt.returning(COUNTERS.c.last_number)).scalar_one()
    return f"{prefix}-{year}-{number:06d}"


def assign(session, definition, inst) -> None:
    """Give a new instance of ``definition`` its reference (and business key, when none was given)."""
    prefix = prefix_of((definition.meta or {}).get("properties"))
    if prefix is None:
        return
    inst.reference = next_reference(session, prefix, inst.started_at)
    if inst.business_key is None:
        inst.business_key = inst.reference


def _text(value) -> str | None:
    if value is None or value == "" or isinstance(value, dict | list | tuple):
        return None
    if isinstance(value, bool):
        return "✓" if value else "✗"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()[:MAX_VALUE] or None


def summary_of(definition, data: dict | None) -> str | None:
    """The list fields' values of an instance as JSON text (None: nothing to show)."""
    fields = fields_of((definition.meta or {}).get("properties"))
    if not fields or not data:
        return None
    values = {f["key"]: text for f in fields if (text := _text(data.get(f["key"]))) is not None}
    return json.dumps(values, ensure_ascii=False, separators=(",", ":")) if values else None


def summary_values(summary: str | None) -> dict:
    try:
        values = json.loads(summary) if summary else {}
    except ValueError:
        return {}
    return values if isinstance(values, dict) else {}


def columns(definition, form_labels=None) -> list[dict]:
    """``[{key, zh, en}]`` of a definition's list fields; a field without a title takes its start
    form's label (``form_labels``: ``{key: label}``), else its key."""
    labels = form_labels or {}
    return [{"key": f["key"], "zh": f["zh"] or labels.get(f["key"]) or f["key"],
             "en": f["en"] or labels.get(f["key"]) or f["key"]}
            for f in fields_of((definition.meta or {}).get("properties"))]


def labelled(definition, summary: str | None, form_labels=None) -> list[dict]:
    """``[{key, zh, en, value}]``: the list fields of one instance that have a value, in order."""
    values = summary_values(summary)
    return [{**c, "value": values[c["key"]]} for c in columns(definition, form_labels) if c["key"] in values]


def _escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search_clause(table):
    """A WHERE clause for rows of the instance table (or an alias of it) whose reference, business
    key or list fields' values contain the search text, or whose id starts with it; its parameters
    come from :func:`search_params`."""
    pattern = bindparam("b_q")
    return or_(table.c.reference.ilike(pattern, escape="\\"), table.c.business_key.ilike(pattern, escape="\\"),
               table.c.summary.ilike(pattern, escape="\\"), table.c.id.like(bindparam("b_qid")))


def search_params(q: str | None) -> dict | None:
    """The parameters of :func:`search_clause` for what the user typed (None: no search)."""
    q = " ".join((q or "").split())[:100]
    if not q:
        return None
    hexish = re.fullmatch(r"[0-9a-fA-F-]{4,36}", q) is not None
    return {"b_q": "%" + _escaped(q) + "%", "b_qid": _escaped(q.lower()) + "%" if hexish else ""}


def matching(session, instance_ids, q: str | None) -> set[str] | None:
    """Of ``instance_ids``, those :func:`search_clause` finds for ``q`` (None: no search)."""
    from sqlalchemy import select

    search = search_params(q)
    if search is None:
        return None
    ids = sorted(set(instance_ids))
    if not ids:
        return set()
    query = select(INSTANCES.c.id).where(INSTANCES.c.id.in_(ids), search_clause(INSTANCES))
    return set(session.connection().execute(query, search).scalars())


def cases(engine, session, instance_ids) -> dict[str, dict]:
    """``{instance id: {reference, business_key, fields}}`` of the given instances, in one read:
    what the task list shows of each task's case (``fields``: :func:`labelled`)."""
    from sqlalchemy import select

    from engine.runtime import definitions

    ids = sorted(set(instance_ids))
    if not ids:
        return {}
    rows = session.connection().execute(select(INSTANCES.c.id, INSTANCES.c.reference, INSTANCES.c.business_key,
                                               INSTANCES.c.summary, INSTANCES.c.definition_id)
                                        .where(INSTANCES.c.id.in_(ids))).all()
    labels = FormLabels(engine, session)
    out = {}
    for row in rows:
        definition = definitions.by_id(engine, session, row.definition_id)
        out[row.id] = {"reference": row.reference, "business_key": row.business_key,
                       "fields": labelled(definition, row.summary, labels.of(definition))}
    return out


class FormLabels:
    """The start form's field labels of definitions (``{key: label}``), read once per definition
    and only for list fields without a title of their own."""

    def __init__(self, engine, session) -> None:
        self.engine, self.session = engine, session
        self.cache: dict[int, dict] = {}

    def of(self, definition) -> dict:
        meta = definition.meta or {}
        fields = fields_of(meta.get("properties"))
        form_key = meta.get("start_form")
        if not form_key or all(f["zh"] for f in fields):
            return {}
        if definition.id not in self.cache:
            self.cache[definition.id] = self._read(form_key)
        return self.cache[definition.id]

    def _read(self, form_key: str) -> dict:
        from engine.forms import definitions as formdefs
        from engine.forms.model import form_fields

        try:
            version = formdefs.latest_version(self.session, form_key)
            content = formdefs.form_content(self.engine, self.session, form_key, version) if version else None
        except Exception:  # noqa: BLE001 - a label is a nicety: the key stands in
            return {}
        return {f.path: f.label for f in form_fields(content or {}) if getattr(f, "label", None)}


EXTENSION = Extension("references", properties=(PREFIX, LIST_FIELDS), kinds=("process",), check=check)
