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
    reasoning_models = {m.slug for m in sim.models if m.reasoning}
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
            if e["model"].split(":")[0] in reasoning_models:
                w["reasoning_model_tokens"] += tokens
            coding = "coding" if e["categories"] == "programming" else "other"
            w[f"{coding}_requests"] += 1
            w[f"{coding}_prompt"] += e["tokens_prompt"]
            w[f"{coding}_tool_calls"] += e.get("tool_calls", 0)
            w[f"language:{e['tags']['language']}"] += tokens
            if "programming_language" in e["tags"]:
                w[f"programming:{e['tags']['programming_language']}"] += tokens
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


def test_prompts_per_request_and_reasoning_models_follow_the_state_of_ai_report(year):
    """a16z x OpenRouter, Dec 2025: prompts per request ~1.5K to over 6K, coding ~20K vs ~5K
    elsewhere; reasoning models from ~0 to over half of the tokens."""
    windows, _, _ = year
    first, last = windows["first"], windows["last"]
    assert 1000 < first["prompt"] / first["requests"] < 2200
    assert last["prompt"] / last["requests"] > 6000
    assert 16_000 < last["coding_prompt"] / last["coding_requests"] < 25_000
    assert 3500 < last["other_prompt"] / last["other_requests"] < 6500
    assert first["reasoning_model_tokens"] / first["tokens"] < 0.08
    assert last["reasoning_model_tokens"] / last["tokens"] > 0.5


def test_languages_and_tool_calls_follow_the_report(year):
    windows, _, _ = year
    last = windows["last"]
    assert abs(last["language:en"] / last["tokens"] - 0.83) < 0.04
    assert abs(last["language:zh-hans"] / last["tokens"] - 0.05) < 0.02
    programming = {k: v for k, v in last.items() if k.startswith("programming:")}
    leaders = sorted(programming, key=programming.get, reverse=True)[:3]
    assert set(leaders) == {"programming:python", "programming:typescript", "programming:javascript"}
    assert last["coding_tool_calls"] / (last["coding_tool_calls"] + last["other_tool_calls"]) > 0.7


def test_sessions_keep_their_model_and_coding_agents_run_longer():
    turns: dict[str, list] = defaultdict(list)
    sim = Simulator(days=365, end=END, scale=SCALES["demo"], seed=2)
    for day in range(358, 365):
        for e in sim.events_for_day(day):
            turns[e["session_id"]].append(e)
    for events in turns.values():
        assert len({e["model"].split(":")[0] for e in events}) == 1
        assert len({e["origin"].split("/")[2].removeprefix("app.") for e in events}) == 1
    coding = [len(v) for v in turns.values() if v[0]["categories"] == "programming"]
    other = [len(v) for v in turns.values() if v[0]["categories"] not in ("programming", "roleplay")]
    assert sum(coding) / len(coding) > 3 * sum(other) / len(other)
    assert {e.get("harness") for v in turns.values() for e in v} >= {"cline", None}


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


@pytest.mark.django_db
def test_the_year_moves_each_growth_driver_the_published_way():
    """Quarter over quarter at the year's end: more models per app, models that entered the
    top 20 growing faster than the rest, reasoning's share up, free variants pulling volume
    and some apps moving from free to paid, routing variants growing, app growth led by
    coding agents, longer prompts (a16z x OpenRouter, Dec 2025; OpenRouter's rankings)."""
    from datetime import UTC, datetime, timedelta

    from ingest.services import import_events
    from rankings import drivers, growth
    from rankings.selectors import Window

    sim = Simulator(days=365, end=END, scale=replace(SMALL, tail_apps=240), seed=11)
    import_events(sim.events())
    end = datetime(END.year, END.month, END.day, tzinfo=UTC) + timedelta(days=1)
    g = growth.decompose(Window(end - timedelta(days=91), end), with_history=False)
    found = {d.key: d for d in drivers.report(g).drivers}
    assert found["model_breadth"].after > found["model_breadth"].before
    assert found["discovery"].tokens > 0
    assert found["reasoning"].tokens > 0 and found["reasoning"].after > found["reasoning"].before
    assert found["free_vs_paid"].tokens > 0 and found["free_vs_paid"].figures["apps_free_to_paid"] >= 1
    assert (
        found["routing_variants"].tokens > 0
        and found["routing_variants"].after > found["routing_variants"].before
    )
    coding = found["app_growth"]
    assert coding.tokens > coding.parts["other_apps"] > 0 and coding.after > coding.before
    assert (
        found["context_growth"].tokens > 0 and found["context_growth"].after > found["context_growth"].before
    )
