"""Seal images: a red round seal per org unit (drawn with Pillow) or an uploaded PNG.

The drawn seal follows the usual official-seal layout: a red ring, the unit's name along
the upper arc, a five-pointed star in the middle and the seal's purpose below it. An
administrator may replace it with a scan of the real seal (``PUT
/api/org-units/{key}/seal-image``); the upload is re-encoded as a plain RGBA PNG (no
metadata) and kept content-addressed in ``bpm_blob``.
"""

from __future__ import annotations

import io
import math
import re
from functools import lru_cache

from sqlalchemy.orm import Session

from engine.clock import utcnow
from engine.errors import NotFound, PayloadTooLarge, ValidationFailed
from engine.identity.policy import require_admin
from engine.seals.keys import ORGANISATION
from engine.store.models import Blob, OrgUnit, SealImage

RED = (206, 17, 38, 255)
BLUE = (24, 72, 160, 255)
SIZE = 480
MAX_UPLOAD_BYTES = 2 * 1024 * 1024
MAX_SIDE = 2000
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_CJK = re.compile(r"[\u3400-\u9fff]")


def _font(size: int):

    from engine.seals.fonts import source_font

    return _font_at(str(source_font()), size)


@lru_cache(maxsize=16)
def _font_at(path: str, size: int):
    from PIL import ImageFont

    return ImageFont.truetype(path, size, index=0)


def seal_title(name: str) -> str:
    """The Chinese part of a unit name ("中心营业厅 Central service hall" -> "中心营业厅")."""
    words = name.split()
    cjk = [w for w in words if _CJK.search(w)]
    return "".join(cjk) if cjk else name


def _star(draw, cx: float, cy: float, radius: float, fill) -> None:
    points = []
    for i in range(10):
        r = radius if i % 2 == 0 else radius * 0.382
        angle = math.pi / 2 + i * math.pi / 5
        points.append((cx + r * math.cos(angle), cy - r * math.sin(angle)))
    draw.polygon(points, fill=fill)


