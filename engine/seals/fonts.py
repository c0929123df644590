"""The CJK font for seal documents and seal images.

A WenQuanYi font from Debian (``fonts-wqy-microhei`` or ``fonts-wqy-zenhei``, installed by
``make``) is a TrueType *collection*; reportlab and Pillow read a collection, but PDF
tooling is happier with a single face, so the first face is split into
``<var_dir>/fonts/<name>.ttf`` once (fontTools) and reused. ``BPM_SEAL_FONT`` names another
TTF/TTC/OTF file.
"""

from __future__ import annotations

import os
import threading
from functools import cache
from pathlib import Path

from engine.errors import EngineError

CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
)
_lock = threading.Lock()


class FontMissing(EngineError):
    status, code = 503, "unavailable"


_configured: Path | None = None  # BPM_SEAL_FONT, set by engine.seals.configure


def configure(font: Path | None) -> None:
    global _configured
    _configured = font


def source_font() -> Path:
    """The configured or installed CJK font file (a collection or a single face)."""
    configured = str(_configured) if _configured else None
    for candidate in ([configured] if configured else []) + list(CANDIDATES):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    raise FontMissing(
        "no CJK font found for seal documents: install Debian's fonts-wqy-microhei (make does) or set BPM_SEAL_FONT"
    )


@cache
def cjk_ttf(cache_dir: Path) -> Path:
    """A single-face TrueType file of the CJK font, split from the collection once."""
    src = source_font()
    if src.suffix.lower() not in (".ttc", ".otc"):
        return src
    target = cache_dir / f"{src.stem}-0.ttf"
    with _lock:
        if not target.is_file():
            from fontTools.ttLib import TTCollection

            cache_dir.mkdir(parents=True, exist_ok=True)
            tmp = target.with_suffix(f".tmp{os.getpid()}")
            TTCollection(str(src), lazy=True).fonts[0].save(str(tmp))
            os.replace(tmp, target)
    return target
