"""Render a sealable document to PDF (reportlab) with its empty signature boxes.

The content is plain data (:class:`DocumentContent`): header lines, sections of labelled
values (a value may be a small table), the attachment list with SHA-256 and the signature
slots. Every user-supplied string is escaped before it reaches reportlab's markup. The
boxes of the signature slots are drawn as part of the page and their positions recorded,
so the signature widgets land exactly on them.
"""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass, field
from html import escape
from pathlib import Path

from engine.seals.provider import SignatureField

FONT = "BpmCJK"
MONO = "Courier"
SLOT_W, SLOT_H = 136.0, 136.0
_registered: set[str] = set()
_lock = threading.Lock()


@dataclass
class Section:
    title: str
    rows: list[tuple[str, object]] = field(default_factory=list)  # value: str or [[header...], [row...], ...]
    note: str | None = None


@dataclass
class DocumentContent:
    title: str
    subtitle: str
    intro: str
    header: list[tuple[str, str]]
    sections: list[Section]
    attachments: list[dict]
    slots: list[tuple[str, str]]  # (field name, label)
    footer: str
    author: str = ""


def _register(font_path: Path) -> None:
    key = str(font_path)
    if key in _registered:
        return
    with _lock:
        if key not in _registered:
            from reportlab.pdfbase import pdfmetrics
            from reportlab.pdfbase.ttfonts import TTFont

            pdfmetrics.registerFont(TTFont(FONT, key))
            _registered.add(key)


def _styles():
    from reportlab.lib import colors
    from reportlab.lib.styles import ParagraphStyle

    base = dict(fontName=FONT, wordWrap="CJK", textColor=colors.black)
    return {
        "title": ParagraphStyle("t", fontSize=20, leading=26, alignment=1, spaceAfter=2, **base),
        "subtitle": ParagraphStyle("st", fontSize=10, leading=14, alignment=1, textColor=colors.grey, fontName=FONT),
        "intro": ParagraphStyle("i", fontSize=9, leading=13, textColor=colors.HexColor("#444444"), fontName=FONT,
                                wordWrap="CJK", spaceBefore=6, spaceAfter=6),
        "h": ParagraphStyle("h", fontSize=12, leading=16, spaceBefore=10, spaceAfter=4, **base),
        "label": ParagraphStyle("l", fontSize=9.5, leading=13, textColor=colors.HexColor("#333333"), fontName=FONT,
                                wordWrap="CJK"),
        "value": ParagraphStyle("v", fontSize=9.5, leading=13, **base),
        "small": ParagraphStyle("s", fontSize=8, leading=10.5, **base),
        "note": ParagraphStyle("n", fontSize=8, leading=11, textColor=colors.HexColor("#555555"), fontName=FONT,
                               wordWrap="CJK"),
    }


def _p(text, style):
    from reportlab.platypus import Paragraph

    return Paragraph(escape(str(text)).replace("\n", "<br/>"), style)


def _grid(data, widths, header=True):
    from reportlab.lib import colors
    from reportlab.platypus import Table, TableStyle

    table = Table(data, colWidths=widths, repeatRows=1 if header else 0)
    style = [
        ("GRID", (0, 0), (-1, -1), 0.5, colors.HexColor("#999999")),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), 4), ("RIGHTPADDING", (0, 0), (-1, -1), 4),
        ("TOPPADDING", (0, 0), (-1, -1), 3), ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
    ]
    if header:
        style.append(("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#EEEEEE")))
    table.setStyle(TableStyle(style))
    return table


def _section_story(content: DocumentContent, st: dict, width: float) -> list:
    """The header table and one titled table per section (a dynamic list as a nested table)."""
    story = [_p(content.title, st["title"]), _p(content.subtitle, st["subtitle"]), _p(content.intro, st["intro"])]
    head = [[_p(k, st["label"]), _p(v, st["value"])] for k, v in content.header]
    story.append(_grid(head, [0.22 * width, 0.78 * width], header=False))
    for section in content.sections:
        story.append(_p(section.title, st["h"]))
        rows = []
        for label, value in section.rows:
            if isinstance(value, list) and value and isinstance(value[0], list):
                inner_w = 0.74 * width / max(len(value[0]), 1)
                cell = _grid([[_p(c, st["small"]) for c in row] for row in value], [inner_w] * len(value[0]))
            else:
                cell = _p(value, st["value"])
            rows.append([_p(label, st["label"]), cell])
        if rows:
            story.append(_grid(rows, [0.22 * width, 0.78 * width], header=False))
        if section.note:
            story.append(_p(section.note, st["note"]))
    return story


