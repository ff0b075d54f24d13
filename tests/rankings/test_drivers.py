"""The seven drivers of token growth: every exact decomposition adds up to the token (known
cases, random arithmetic and random usage through the real ingest path), each driver counts
what its definition says, and each summary's numbers are its fields."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.services import import_events
from rankings import driver_sentences, drivers, growth, selectors
from rankings.models import AppOrigin, Category, LLMModel
from rankings.templatetags.rankings_format import percent, signed_compact, signed_percent
from tests.factories import EventFactory, usage_in_windows

counts = st.integers(min_value=0, max_value=10**12)


def windows():
    after = selectors.rolling_window(7)
    return after.previous().previous(), after.previous(), after


def at(window, hours: float) -> str:
    return (window.start + timedelta(hours=hours)).isoformat()


def tokens(events) -> int:
    return sum(e["tokens_prompt"] + e["tokens_completion"] for e in events)


# --- The arithmetic ------------------------------------------------------------------------


@given(r0=counts, p0=counts, c0=counts, r1=counts, p1=counts, c1=counts)
def test_context_split_adds_up_to_the_token(r0, p0, c0, r1, p1, c1):
    parts = growth.context_split(r0, p0, c0, r1, p1, c1)
    assert set(parts) == {"requests", "prompt_per_request", "completion_per_request"}
    assert all(isinstance(v, int) for v in parts.values())
    assert sum(parts.values()) == (p1 + c1) - (p0 + c0)


def test_context_split_known_cases():
    # Twice the requests, same sizes: all of it is requests.
    assert growth.context_split(10, 1000, 200, 20, 2000, 400) == {
        "requests": 1200,
        "prompt_per_request": 0,
        "completion_per_request": 0,
    }
    # Same requests, prompts twice as long: all of it is prompt tokens per request.
    assert growth.context_split(10, 1000, 200, 10, 2000, 200) == {
        "requests": 0,
        "prompt_per_request": 1000,
        "completion_per_request": 0,
    }
    # No requests before: all of it is requests (activity appeared).
    assert growth.context_split(0, 0, 0, 5, 500, 50)["requests"] == 550
    # Completions appear on the same requests: per request, not requests.
    assert growth.context_split(10, 1000, 0, 10, 1000, 300)["completion_per_request"] == 300


@given(
    parts=st.lists(st.floats(min_value=-1e12, max_value=1e12), min_size=1, max_size=8),
    jitter=st.floats(-3, 3),
)
def test_whole_parts_round_to_the_exact_total(parts, jitter):
    total = round(sum(parts) + jitter)
    whole = growth.whole_parts({str(n): v for n, v in enumerate(parts)}, total)
    assert sum(whole.values()) == total
    assert all(
        abs(whole[str(n)] - v) <= 1 + abs(jitter) + abs(sum(parts) - total) for n, v in enumerate(parts)
    )


money = st.decimals(min_value=0, max_value=10**6, places=10, allow_nan=False, allow_infinity=False)
model_usage = st.tuples(counts, money, counts, money)


@given(models=st.dictionaries(st.integers(0, 50), model_usage, max_size=12))
def test_spend_splits_exactly_into_price_and_volume(models):
    split = growth.price_volume(models)
    assert split.price + split.volume == split.change
    assert split.change == sum(c1 for _, _, _, c1 in models.values()) - sum(
        c0 for _, c0, _, _ in models.values()
    )


def test_spend_known_cases():
    same_price_more_tokens = growth.price_volume({1: (100, Decimal("1"), 300, Decimal("3"))})
    assert (same_price_more_tokens.price, same_price_more_tokens.volume) == (0, 2)
    dearer = growth.price_volume({1: (100, Decimal("1"), 100, Decimal("1.5"))})
    assert (dearer.price, dearer.volume) == (Decimal("0.5"), 0)
    new_model = growth.price_volume({1: (0, Decimal(0), 100, Decimal("2"))})
    assert (new_model.price, new_model.volume) == (0, 2)


# --- On usage ------------------------------------------------------------------------------


def check_report(report: drivers.Report, g: growth.Growth) -> None:
    """Every driver's parts add up to the change to the token; an exact driver's number is one
    of its parts; the spend splits exactly."""
    assert [d.key for d in report.drivers] == list(drivers.KEYS)
    for d in report.drivers:
        assert d.change == g.change
        assert sum(d.parts.values()) == g.change, d.key
        assert all(isinstance(v, int) for v in d.parts.values()), d.key
        if d.exact:
            assert d.tokens in d.parts.values(), d.key
    assert report.spend.price + report.spend.volume == report.spend.change
    assert report.spend.change == g.totals_after.cost - g.totals_before.cost


event_spec = st.tuples(
    st.integers(0, 2),  # window: earlier, before, after
    st.sampled_from(
        [
            "anthropic/claude-sonnet-4",
            "google/gemini-2.5-flash:free",
            "deepseek/deepseek-r1:nitro",
            "openai/gpt-4o-mini:floor",
        ]
    ),
    st.sampled_from(["https://a.example", "https://b.example", ""]),
    st.sampled_from(["programming", "roleplay"]),
    st.integers(min_value=0, max_value=50_000),
    st.integers(min_value=0, max_value=5_000),
    st.decimals(min_value=0, max_value=5, places=6),
)


@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
@given(specs=st.lists(event_spec, min_size=1, max_size=25))
@pytest.mark.django_db
def test_every_driver_adds_up_on_random_usage(specs):
    with transaction.atomic():  # each example in its own rolled-back savepoint
        spans = windows()
        events = usage_in_windows(specs, spans)
        import_events(events)
        g = growth.decompose(spans[2], with_history=False)
        check_report(drivers.report(g), g)
        # Each app's models, counted from its bits, are the distinct models it sent.
        origins = dict(AppOrigin.objects.values_list("app_id", "origin"))
        for app in g.apps:
            for side, w in (("before", 1), ("after", 2)):
                sent = {
                    e["model"].split(":")[0]
                    for e, (ew, *_) in zip(events, specs, strict=True)
                    if ew == w and e["origin"] == origins[app.app_id]
                }
                assert getattr(app, f"models_{side}") == len(sent)
        transaction.set_rollback(True)


@pytest.mark.django_db
def test_simulated_weeks_add_up_to_the_token():
    from dataclasses import replace
    from datetime import UTC, datetime

    from ingest.simulation import SCALES, Simulator

    sim = Simulator(
        days=28, end=datetime.now(UTC).date(), scale=replace(SCALES["demo"], tail_apps=40), seed=5
    )
    assert import_events(sim.events()).accepted > 3000
    for after in (selectors.rolling_window(7), selectors.period_window("week")):
        g = growth.decompose(after, with_history=False)
        assert g.change and g.totals_before.tokens
        check_report(drivers.report(g), g)


@pytest.mark.django_db
def test_each_driver_counts_what_it_says():
    earlier, before, after = windows()
    free_model = LLMModel.objects.get(slug="google/gemini-2.5-flash")
    LLMModel.objects.filter(slug="meta-llama/llama-3.3-70b-instruct").update(
        prompt_price=0, completion_price=0
    )
    coder, chat, converts = "https://coder.example", "https://chat.example", "https://converts.example"
    claude, r1, llama = (
        "anthropic/claude-sonnet-4",
        "deepseek/deepseek-r1",
        "meta-llama/llama-3.3-70b-instruct",
    )

    def sent(n, window, origin, model, prompt, completion, reasoning=10, category="programming"):
        tokens = {"tokens_prompt": prompt, "tokens_completion": completion, "native_tokens_reasoning": reasoning}
        sender = {"origin": origin, "model": model, "categories": category}
        return EventFactory.build_batch(n, created_at=at(window, 3), uncached=True, **sender, **tokens)

    events = [
        # The earlier window: one model only, so the others entered the top 20 after it.
        *sent(2, earlier, chat, claude, 1000, 100, category="roleplay"),
        # Before: a coding agent on one model; a chat app on two; an app on a free variant only.
        *sent(4, before, coder, claude, 1000, 100),
        *sent(2, before, chat, claude, 1000, 100, category="roleplay"),
        *sent(1, before, converts, f"{free_model.slug}:free", 500, 50, reasoning=0),
        *sent(1, before, chat, r1, 300, 30, category="roleplay"),
        # After: the coding agent on two models, longer prompts and a :nitro route; the free app
        # now pays; a model listed at $0; the chat app otherwise unchanged.
        *sent(4, after, coder, claude, 3000, 100),
        *sent(2, after, coder, f"{r1}:nitro", 3000, 100, reasoning=60),
        *sent(2, after, chat, claude, 1000, 100, category="roleplay"),
        *sent(1, after, converts, free_model.slug, 500, 50, reasoning=0),
        *sent(1, after, chat, llama, 200, 20, reasoning=0, category="roleplay"),
    ]
    import_events(events)
    g = growth.decompose(after, with_history=False)
    found = {d.key: d for d in drivers.report(g).drivers}

    # Apps using two or more models: the chat app (two models in both windows) and the coding
    # agent (after only).
    assert found["model_breadth"].parts["multi_model_apps"] == (12_400 + 6_200 + 2_200 + 220) - (2_200 + 330)
    assert found["model_breadth"].after > found["model_breadth"].before
    # deepseek/deepseek-r1 and the free model entered the top 20 before (the earlier window
    # had only claude); the free model's app then left it for the paid variant.
    assert found["discovery"].figures["models"] == 2
    assert found["discovery"].parts["entrants"] == (6_200 + 550) - (330 + 550)
    # Reasoning: the factory's 10 per event, 60 per :nitro event, none on the free models.
    assert found["reasoning"].tokens == (6 * 10 + 2 * 60) - (6 * 10 + 10)
    # Free: the :free variant before, the $0 model after.
    assert found["free_vs_paid"].tokens == 220 - 550
    assert found["free_vs_paid"].figures["apps_free_to_paid"] == 1
    assert found["routing_variants"].tokens == 6_200
    assert found["routing_variants"].figures["variant_nitro"] == 6_200
    # Coding agents: the app whose largest category is programming (the "converts" app too:
    # the factory's category).
    assert found["app_growth"].tokens == (4 * 3_100 + 6_200 + 550) - (4 * 1_100 + 550)
    assert found["context_growth"].after > found["context_growth"].before
    assert found["context_growth"].tokens > 0


NUMBER = re.compile(r"[+\u2212]?\d[\d,]*(?:\.\d+)?[KMBT]?%?")


def expected_numbers(d: dict) -> set[str]:
    """The numbers a driver's summary may say, formatted from its fields as the page does."""
    share = d["unit"].startswith("share")

    def level(v):
        return (
            "–"
            if v is None
            else percent(v)
            if share
            else f"{v:,.0f}"
            if d["key"] == "context_growth"
            else f"{v:.1f}"
        )

    numbers = {signed_compact(d["tokens"]), level(d["before"]), level(d["after"])}
    if d["share_of_change"] is not None:
        numbers.add(driver_sentences.share_text(d["share_of_change"]))
    for name, value in d["figures"].items():
        if name == "new_apps" or name.startswith("variant_"):
            numbers.add(signed_compact(value))
        elif value is not None:
            numbers.add(f"{value:,.0f}")
    return numbers