@lru_cache(maxsize=64)
def round_seal(title: str, purpose: str = "电子公章") -> bytes:
    """A red round seal with ``title`` along the upper arc (PNG, transparent background)."""
    from PIL import Image, ImageDraw

    image = Image.new("RGBA", (SIZE, SIZE), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    c = SIZE / 2
    ring = 18
    draw.ellipse((ring / 2, ring / 2, SIZE - ring / 2, SIZE - ring / 2), outline=RED, width=ring)
    _star(draw, c, c, SIZE * 0.16, RED)
    text = title[:24] or "电子公章"
    n = len(text)
    span = min(250.0, 30.0 * n + 60)  # degrees of the arc the title takes
    font_size = 68
    for _ in range(3):  # the glyphs sit on a circle that shrinks as they grow
        radius = c - ring - 6 - font_size * 0.62
        font_size = int(max(22, min(68, radius * math.radians(span) / n * 0.86)))
    radius = c - ring - 6 - font_size * 0.62
    font = _font(font_size)
    for i, ch in enumerate(text):
        theta = math.radians(-span / 2 + span * (i + 0.5) / n)
        glyph = Image.new("RGBA", (font_size * 3, font_size * 3), (0, 0, 0, 0))
        try:
            ImageDraw.Draw(glyph).text((glyph.width / 2, glyph.height / 2), ch, font=font, fill=RED, anchor="mm",
                                       stroke_width=max(1, font_size // 28), stroke_fill=RED)
        except (RuntimeError, ValueError, OSError):
            # a character the text shaper cannot lay out alone (a combining mark, a control
            # character in a unit's name): its place on the ring stays empty, not a server error
            continue
        glyph = glyph.rotate(-math.degrees(theta), resample=Image.BICUBIC)
        x = c + radius * math.sin(theta) - glyph.width / 2
        y = c - radius * math.cos(theta) - glyph.height / 2
        image.alpha_composite(glyph, (int(round(x)), int(round(y))))
    if purpose:
        draw.text((c, c + SIZE * 0.27), purpose, font=_font(42), fill=RED, anchor="mm", stroke_width=1, stroke_fill=RED)
    out = io.BytesIO()
    image.save(out, "PNG", optimize=False)
    return out.getvalue()


@lru_cache(maxsize=256)
def confirmation_stamp(lines: tuple[str, ...]) -> bytes:
    """A blue rectangular "confirmed" stamp for the later, system-signed confirmations."""
    from PIL import Image, ImageDraw

    width, height = 480, 240
    image = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((6, 6, width - 6, height - 6), radius=18, outline=BLUE, width=8)
    step = (height - 40) / max(len(lines), 1)
    for i, line in enumerate(lines):
        size = 46 if i == 0 else 30
        draw.text((width / 2, 20 + step * (i + 0.5)), line[:22], font=_font(size), fill=BLUE, anchor="mm")
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


# --------------------------------------------------------------------------- per org unit


def _unit(session: Session, key: str) -> OrgUnit:
    unit = session.get(OrgUnit, key)
    if unit is None:
        raise NotFound(f"org unit {key!r} not found")
    return unit


def unit_seal(session: Session, unit_key: str | None, organisation: str = ORGANISATION) -> tuple[bytes, str]:
    """``(png, source)`` of a unit's seal: the uploaded image, or the drawn red seal (the
    organisation's name when there is no unit)."""
    if unit_key:
        row = session.get(SealImage, unit_key)
        if row is not None:
            return session.get(Blob, row.sha256).content, "uploaded"
        unit = session.get(OrgUnit, unit_key)
        title = seal_title(unit.name) if unit is not None else unit_key
    else:
        title = seal_title(organisation)
    return round_seal(title), "generated"


def get_image(session: Session, unit_key: str) -> tuple[bytes, str]:
    _unit(session, unit_key)
    return unit_seal(session, unit_key)


def set_image(uow, unit_key: str, content: bytes) -> dict:
    """Replace a unit's seal image with an uploaded PNG (administrators only; audited)."""
    from PIL import Image, UnidentifiedImageError

    from engine.runtime.documents import store_blob

    require_admin(uow.actor, "replace a seal image")
    _unit(uow.session, unit_key)
    if len(content) > MAX_UPLOAD_BYTES:
        raise PayloadTooLarge(f"a seal image may be at most {MAX_UPLOAD_BYTES} bytes")
    if not content.startswith(PNG_MAGIC):
        raise ValidationFailed("not a PNG image", {"file": ["the seal image must be a PNG (transparent background)"]})
    try:
        image = Image.open(io.BytesIO(content))
        if image.width > MAX_SIDE or image.height > MAX_SIDE or image.width < 64 or image.height < 64:
            raise ValidationFailed("bad image size", {"file": [f"sides must be 64 to {MAX_SIDE} pixels"]})
        image.load()
    except ValidationFailed:
        raise
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise ValidationFailed("unreadable image", {"file": [f"not a readable PNG: {exc}"]}) from exc
    out = io.BytesIO()
    image.convert("RGBA").save(out, "PNG")
    png = out.getvalue()
    sha = store_blob(uow.session, png)
    row = uow.session.get(SealImage, unit_key)
    before = {"sha256": row.sha256} if row is not None else None
    if row is None:
        row = SealImage(org_unit=unit_key, sha256=sha, updated_at=utcnow(), updated_by=uow.actor.username)
        uow.session.add(row)
    else:
        row.sha256, row.updated_at, row.updated_by = sha, utcnow(), uow.actor.username
    uow.audit("seal_image_set", before=before, after={"sha256": sha}, org_unit=unit_key, size=len(png))
    return {"org_unit": unit_key, "sha256": sha, "size": len(png), "source": "uploaded",
            "updated_at": row.updated_at, "updated_by": row.updated_by}
