"""The seven drivers of token growth, one number each (definitions: docs/api.md, "Drivers").

Each driver splits the change in tokens between the two windows compared into ``parts`` that add up
to it exactly, in whole tokens, and attributes one number to the driver (``tokens``). For
five drivers that number is one of the parts: an exact decomposition. Multi-model access
and discovery are indicators (a group's change; growth beyond the rest's pace), and their
``method`` says so. The drivers overlap (a reasoning request of a coding agent on a free
model counts in three), so the seven numbers do not add up to the change.

The change in spend is split exactly into price and volume, per model, summed
(:func:`rankings.growth.price_volume`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import NamedTuple

from rankings.growth import CostSplit, Growth, context_split, price_volume
from rankings.selectors import growth as reads
from rankings.templatetags.rankings_format import (
    MINUS,
    compact,
    percent,
    plural,
    signed_compact,
    signed_percent,
)

KEYS = (
    "model_breadth",
    "discovery",
    "reasoning",
    "free_vs_paid",
    "routing_variants",
    "app_growth",
    "context_growth",
)
DISCOVERY_TOP = 20  # a model "entered the rankings" when it entered the top this many
STANDARD, FREE = "", reads.FREE_VARIANT


class Line(NamedTuple):
    """A model × variant's tokens in the two windows and whether it is free traffic."""

    model_id: int
    variant: str
    free: bool
    before: int
    after: int


class AppUse(NamedTuple):
    """An app's tokens in the two windows, on free traffic and in all, the models it used,
    whether it is a coding agent (programming is most of its tokens over both windows) and
    whether it is an app at all (not requests sent without one)."""

    before: int
    after: int
    free_before: int
    free_after: int
    models_before: int
    models_after: int
    coding: bool
    attributed: bool


@dataclass
class Driver:
    key: str
    name: str
    tokens: int
    change: int  # the whole change in tokens, which ``parts`` add up to
    before: float | None
    after: float | None
    unit: str
    exact: bool
    method: str
    parts: dict[str, int]
    figures: dict[str, float | None] = field(default_factory=dict)
    summary: str = ""

    @property
    def share_of_change(self) -> float | None:
        return self.tokens / self.change if self.change else None


def _share(part: float, whole: float) -> float | None:
    return part / whole if whole else None


# --- The seven ---------------------------------------------------------------------------


def _breadth(growth: Growth, apps: list[AppUse]) -> Driver:
    # Per window, each app's (tokens, models used).
    used = (
        [(a.before, a.models_before) for a in apps if a.attributed],
        [(a.after, a.models_after) for a in apps if a.attributed],
    )

    def multi(side: int) -> int:
        return sum(t for t, n in used[side] if n >= 2)

    def models_per_app(side: int) -> float | None:
        weight = sum(t for t, _ in used[side])
        return sum(t * n for t, n in used[side]) / weight if weight else None

    t0, t1 = growth.totals_before.tokens, growth.totals_after.tokens
    m0, m1 = multi(0), multi(1)
    return Driver(
        "model_breadth",
        "Multi-model access",
        m1 - m0,
        t1 - t0,
        models_per_app(0),
        models_per_app(1),
        "models per app, weighted by tokens",
        False,
        "Indicator, not an exact decomposition: the change in tokens of apps that used two or more "
        "models in a window (each window classified on its own); the level is the number of models "
        "an app uses, weighted by its tokens.",
        {"multi_model_apps": m1 - m0, "other_traffic": (t1 - m1) - (t0 - m0)},
        {"apps_multi_model": sum(1 for _, n in used[1] if n >= 2)},
    )


