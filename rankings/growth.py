"""Why token usage grew: exact decompositions of the change between two equal windows.

Every decomposition is additive: its parts sum to the total change. Volume vs intensity
uses the additive log-mean Divisia index (LMDI-I, Ang 2004): with L(a, b) the logarithmic
mean, ΔT = L(T1, T0)·ln(R1/R0) + L(T1, T0)·ln(I1/I0), where R is requests and I = T/R
tokens per request. All numbers come from :mod:`rankings.selectors`, i.e. the rollups.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from operator import itemgetter
from typing import Any

from ingest.rollups import zones
from ingest.rollups.windows import shift, truncate
from rankings import selectors
from rankings.selectors import Totals, Window
from rankings.selectors import growth as reads
from rankings.selectors.entities import entities_of
from rankings.templatetags.rankings_format import compact, percent, points, signed_compact

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


def whole_parts(parts: dict[str, float], total: int) -> dict[str, int]:
    """``parts`` (summing to ``total`` up to floating-point error) as whole numbers summing
    to ``total`` exactly: each rounded down, then the units left over given to the largest
    remainders (taken from the smallest when rounding overshot)."""
    floors = {k: math.floor(v) for k, v in parts.items()}
    left = total - sum(floors.values())
    order = sorted(parts, key=lambda k: parts[k] - floors[k], reverse=left > 0)
    for n in range(abs(left)):
        floors[order[n % len(order)]] += 1 if left > 0 else -1
    return floors


def _split(r0: float, r1: float, x0: float, x1: float) -> tuple[float, float]:
    """LMDI-I of a sum X = R·(X/R) into (requests, per request), adding up to x1 − x0. With
    no requests on a side, all of it is requests; with none of X on a side (but requests),
    all of it is per request: the limits of the index there."""
    if min(r0, r1) <= 0:
        return x1 - x0, 0.0
    if min(x0, x1) <= 0:
        return 0.0, x1 - x0
    requests = log_mean(x1, x0) * math.log(r1 / r0)
    return requests, (x1 - x0) - requests


def context_split(r0: int, p0: int, c0: int, r1: int, p1: int, c1: int) -> dict[str, int]:
    """The change in tokens (prompt + completion) in three parts, whole tokens that add up
    exactly: more requests, more prompt tokens per request, more completion tokens per
    request. LMDI-I over the two sums: ΔP = L(P1, P0)·ln(R1/R0) + L(P1, P0)·ln(p1/p0), the
    same for completions, and the two request parts together."""
    prompt_requests, prompt = _split(r0, r1, p0, p1)
    completion_requests, completion = _split(r0, r1, c0, c1)
    return whole_parts(
        {
            "requests": prompt_requests + completion_requests,
            "prompt_per_request": prompt,
            "completion_per_request": completion,
        },
        (p1 + c1) - (p0 + c0),
    )


@dataclass
class CostSplit:
    before: Decimal
    after: Decimal
    price: Decimal
    volume: Decimal

    @property
    def change(self) -> Decimal:
        return self.after - self.before


_PRECISION = Decimal("1e-10")  # the rollups' cost precision (numeric(24, 10))


def price_volume(models: dict[Any, tuple[int, Decimal, int, Decimal]]) -> CostSplit:
    """The change in spend split into price and volume per model (tokens before, cost
    before, tokens after, cost after), summed. Per model the symmetric two-factor split
    (the Shapley value, no interaction term): volume = ΔQ·(p0 + p1)/2 with p = cost per
    token, price = the rest, so the two add up to the model's change exactly in the
    rollups' precision. A model with no tokens on a side changes by volume alone."""
    before = after = volume = Decimal(0)
    for q0, c0, q1, c1 in models.values():
        before, after = before + c0, after + c1
        if q0 and q1:
            mean_price = (c0 / q0 + c1 / q1) / 2
            volume += ((q1 - q0) * mean_price).quantize(_PRECISION)
        else:
            volume += c1 - c0
    return CostSplit(before, after, (after - before) - volume, volume)


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


PRIVATE = "(private apps)"


