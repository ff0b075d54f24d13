"""README badges: "#3 in programming this week · 1.2B tokens" as a flat SVG. Every text is
XML-escaped; the width is estimated from character classes (no font on the server)."""

from __future__ import annotations

import html
from typing import Any

from rankings import listings, selectors
from rankings.selectors import Filters
from rankings.templatetags.rankings_format import compact

PERIOD_WORDS = {"day": "today", "week": "this week", "month": "this month"}
LABEL = "Tokenrank"
LABEL_COLOR, VALUE_COLOR, MUTED_COLOR = "#555", "#4f46e5", "#9f9f9f"


def _text_width(text: str) -> float:
    """Approximate width in px of ``text`` at 11px Verdana (what badges are drawn in)."""
    width = 0.0
    for char in text:
        if char in "il.,:;|!'· ":
            width += 3.6
        elif char in "mwMW@%":
            width += 10.0
        elif char.isupper() or char.isdigit() or char == "#":
            width += 7.6
        elif ord(char) > 0x2E7F:  # CJK and other wide scripts
            width += 11.0
        else:
            width += 6.6
    return width


def render(message: str, color: str = VALUE_COLOR) -> str:
    """A shields-style flat badge: "Tokenrank" on the left, ``message`` on the right."""
    left = round(_text_width(LABEL) + 12)
    right = round(_text_width(message) + 12)
    total = left + right
    label, text = html.escape(LABEL), html.escape(message)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{total}" height="20" role="img" '
        f'aria-label="{label}: {text}"><title>{label}: {text}</title>'
        '<linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" stop-opacity=".1"/>'
        '<stop offset="1" stop-opacity=".1"/></linearGradient>'
        f'<clipPath id="r"><rect width="{total}" height="20" rx="3" fill="#fff"/></clipPath>'
        f'<g clip-path="url(#r)"><rect width="{left}" height="20" fill="{LABEL_COLOR}"/>'
        f'<rect x="{left}" width="{right}" height="20" fill="{color}"/>'
        f'<rect width="{total}" height="20" fill="url(#s)"/></g>'
        '<g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" font-size="11">'
        f'<text x="{left / 2}" y="14">{label}</text><text x="{left + right / 2}" y="14">{text}</text></g></svg>'
    )


def message(entity: str, obj: Any, period: str, category: Any = None) -> tuple[str, bool]:
    """The badge text of a model or app and whether it is ranked: its rank among its kind
    (in ``category``, by default an app's main category) and its tokens in the period."""
    window = selectors.period_window(period)
    if category is None and entity == "app":
        category = listings.top_category("app", obj.pk, window)
    filters = Filters(category=category.pk) if category is not None else None
    found = listings.rank_of(entity, obj.pk, window, filters)
    when = PERIOD_WORDS[period]
    if found is None:
        return f"not ranked {when}", False
    rank, tokens = found
    scope = f" in {category.name.lower()}" if category is not None else ""
    return f"#{rank}{scope} {when} · {compact(tokens)} tokens", True
