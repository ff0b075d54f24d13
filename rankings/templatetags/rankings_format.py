"""Readable numbers: 49.2B tokens, 12.4%, $1.3K, +5 places."""

from __future__ import annotations

from django import template

register = template.Library()

_UNITS = ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K"))


@register.filter
def compact(value) -> str:
    """49_200_000_000 -> 49.2B."""
    if value is None:
        return "–"
    number = float(value)
    for size, unit in _UNITS:
        if abs(number) >= size:
            return f"{number / size:.1f}{unit}"
    return f"{number:.0f}" if number == int(number) else f"{number:.2f}"


@register.filter
def metric_value(value, metric: str) -> str:
    if metric == "cost":
        return "$" + compact(value) if value and float(value) >= 1000 else f"${float(value or 0):,.2f}"
    return compact(value)


@register.filter
def percent(value, digits: int = 1) -> str:
    """0.1234 -> 12.3%."""
    return "–" if value is None else f"{float(value) * 100:.{digits}f}%"


@register.filter
def change(value) -> str:
    """A percent change, signed: +12.4% / −3.0%."""
    if value is None:
        return "new"
    sign = "+" if value > 0 else "−" if value < 0 else "±"
    return f"{sign}{abs(value):.1f}%"


@register.filter
def number(value, digits: int = 0) -> str:
    return "–" if value is None else f"{float(value):,.{digits}f}"