def contributors(
    entity: str, sums: dict[Any, list[int]], private: set[Any] = frozenset(), limit: int = TOP_CONTRIBUTORS
) -> Contributors:
    """Change in tokens per entry (``sums``: entry key → [before, after]); entries in
    ``private`` are folded into one anonymous line, so the parts still add up without naming
    them. Only the listed entries' catalog rows are loaded."""
    folded = _summed((PRIVATE if key in private else key, b, a) for key, (b, a) in sums.items())
    totals = {"new": 0.0, "departed": 0.0, "incumbent": 0.0}
    for b, a in folded.values():
        totals["new" if b == 0 else "departed" if a == 0 else "incumbent"] += a - b
    head = heapq.nlargest(limit, folded.items(), key=lambda item: abs(item[1][1] - item[1][0]))
    found = entities_of(entity, [k for k, _ in head if k != PRIVATE])
    items = [
        Contribution(
            PRIVATE if k == PRIVATE else found.get(k),
            "new" if b == 0 else "departed" if a == 0 else "incumbent",
            b,
            a,
        )
        for k, (b, a) in head
    ]
    if len(folded) > limit:
        listed = [sum(v[n] for _, v in head) for n in (0, 1)]
        rest = [sum(v[n] for v in folded.values()) - listed[n] for n in (0, 1)]
        items.append(Contribution("others", "others", *rest))
    return Contributors(entity, items, totals["new"], totals["departed"], totals["incumbent"])


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
    # What the drivers read too (rankings.drivers): per model × variant, per model in the
    # window before ``before``, per app.
    sums: list[reads.VariantSums] = field(default_factory=list)
    earlier: dict[int, int] = field(default_factory=dict)
    apps: list[reads.AppRow] = field(default_factory=list)

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


def _summed(lines: Iterable[tuple[Any, int, int]]) -> dict[Any, list[int]]:
    """[before, after] summed per key of ``(key, before, after)`` lines, keys in the order
    first seen."""
    out: dict[Any, list[int]] = {}
    for key, b, a in lines:
        line = out.setdefault(key, [0, 0])
        line[0], line[1] = line[0] + b, line[1] + a
    return out


def _per(key: Callable[[reads.VariantSums], Any], rows: list[reads.VariantSums]) -> dict[Any, list[int]]:
    """Tokens [before, after] per ``key(row)``."""
    return _summed((key(r), r.before, r.after) for r in rows)


def _variants(rows: list[reads.VariantSums], t0: Totals, t1: Totals) -> list[dict[str, Any]]:
    per = _per(lambda r: r.variant, rows)
    return [
        {
            "variant": variant,
            "before": float(b),
            "after": float(a),
            "share_before": b / t0.tokens if t0.tokens else 0.0,
            "share_after": a / t1.tokens if t1.tokens else 0.0,
        }
        for variant, (b, a) in sorted(per.items(), key=lambda kv: (-kv[1][1], kv[0]))
    ]


def _history(end: Window, categories: list[Any], days: int = 90) -> dict[str, Any]:
    """Daily trends over the last ``days`` days, the last one ``end``'s (so far when it is
    running), days in ``end``'s zone: context (prompt per request), reasoning and cached
    shares, effective price, volume; and prompt per request for ``categories`` (the largest
    ones of ``end``)."""
    last_day = truncate(end.end - timedelta(microseconds=1), "day", end.zone)
    window = Window(shift(last_day, "day", 1 - days, end.zone), end.end, end.zone)
    series = selectors.measure_series(window)

    def ratio(a: list[float], b: list[float], scale: float = 1.0) -> list[float | None]:
        return [x * scale / y if y else None for x, y in zip(a, b, strict=True)]

    found = entities_of("category", categories)
    listed = [found[k] for k in categories if k in found]
    in_categories = selectors.measure_series_of("category", [c.pk for c in listed], window)
    by_category = {
        c.name: ratio(in_categories[c.pk]["prompt_tokens"], in_categories[c.pk]["requests"]) for c in listed
    }
    return {
        "days": [
            b.astimezone(zones.info(window.zone)).date().isoformat()
            for b in selectors.bucket_starts(window, "day")
        ],
        "tokens": series["tokens"],
        "prompt_per_request": ratio(series["prompt_tokens"], series["requests"]),
        "prompt_per_request_by_category": by_category,
        "reasoning_share": ratio(series["reasoning_tokens"], series["completion_tokens"]),
        "cached_share": ratio(series["cached_tokens"], series["prompt_tokens"]),
        "price_per_million": ratio(series["cost"], series["tokens"], 1e6),
    }


