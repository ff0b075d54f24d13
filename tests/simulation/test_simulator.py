"""The simulator: deterministic per seed, and calibrated on OpenRouter's published shape."""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from dataclasses import replace
from datetime import date

import pytest

from ingest.events import validate_batch
from ingest.simulation import SCALES, Simulator

END = date(2026, 6, 30)
SMALL = replace(SCALES["demo"], requests_first_day=60, tail_apps=60)


def digest(events) -> str:
    return hashlib.sha256(json.dumps(list(events), sort_keys=True).encode()).hexdigest()


def test_same_seed_same_events_different_seed_different_events():
    first = digest(Simulator(days=20, end=END, scale=SMALL, seed=3).events())
    again = digest(Simulator(days=20, end=END, scale=SMALL, seed=3).events())
    other = digest(Simulator(days=20, end=END, scale=SMALL, seed=4).events())
    assert first == again
    assert first != other


def test_simulated_events_are_all_valid(db):
    from datetime import UTC, datetime

    events = list(Simulator(days=30, end=END, scale=SMALL, seed=1).events())
    validated = validate_batch(events, datetime.now(UTC))
    assert validated.rejected == [] and validated.duplicates_in_batch == 0


@pytest.fixture(scope="module")
def year():
    """Per-window aggregates of a small but full simulated year."""
    windows: dict[str, dict] = {"first": defaultdict(float), "last": defaultdict(float)}
    sim = Simulator(days=365, end=END, scale=SMALL, seed=11)
    authors = {"first": defaultdict(float), "last": defaultdict(float)}
    categories = {"first": defaultdict(float), "last": defaultdict(float)}
    for day in list(range(28)) + list(range(337, 365)):
        window = "first" if day < 28 else "last"
        for e in sim.events_for_day(day):
            tokens = e["tokens_prompt"] + e["tokens_completion"]
            w = windows[window]
            w["tokens"] += tokens
            w["requests"] += 1
            w["prompt"] += e["tokens_prompt"]
            if e["native_tokens_reasoning"]:
                w["reasoning"] += e["native_tokens_reasoning"]
                w["reasoning_model_completion"] += e["tokens_completion"]
            authors[window][e["model"].split("/")[0]] += tokens
            categories[window][e["categories"]] += tokens
    return windows, authors, categories


def share(counter, key):
    return counter[key] / sum(counter.values())


def test_tokens_grow_about_tenfold(year):
    windows, _, _ = year
    growth = windows["last"]["tokens"] / windows["first"]["tokens"]
    assert 6 <= growth <= 16, growth


def test_author_shares_end_near_the_august_2025_rankings(year):
    _, authors, _ = year
    last = authors["last"]
    assert abs(share(last, "google") - 0.25) < 0.06
    assert abs(share(last, "anthropic") - 0.23) < 0.06
    assert abs(share(last, "deepseek") - 0.15) < 0.06
    ranked = sorted(last, key=last.get, reverse=True)
    assert ranked[:3] == ["google", "anthropic", "deepseek"] or set(ranked[:3]) == {
        "google",
        "anthropic",
        "deepseek",
    }


def test_programming_share_rises_past_half(year):
    _, _, categories = year
    assert share(categories["first"], "programming") < 0.2
    assert share(categories["last"], "programming") > 0.45


def test_reasoning_share_and_prompt_length_rise(year):
    windows, _, _ = year
    first, last = windows["first"], windows["last"]
    assert last["reasoning"] / last["reasoning_model_completion"] > 1.5 * (
        first["reasoning"] / first["reasoning_model_completion"]
    )
    assert last["prompt"] / last["requests"] > 2 * first["prompt"] / first["requests"]


def test_openrouter_scale_has_the_benchmark_cardinality():
    sim = Simulator(days=2, end=END, scale=SCALES["openrouter"], seed=1)
    assert len(sim.models) >= 400
    assert len({m.author for m in sim.models}) >= 60
    assert sum(len(apps) for apps in sim.apps_by_category.values()) >= 5000


def test_long_tail_apps_have_believable_unique_names_and_origins():
    from urllib.parse import urlsplit

    apps = [
        a
        for apps in Simulator(days=2, end=END, scale=SCALES["openrouter"], seed=5).apps_by_category.values()
        for a in apps
    ]
    names = [a.name for a in apps]
    origins = [o for a in apps for o in a.origins]
    assert len(set(n.casefold() for n in names)) == len(names) >= 5000
    assert len(set(origins)) == len(origins)
    assert not [n for n in names if n.startswith("App ") or n[-1].isdigit()]
    for origin in origins:
        parts = urlsplit(origin)
        assert parts.scheme == "https" and "." in parts.netloc and ".example" not in parts.netloc
    again = Simulator(days=2, end=END, scale=SCALES["openrouter"], seed=5).apps_by_category
    assert [a.name for apps in again.values() for a in apps] == names