@pytest.mark.django_db
def test_each_summary_says_its_fields_and_the_page_shows_them(client):
    earlier, before, after = windows()
    import_events(EventFactory.build_batch(6, created_at=at(earlier, 2), categories="roleplay"))
    import_events(EventFactory.build_batch(10, created_at=at(before, 2), categories="roleplay"))
    import_events(
        EventFactory.build_batch(
            25, created_at=at(after, 2), tokens_prompt=4000, model="deepseek/deepseek-r1:nitro"
        )
    )
    data = client.get("/api/v1/growth").json()
    assert [d["key"] for d in data["drivers"]] == list(drivers.KEYS)
    page = client.get("/growth/").content.decode()
    assert "Seven drivers" in page and page.index("Seven drivers") < page.index("In short")
    for d in data["drivers"]:
        said = set(NUMBER.findall(d["summary"]))
        assert said <= expected_numbers(d), (d["key"], d["summary"], said - expected_numbers(d))
        assert signed_compact(d["tokens"]) in said or d["key"] == "discovery" and not d["figures"]["models"]
        assert d["summary"].replace("'", "&#x27;") in page
        assert d["method"].replace("'", "&#x27;") in page
        assert ("Indicator" in d["method"]) == (not d["exact"])
        assert f'data-figure="fig-driver-{d["key"]}"' in page
    spend = data["spend"]
    assert spend["price"] + spend["volume"] == pytest.approx(spend["change"], abs=1e-9)
    assert spend["summary"] in page


