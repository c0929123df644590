"""How the case and task lists tell one case from another: its reference and its list fields
(engine/runtime/references.py) in the page's language, and the page links of a list."""

from __future__ import annotations

from web.presentation.feedback import case_reference


def describe(case: dict | None, instance_id: str, language: str) -> dict:
    """``{reference, fields: [{label, value}]}`` of one case as the lists show it; ``case`` is
    what :func:`engine.runtime.references.cases` gave for it (None: nothing known)."""
    case = case or {}
    english = language.startswith("en")
    return {"reference": case_reference(case.get("business_key"), instance_id, case.get("reference")),
            "fields": [{"label": f["en"] if english else f["zh"], "value": f["value"]} for f in case.get("fields") or ()]}


def page_window(page: int, pages: int, around: int = 2) -> list[int | None]:
    """The page numbers a pager links to: the first, the last and those around ``page``; None
    stands for the pages left out (an ellipsis)."""
    shown = sorted({1, pages, *range(max(1, page - around), min(pages, page + around) + 1)})
    out: list[int | None] = []
    for number in shown:
        if out and number - (out[-1] or 0) > 1:
            out.append(None)
        out.append(number)
    return out


def page_slice(items: list, page: int, per_page: int) -> tuple[list, int, int]:
    """``(items of page, page, pages)`` of a list paged in memory; a page past the end shows the last."""
    pages = max(1, -(-len(items) // per_page))
    page = min(max(1, page), pages)
    return items[(page - 1) * per_page:page * per_page], page, pages
