"""Plotly figures built in Python as plain figure dicts (``{"data": [...], "layout": {...}}``);
the template embeds them with ``figure_script`` and ``static/js/charts.js`` draws them with
the plotly.js the plotly package ships. Dicts, not ``plotly.graph_objects``: validating a
figure object cost ~10 ms per chart (three charts per home page, see docs/decisions.md);
the tests validate every kind of figure with ``plotly.graph_objects.Figure`` instead.

Every user-supplied label is HTML-escaped here, because Plotly renders a subset of HTML in
labels and hover text."""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

from rankings.selectors import Series
from rankings.templatetags.rankings_format import compact, signed_compact

PALETTE = [
    "#6366f1",
    "#f59e0b",
    "#10b981",
    "#ef4444",
    "#3b82f6",
    "#a855f7",
    "#14b8a6",
    "#f97316",
    "#84cc16",
    "#ec4899",
    "#94a3b8",
]


def label(entity: Any) -> str:
    """The escaped display label of a ranked entity: a model's slug, an author's, app's or
    category's name, or a variant."""
    if entity is None:
        return "(deleted)"
    if isinstance(entity, str):  # a variant
        return html.escape(f":{entity}" if entity else "standard")
    return html.escape(str(entity))


MARGIN = {"l": 50, "r": 10, "t": 10, "b": 40}


def _layout(**extra: Any) -> dict[str, Any]:
    return {
        "margin": MARGIN,
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
        "legend": {"orientation": "h", "y": -0.2},
        "hovermode": "x unified",
        "height": 360,
        **extra,
    }


def _figure(traces: list[dict[str, Any]], **layout: Any) -> dict[str, Any]:
    return {"data": traces, "layout": _layout(**layout)}


def stacked_bars(series: Series, *, normalize: bool = False, height: int = 360) -> dict[str, Any]:
    """Stacked bars per bucket for the top entities plus "Others"; ``normalize`` makes it a
    100% market-share chart."""
    x = series.labels()
    partial = series.partial or [False] * len(x)
    named = [(label(entity), values) for entity, values in series.series]
    if any(series.others):
        named.append(("Others", series.others))
    if normalize:
        totals = [sum(values[i] for _, values in named) or 1 for i in range(len(x))]
        named = [(name, [v * 100 / t for v, t in zip(values, totals, strict=True)]) for name, values in named]
    traces = [
        {
            "type": "bar",
            "x": x,
            "y": values,
            "name": name,
            "marker": {"color": PALETTE[i % len(PALETTE)], **_partial_marker(partial)},
            "customdata": [" (so far)" if p else "" for p in partial],
            "hovertemplate": "%{y:.3s}" + ("%" if normalize else "") + f"%{{customdata}}<extra>{name}</extra>",
        }
        for i, (name, values) in enumerate(named)
    ]
    yaxis = {"ticksuffix": "%", "range": [0, 100]} if normalize else {"ticksuffix": ""}
    return _figure(traces, barmode="stack", height=height, yaxis=yaxis, **_so_far(x, partial))


def _partial_marker(partial: list[bool]) -> dict[str, Any]:
    """Partial buckets drawn lighter and hatched, so the current one never reads as a drop."""
    if not any(partial):
        return {}
    return {
        "opacity": [0.45 if p else 1 for p in partial],
        "pattern": {"shape": ["/" if p else "" for p in partial], "solidity": 0.25},
    }


def _so_far(x: list[str], partial: list[bool]) -> dict[str, Any]:
    """Layout: a "so far" label over each partial bucket, and the flags themselves (``meta``)."""
    if not any(partial):
        return {}
    labels = [
        {"x": x[i], "y": 1, "yref": "paper", "yanchor": "bottom", "text": "so far", "showarrow": False}
        for i, p in enumerate(partial)
        if p
    ]
    # Room above the plot for the labels.
    return {"annotations": labels, "meta": {"partial": partial}, "margin": {**MARGIN, "t": 28}}


def _line(name: str, x: list[str], y: list, color: str, suffix: str = "", **extra: Any) -> dict[str, Any]:
    name = html.escape(name)
    return {
        "type": "scatter",
        "mode": "lines",
        "x": x,
        "y": y,
        "name": name,
        "line": {"color": color, "width": 2},
        "hovertemplate": "%{y:.3s}" + suffix + f"<extra>{name}</extra>",
        **extra,
    }


def lines(
    series_by_name: dict[str, list[float]],
    x: list[str],
    *,
    height: int = 300,
    suffix: str = "",
    partial: list[bool] | None = None,
) -> dict[str, Any]:
    """A line per series; segments into ``partial`` buckets are dashed (labelled "so far")."""
    partial = partial or [False] * len(x)
    # The points the dotted segments join: the partial buckets and their neighbours.
    near = [p or (n > 0 and partial[n - 1]) or (n + 1 < len(x) and partial[n + 1]) for n, p in enumerate(partial)]
    traces = []
    for i, (name, values) in enumerate(series_by_name.items()):
        color = PALETTE[i % len(PALETTE)]
        if not any(partial):
            traces.append(_line(name, x, values, color, suffix))
            continue
        traces.append(_line(name, x, [None if p else v for v, p in zip(values, partial, strict=True)], color, suffix))
        dashed = _line(name + " (so far)", x, [v if n else None for v, n in zip(values, near, strict=True)], color, suffix)
        dashed["line"]["dash"] = "dot"
        traces.append({**dashed, "showlegend": False})
    return _figure(traces, height=height, yaxis={"ticksuffix": suffix}, **_so_far(x, partial))