def decompose(after: Window, *, with_history: bool = True) -> Growth:
    """The growth report of ``after`` against the equal window before it, from three passes
    over the rollups (``rankings.selectors.growth``) and, ``with_history``, the daily trends."""
    before = after.previous()
    sums = reads.model_variants(after, before)
    # Every category's sums add up to the window's totals.
    t0, t1 = (
        Totals(**{m: sum(map(itemgetter(m), sides)) for m in reads.MEASURES})
        for sides in ([b for b, _ in sums.categories.values()], [a for _, a in sums.categories.values()])
    )
    volume, intensity = volume_intensity(t0.tokens, t0.requests, t1.tokens, t1.requests)
    apps = reads.apps(after, before)
    models = _per(lambda r: r.model_id, sums.variants)
    authors = reads.model_authors(set(models))
    categories = {k: [Totals(**b).tokens, Totals(**a).tokens] for k, (b, a) in sums.categories.items()}
    largest = sorted((k for k, (_, a) in categories.items() if a), key=lambda k: -categories[k][1])[:4]
    return Growth(
        before=before,
        after=after,
        totals_before=t0,
        totals_after=t1,
        volume=volume,
        intensity=intensity,
        contributors={
            "author": contributors("author", _summed((authors.get(m), b, a) for m, (b, a) in models.items())),
            "model": contributors("model", models),
            "app": contributors("app", {a.app_id: [a.before, a.after] for a in apps}, reads.private_apps()),
            "category": contributors("category", categories),
        },
        mix=_mix(t0, t1),
        variants=_variants(sums.variants, t0, t1),
        history=_history(after, largest) if with_history else {},
        sums=sums.variants,
        earlier=reads.model_tokens(before.previous()),
        apps=apps,
    )


def _moved(change_pct: float) -> str:
    """ "grew 12%", "fell 0.4%" (one decimal under 1 %), "grew 211,801%", "stayed about the same"."""
    digits = 0 if abs(change_pct) >= 1 else 1
    size = round(abs(change_pct), digits)
    if size == 0:
        return "stayed about the same"
    return f"{'grew' if change_pct > 0 else 'fell'} {size:,.{digits}f}%"


def summary(growth: Growth) -> list[str]:
    """Plain sentences (not HTML: templates escape them) built from the decomposition."""
    if not growth.totals_before.tokens:
        if not growth.totals_after.tokens:
            return ["No usage in either window."]
        return [f"{compact(growth.totals_after.tokens)} tokens in this window; none in the window before."]
    label = growth.after.comparison()
    sentences = [
        f"Tokens {_moved(growth.change_pct)} {label} ({signed_compact(growth.change)}).",
        f"{'More' if growth.volume >= 0 else 'Fewer'} requests explain {points(growth.points(growth.volume), 1)}, "
        f"{'longer' if growth.intensity >= 0 else 'shorter'} requests (tokens per request) "
        f"{points(growth.points(growth.intensity), 1)}.",
    ]
    categories = [c for c in growth.contributors["category"].items if c.kind != "others"]
    apps = [c for c in growth.contributors["app"].items if c.kind != "others" and c.entity != PRIVATE]
    if growth.change and categories:
        top = max(categories, key=lambda c: c.change if growth.change > 0 else -c.change)
        share = top.change * 100 / growth.change
        # Over 100 % when other categories moved the other way: said, not left to puzzle over.
        against = "; the others moved the other way" if share > 100 else ""
        sentences.append(
            f"The {top.entity.name} category moved most: {signed_compact(top.change)} tokens, "
            f"{share:,.0f}% of the change{against}."
        )
        if apps:
            lead = max(apps, key=lambda c: c.change if growth.change > 0 else -c.change)
            sentences.append(
                f"The largest single app contributor was {lead.entity.name} ({signed_compact(lead.change)})."
            )
    r0, r1 = growth.totals_before.reasoning_share, growth.totals_after.reasoning_share
    if r1 is not None and r0 is not None:
        sentences.append(
            f"Reasoning tokens are now {percent(r1)} of completions ({points((r1 - r0) * 100, 1)})."
        )
    return sentences
