"""Plotly figures built in Python; the template embeds them with ``json_script`` and
``static/js/charts.js`` draws them. Every user-supplied label is HTML-escaped here, because
Plotly renders a subset of HTML in labels and hover text."""

from __future__ import annotations

import html
import json
from typing import Any

import plotly.graph_objects as go

from rankings.selectors import Series

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
METRIC_LABELS = {"tokens": "Tokens", "requests": "Requests", "cost": "Cost (USD)"}


def label(entity: Any) -> str:
    """The escaped display label of a ranked entity: a model's slug, an author's, app's or
    category's name, or a variant."""
    if entity is None:
        return "(deleted)"
    if isinstance(entity, str):  # a variant
        return html.escape(f":{entity}" if entity else "standard")
    return html.escape(str(entity))


def _layout(**extra: Any) -> dict[str, Any]:
    return {
        "margin": {"l": 50, "r": 10, "t": 10, "b": 40},
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
        "legend": {"orientation": "h", "y": -0.2},
        "hovermode": "x unified",
        "height": 360,
        **extra,
    }


def to_json(figure: go.Figure) -> dict[str, Any]:
    """A plain-JSON dict of the figure (numpy-free), ready for ``json_script``."""
    return json.loads(figure.to_json())


def stacked_bars(series: Series, *, normalize: bool = False, height: int = 360) -> dict[str, Any]:
    """Stacked bars per bucket for the top entities plus "Others"; ``normalize`` makes it a
    100% market-share chart."""
    figure = go.Figure()
    x = [b.isoformat() for b in series.buckets]
    traces = [(label(entity), values) for entity, values in series.series]
    if any(series.others):
        traces.append(("Others", series.others))
    for i, (name, values) in enumerate(traces):
        figure.add_bar(
            x=x,
            y=values,
            name=name,
            marker_color=PALETTE[i % len(PALETTE)],
            hovertemplate="%{y:.3s}" + ("%" if normalize else "") + f"<extra>{name}</extra>",
        )
    if normalize:
        totals = [sum(values[i] for _, values in traces) or 1 for i in range(len(x))]
        for trace in figure.data:
            trace.y = [v * 100 / t for v, t in zip(trace.y, totals, strict=True)]
    figure.update_layout(
        _layout(
            barmode="stack",
            height=height,
            yaxis={"ticksuffix": "%" if normalize else "", "range": [0, 100] if normalize else None},
        )
    )
    return to_json(figure)


def lines(
    series_by_name: dict[str, list[float]], x: list[str], *, height: int = 300, suffix: str = ""
) -> dict[str, Any]:
    figure = go.Figure()
    for i, (name, values) in enumerate(series_by_name.items()):
        figure.add_scatter(
            x=x,
            y=values,
            name=html.escape(name),
            mode="lines",
            line={"color": PALETTE[i % len(PALETTE)], "width": 2},
            hovertemplate="%{y:.3s}" + suffix + f"<extra>{html.escape(name)}</extra>",
        )
    figure.update_layout(_layout(height=height, yaxis={"ticksuffix": suffix}))
    return to_json(figure)


def waterfall(
    start_label: str, start: float, steps: list[tuple[str, float]], end_label: str
) -> dict[str, Any]:
    names = [html.escape(start_label), *[html.escape(n) for n, _ in steps], html.escape(end_label)]
    values = [start, *[v for _, v in steps], 0]
    measures = ["absolute", *["relative"] * len(steps), "total"]
    figure = go.Figure(
        go.Waterfall(
            x=names,
            y=values,
            measure=measures,
            connector={"line": {"color": "#94a3b8"}},
            increasing={"marker": {"color": "#10b981"}},
            decreasing={"marker": {"color": "#ef4444"}},
            totals={"marker": {"color": "#6366f1"}},
            hovertemplate="%{y:.3s}<extra>%{x}</extra>",
        )
    )
    running, levels = start, [start]
    for _, change in steps:
        running += change
        levels.append(running)
    # Start the axis near the lowest level: the changes, not the totals, are the story.
    low, high = min(levels), max(levels)
    pad = (high - low) * 0.15 or high * 0.05 or 1
    figure.update_layout(
        _layout(hovermode="closest", showlegend=False, yaxis={"range": [max(0, low - pad), high + pad]})
    )
    return to_json(figure)


def grouped_bars(
    categories: list[str], groups: dict[str, list[float]], *, stacked: bool = False, suffix: str = ""
) -> dict[str, Any]:
    figure = go.Figure()
    for i, (name, values) in enumerate(groups.items()):
        figure.add_bar(
            x=[html.escape(c) for c in categories],
            y=values,
            name=html.escape(name),
            marker_color=PALETTE[i % len(PALETTE)],
            hovertemplate="%{y:.3s}" + suffix + f"<extra>{html.escape(name)}</extra>",
        )
    figure.update_layout(
        _layout(barmode="stack" if stacked else "group", hovermode="closest", yaxis={"ticksuffix": suffix})
    )
    return to_json(figure)


def dual_lines(x: list[str], left: tuple[str, list], right: tuple[str, list]) -> dict[str, Any]:
    """Two series on two y axes (e.g. price against volume)."""
    figure = go.Figure()
    figure.add_scatter(x=x, y=left[1], name=html.escape(left[0]), line={"color": PALETTE[0], "width": 2})
    figure.add_scatter(
        x=x, y=right[1], name=html.escape(right[0]), yaxis="y2", line={"color": PALETTE[1], "width": 2}
    )
    figure.update_layout(_layout(yaxis2={"overlaying": "y", "side": "right", "showgrid": False}))
    return to_json(figure)
