"""Link-preview images (Open Graph / Twitter cards): a page's main chart drawn as a
1200x630 PNG with Pillow, on the server, with no browser. Names are drawn as text pixels,
so nothing in them can run anywhere."""

from __future__ import annotations

import io
from collections.abc import Sequence
from functools import cache

from PIL import Image, ImageDraw, ImageFont

from rankings.charts import PALETTE
from rankings.templatetags.rankings_format import compact

WIDTH, HEIGHT = 1200, 630
BACKGROUND, INK, MUTED, GRID, ACCENT = "#ffffff", "#111827", "#6b7280", "#e5e7eb", "#4f46e5"


@cache
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """Pillow's bundled font: no font file is needed on the host."""
    return ImageFont.load_default(size=size)


def _fit(draw: ImageDraw.ImageDraw, text: str, size: int, width: int) -> str:
    """``text`` cut with an ellipsis to fit ``width`` pixels."""
    font = _font(size)
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "…", font=font) > width:
        text = text[:-1]
    return text + "…"


def render(
    title: str,
    subtitle: str,
    buckets: Sequence[str],
    series: Sequence[tuple[str, Sequence[float]]],
) -> bytes:
    """A PNG: ``title`` and ``subtitle`` over stacked bars of ``series`` (name, values per
    bucket), the first five names in a legend."""
    image = Image.new("RGB", (WIDTH, HEIGHT), BACKGROUND)
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, WIDTH, 8), fill=ACCENT)
    draw.text((60, 40), "Tokenrank", font=_font(26), fill=ACCENT)
    draw.text((60, 78), _fit(draw, title, 52, WIDTH - 120), font=_font(52), fill=INK)
    draw.text((60, 146), _fit(draw, subtitle, 26, WIDTH - 120), font=_font(26), fill=MUTED)

    left, top, right, bottom = 130, 210, WIDTH - 60, HEIGHT - 110
    totals = [sum(values[i] for _, values in series) for i in range(len(buckets))]
    peak = max(totals, default=0)
    for step in range(5):  # grid lines with compact labels
        y = bottom - (bottom - top) * step / 4
        draw.line((left, y, right, y), fill=GRID, width=1)
        label = compact(peak * step / 4) if peak else "0"
        draw.text((left - 12, y), label, font=_font(18), fill=MUTED, anchor="rm")
    if peak and buckets:
        slot = (right - left) / len(buckets)
        bar = max(1.0, slot * 0.75)
        for i in range(len(buckets)):
            x0 = left + i * slot + (slot - bar) / 2
            y = bottom
            for n, (_, values) in enumerate(series):
                height = (bottom - top) * values[i] / peak
                if height > 0:
                    draw.rectangle((x0, y - height, x0 + bar, y), fill=PALETTE[n % len(PALETTE)])
                    y -= height
        draw.text((left, bottom + 10), buckets[0], font=_font(18), fill=MUTED)
        draw.text((right, bottom + 10), buckets[-1], font=_font(18), fill=MUTED, anchor="ra")
    else:
        draw.text(
            ((left + right) / 2, (top + bottom) / 2), "No usage yet", font=_font(30), fill=MUTED, anchor="mm"
        )

    x = left
    for n, (name, _) in enumerate(series[:5]):
        text = _fit(draw, name, 20, 180)
        draw.rectangle((x, HEIGHT - 58, x + 16, HEIGHT - 42), fill=PALETTE[n % len(PALETTE)])
        draw.text((x + 24, HEIGHT - 50), text, font=_font(20), fill=INK, anchor="lm")
        x += 24 + draw.textlength(text, font=_font(20)) + 28
        if x > right - 150:
            break
    buffer = io.BytesIO()
    image.save(buffer, "PNG", optimize=True)
    return buffer.getvalue()