def test_signs_and_plurals():
    from rankings.templatetags.rankings_format import points

    assert points(1) == "+1 point" and points(-1) == "\u22121 point" and points(2.4) == "+2 points"
    assert points(0.2) == "0 points" and points(-0.2) == "0 points" and points(1.04, 1) == "+1.0 point"
    assert (
        signed_compact(-1_234_567) == "\u22121.2M"
        and signed_compact(0) == "0"
        and signed_compact(12) == "+12"
    )
    assert signed_percent(-0.004) == "0%" and signed_percent(-0.25) == "\u221225%"


def driver(key: str, before, after, **figures) -> drivers.Driver:
    unit = "share of tokens" if key == "free_vs_paid" else "models per app, weighted by tokens"
    return drivers.Driver(key, key, 0, 0, before, after, unit, False, "", {}, figures)


def test_empty_windows_read_as_a_person_would_write_them():
    """No "an app uses – models (was –)" nor "0 apps moved": what was not there is said."""
    breadth = {
        (None, None): "no app used a model in either window.",
        (None, 2.0): "an app uses 2.0 models (no app had usage in the window before).",
        (1.5, None): "an app used 1.5 models before (no app has usage now).",
        (1.5, 2.0): "an app uses 2.0 models (was 1.5).",
    }
    for (before, after), words in breadth.items():
        sentence = driver_sentences.sentence(driver("model_breadth", before, after))
        assert sentence.endswith(words) and "–" not in sentence, sentence
    levels = {
        (None, 0.2): "it is 20.0% of tokens (no tokens in the window before)",
        (0.1, None): "it was 10.0% of tokens before (no tokens now)",
        (None, None): "no tokens in either window",
        (0.1, 0.2): "it is 20.0% of tokens (was 10.0%)",
    }
    for (before, after), words in levels.items():
        sentence = driver_sentences.sentence(driver("free_vs_paid", before, after))
        assert f"; {words};" in sentence and "–" not in sentence, sentence
    moved = {0: "; no app moved", 1: "; 1 app moved", 1200: "; 1,200 apps moved"}
    for apps, words in moved.items():
        assert words in driver_sentences.sentence(driver("free_vs_paid", 0.1, 0.2, apps_free_to_paid=apps))


