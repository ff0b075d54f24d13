"""What the simulator adds to each event: tags (programming language, natural language,
task), tool calls and their failures, agent or chat sessions, and the growth drivers of
apps and routing (the models each app offers, free tiers that convert to paid, variants).

Calibrated on the a16z x OpenRouter "State of AI" report (Dec 2025): English is ~83 % of
tokens and Simplified Chinese ~5 %; Python, then TypeScript and JavaScript lead the
programming languages; tool calls are concentrated in coding agents; coding sessions run
many turns. Draws come from the day's ``random.Random`` of :mod:`ingest.simulation`, so the
events stay the same for a seed.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

# (value, weight): natural languages by share of tokens.
LANGUAGES = (
    ("en", 0.83),
    ("zh-hans", 0.05),
    ("es", 0.025),
    ("ru", 0.02),
    ("pt", 0.015),
    ("de", 0.015),
    ("fr", 0.015),
    ("ja", 0.012),
    ("ko", 0.008),
    ("it", 0.005),
    ("tr", 0.005),
)
PROGRAMMING_LANGUAGES = (
    ("python", 0.31),
    ("typescript", 0.22),
    ("javascript", 0.16),
    ("java", 0.06),
    ("go", 0.05),
    ("rust", 0.04),
    ("c++", 0.035),
    ("c#", 0.03),
    ("php", 0.025),
    ("sql", 0.02),
    ("shell", 0.02),
    ("ruby", 0.015),
    ("swift", 0.01),
    ("kotlin", 0.01),
)
TASKS = {
    "programming": (
        ("code.generation", 0.35),
        ("code.debugging", 0.25),
        ("code.refactoring", 0.15),
        ("code.review", 0.1),
        ("code.explanation", 0.1),
        ("code.testing", 0.05),
    ),
    "roleplay": (("roleplay.chat", 0.8), ("roleplay.story", 0.2)),
    "marketing": (("writing.copy", 0.7), ("writing.email", 0.3)),
    "marketing-seo": (("writing.seo", 1.0),),
    "translation": (("translation", 1.0),),
    "science": (("research.analysis", 0.6), ("qa", 0.4)),
    "academia": (("research.analysis", 0.5), ("writing.essay", 0.5)),
}
OTHER_TASKS = (("qa", 0.6), ("writing", 0.25), ("summarization", 0.15))
# Share of requests that call tools, by category: coding agents call them on most turns.
TOOL_USE = {"programming": 0.8, "technology": 0.15, "science": 0.08}
OTHER_TOOL_USE = 0.03
# How failed tool calls split, as the report's error taxonomy (invalid JSON, unknown tool
# name, arguments not matching the tool's schema).
ERROR_KINDS = (("schema_mismatch", 0.5), ("invalid_json", 0.3), ("unknown_tool", 0.2))
# Turns per session: median and spread (log-normal) by category; coding agents run long.
SESSION_TURNS = {"programming": (10, 0.8), "roleplay": (8, 0.8), "translation": (1, 0.3)}
OTHER_SESSION_TURNS = (2, 0.8)
# The harness each coding agent names; other apps name none (the app is the harness).
HARNESSES = {
    "Cline": "cline",
    "Kilo Code": "kilo-code",
    "Roo Code": "roo-code",
    "Aider": "aider",
    "Zed": "zed",
}


def _pick(rng: random.Random, weighted: tuple[tuple[str, float], ...]) -> str:
    return rng.choices([v for v, _ in weighted], [w for _, w in weighted])[0]


def tool_error_rate(rng: random.Random) -> float:
    """A model's share of failed tool calls: ~2.5 % typical, a few models far worse."""
    return min(0.2, rng.lognormvariate(math.log(0.025), 0.8))


@dataclass
class Turn:
    session_id: str
    model: Any
    seconds: float  # since the day's midnight


class Sessions:
    """The sessions of one simulated day: each app has one open session at a time, which
    takes its next requests (with its model) until its turns are used up."""

    def __init__(self, seed: int, day: int):
        self.prefix = f"sim-{seed}-{day:03d}"
        self.open: dict[str, list] = {}
        self.count = 0

    def turn(self, rng: random.Random, app_name: str, category: str, model: Any) -> Turn:
        current = self.open.get(app_name)
        if current is None or current[1] <= 0:
            median, spread = SESSION_TURNS.get(category, OTHER_SESSION_TURNS)
            turns = max(1, round(rng.lognormvariate(math.log(median), spread)))
            gap = rng.uniform(15, 90)  # seconds between turns
            start = min(rng.betavariate(5, 4) * 86_400, 86_399 - turns * gap)  # afternoon peak, UTC
            self.count += 1
            current = [f"{self.prefix}-s{self.count}", turns, max(0.0, start), gap, model]
            self.open[app_name] = current
        current[1] -= 1
        seconds = current[2]
        current[2] += current[3]
        return Turn(current[0], current[4], seconds)


