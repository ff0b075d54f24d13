"""Why token usage grew: exact decompositions of the change between two equal windows.

Every decomposition is additive: its parts sum to the total change. Volume vs intensity
uses the additive log-mean Divisia index (LMDI-I, Ang 2004): with L(a, b) the logarithmic
mean, ΔT = L(T1, T0)·ln(R1/R0) + L(T1, T0)·ln(I1/I0), where R is requests and I = T/R
tokens per request. All numbers come from :mod:`rankings.selectors`, i.e. the rollups.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from ingest.rollups import zones
from ingest.rollups.windows import truncate
from rankings import selectors
from rankings.selectors import Filters, Totals, Window
from rankings.templatetags.rankings_format import compact

CONTRIBUTOR_ENTITIES = ("author", "model", "app", "category")
TOP_CONTRIBUTORS = 8


def log_mean(a: float, b: float) -> float:
    """The logarithmic mean L(a, b) = (a - b) / (ln a - ln b), with L(a, a) = a."""
    if a <= 0 or b <= 0:
        return 0.0
    if math.isclose(a, b, rel_tol=1e-12):
        return a
    return (a - b) / (math.log(a) - math.log(b))


def volume_intensity(t0: float, r0: float, t1: float, r1: float) -> tuple[float, float]:
    """(volume effect, intensity effect), summing exactly to t1 - t0.

    LMDI needs positive values on both sides; when a side is empty the whole change is
    volume (activity appeared or vanished), which is the limit of the index there.
    """
    if min(t0, r0, t1, r1) <= 0:
        return t1 - t0, 0.0
    weight = log_mean(t1, t0)
    volume = weight * math.log(r1 / r0)
    # The intensity part, L·ln(I1/I0), equals ΔT − volume exactly (ln T1/T0 = ln R1/R0 +
    # ln I1/I0); taking the difference closes the floating-point residue.
    return volume, (t1 - t0) - volume


@dataclass
class Contribution:
    entity: Any
    kind: str  # "incumbent", "new" or "departed"; "others" for the folded tail
    before: float
    after: float

    @property
    def change(self) -> float:
        return self.after - self.before


@dataclass
class Contributors:
    entity: str
    items: list[Contribution]  # largest change first; the tail folded into one "others" item
    new_total: float
    departed_total: float
    incumbent_total: float


def contributors(entity: str, before: Window, after: Window, limit: int = TOP_CONTRIBUTORS) -> Contributors:
    """Change in tokens per entity; private apps are folded into one anonymous line so the
    parts still add up without naming them."""
    rows: dict[Any, list[float]] = {}
    entities: dict[Any, Any] = {}
    for position, window in enumerate((before, after)):
        ranking = selectors.ranking(entity, window, limit=100_000, compare=False, include_private=True)
        for row in ranking.rows:
            key = row.key if getattr(row.entity, "is_public", True) else "private"
            rows.setdefault(key, [0.0, 0.0])[position] += row.value
            entities[key] = row.entity if key != "private" else "(private apps)"
    items = []
    totals = {"new": 0.0, "departed": 0.0, "incumbent": 0.0}
    for key, (b, a) in rows.items():
        kind = "new" if b == 0 else "departed" if a == 0 else "incumbent"
        totals[kind] += a - b
        items.append(Contribution(entities[key], kind, b, a))
    items.sort(key=lambda c: -abs(c.change))
    head, tail = items[:limit], items[limit:]
    if tail:
        head.append(Contribution("others", "others", sum(c.before for c in tail), sum(c.after for c in tail)))
    return Contributors(entity, head, totals["new"], totals["departed"], totals["incumbent"])


@dataclass
class Growth:
    before: Window
    after: Window
    totals_before: Totals
    totals_after: Totals
    volume: float
    intensity: float
    contributors: dict[str, Contributors]
    mix: dict[str, float]  # change per token part; sums to the total change
    variants: list[dict[str, Any]]
    history: dict[str, Any] = field(default_factory=dict)

    @property
    def change(self) -> float:
        return self.totals_after.tokens - self.totals_before.tokens

    @property
    def change_pct(self) -> float | None:
        before = self.totals_before.tokens
        return self.change * 100 / before if before else None

    def points(self, part: float) -> float | None:
        """A part of the change in percentage points of the earlier total."""
        before = self.totals_before.tokens
        return part * 100 / before if before else None


def _mix(t0: Totals, t1: Totals) -> dict[str, float]:
    """Prompt (uncached), cached prompt, completion (non-reasoning), reasoning: four disjoint
    parts of the tokens, so their changes add up to the total change."""

    def parts(t: Totals) -> dict[str, float]:
        return {
            "prompt_uncached": t.prompt_tokens - t.cached_tokens,
            "cached": t.cached_tokens,
            "completion_visible": t.completion_tokens - t.reasoning_tokens,
            "reasoning": t.reasoning_tokens,
        }

    p0, p1 = parts(t0), parts(t1)
    return {k: p1[k] - p0[k] for k in p0}


def _variants(before: Window, after: Window) -> list[dict[str, Any]]:
    shares = []
    r0 = {r.key: r for r in selectors.ranking("variant", before, limit=100, compare=False).rows}
    r1 = {r.key: r for r in selectors.ranking("variant", after, limit=100, compare=False).rows}
    for key in sorted(set(r0) | set(r1), key=lambda k: -(r1[k].value if k in r1 else 0)):
        b, a = r0.get(key), r1.get(key)
        shares.append(
            {
                "variant": key,
                "before": b.value if b else 0.0,
                "after": a.value if a else 0.0,
                "share_before": b.share if b else 0.0,
                "share_after": a.share if a else 0.0,
            }
        )
    return shares


def _history(end: Window, days: int = 90) -> dict[str, Any]:
    """Daily trends over the last ``days``: context (prompt per request), reasoning and cached
    shares, effective price, volume; and prompt per request for the largest categories."""
    window = Window(truncate(end.end - timedelta(days=days), "day", end.zone), end.end, end.zone)
    series = selectors.measure_series(window)

    def ratio(a: list[float], b: list[float], scale: float = 1.0) -> list[float | None]:
        return [x * scale / y if y else None for x, y in zip(a, b, strict=True)]

    by_category = {}
    for row in selectors.ranking("category", window, limit=4, compare=False).rows:
        in_category = selectors.measure_series(window, filters=Filters(category=row.key))
        by_category[row.entity.name] = ratio(in_category["prompt_tokens"], in_category["requests"])
    return {
        "days": [b.astimezone(zones.info(window.zone)).date().isoformat() for b in selectors.bucket_starts(window, "day")],
        "tokens": series["tokens"],
        "prompt_per_request": ratio(series["prompt_tokens"], series["requests"]),
        "prompt_per_request_by_category": by_category,
        "reasoning_share": ratio(series["reasoning_tokens"], series["completion_tokens"]),
        "cached_share": ratio(series["cached_tokens"], series["prompt_tokens"]),
        "price_per_million": ratio(series["cost"], series["tokens"], 1e6),
    }


def decompose(after: Window, *, with_history: bool = True) -> Growth:
    before = after.previous()
    t0, t1 = selectors.totals(before), selectors.totals(after)
    volume, intensity = volume_intensity(t0.tokens, t0.requests, t1.tokens, t1.requests)
    return Growth(
        before=before,
        after=after,
        totals_before=t0,
        totals_after=t1,
        volume=volume,
        intensity=intensity,
        contributors={e: contributors(e, before, after) for e in CONTRIBUTOR_ENTITIES},
        mix=_mix(t0, t1),
        variants=_variants(before, after),
        history=_history(after) if with_history else {},
    )


def summary(growth: Growth) -> list[str]:
    """Plain sentences (not HTML: templates escape them) built from the decomposition."""
    if not growth.totals_before.tokens:
        if not growth.totals_after.tokens:
            return ["No usage in either period yet."]
        return [f"{compact(growth.totals_after.tokens)} tokens this period; none in the period before."]
    sign = "+" if growth.change >= 0 else "−"
    verb = "grew" if growth.change >= 0 else "fell"
    label = growth.after.comparison()
    sentences = [
        f"Tokens {verb} {abs(growth.change_pct):.0f}% {label} ({sign}{compact(abs(growth.change))}).",
        f"More requests explain {growth.points(growth.volume):+.0f} points, "
        f"{'longer' if growth.intensity >= 0 else 'shorter'} requests (tokens per request) "
        f"{growth.points(growth.intensity):+.0f}.",
    ]
    categories = [c for c in growth.contributors["category"].items if c.kind != "others"]
    apps = [
        c for c in growth.contributors["app"].items if c.kind != "others" and c.entity != "(private apps)"
    ]
    if growth.change and categories:
        top = max(categories, key=lambda c: c.change if growth.change > 0 else -c.change)
        share = top.change * 100 / growth.change
        sentence = f"{top.entity.name} apps {'added' if growth.change > 0 else 'lost'} {abs(share):.0f}% of the change"
        sentences.append(sentence + ".")
        if apps:
            lead = max(apps, key=lambda c: c.change if growth.change > 0 else -c.change)
            sentences.append(
                f"The largest single app contributor was {lead.entity.name} "
                f"({'+' if lead.change >= 0 else '−'}{compact(abs(lead.change))})."
            )
    r0, r1 = growth.totals_before.reasoning_share, growth.totals_after.reasoning_share
    if r1 is not None and r0 is not None:
        sentences.append(
            f"Reasoning tokens are now {r1 * 100:.0f}% of completions ({(r1 - r0) * 100:+.0f} points)."
        )
    return sentences
