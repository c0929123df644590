"""Render a sealable document to PDF (reportlab) as a one-page paper-style approval form (审批表).

The content is plain data (:class:`DocumentContent`): the title and reference line, a header
grid (applicant, unit, dates), sections of labelled values (a value may be a small table),
the attachment list with SHA-256, and the signer boxes (申请 / 审核 / 审批 ...): each with its
opinion, signer and date, and, for the boxes that are signed electronically, the empty
signature box the widget goes into. Every user-supplied string is escaped before it reaches
reportlab's markup. The signature boxes are drawn as part of the page and their positions
recorded, so the signature widgets land exactly on them.

The signer grid is kept together with the end of the content (the attachment list): when the
content is long the last part flows to the next page with the grid, never the grid alone.
The output is deterministic (reportlab's ``invariant`` mode): the same content gives the same
bytes, so the document a user previews is exactly the one that is signed.
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
SLOT_W, SLOT_H = 118.0, 118.0  # the seal's box: a 40 mm official seal fits
_registered: set[str] = set()
_lock = threading.Lock()


@dataclass
class Section:
    title: str
    rows: list[tuple[str, object]] = field(default_factory=list)  # value: str or [[header...], [row...], ...]
    note: str | None = None


@dataclass
class SignerBox:
    """One box of the signer grid: 审核意见 with its opinion, who signed and when; ``slot`` names
    the signature field drawn in it (``None``: a box signed by the process record only)."""

    label: str
    opinion: str
    signer: str
    date: str
    slot: str | None = None
    slot_label: str = ""
    size: tuple[float, float] = (SLOT_W, SLOT_H)


@dataclass
class DocumentContent:
    title: str
    subtitle: str
    intro: str
    header: list[tuple[str, str]]  # the header grid: (label, value), two pairs a row
    sections: list[Section]
    attachments: list[dict]
    boxes: list[SignerBox]
    footer: str
    author: str = ""
    reference: list[tuple[str, str]] = field(default_factory=list)  # the line under the title

    @property
    def slots(self) -> list[tuple[str, str]]:
        return [(b.slot, b.slot_label or b.label) for b in self.boxes if b.slot]


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
        "title": ParagraphStyle("t", fontSize=20, leading=26, alignment=1, spaceAfter=0, **base),
        "subtitle": ParagraphStyle("st", fontSize=8.5, leading=11, alignment=1, textColor=colors.grey, fontName=FONT),
        "ref": ParagraphStyle("r", fontSize=9, leading=12, textColor=colors.HexColor("#333333"), fontName=FONT,
                              wordWrap="CJK"),
        "h": ParagraphStyle("h", fontSize=10.5, leading=14, spaceBefore=6, spaceAfter=3, **base),
        "label": ParagraphStyle("l", fontSize=9.5, leading=13, textColor=colors.HexColor("#222222"), fontName=FONT,
                                wordWrap="CJK"),
        "boxlabel": ParagraphStyle("bl", fontSize=11, leading=15, alignment=1, **base),
        "value": ParagraphStyle("v", fontSize=9.5, leading=13, **base),
        "sign": ParagraphStyle("sg", fontSize=9, leading=12, alignment=2, **base),
        "small": ParagraphStyle("s", fontSize=8, leading=10.5, **base),
        "hint": ParagraphStyle("hi", fontSize=7.5, leading=9.5, alignment=1, textColor=colors.HexColor("#999999"),
                               fontName=FONT, wordWrap="CJK"),
        "note": ParagraphStyle("n", fontSize=7, leading=9.5, textColor=colors.HexColor("#555555"), fontName=FONT,
                               wordWrap="CJK"),
    }


def _p(text, style):
    from reportlab.platypus import Paragraph

    return Paragraph(escape(str(text)).replace("\n", "<br/>"), style)


def _grid(data, widths, header=True, shade_first_col=False, extra=()):
    from reportlab.lib import colors
    from reportlab.platypus import Table, TableStyle

    table = Table(data, colWidths=widths, repeatRows=1 if header else 0)
    style = [
        ("GRID", (0, 0), (-1, -1), 0.6, colors.HexColor("#555555")),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("LEFTPADDING", (0, 0), (-1, -1), 4), ("RIGHTPADDING", (0, 0), (-1, -1), 4),
        ("TOPPADDING", (0, 0), (-1, -1), 3), ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
    ]
    if header:
        style.append(("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#EEEEEE")))
    if shade_first_col:
        style.append(("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#F4F4F4")))
    style.extend(extra)
    table.setStyle(TableStyle(style))
    return table


def _value_cell(value, st: dict, width: float):
    if isinstance(value, list) and value and isinstance(value[0], list):
        inner_w = (width - 8) / max(len(value[0]), 1)
        return _grid([[_p(c, st["small"]) for c in row] for row in value], [inner_w] * len(value[0]))
    return _p(value, st["value"])


def _lines_table(label: str, value: list[list], st: dict, width: float):
    """A dynamic list (e.g. 供货明细) as its own table: the label in the first column of the
    first row, a numbered row per line, the header repeated on a following page."""
    from reportlab.lib import colors

    columns = len(value[0])
    inner = (0.80 * width - 0.06 * width) / max(columns, 1)
    data = [[_p(label, st["label"]), _p("序号", st["small"]), *[_p(c, st["small"]) for c in value[0]]]]
    data += [["", _p(str(i), st["small"]), *[_p(c, st["small"]) for c in row]] for i, row in enumerate(value[1:], 1)]
    return _grid(data, [0.20 * width, 0.06 * width] + [inner] * columns, header=True,
                 extra=[("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#F4F4F4")),
                        ("LINEBELOW", (0, 0), (0, -2), 0, colors.HexColor("#F4F4F4")),
                        ("TOPPADDING", (1, 1), (-1, -1), 1.5), ("BOTTOMPADDING", (1, 1), (-1, -1), 1.5)])


def _head_story(content: DocumentContent, st: dict, width: float) -> list:
    """Title, the reference line and the header grid (two label/value pairs a row)."""
    story = [_p(content.title, st["title"]), _p(content.subtitle, st["subtitle"])]
    if content.reference:
        from reportlab.platypus import Spacer, Table

        line = Table([[_p(f"{k}：{v}", st["ref"]) for k, v in content.reference]],
                     colWidths=[width / len(content.reference)] * len(content.reference))
        line.setStyle([("LEFTPADDING", (0, 0), (-1, -1), 0), ("TOPPADDING", (0, 0), (-1, -1), 0),
                       ("BOTTOMPADDING", (0, 0), (-1, -1), 0)])
        story += [Spacer(1, 6), line, Spacer(1, 3)]
    pairs = list(content.header)
    if pairs:
        if len(pairs) % 2:
            pairs.append(("", ""))
        rows = [[_p(pairs[i][0], st["label"]), _p(pairs[i][1], st["value"]),
                 _p(pairs[i + 1][0], st["label"]), _p(pairs[i + 1][1], st["value"])] for i in range(0, len(pairs), 2)]
        from reportlab.lib import colors

        shade = [("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#F4F4F4")),
                 ("BACKGROUND", (2, 0), (2, -1), colors.HexColor("#F4F4F4"))]
        story.append(_grid(rows, [0.16 * width, 0.34 * width, 0.16 * width, 0.34 * width], header=False, extra=shade))
    return story


def _section_story(content: DocumentContent, st: dict, width: float) -> list:
    """One titled label/value table per section (a dynamic list as a nested table)."""
    story = []
    for section in content.sections:
        story.append(_p(section.title, st["h"]))
        rows: list = []
        for label, value in section.rows:
            if isinstance(value, list) and value and isinstance(value[0], list) and len(value) > 1:
                # a list of several lines: a full-width table of its own, which may continue on the next page
                if rows:
                    story.append(_grid(rows, [0.20 * width, 0.80 * width], header=False, shade_first_col=True))
                    rows = []
                story.append(_lines_table(label, value, st, width))
                continue
            rows.append([_p(label, st["label"]), _value_cell(value, st, 0.80 * width)])
        if rows:
            story.append(_grid(rows, [0.20 * width, 0.80 * width], header=False, shade_first_col=True))
        if section.note:
            story.append(_p(section.note, st["note"]))
    return story


def _attachment_story(content: DocumentContent, st: dict, width: float) -> list:
    """The list of attachments with their size and SHA-256."""
    from reportlab.platypus import Paragraph

    story = [_p(f"附件清单（{len(content.attachments)}）", st["h"])]
    if not content.attachments:
        return story + [_p("无", st["value"])]
    rows = [[_p("文件名", st["label"]), _p("大小（字节）", st["label"]), _p("SHA-256", st["label"])]]
    for att in content.attachments:
        sha = att.get("sha256") or "（未找到）"
        rows.append([_p(att.get("filename") or att.get("id"), st["value"]), _p(att.get("size", ""), st["value"]),
                     Paragraph(f'<font name="{MONO}" size="7">{escape(sha)}</font>', st["small"])])
    return story + [_grid(rows, [0.32 * width, 0.13 * width, 0.55 * width])]


def _signer_grid(content: DocumentContent, st: dict, width: float, positions: dict[str, SignatureField]):
    """The paper form's signer boxes: label | opinion with 签字 and 日期 | signature box."""
    from reportlab.lib import colors
    from reportlab.platypus import Flowable, Table

    class Slot(Flowable):
        """An empty box that remembers where it was drawn (the signature widget goes there)."""

        def __init__(self, name: str, label: str, size: tuple[float, float]) -> None:
            super().__init__()
            self.name, self.label = name, label
            self.width, self.height = size

        def draw(self) -> None:
            canvas = self.canv
            canvas.saveState()
            canvas.setStrokeColor(colors.HexColor("#BBBBBB"))
            canvas.setDash(2, 3)
            canvas.rect(0, 0, self.width, self.height)
            canvas.restoreState()
            x, y = canvas.absolutePosition(0, 0)
            positions[self.name] = SignatureField(self.name, canvas.getPageNumber() - 1,
                                                  (x, y, x + self.width, y + self.height), self.label)

    label_w, sig_w = 0.15 * width, 0.27 * width
    text_w = width - label_w - sig_w
    rows = []
    for box in content.boxes:
        # the opinion on top, 签字 and 日期 at the bottom of the box, as on paper
        per_line = max(int((text_w - 8) / st["value"].fontSize), 1)
        needed = (len(box.opinion or "") // per_line + 1) * st["value"].leading + 4
        floor = box.size[1] - 10 if box.slot else 26
        inner = Table([[_p(box.opinion or "", st["value"]), ""],
                       [_p(f"签字：{box.signer}", st["value"]), _p(f"日期：{box.date}", st["sign"])]],
                      colWidths=[(text_w - 8) * 0.7, (text_w - 8) * 0.3], rowHeights=[max(needed, floor), None])
        inner.setStyle([("SPAN", (0, 0), (1, 0)), ("VALIGN", (0, 0), (-1, -1), "TOP"),
                        ("VALIGN", (0, 1), (-1, 1), "BOTTOM"), ("LEFTPADDING", (0, 0), (-1, -1), 0),
                        ("RIGHTPADDING", (0, 0), (-1, -1), 0), ("TOPPADDING", (0, 0), (-1, -1), 0),
                        ("BOTTOMPADDING", (0, 0), (-1, -1), 0)])
        if box.slot:
            sig = [Slot(box.slot, box.slot_label or box.label, box.size), _p(box.slot_label, st["hint"])]
        else:
            sig = _p("", st["hint"])
        rows.append([_p(box.label, st["boxlabel"]), inner, sig])
    return _grid(rows, [label_w, text_w, sig_w], header=False, shade_first_col=True,
                 extra=[("ALIGN", (2, 0), (2, -1), "CENTER"), ("VALIGN", (1, 0), (1, -1), "TOP"),
                        ("TOPPADDING", (1, 0), (1, -1), 6), ("TOPPADDING", (2, 0), (2, -1), 5),
                        ("BOTTOMPADDING", (0, 0), (-1, -1), 5)])


def render(content: DocumentContent, font_path: Path) -> tuple[bytes, dict[str, SignatureField]]:
    """``(pdf, {field name: SignatureField})`` with the slots' exact page and box."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.platypus import KeepTogether, SimpleDocTemplate, Spacer

    _register(font_path)
    st = _styles()
    positions: dict[str, SignatureField] = {}
    width = A4[0] - 36 * mm
    attachments = _attachment_story(content, st, width)
    # the end of the content, the signer grid and the note stay together: the seal is never alone on a page
    ending = KeepTogether([*attachments, _p("审批签章栏", st["h"]), _signer_grid(content, st, width, positions),
                           Spacer(1, 4), _p(content.intro, st["note"]), _p(content.footer, st["note"])])
    story = [*_head_story(content, st, width), *_section_story(content, st, width), ending]

    def on_page(canvas, doc):
        canvas.saveState()
        canvas.setFont(FONT, 7.5)
        canvas.setFillColor(colors.grey)
        canvas.drawString(18 * mm, 10 * mm, content.title)
        canvas.drawRightString(A4[0] - 18 * mm, 10 * mm, f"第 {doc.page} 页")
        canvas.restoreState()

    out = io.BytesIO()
    doc = SimpleDocTemplate(out, pagesize=A4, leftMargin=18 * mm, rightMargin=18 * mm, topMargin=14 * mm,
                            bottomMargin=16 * mm, title=content.title, author=content.author, subject=content.subtitle,
                            creator="bpm-engine", invariant=1)
    doc.build(story, onFirstPage=on_page, onLaterPages=on_page)
    missing = [name for name, _ in content.slots if name not in positions]
    if missing:  # pragma: no cover - a slot always draws
        raise RuntimeError(f"signature slots not placed: {missing}")
    return out.getvalue(), positions
