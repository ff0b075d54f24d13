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

from rankings.driver_sentences import sentence
from rankings.growth import CostSplit, Growth, context_split, price_volume
from rankings.selectors import growth as reads

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
        d.summary = sentence(d)
    return Report(drivers, price_volume(costs))
