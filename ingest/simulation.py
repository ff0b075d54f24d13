"""A deterministic simulator of a year of LLM-gateway traffic and its growth drivers.

Calibrated on OpenRouter's published figures (2025): tokens grow ~10x over the year with
weekday peaks and a daily cycle; author token shares drift to Google ~25%, Anthropic ~23%,
DeepSeek ~15%, then OpenAI, Qwen, Meta, Mistral, xAI and a tail; programming grows from ~11%
to over 50% of tokens; prompts grow (agent context in programming, chat history in
roleplay); reasoning models, reasoning and cached tokens grow; models launch, ramp and decay,
some as ``:free`` previews; free variants are capped per user per day; ``:nitro``/``:floor``
route to the fastest/cheapest of several providers; events carry tags, tool calls and
sessions (:mod:`ingest.simulation_extras`). Every random draw comes from
``Random((seed, day))``, so a day's events, and their ids, are the same on every run.
"""

from __future__ import annotations

import math
import random
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from ingest import simulation_extras as extras
from ingest.app_names import NameMaker
from rankings import catalog

# Author token shares and category mixes at the start and the end of the year: the table is
# ingest/simulation.toml.
_CALIBRATION = tomllib.loads(Path(__file__).with_name("simulation.toml").read_text())
AUTHOR_SHARES: dict[str, tuple[float, float]] = {a: tuple(v) for a, v in _CALIBRATION["author_shares"].items()}
# share start, share end, prompt start, prompt end, completion
CATEGORIES: dict[str, tuple[float, float, int, int, int]] = {
    c: tuple(v) for c, v in _CALIBRATION["categories"].items()
}
# Prompts spread wider in coding (agents' contexts reach 100K and more): a log-normal sigma.
PROMPT_SPREAD = {"programming": 0.9}
# Named apps: (name, origin, category, weight within category); coding agents dominate.
NAMED_APPS = [
    ("Cline", "https://cline.bot", "programming", 49),
    ("Kilo Code", "https://kilocode.ai", "programming", 45),
    ("Roo Code", "https://roocode.com", "programming", 25),
    ("Aider", "https://aider.chat", "programming", 6),
    ("Zed", "https://zed.dev", "programming", 4),
    ("SillyTavern", "https://sillytavern.app", "roleplay", 30),
    ("Janitor AI", "https://janitorai.com", "roleplay", 22),
    ("Chub AI", "https://chub.ai", "roleplay", 12),
    ("Agnaistic", "https://agnai.chat", "roleplay", 4),
    ("Open WebUI", "https://openwebui.com", "technology", 10),
    ("LibreChat", "https://librechat.ai", "technology", 6),
    ("Jasper", "https://jasper.ai", "marketing", 8),
    ("SEO Writer", "https://seowriter.ai", "marketing-seo", 8),
    ("Immersive Translate", "https://immersivetranslate.com", "translation", 12),
    ("Consensus", "https://consensus.app", "science", 6),
]
# The same app seen under a second origin (an operator may merge them in the admin).
SECOND_ORIGINS = {"https://kilocode.ai": "https://app.kilocode.ai"}

# Providers: (slug-name, latency ms, throughput tokens/s, price factor).
OPEN_MODEL_PROVIDERS = [
    ("Together", 450, 110, 1.0),
    ("Fireworks", 380, 140, 1.0),
    ("DeepInfra", 700, 55, 0.75),
    ("Groq", 180, 480, 1.2),
    ("Cerebras", 150, 1400, 1.4),
    ("Novita", 800, 45, 0.8),
    ("Chutes", 1100, 35, 0.6),
    ("Parasail", 600, 75, 0.85),
]
FIRST_PARTY = {
    "google": [("Google Vertex", 650, 160, 1.0), ("Google AI Studio", 550, 170, 1.0)],
    "anthropic": [
        ("Anthropic", 1200, 60, 1.0),
        ("Amazon Bedrock", 1400, 55, 1.0),
        ("Google Vertex", 1300, 58, 1.0),
    ],
    "openai": [("OpenAI", 700, 90, 1.0), ("Azure", 800, 85, 1.0)],
    "x-ai": [("xAI", 600, 95, 1.0)],
    "mistralai": [("Mistral", 400, 120, 1.0)],
    "cohere": [("Cohere", 500, 70, 1.0)],
    "amazon": [("Amazon Bedrock", 500, 120, 1.0)],
}
REAL_YEAR_END = date(2025, 11, 29)  # catalog release dates are mapped onto the simulated year
FREE_PREVIEW_AUTHORS = {"deepseek", "qwen", "meta-llama", "mistralai", "z-ai", "moonshotai", "x-ai"}