def test_driver_sentences_agree_and_read_right_either_way():
    one = drivers.Driver("discovery", "", -6_000, 0, 0.1, 0.0, "share of tokens", False, "", {}, {"models": 1, "top": 20})
    assert "1 model that entered the top 20 in the window before: \u22126.0K tokens against" in driver_sentences.sentence(one)
    assert "it holds 0.0% of tokens (was 10.0%)" in driver_sentences.sentence(one)
    one.figures["models"] = 4
    assert "they hold 0.0% of tokens" in driver_sentences.sentence(one)
    context = drivers.Driver("context_growth", "", -208_800, 0, 7538, 7465, "prompt tokens per request", True, "", {}, {})
    assert driver_sentences.sentence(context).startswith("Shorter prompts account for \u2212208.8K tokens: 7,465 prompt")
    context.tokens = 1_000
    assert driver_sentences.sentence(context).startswith("Longer prompts account for +1.0K tokens")
    context.tokens = 0
    assert driver_sentences.sentence(context).startswith("Prompt length accounts for 0 tokens")
    context.tokens, context.change = -2_600, 572_000
    assert "(\u22120.5% of the change)" in driver_sentences.sentence(context)


@pytest.mark.django_db
def test_the_category_that_moved_most_is_named_with_its_tokens(client):
    """Total down 1,000 tokens: roleplay fell 3,000 while programming grew 2,000."""
    _, before, after = windows()
    size = {"tokens_prompt": 900, "tokens_completion": 100}
    import_events(EventFactory.build_batch(3, created_at=at(before, 2), categories="roleplay", **size))
    import_events(EventFactory.build_batch(2, created_at=at(after, 2), categories="programming", **size))
    summary = " ".join(client.get("/api/v1/growth").json()["summary"])
    roleplay = Category.objects.get(slug="roleplay").name
    assert f"The {roleplay} category moved most: \u22123.0K tokens, 300% of the change; the others moved" in summary


def test_large_numbers_have_thousands_separators():
    from rankings.templatetags.rankings_format import points

    assert points(63677.94, 1) == "+63,677.9 points" and points(-1234) == "\u22121,234 points"
    assert growth._moved(211801.2) == "grew 211,801%" and growth._moved(-0.44) == "fell 0.4%"
    assert growth._moved(0.04) == "stayed about the same"
    assert signed_percent(-12.345) == "\u22121,234%" and signed_percent(0.5) == "50%"
    from rankings.templatetags.rankings_format import change

    assert change(211801.23) == "+211,801.2%" and change(-3) == "\u22123.0%"
