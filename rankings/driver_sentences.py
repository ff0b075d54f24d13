"""The growth drivers' sentences (:mod:`rankings.drivers`) and the spend split's, from their
numbers alone: each summary says its driver's fields and nothing else."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from rankings.templatetags.rankings_format import (
    MINUS,
    compact,
    percent,
    plural,
    signed_compact,
    signed_percent,
)

if TYPE_CHECKING:
    from rankings.drivers import Driver
    from rankings.growth import CostSplit


def share_text(share: float) -> str:
    """A share of the change: whole percents, one decimal under 1 % ("−0.5%", not "0%")."""
    return signed_percent(share, 1 if abs(share) < 0.01 else 0)


def _of_change(d: Driver) -> str:
    share = d.share_of_change
    return "" if share is None else f" ({share_text(share)} of the change)"


def _level(d: Driver, value: float | None) -> str:
    if value is None:
        return "–"
    if d.unit.startswith("share"):
        return percent(value)
    if d.key == "context_growth":
        return f"{value:,.0f}"
    return f"{value:.1f}"


# Each driver's sentence: {tokens} signed, {of_change} its share of the change (when there is
# one), {level} its indicator (see LEVELS), then its figures.
SENTENCES = {
    "model_breadth": "Apps using two or more models changed by {tokens} tokens{of_change}; {breadth}.",
    "discovery": "{models} that entered the top {top} in the window before: {tokens} tokens against growing "
    "at the other models' pace{of_change}; {level}.",
    "reasoning": "Reasoning tokens changed by {tokens}{of_change}; {level}.",
    "free_vs_paid": "Free traffic changed by {tokens} tokens{of_change}; {level}; {apps} moved from free to paid models.",
    "routing_variants": "Routing variants changed by {tokens} tokens{of_change}; {level}.",
    "app_growth": "Coding agents changed by {tokens} tokens{of_change}; {level}; new apps brought {new_apps}.",
    "context_growth": "{prompts} for {tokens} tokens{of_change}: {level}.",
}
# Each indicator in words: now, and before (a value in {}), and what it is measured over, for
# a window that had none of it: "(was –)" would say nothing.
LEVELS = {
    "discovery": ("{they_hold} {} of tokens", "{they_held} {} of tokens", "tokens"),
    "reasoning": (
        "they are {} of completion tokens",
        "they were {} of completion tokens",
        "completion tokens",
    ),
    "free_vs_paid": ("it is {} of tokens", "it was {} of tokens", "tokens"),
    "routing_variants": ("they carry {} of tokens", "they carried {} of tokens", "tokens"),
    "app_growth": ("they hold {} of tokens", "they held {} of tokens", "tokens"),
    "context_growth": ("{} prompt tokens per request", "{} prompt tokens per request", "requests"),
}
# Context growth's subject by the sign of its tokens.
PROMPTS = {1: "Longer prompts account", -1: "Shorter prompts account", 0: "Prompt length accounts"}
# Models per app in words: by which windows had an attributed app with usage.
BREADTH = {
    (True, True): "weighted by tokens, an app uses {now} models (was {was})",
    (True, False): "weighted by tokens, an app uses {now} models (no app had usage in the window before)",
    (False, True): "weighted by tokens, an app used {was} models before (no app has usage now)",
    (False, False): "no app used a model in either window",
}
NO_ENTRANTS = (
    "No model entered the top {top} in the window before, so none of the change is put down to discovery."
)


def _level_words(d: Driver) -> str:
    """The driver's indicator now and before, in words, saying plainly which window had none."""
    present, past, over = LEVELS[d.key]
    one = d.figures.get("models") == 1  # discovery's entrants: "it holds", "they hold"
    subject = {
        "they_hold": "it holds" if one else "they hold",
        "they_held": "it held" if one else "they held",
    }
    now, was = present.format(_level(d, d.after), **subject), past.format(_level(d, d.before), **subject)
    if d.after is not None and d.before is not None:
        return f"{now} (was {_level(d, d.before)})"
    if d.after is not None:
        return f"{now} (no {over} in the window before)"
    if d.before is not None:
        return f"{was} before (no {over} now)"
    return f"no {over} in either window"


def sentence(d: Driver) -> str:
    """The driver's summary: its tokens, share of the change, indicator and figures."""
    f = d.figures
    if d.key == "discovery" and not f["models"]:
        return NO_ENTRANTS.format(top=f["top"])
    converted = f.get("apps_free_to_paid", 0)
    return SENTENCES[d.key].format(
        tokens=signed_compact(d.tokens),
        of_change=_of_change(d),
        level=_level_words(d) if d.key in LEVELS else "",
        prompts=PROMPTS[(d.tokens > 0) - (d.tokens < 0)],
        breadth=BREADTH[d.after is not None, d.before is not None].format(
            now=_level(d, d.after), was=_level(d, d.before)
        ),
        top=f.get("top"),
        models=plural(f.get("models", 0), "model"),
        apps=plural(converted, "app") if converted else "no app",
        new_apps=signed_compact(f.get("new_apps", 0)),
    )



def spend_sentence(split: CostSplit) -> str:
    """The spend split, its three amounts to the same decimals (cents, or 4 decimals when all
    are under a dollar)."""
    amounts = (split.change, split.price, split.volume)
    digits = 2 if any(abs(a) >= 1 for a in amounts) else 4
    change, price, volume = (_money(a, digits) for a in amounts)
    return f"Spend changed by {change}: price {price}, volume {volume} (per model, summed)."


def _money(value: Decimal, digits: int) -> str:
    size = abs(value)
    text = "$" + compact(size) if size >= 1000 else f"${size:,.{digits}f}"
    if not round(size, digits):
        return text
    return ("+" if value > 0 else MINUS) + text
