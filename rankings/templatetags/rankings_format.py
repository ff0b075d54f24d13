"""Readable numbers: 49.2B tokens, 12.4%, $1.3K, +5 places."""

from __future__ import annotations

import html
import json
import unicodedata
from collections.abc import Iterable

from django import template
from django.core.serializers.json import DjangoJSONEncoder
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from rankings.page_state import with_zone

register = template.Library()

_UNITS = ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K"))
MINUS = "\u2212"  # signed numbers read "+1.2M" and "−1.2M" everywhere, never a hyphen


@register.filter
def compact(value) -> str:
    """49_200_000_000 -> 49.2B; negative with a true minus: −1.2M."""
    if value is None:
        return "–"
    number = float(value)
    if number < 0:
        text = compact(-number)
        return text if text in ("0", "0.00") else MINUS + text
    for size, unit in _UNITS:
        if abs(number) >= size:
            return f"{number / size:.1f}{unit}"
    return f"{number:.0f}" if number == int(number) else f"{number:.2f}"


def _sign(value: float) -> str:
    return "+" if value > 0 else MINUS if value < 0 else ""


@register.filter
def signed_compact(value) -> str:
    """+1.2M, −300K, 0."""
    if value is None:
        return "–"
    text = compact(abs(float(value)))
    return "0" if text in ("0", "0.00") else _sign(float(value)) + text


@register.filter
def points(value, digits: int = 0) -> str:
    """Percentage points, signed and counted: "+1 point", "−2.5 points", "0 points",
    "+63,677.9 points"."""
    if value is None:
        return "–"
    shown = round(abs(float(value)), digits)
    sign = "" if shown == 0 else _sign(float(value))
    return f"{sign}{shown:,.{digits}f} point{'' if shown == 1 else 's'}"


@register.filter
def signed_percent(value, digits: int = 0) -> str:
    """A share (0.123) as a percent, negative ones with a true minus: 12%, −4%, 1,200%."""
    if value is None:
        return "–"
    shown = round(abs(float(value)) * 100, digits)
    return f"{MINUS if float(value) < 0 and shown else ''}{shown:,.{digits}f}%"


@register.filter
def metric_value(value, metric: str) -> str:
    if metric == "cost":
        return "$" + compact(value) if value and float(value) >= 1000 else f"${float(value or 0):,.2f}"
    return compact(value)


@register.filter
def percent(value, digits: int = 1) -> str:
    """0.1234 -> 12.3%."""
    return "–" if value is None else f"{float(value) * 100:.{digits}f}%"


def plural(n: float, word: str, shown: str | None = None) -> str:
    """ "1 request", "1,200 requests" (``shown``: the number as written, e.g. compact)."""
    return f"{f'{n:,.0f}' if shown is None else shown} {word}{'' if n == 1 else 's'}"


@register.filter
def was_percent(value, over: str) -> str:
    """A share in the window before, after its value now: "(was 12.3%)", or "(no completions
    before)" when the window before had none of what it is a share of."""
    return f"(no {over} before)" if value is None else f"(was {percent(value)})"


@register.filter
def change(value) -> str:
    """A percent change, signed: +12.4% / −3.0%."""
    if value is None:
        return "new"
    sign = "+" if value > 0 else "−" if value < 0 else "±"
    return f"{sign}{abs(value):,.1f}%"


@register.filter
def number(value, digits: int = 0) -> str:
    return "–" if value is None else f"{float(value):,.{digits}f}"


@register.filter
def zoned(url, tz: str) -> str:
    """A link of this site carrying the page's zone: ``{{ url|zoned:zone_tz }}``
    (``zone_tz``: rankings.context_processors.zone)."""
    return with_zone(str(url), tz)


@register.simple_tag(takes_context=True)
def zoned_url(context, name: str, *args) -> str:
    """``{% url name args %}`` carrying the page's zone."""
    return with_zone(reverse(name, args=args), context.get("zone_tz", ""))