@dataclass(frozen=True)
class Scale:
    name: str
    requests_first_day: int
    request_growth: float  # requests grow this much over the year; tokens/request do the rest
    tail_apps: int
    extra_authors: int  # synthetic long-tail labs beyond the catalog
    extra_models: int
    extra_providers: int


SCALES = {
    "demo": Scale("demo", 200, 2.4, 300, 0, 0, 0),
    "openrouter": Scale("openrouter", 20_000, 2.4, 4985, 45, 355, 41),
}


@dataclass
class SimModel:
    slug: str
    author: str
    prompt_price: float
    completion_price: float
    reasoning: bool
    launch: int  # day index of launch (may be negative: launched before the year)
    providers: list[tuple[str, int, int, float]]
    free_preview: bool
    popularity: float = 1.0
    tool_error_rate: float = 0.025


@dataclass
class SimApp:
    name: str
    origins: tuple[str, ...]
    category: str
    weight: float
    private: bool


class Simulator:
    def __init__(self, *, days: int, end: date, scale: Scale, seed: int):
        self.days, self.end, self.scale, self.seed = days, end, scale, seed
        self.start = end - timedelta(days=days - 1)
        self.now = datetime.now(UTC).isoformat()
        setup = random.Random(f"{seed}-setup")
        self.models = self._models(setup)
        self.apps_by_category = self._apps(setup)
        names = [a.name for apps in self.apps_by_category.values() for a in apps]
        self.portfolios = extras.Portfolios(seed, names)
        named = {name for name, *_ in NAMED_APPS}
        self.free_until = extras.free_tier_days(seed, [n for n in names if n not in named], days)

    # --- The cast --------------------------------------------------------------------------

    def _launch_day(self, released: date) -> int:
        shifted = released + (self.end - REAL_YEAR_END)
        return (shifted - self.start).days

    def _models(self, rng: random.Random) -> list[SimModel]:
        models = []
        for slug, _name, _ctx, prompt, completion, reasoning, released in catalog.MODELS:
            author = slug.split("/")[0]
            providers = FIRST_PARTY.get(author) or rng.sample(OPEN_MODEL_PROVIDERS, rng.randint(3, 6))
            models.append(
                SimModel(
                    slug,
                    author,
                    prompt,
                    completion,
                    reasoning,
                    self._launch_day(released),
                    providers,
                    free_preview=author in FREE_PREVIEW_AUTHORS and rng.random() < 0.6,
                    popularity=rng.lognormvariate(0, 0.9),
                    tool_error_rate=extras.tool_error_rate(rng),
                )
            )
        # Each author's oldest model (a non-reasoning one when it has one: reasoning models
        # were few before 2025) stands for its previous generation, live from day one.
        oldest: dict[str, SimModel] = {}
        for m in models:
            if m.author not in oldest or (m.reasoning, m.launch) < (oldest[m.author].reasoning, oldest[m.author].launch):
                oldest[m.author] = m
        for m in oldest.values():
            m.launch = min(m.launch, -30)
        extra_providers = [
            (f"Cloud {n:02d}", rng.randint(200, 1500), rng.randint(30, 400), rng.uniform(0.6, 1.3))
            for n in range(self.scale.extra_providers)
        ]
        for n in range(self.scale.extra_models):
            author = f"lab-{n % max(1, self.scale.extra_authors):02d}"
            pool = OPEN_MODEL_PROVIDERS + extra_providers
            models.append(
                SimModel(
                    f"{author}/model-{n:03d}",
                    author,
                    rng.uniform(0.02, 1.0),
                    rng.uniform(0.05, 3.0),
                    rng.random() < 0.3,
                    rng.randint(-200, self.days - 10),
                    rng.sample(pool, rng.randint(2, 5)),
                    free_preview=rng.random() < 0.2,
                    popularity=rng.lognormvariate(-1, 1.0),
                )
            )
        return models

    def _apps(self, rng: random.Random) -> dict[str, list[SimApp]]:
        by_category: dict[str, list[SimApp]] = {c: [] for c in CATEGORIES}
        for name, origin, category, weight in NAMED_APPS:
            origins = (origin, SECOND_ORIGINS[origin]) if origin in SECOND_ORIGINS else (origin,)
            by_category[category].append(SimApp(name, origins, category, weight, private=False))
        categories = list(CATEGORIES)
        names = NameMaker(self.seed)
        names.names.update(name.casefold() for name, *_ in NAMED_APPS)
        names.origins.update(origin for _, origin, *_ in NAMED_APPS)
        for n in range(self.scale.tail_apps):
            category = categories[n % len(categories)]
            name, origin = names.make(category)
            by_category[category].append(
                SimApp(
                    name,
                    (origin,),
                    category,
                    weight=3.0 / (1 + n / 12) ** 1.1,  # a Zipf-like long tail
                    private=rng.random() < 0.08,
                )
            )
        return by_category

    def private_origins(self) -> list[str]:
        return [o for apps in self.apps_by_category.values() for a in apps if a.private for o in a.origins]

    # --- One day ---------------------------------------------------------------------------

    def _model_weight(self, model: SimModel, day: int) -> float:
        age = day - model.launch
        if age < 0:
            return 0.0
        ramp = min(1.0, (age + 1) / 21)  # three weeks to full adoption
        # Once it shows in the rankings it gets tried: twice as much over the next ten weeks.
        discovered = 1 + min(1.0, max(0, age - 21) / 70)
        decay = math.exp(-max(0, age - 150) / 120)  # superseded versions fade
        # Reasoning models: from almost no tokens to over half within the year.
        adoption = max(0.01, day / self.days) ** 1.5 if model.reasoning else 1.0
        return ramp * discovered * decay * model.popularity * adoption

    def _category_request_weights(self, t: float) -> dict[str, float]:
        """Token shares turned into request weights (divide by tokens per request)."""
        weights = {}
        for category, (s0, s1, p0, p1, completion) in CATEGORIES.items():
            # The log-normal's mean: its median (p) times exp(sigma^2 / 2).
            spread = PROMPT_SPREAD.get(category, 0.6)
            tokens_per_request = (p0 + (p1 - p0) * t) * math.exp(spread**2 / 2) + completion
            weights[category] = (s0 + (s1 - s0) * t) / tokens_per_request
        return weights

    def events_for_day(self, day: int) -> Iterator[dict[str, Any]]:
        rng = random.Random(f"{self.seed}-{day}")
        t = day / max(1, self.days - 1)
        current = self.start + timedelta(days=day)
        weekend = current.weekday() >= 5
        requests = self.scale.requests_first_day * self.scale.request_growth**t * (0.72 if weekend else 1.0)
        requests = int(requests * rng.uniform(0.95, 1.05))

        live = [(m, self._model_weight(m, day)) for m in self.models]
        # Shares hold per author (the long tail shares one), split over its live models by
        # their weight: the newest, most popular model of a lab takes most of its traffic.
        group = {m.slug: m.author if m.author in AUTHOR_SHARES else "_tail" for m in self.models}
        group_weight: dict[str, float] = {}
        for m, w in live:
            group_weight[group[m.slug]] = group_weight.get(group[m.slug], 0.0) + w
        model_weights = []
        for m, w in live:
            start, end = AUTHOR_SHARES[group[m.slug]]
            model_weights.append((start + (end - start) * t) * w / group_weight[group[m.slug]] if w else 0.0)
        models = [m for m, _ in live]
        has_free = [m.free_preview for m in models]
        category_weights = self._category_request_weights(t)
        categories = list(category_weights)
        cat_weights = list(category_weights.values())
        app_weights = {c: [a.weight for a in apps] for c, apps in self.apps_by_category.items()}
        free_cap = int(50 * (20 + 400 * t))  # free users x 50 requests/day
        free_used = 0

        picked_categories = rng.choices(categories, cat_weights, k=requests)
        sessions = extras.Sessions(self.seed, day)
        for n in range(requests):
            category = picked_categories[n]
            app = rng.choices(self.apps_by_category[category], app_weights[category])[0]
            # One of the app's model slots this week (free models only on a free tier).
            free_tier = day < self.free_until.get(app.name, -1)
            slots = self.portfolios.slots(
                app.name, day // 7, t, model_weights, has_free if free_tier else None
            )
            if not slots:
                free_tier, slots = False, self.portfolios.slots(app.name, day // 7, t, model_weights)
            pick = rng.choice(slots)
            # A session keeps its model: the one picked for its first turn.
            turn = sessions.turn(rng, app.name, category, models[pick])
            origin = app.origins[0] if len(app.origins) == 1 or rng.random() < 0.7 else app.origins[1]
            offer = extras.free_offer(turn.model.free_preview, day - turn.model.launch, t)
            free_offer = 1.0 if free_tier else offer if free_used < free_cap else 0.0
            event = self._event(rng, day, n, current, t, turn.model, category, app, origin, free_offer, turn)
            if event["created_at"] > self.now:
                continue  # today's later hours have not happened yet
            free_used += event["model"].endswith(":free")
            yield event

    def _event(self, rng, day, n, current, t, model, category, app, origin, free_offer, turn) -> dict[str, Any]:
        _, _, p0, p1, completion_mean = CATEGORIES[category]
        variant = extras.variant(rng, t=t, free_offer=free_offer, reasoning=model.reasoning)
        if variant == "nitro":
            provider = max(model.providers, key=lambda p: p[2])
        elif variant == "floor":
            provider = min(model.providers, key=lambda p: p[3])
        else:
            provider = rng.choice(model.providers)
        name, latency, throughput, price_factor = provider

        spread = PROMPT_SPREAD.get(category, 0.6)
        prompt = max(10, int(rng.lognormvariate(math.log(p0 + (p1 - p0) * t), spread)))
        completion = max(1, int(rng.lognormvariate(math.log(completion_mean), 0.7)))
        reasoning = 0
        if model.reasoning:
            share = 0.2 + 0.45 * t + (0.15 if variant == "thinking" else 0)
            reasoning = int(completion * share / (1 - share))
            completion += reasoning
        cached_share = (0.15 + 0.6 * t) if category == "programming" else 0.1 * t
        cached = int(prompt * cached_share * rng.uniform(0.6, 1.0))
        cost = 0.0
        if variant != "free":
            cost = (
                price_factor
                * (
                    (prompt - cached) * model.prompt_price
                    + cached * model.prompt_price * 0.1
                    + completion * model.completion_price
                )
                / 1_000_000
            )
        created = datetime(current.year, current.month, current.day, tzinfo=UTC) + timedelta(seconds=turn.seconds)
        event = {
            "id": f"sim-{self.seed}-{day:03d}-{n:07d}",
            "created_at": created.isoformat(),
            "model": f"{model.slug}:{variant}" if variant else model.slug,
            "provider_name": name,
            "origin": origin,
            "app_name": app.name,
            "categories": category,
            "tokens_prompt": prompt,
            "tokens_completion": completion,
            "native_tokens_reasoning": reasoning,
            "native_tokens_cached": cached,
            "total_cost": round(cost, 10),
            "latency": int(latency * rng.uniform(0.6, 1.8)),
            "generation_time": int(1000 * completion / (throughput * rng.uniform(0.7, 1.3))),
            "streamed": True,
            "cancelled": rng.random() < 0.01,
            "finish_reason": "stop",
        }
        extras.annotate(
            event,
            rng,
            category=category,
            app_name=app.name,
            session_id=turn.session_id,
            error_rate=model.tool_error_rate,
            provider_price_factor=price_factor,
        )
        return event

    def live_events(self, tick: int, count: int) -> Iterator[dict[str, Any]]:
        """``count`` events happening now, shaped like the last simulated day."""
        now = datetime.now(UTC)
        for n, event in enumerate(self.events_for_day(self.days - 1)):
            if n >= count:
                break
            yield {
                **event,
                "id": f"live-{self.seed}-{now:%Y%m%d%H%M%S}-{tick}-{n}",
                "created_at": now.isoformat(),
            }

    def events(self) -> Iterator[dict[str, Any]]:
        for day in range(self.days):
            yield from self.events_for_day(day)

    def estimated_events(self) -> int:
        s = self.scale
        growth = (s.request_growth - 1) / math.log(s.request_growth) if s.request_growth != 1 else 1
        return int(s.requests_first_day * self.days * growth * (5 + 2 * 0.72) / 7)
