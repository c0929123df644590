"""What a new BPMN document changes against a deployed one, element by element, for the process
owner to confirm before deploying: the elements of the executable process that were added,
removed or changed (by id), with their kind, name and what about them changed. The layout (the
diagram interchange part) is not compared: moving a shape changes nothing the engine runs."""

from __future__ import annotations

from copy import deepcopy

from lxml import etree

from engine.bpmn.model import KIND_ZH, executable_processes
from engine.bpmn.names import CAMUNDA_NS, NAME_EN, NS
from engine.bpmn.names import local as _local

# what about an element changed, in words a process owner knows (attribute or part -> aspect)
ASPECTS = {
    "name": "name", f"{{{CAMUNDA_NS}}}candidateGroups": "roles", f"{{{CAMUNDA_NS}}}candidateStarterGroups": "roles",
    f"{{{CAMUNDA_NS}}}formKey": "form", "incoming": "flow", "outgoing": "flow", "sourceRef": "flow",
    "targetRef": "flow", "conditionExpression": "condition", "sla": "sla", "properties": "properties",
    "documentation": "documentation",
}
ASPECT_ZH = {"name": "名称", "roles": "办理角色", "form": "表单", "flow": "连线", "condition": "条件", "sla": "时限",
             "properties": "扩展属性", "documentation": "说明", "other": "其他设置"}


def _parse(xml: bytes):
    return etree.fromstring(xml, etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False))


def _elements(root, process_id: str | None) -> dict:
    processes = executable_processes(root)
    process = next((p for p in processes if p.get("id") == process_id), None) if process_id else None
    if process is None and processes:
        process = processes[0]
    if process is None:
        return {}
    return {el.get("id"): el for el in process.iter() if isinstance(el.tag, str) and el.get("id")}


def _parts(el) -> dict:
    """The element's own content (not its children that have ids of their own) by aspect."""
    parts: dict[str, list] = {}
    for key, value in sorted(el.attrib.items()):
        if key == "id":
            continue
        parts.setdefault(ASPECTS.get(key, "other"), []).append((key, value))
    for child in el:
        if not isinstance(child.tag, str) or child.get("id") is not None:
            continue
        tag = _local(child.tag)
        if tag == "extensionElements":
            for prop in child.iterfind("camunda:properties/camunda:property", NS):
                name = prop.get("name") or ""
                aspect = "name" if name == NAME_EN else "sla" if name.startswith("sla.") else "properties"
                parts.setdefault(aspect, []).append((name, prop.get("value")))
            rest = deepcopy(child)
            for props in rest.findall("camunda:properties", NS):
                rest.remove(props)
            if len(rest):
                parts.setdefault("other", []).append(etree.tostring(rest, method="c14n"))
            continue
        copy = deepcopy(child)
        for nested in [n for n in copy.iter() if isinstance(n.tag, str) and n.get("id") is not None and n is not copy]:
            nested.getparent().remove(nested)
        text = " ".join(etree.tostring(copy, method="c14n").decode("utf-8").split())
        parts.setdefault(ASPECTS.get(tag, "other"), []).append(text)
    return {k: sorted(v, key=str) for k, v in parts.items()}


def _describe(el, change: str, aspects: list[str] | None = None) -> dict:
    kind = _local(el.tag)
    name = " ".join((el.get("name") or "").split()) or None
    return {"element_id": el.get("id"), "type": kind, "type_zh": KIND_ZH.get(kind, "元素"), "name": name,
            "change": change, "aspects": aspects or [], "aspects_zh": [ASPECT_ZH[a] for a in aspects or []]}


def diff_documents(old_xml: bytes, new_xml: bytes, process_id: str | None = None) -> list[dict]:
    """``[{element_id, type, type_zh, name, change: added|removed|changed, aspects, aspects_zh}]``
    for the executable process ``process_id`` (default: the first): changed first, then added,
    then removed, each in document order. ValueError when a document cannot be read."""
    try:
        old, new = _elements(_parse(old_xml), process_id), _elements(_parse(new_xml), process_id)
    except (etree.XMLSyntaxError, ValueError) as exc:
        raise ValueError(f"the document could not be read: {exc}") from None
    changed, added, removed = [], [], []
    for el_id, el in new.items():
        before = old.get(el_id)
        if before is None:
            added.append(_describe(el, "added"))
            continue
        if before.tag != el.tag:
            changed.append(_describe(el, "changed", ["other"]))
            continue
        a, b = _parts(before), _parts(el)
        aspects = [k for k in ASPECT_ZH if a.get(k) != b.get(k)]
        if aspects:
            changed.append(_describe(el, "changed", aspects))
    removed = [_describe(el, "removed") for el_id, el in old.items() if el_id not in new]
    return changed + added + removed


def process_id_of(xml: bytes) -> str | None:
    """The id of the document's first executable process (None when it has none or is unreadable)."""
    try:
        processes = executable_processes(_parse(xml))
    except (etree.XMLSyntaxError, ValueError):
        return None
    return processes[0].get("id") if processes else None

