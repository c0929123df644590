"""The BPMN and Camunda XML namespaces, and how the deploy checks name an element."""

from __future__ import annotations

from lxml import etree

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
NS = {"bpmn": BPMN_NS, "camunda": CAMUNDA_NS}
# the English name of an element drawn with a Chinese one: a camunda:properties entry (BPMN elements,
# DMN decisions), stored with the drawn name (engine/identity/names.py join_name)
NAME_EN = "name.en"


def local(tag) -> str:
    """An element's tag without its namespace (``userTask``); empty for comments."""
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def is_external(el) -> bool:
    """A service, send or business rule task done by a worker outside the engine (``camunda:type``)."""
    return el.get(f"{{{CAMUNDA_NS}}}type") == "external"


def named(el) -> str:
    """How a message names an element: its id and, when drawn with one, its name."""
    name = el.get("name")
    return f"{el.get('id')!r}" + (f" ({name})" if name else "")