def _attachment_story(content: DocumentContent, st: dict, width: float) -> list:
    """The list of attachments with their size and SHA-256."""
    from reportlab.platypus import Paragraph

    story = [_p(f"附件清单 Attachments（{len(content.attachments)}）", st["h"])]
    if not content.attachments:
        return story + [_p("无 None", st["value"])]
    rows = [[_p("文件名", st["label"]), _p("大小（字节）", st["label"]), _p("SHA-256", st["label"])]]
    for att in content.attachments:
        sha = att.get("sha256") or "（未找到 not found）"
        rows.append([_p(att.get("filename") or att.get("id"), st["value"]), _p(att.get("size", ""), st["value"]),
                     Paragraph(f'<font name="{MONO}" size="7.5">{escape(sha)}</font>', st["small"])])
    return story + [_grid(rows, [0.36 * width, 0.14 * width, 0.50 * width])]


def _signature_block(content: DocumentContent, st: dict, width: float, positions: dict[str, SignatureField]):
    """The row of empty signature boxes; each records in ``positions`` where it was drawn."""
    from reportlab.lib import colors
    from reportlab.platypus import Flowable, KeepTogether, Spacer, Table, TableStyle

    class Slot(Flowable):
        """An empty box that remembers where it was drawn (the signature widget goes there)."""

        def __init__(self, name: str, label: str) -> None:
            super().__init__()
            self.name, self.label, self.width, self.height = name, label, SLOT_W, SLOT_H

        def draw(self) -> None:
            canvas = self.canv
            canvas.saveState()
            canvas.setStrokeColor(colors.HexColor("#BBBBBB"))
            canvas.setDash(3, 3)
            canvas.rect(0, 0, self.width, self.height)
            canvas.restoreState()
            x, y = canvas.absolutePosition(0, 0)
            positions[self.name] = SignatureField(self.name, canvas.getPageNumber() - 1,
                                                  (x, y, x + self.width, y + self.height), self.label)

    cells = [[_p(label, st["label"]) for _, label in content.slots], [Slot(name, label) for name, label in content.slots]]
    sig_table = Table(cells, colWidths=[width / max(len(content.slots), 1)] * len(content.slots))
    sig_table.setStyle(TableStyle([("ALIGN", (0, 0), (-1, -1), "CENTER"), ("VALIGN", (0, 0), (-1, -1), "TOP")]))
    return KeepTogether([Spacer(1, 8), _p("签章 Signatures", st["h"]), sig_table, Spacer(1, 6),
                         _p(content.footer, st["note"])])


def render(content: DocumentContent, font_path: Path) -> tuple[bytes, dict[str, SignatureField]]:
    """``(pdf, {field name: SignatureField})`` with the slots' exact page and box."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.platypus import SimpleDocTemplate

    _register(font_path)
    st = _styles()
    positions: dict[str, SignatureField] = {}
    width = A4[0] - 36 * mm
    story = [*_section_story(content, st, width), *_attachment_story(content, st, width),
             _signature_block(content, st, width, positions)]

    def on_page(canvas, doc):
        canvas.saveState()
        canvas.setFont(FONT, 7.5)
        canvas.setFillColor(colors.grey)
        canvas.drawString(18 * mm, 10 * mm, content.title)
        canvas.drawRightString(A4[0] - 18 * mm, 10 * mm, f"第 {doc.page} 页")
        canvas.restoreState()

    out = io.BytesIO()
    doc = SimpleDocTemplate(out, pagesize=A4, leftMargin=18 * mm, rightMargin=18 * mm, topMargin=16 * mm,
                            bottomMargin=18 * mm, title=content.title, author=content.author, subject=content.subtitle,
                            creator="bpm-engine")
    doc.build(story, onFirstPage=on_page, onLaterPages=on_page)
    missing = [name for name, _ in content.slots if name not in positions]
    if missing:  # pragma: no cover - a slot always draws
        raise RuntimeError(f"signature slots not placed: {missing}")
    return out.getvalue(), positions