def _title(text: str) -> dict[str, Any]:
    return {"title": {"text": html.escape(text)}}


def waterfall(
    start_label: str, start: float, steps: list[tuple[str, float]], end_label: str, *, unit: str = "Tokens"
) -> dict[str, Any]:
    """Totals and the changes between them, each bar labelled with its value. The value axis
    starts near the lowest level (the changes, not the totals, are the story), and its title
    says where when that is not zero."""
    names = [html.escape(start_label), *[html.escape(n) for n, _ in steps], html.escape(end_label)]
    running, levels = start, [start]
    for _, change in steps:
        running += change
        levels.append(running)
    trace = {
        "type": "waterfall",
        "x": names,
        "y": [start, *[v for _, v in steps], 0],
        "measure": ["absolute", *["relative"] * len(steps), "total"],
        "text": [compact(start), *[signed_compact(v) for _, v in steps], compact(running)],
        "textposition": "outside",
        "cliponaxis": False,
        "connector": {"line": {"color": "#94a3b8"}},
        "increasing": {"marker": {"color": "#10b981"}},
        "decreasing": {"marker": {"color": "#ef4444"}},
        "totals": {"marker": {"color": "#6366f1"}},
        "hovertemplate": "%{text}<extra>%{x}</extra>",  # the labels' own signs and suffixes
    }
    low, high = min(levels), max(levels)
    pad = (high - low) * 0.15 or high * 0.05 or 1
    floor = max(0, low - pad)
    title = unit if not floor else f"{unit} (axis starts at {compact(floor)}, not zero)"
    return _figure(
        [trace],
        hovermode="closest",
        showlegend=False,
        yaxis={"range": [floor, high + pad], **_title(title)},
        xaxis={"type": "category"},
    )


def before_after(
    before: float | None, after: float | None, *, unit: str, percent: bool = False
) -> dict[str, Any]:
    """A driver's indicator in the two windows: two labelled bars on an axis from zero
    (``percent``: the values are shares, drawn as percent)."""
    scale = 100 if percent else 1
    values = [None if v is None else v * scale for v in (before, after)]
    labels = [
        "–" if v is None else f"{v:.1f}%" if percent else f"{v:,.1f}" if v < 100 else f"{v:,.0f}"
        for v in values
    ]
    trace = {
        "type": "bar",
        "x": ["Before", "After"],
        "y": values,
        "text": labels,
        "textposition": "outside",
        "cliponaxis": False,
        "marker": {"color": ["#94a3b8", PALETTE[0]]},
        "hovertemplate": "%{text}<extra>%{x}</extra>",
        "name": html.escape(unit),
    }
    high = max((v for v in values if v is not None), default=0) or 1
    return _figure(
        [trace],
        height=170,
        hovermode="closest",
        showlegend=False,
        margin={"l": 50, "r": 10, "t": 20, "b": 30},
        yaxis={
            "range": [0, high * 1.3],
            "fixedrange": True,
            "ticksuffix": "%" if percent else "",
            **_title(unit),
        },
        xaxis={"type": "category", "fixedrange": True},
    )


def titled(figure: dict[str, Any], x: str | None = None, y: str | None = None) -> dict[str, Any]:
    """``figure`` with axis titles (a second y axis keeps its own)."""
    layout = figure["layout"]
    for axis, text in (("xaxis", x), ("yaxis", y)):
        if text:
            layout[axis] = {**layout.get(axis, {}), **_title(text)}
    return figure


def grouped_bars(
    categories: list[str],
    groups: dict[str, list[float]],
    *,
    stacked: bool = False,
    suffix: str = "",
    height: int = 360,
    labels: str | Callable[[float], str] | None = None,
) -> dict[str, Any]:
    """Bars per category, one trace per group; ``labels`` writes each bar's value on it: a
    Plotly text template (e.g. ``"%{y:.3s}"``), or a formatter whose text the hover shows too
    (the page's own signs and suffixes: ``signed_compact``)."""
    x = [html.escape(c) for c in categories]
    traces = []
    for i, (name, values) in enumerate(groups.items()):
        trace = {
            "type": "bar",
            "x": x,
            "y": values,
            "name": html.escape(name),
            "marker": {"color": PALETTE[i % len(PALETTE)]},
            "hovertemplate": "%{y:.3s}" + suffix + f"<extra>{html.escape(name)}</extra>",
        }
        if callable(labels):
            trace.update(text=[labels(v) for v in values], textposition="auto")
            trace["hovertemplate"] = "%{text}" + suffix + f"<extra>{html.escape(name)}</extra>"
        elif labels:
            trace.update(texttemplate=labels, textposition="auto")
        traces.append(trace)
    return _figure(
        traces,
        barmode="stack" if stacked else "group",
        hovermode="closest",
        xaxis={"type": "category"},  # labels such as "1" or "50+" are names, not numbers
        yaxis={"ticksuffix": suffix},
        height=height,
    )


def dual_lines(x: list[str], left: tuple[str, list], right: tuple[str, list]) -> dict[str, Any]:
    """Two series on two y axes (e.g. price against volume)."""
    traces = [
        _line(left[0], x, left[1], PALETTE[0]),
        _line(right[0], x, right[1], PALETTE[1], yaxis="y2"),
    ]
    return _figure(
        traces,
        # The right axis needs the room of the left one: its tick labels and title outside the plot.
        margin={**MARGIN, "r": MARGIN["l"] + 10},
        yaxis=_title(left[0]),
        yaxis2={"overlaying": "y", "side": "right", "showgrid": False, "automargin": True, **_title(right[0])},
    )