@register.simple_tag(takes_context=True)
def zone_field(context) -> str:
    """A form's hidden ``tz``: what the form leads to keeps the page's zone."""
    tz = context.get("zone_tz", "")
    return format_html('<input type="hidden" name="tz" value="{}">', tz) if tz else ""


@register.simple_tag(takes_context=True)
def entity_link(context, entity, kind: str) -> str:
    """A ranked entity as a link to its page in the page's zone (a model with its slug); a
    variant as text. A tag, not an include: it runs once per table row."""
    if entity is None:
        return "(deleted)"
    if kind == "variant":
        return format_html(":{}", entity) if entity else "standard"
    url = with_zone(entity.get_absolute_url(), context.get("zone_tz", ""))
    link = format_html('<a href="{}"><bdi>{}</bdi></a>', url, entity.name)
    if kind == "model":
        return format_html('{} <span class="muted">{}</span>', link, entity.slug)
    return link


# Bidi classes that can reorder the text around a name: right-to-left letters and digits, and
# the embedding, override and isolate controls (removed at ingest, but names stored before may
# hold them).
_REORDERING = {"R", "AL", "AN", "LRE", "LRO", "RLE", "RLO", "PDF", "LRI", "RLI", "FSI", "PDI"}


def _reorders(name: str) -> bool:
    return any(unicodedata.bidirectional(c) in _REORDERING for c in name)


@register.filter
def isolating(sentence: str, names: Iterable[str]) -> str:
    """``sentence`` escaped, each of ``names`` in it that holds right-to-left text or bidi
    controls isolated in ``<bdi>``: a name cannot flip the words around it."""
    text = html.escape(sentence)
    for name in sorted({n for n in names if _reorders(n)}, key=len, reverse=True):
        escaped = html.escape(name)
        text = text.replace(escaped, f"<bdi>{escaped}</bdi>")
    return mark_safe(text)  # noqa: S308 (the sentence and every name escaped above)


@register.simple_tag
def change_badge(row) -> str:
    """ "new", or the signed change vs the previous period, coloured up or down."""
    return _NEW if row.is_new else _signed(row.change)


_NEW = mark_safe('<span class="badge new">new</span>')


def _signed(value: float) -> str:
    direction = "up" if value > 0 else "down" if value < 0 else ""
    return format_html('<span class="{}">{}</span>', direction, change(value))


# json_script's escapes, applied with str.replace: str.translate falls back to a slow path
# per character once it meets a "<" (every figure has "<extra>" in its hover text), which
# cost ~2 ms per chart.
_SCRIPT_ESCAPES = (("&", "\\u0026"), ("<", "\\u003C"), (">", "\\u003E"))


@register.filter
def figure_script(figure: dict, element_id: str) -> str:
    """A Plotly figure as ``<script type="application/json">``, escaped as ``json_script``
    escapes (so it can never close the script element)."""
    data = json.dumps(figure, cls=DjangoJSONEncoder, separators=(",", ":"))
    for char, escaped in _SCRIPT_ESCAPES:
        data = data.replace(char, escaped)
    return format_html('<script id="{}" type="application/json">{}</script>', element_id, mark_safe(data))  # noqa: S308 (escaped above)


@register.simple_tag
def entry_change(row: dict) -> str:
    """An index entry's change: "new" when it had no usage in the previous period, "–" when
    it has none in this one."""
    if not row["value"]:
        return mark_safe('<span class="muted">–</span>')
    return _NEW if row["change"] is None else _signed(row["change"])


@register.inclusion_tag("rankings/_share.html", takes_context=True)
def share_links(context, state, path: str, anchor: str, title: str, embed: str | None = None) -> dict:
    """ "Copy link" to a section of this page as it is switched, and "Embed" for its
    /embed/ version (``embed``: that page's path; default /embed/<anchor>/); none in an embed."""
    # Without the home page's "every section at once": the section loads where it is shown.
    return {
        "in_embed": context.get("in_embed", False),
        "link": f"{state.url(path, sections='')}#{anchor}",
        "embed": state.url(embed or f"/embed/{anchor}/", sections=""),
        "title": title,
    }