def _discovery(growth: Growth, models: dict[int, list[int]]) -> Driver:
    """``models``: per model its tokens in the earlier, before and after windows."""

    def top(position: int) -> set[int]:
        """The models ranked in the top in a window (ties share a rank)."""
        values = sorted((v[position] for v in models.values() if v[position] > 0), reverse=True)
        if not values:
            return set()
        floor = values[min(len(values), DISCOVERY_TOP) - 1]
        return {m for m, v in models.items() if v[position] >= floor}

    had_earlier = any(v[0] for v in models.values())
    entrants = top(1) - top(0) if had_earlier else set()
    e0 = sum(models[m][1] for m in entrants)
    e1 = sum(models[m][2] for m in entrants)
    t0, t1 = growth.totals_before.tokens, growth.totals_after.tokens
    others_rate = _share((t1 - e1) - (t0 - e0), t0 - e0) or 0.0
    excess = round((e1 - e0) - e0 * others_rate)
    return Driver(
        "discovery",
        "Rankings discovery",
        excess,
        t1 - t0,
        _share(e0, t0),
        _share(e1, t1),
        "share of tokens of the models that entered the top 20",
        False,
        f"Indicator, not an exact decomposition: how much more the models that entered the top "
        f"{DISCOVERY_TOP} in the window before grew than the other models' pace (their tokens before "
        f"× the difference of the two growth rates); the level is those models' share of tokens.",
        {"entrants": e1 - e0, "other_models": (t1 - e1) - (t0 - e0)},
        {"models": len(entrants), "top": DISCOVERY_TOP, "others_growth": others_rate if t0 - e0 else None},
    )


def _reasoning(growth: Growth) -> Driver:
    return Driver(
        "reasoning",
        "Reasoning tokens",
        growth.mix["reasoning"],
        growth.change,
        growth.totals_before.reasoning_share,
        growth.totals_after.reasoning_share,
        "share of completion tokens",
        True,
        "Exact decomposition: the change in reasoning tokens, one of four token types (uncached "
        "prompt, cached prompt, visible completion, reasoning) whose changes add up to the total; "
        "the level is reasoning's share of completion tokens.",
        dict(growth.mix),
    )


def _group(rows: list[Line], keep: Callable[[Line], bool]) -> tuple[int, int]:
    return sum(r.before for r in rows if keep(r)), sum(r.after for r in rows if keep(r))


def _free_vs_paid(growth: Growth, rows: list[Line], apps: list[AppUse]) -> Driver:
    f0, f1 = _group(rows, lambda r: r.free)
    t0, t1 = growth.totals_before.tokens, growth.totals_after.tokens
    converted = [a for a in apps if a.before and a.free_before == a.before and a.after > a.free_after]
    return Driver(
        "free_vs_paid",
        "Free and paid models",
        f1 - f0,
        t1 - t0,
        _share(f0, t0),
        _share(f1, t1),
        "share of tokens on free models",
        True,
        "Exact decomposition: the change in free traffic (:free variants and models listed at $0), "
        "which with paid traffic's change adds up to the total; the level is free traffic's share "
        "of tokens, and apps that used only free models before and paid ones after are counted apart.",
        {"free": f1 - f0, "paid": (t1 - f1) - (t0 - f0)},
        {
            "apps_free_to_paid": len(converted),
            "paid_tokens_of_those_apps": sum(a.after - a.free_after for a in converted),
        },
    )


def _routing(growth: Growth, rows: list[Line]) -> Driver:
    def routed(r: Line) -> bool:
        return r.variant not in (STANDARD, FREE)

    v0, v1 = _group(rows, routed)
    t0, t1 = growth.totals_before.tokens, growth.totals_after.tokens
    by_variant: dict[str, int] = {}
    for r in rows:
        if routed(r):
            by_variant[r.variant] = by_variant.get(r.variant, 0) + r.after - r.before
    return Driver(
        "routing_variants",
        "Routing variants",
        v1 - v0,
        t1 - t0,
        _share(v0, t0),
        _share(v1, t1),
        "share of tokens through routing variants",
        True,
        "Exact decomposition: the change in tokens sent through routing variants (every variant "
        "but the standard one and :free, e.g. :nitro, :floor, :thinking, :online), which with the "
        "rest adds up to the total; the level is their share of tokens.",
        {"routing_variants": v1 - v0, "standard_and_free": (t1 - v1) - (t0 - v0)},
        {f"variant_{v}": c for v, c in sorted(by_variant.items(), key=lambda vc: -abs(vc[1]))},
    )


