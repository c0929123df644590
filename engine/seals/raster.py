"""PDF pages as PNG images (pypdfium2): the seal step shows the exact document it will sign.

Browsers do not all show a PDF inline (headless chromium, some phones), so the page shows
pictures of the document's pages, drawn here from the very bytes that are signed.
"""

from __future__ import annotations

import io
import threading

_lock = threading.Lock()  # PDFium is not thread-safe


def page_png(pdf: bytes, page: int, scale: float = 1.5) -> bytes:
    """Page ``page`` (0-based) of ``pdf`` as a PNG; IndexError when there is no such page."""
    import pypdfium2 as pdfium

    with _lock:
        doc = pdfium.PdfDocument(pdf)
        try:
            if not 0 <= page < len(doc):
                raise IndexError(page)
            bitmap = doc[page].render(scale=scale)
            image = bitmap.to_pil()
        finally:
            doc.close()
    out = io.BytesIO()
    image.save(out, "PNG", optimize=True)
    return out.getvalue()


def page_count(pdf: bytes) -> int:
    import pypdfium2 as pdfium

    with _lock:
        doc = pdfium.PdfDocument(pdf)
        try:
            return len(doc)
        finally:
            doc.close()