@register.simple_block_tag(takes_context=True)
def section(context, content: str, name: str, title: str, *tabs_and_labels) -> str:
    """A home-page section: its card with heading, tab rows and share links, around
    ``content``. ``tabs_and_labels``: pairs of a tab list and its accessible label."""
    tab_rows = list(zip(tabs_and_labels[::2], tabs_and_labels[1::2], strict=True))
    card = context.template.engine.get_template("rankings/_section.html")
    with context.push(name=name, title=title, tab_rows=tab_rows, content=content):
        return card.render(context)


def _cell(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, str):  # a category axis label, escaped for Plotly already
        return html.escape(html.unescape(value))
    return compact(value)


def _axis_label(value) -> str:
    text = str(value)
    return html.escape(text[:10] if len(text) >= 19 and _is_time(text) else html.unescape(text))


@register.filter
def figure_table(figure: dict, caption: str) -> str:
    """The text alternative of a chart: its numbers as a table in a closed <details>, one row
    per x value and one column per series. Labels in figures are HTML-escaped for Plotly,
    so they are unescaped and escaped again (never twice, never raw)."""
    traces = [t for t in figure.get("data", []) if t.get("x") is not None]
    if not traces:
        return ""
    xs = list(traces[0]["x"])
    head = "".join(f'<th scope="col" class="num">{_cell(t.get("name") or "Value")}</th>' for t in traces)
    body = []
    columns = [_table_values(t) for t in traces]
    for i, x in enumerate(xs):
        cells = "".join(f'<td class="num">{c[i] if i < len(c) else _cell(None)}</td>' for c in columns)
        body.append(f'<tr><th scope="row">{_axis_label(x)}</th>{cells}</tr>')
    return mark_safe(  # noqa: S308 (every piece escaped above)
        '<details class="chart-data"><summary>Show the data as a table</summary><div class="table-scroll">'
        f'<table class="ranking"><caption>{html.escape(caption)}</caption>'
        f'<thead><tr><th scope="col">{"Period" if xs and _is_time(xs[0]) else "Item"}</th>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div></details>"
    )


def _table_values(trace: dict) -> list[str]:
    """A trace's cells: its y values, or the labels written on its bars; a waterfall's as read
    on the bars (the totals, which Plotly computes from a placeholder y, the running sum; the
    steps signed)."""
    if trace.get("type") != "waterfall":
        text = trace.get("text")
        if isinstance(text, (list, tuple)) and len(text) == len(trace["y"]):
            return [_cell(str(t)) for t in text]  # the bars' own labels (signed, say), as read on them
        return [_cell(y) for y in trace["y"]]
    cells, running = [], 0.0
    for measure, y in zip(trace["measure"], trace["y"], strict=True):
        if measure == "absolute":
            running = y
            cells.append(_cell(y))
        elif measure == "relative":
            running += y
            cells.append(signed_compact(y))
        else:
            cells.append(_cell(running))
    return cells


def _is_time(value) -> bool:
    text = str(value)
    return len(text) >= 10 and text[4] == "-" and text[7] == "-"


@register.filter
def lookup(mapping: dict, key):
    """``mapping[key]`` in a template (None when missing)."""
    return mapping.get(key) if isinstance(mapping, dict) else None


@register.filter
def usd(value) -> str:
    """USD with the precision small amounts need: $12.40, $0.0042."""
    if value is None:
        return "–"
    amount = float(value)
    if amount >= 1000:
        return "$" + compact(amount)
    return f"${amount:,.2f}" if amount >= 1 or amount == 0 else f"${amount:.4f}"