def annotate(
    event: dict[str, Any],
    rng: random.Random,
    *,
    category: str,
    app_name: str,
    session_id: str,
    error_rate: float,
    provider_price_factor: float,
) -> None:
    """Tags, tool calls and the session of a simulated event (in place). Cheaper providers
    fail a few more tool calls (a model x provider difference to rank)."""
    tags = {"language": _pick(rng, LANGUAGES), "task": _pick(rng, TASKS.get(category, OTHER_TASKS))}
    if category == "programming":
        tags["programming_language"] = _pick(rng, PROGRAMMING_LANGUAGES)
    event["tags"] = tags
    event["session_id"] = session_id
    if app_name in HARNESSES:
        event["harness"] = HARNESSES[app_name]
    if rng.random() >= TOOL_USE.get(category, OTHER_TOOL_USE):
        return
    calls = 1 + min(20, int(rng.expovariate(0.7)))
    rate = min(0.5, error_rate / provider_price_factor)
    failed = sum(rng.random() < rate for _ in range(calls))
    event["tool_calls"] = calls
    event["finish_reason"] = "tool_calls"
    if failed:
        kinds: dict[str, int] = {}
        for _ in range(failed):
            kind = _pick(rng, ERROR_KINDS)
            kinds[kind] = kinds.get(kind, 0) + 1
        event["tool_call_errors"] = kinds


# Models an app offers: a few at the start of the year, about three times as many by its end
# (multi-model access through one API makes adding a model cheap).
PORTFOLIO_BASE = (1.0, 3.0)
PORTFOLIO_GROWTH = 2.0
# Tail apps that start on free models only and move to paid ones on a day of the year (or later).
FREE_TIER_SHARE = 0.12


class Portfolios:
    """The models each app offers: ``k`` slots (``k`` grows over the year), each holding a
    model drawn by the models' market weights for a stretch of 3 to 12 weeks of its own
    (a model may fill several slots); a request takes a slot at random. So each app uses a
    few models at a time, changing slowly, while over apps and weeks every model keeps its
    market share. Free-tier apps draw only models that have a free variant. Drawn from
    generators of their own, so the simulator's other draws are unchanged."""

    MAX_SLOTS = 12

    def __init__(self, seed: int, app_names: Sequence[str]):
        rng = random.Random(f"{seed}-portfolios")
        self.seed = seed
        self.base = {name: rng.uniform(*PORTFOLIO_BASE) for name in app_names}
        # Per app and slot: weeks a model stays, and the slot's offset in weeks.
        self.terms = {
            name: [(rng.randint(3, 12), rng.randint(0, 11)) for _ in range(self.MAX_SLOTS)]
            for name in app_names
        }
        self.drawn: dict[tuple, int | None] = {}
        self.weekly: dict[tuple, list[int]] = {}

    def slots(
        self, app: str, week: int, t: float, weights: Sequence[float], eligible: Sequence[bool] | None = None
    ) -> list[int]:
        """The model indexes of ``app``'s slots in ``week`` (``t``: the year's fraction;
        ``eligible``: only these models; empty when none of them is live)."""
        free = eligible is not None
        if (app, week, free) not in self.weekly:
            if free:
                weights = [w if ok else 0.0 for w, ok in zip(weights, eligible, strict=True)]
            size = min(self.MAX_SLOTS, max(1, round(self.base[app] * (1 + PORTFOLIO_GROWTH * t))))
            chosen = []
            for slot, (term, offset) in enumerate(self.terms[app][:size]):
                key = (app, slot, (week + offset) // term, free)
                if key not in self.drawn:
                    rng = random.Random(f"{self.seed}-{'-'.join(map(str, key))}")
                    self.drawn[key] = rng.choices(range(len(weights)), weights)[0] if any(weights) else None
                chosen.append(self.drawn[key])
            self.weekly[app, week, free] = [m for m in chosen if m is not None]
        return self.weekly[app, week, free]


def free_tier_days(seed: int, app_names: Sequence[str], days: int) -> dict[str, int]:
    """Tail apps on free models only, each until its day of moving to paid ones (spread over
    the year and a little beyond it)."""
    rng = random.Random(f"{seed}-free-tiers")
    return {name: rng.randint(0, days + days // 3) for name in app_names if rng.random() < FREE_TIER_SHARE}


def free_offer(has_free_variant: bool, age: int, t: float) -> float:
    """The chance a request takes a model's free variant (``age``: days since launch; ``t``:
    the year's fraction): most of its traffic in the two weeks after launch, then a share that
    grows over the year (free variants pull volume)."""
    if not has_free_variant:
        return 0.0
    return max(0.6 if age < 14 else 0.0, 0.03 + 0.3 * t)


# Routing variants' shares of requests at the start and the end of the year (:thinking only
# for reasoning models): :nitro takes the fastest provider, :floor the cheapest, :online adds
# web search; they grow as routers make them a flag.
ROUTING = (("nitro", 0.015, 0.04), ("floor", 0.015, 0.04), ("online", 0.003, 0.02), ("thinking", 0.04, 0.12))


def variant(rng: random.Random, *, t: float, free_offer: float, reasoning: bool) -> str:
    """A request's variant; ``free_offer``: the chance it takes the model's free variant
    (0 when it has none). Each routing variant takes its band at the top of one draw."""
    roll = rng.random()
    if roll < free_offer:
        return "free"
    top = 1.0
    for name, start, end in ROUTING:
        if name == "thinking" and not reasoning:
            continue
        top -= start + (end - start) * t
        if roll >= top:
            return name
    return ""
