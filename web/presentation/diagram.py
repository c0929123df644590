"""A read-only diagram in the page's language: the BPMN XML with each element's name in the
page's one: the drawn (Chinese) name, or on an English page its ``camunda:properties``
``name.en`` (an older model's glued "审核 Review" is split, engine/identity/names.py). Only the names of
BPMN elements change (not camunda:property names, which are keys); the ids, and so the
done/active/overdue markers, stay as deployed."""

from __future__ import annotations

from lxml import etree

from engine.bpmn.names import BPMN_NS, CAMUNDA_NS, NAME_EN
from engine.identity.names import local_name

_NAME_EN = f"{{{BPMN_NS}}}extensionElements/{{{CAMUNDA_NS}}}properties/{{{CAMUNDA_NS}}}property[@name='{NAME_EN}']"


def localized_xml(xml: str | None, language: str) -> str | None:
    """``xml`` with its BPMN elements' names in ``language``; unchanged when it does not parse."""
    if not xml:
        return xml
    try:
        root = etree.fromstring(xml.encode("utf-8"), parser=etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError:
        return xml
    for element in root.iter(f"{{{BPMN_NS}}}*"):
        name = element.get("name")
        if name:
            english = element.find(_NAME_EN)
            element.set("name", local_name(name, language, english.get("value") if english is not None else None))
    return etree.tostring(root, encoding="unicode")