def _app_growth(growth: Growth, apps: list[AppUse]) -> Driver:
    c0 = sum(a.before for a in apps if a.attributed and a.coding)
    c1 = sum(a.after for a in apps if a.attributed and a.coding)
    t0, t1 = growth.totals_before.tokens, growth.totals_after.tokens
    contributors = growth.contributors["app"]
    return Driver(
        "app_growth",
        "App growth",
        c1 - c0,
        t1 - t0,
        _share(c0, t0),
        _share(c1, t1),
        "share of tokens of coding agents",
        True,
        "Exact decomposition: the change in tokens of coding agents (apps with most of their tokens "
        "over both windows in programming), which with the other apps' change adds up to the total; "
        "the level is their share of tokens, and new apps' tokens are counted apart.",
        {"coding_agents": c1 - c0, "other_apps": (t1 - c1) - (t0 - c0)},
        {
            "coding_agents": sum(1 for a in apps if a.attributed and a.coding and a.after),
            "new_apps": round(contributors.new_total),
            "incumbent_apps": round(contributors.incumbent_total),
            "departed_apps": round(contributors.departed_total),
        },
    )


def _context(growth: Growth) -> Driver:
    t0, t1 = growth.totals_before, growth.totals_after
    parts = context_split(
        t0.requests,
        t0.prompt_tokens,
        t0.completion_tokens,
        t1.requests,
        t1.prompt_tokens,
        t1.completion_tokens,
    )
    return Driver(
        "context_growth",
        "Context growth",
        parts["prompt_per_request"],
        growth.change,
        _share(t0.prompt_tokens, t0.requests),
        _share(t1.prompt_tokens, t1.requests),
        "prompt tokens per request",
        True,
        "Exact decomposition (LMDI-I over prompt and completion tokens): the part of the change due "
        "to more prompt tokens per request, which with the parts due to more requests and to more "
        "completion tokens per request adds up to the total, to the token.",
        parts,
    )


# --- Sentences ---------------------------------------------------------------------------


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


def _sentence(d: Driver) -> str:
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


@dataclass
class Report:
    drivers: list[Driver]
    spend: CostSplit


def report(growth: Growth) -> Report:
    """The seven drivers of the change in ``growth`` and the split of its spend, from the
    sums its decomposition read."""
    free_models = reads.free_models()
    lines, costs = [], {}
    for r in growth.sums:
        lines.append(
            Line(r.model_id, r.variant, r.variant == FREE or r.model_id in free_models, r.before, r.after)
        )
        q0, c0, q1, c1 = costs.get(r.model_id, (0, Decimal(0), 0, Decimal(0)))
        costs[r.model_id] = (q0 + r.before, c0 + r.cost_before, q1 + r.after, c1 + r.cost_after)
    unattributed = reads.unattributed_app()
    apps = [
        AppUse(
            a.before,
            a.after,
            a.free_before,
            a.free_after,
            a.models_before,
            a.models_after,
            2 * a.coding > a.before + a.after,
            a.app_id != unattributed,
        )
        for a in growth.apps
    ]
    per_model = {m: [growth.earlier.get(m, 0), q0, q1] for m, (q0, _, q1, _) in costs.items()}
    for m, tokens in growth.earlier.items():
        per_model.setdefault(m, [tokens, 0, 0])
    drivers = [
        _breadth(growth, apps),
        _discovery(growth, per_model),
        _reasoning(growth),
        _free_vs_paid(growth, lines, apps),
        _routing(growth, lines),
        _app_growth(growth, apps),
        _context(growth),
    ]
    for d in drivers:
        d.summary = _sentence(d)
    return Report(drivers, price_volume(costs))


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
