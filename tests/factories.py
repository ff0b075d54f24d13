"""Factories for events and catalog rows."""

from __future__ import annotations

import csv
import gzip
import io
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import factory
from django.db.models import Sum
from django.utils import timezone

from ingest import schema
from ingest.models import UsageDaily, UsageQuarterHour
from rankings.models import App, AppOrigin, Author, LLMModel


class EventFactory(factory.DictFactory):
    """A valid usage event in OpenRouter's generation-record shape."""

    id = factory.Sequence(lambda n: f"gen-{n:09d}")
    created_at = factory.LazyFunction(lambda: (timezone.now() - timedelta(minutes=5)).isoformat())
    model = "anthropic/claude-sonnet-4"
    provider_name = "Anthropic"
    origin = "https://cline.bot/"
    app_name = "Cline"
    categories = "programming"
    tokens_prompt = factory.Sequence(lambda n: 1000 + n % 97)
    tokens_completion = factory.Sequence(lambda n: 100 + n % 13)
    native_tokens_reasoning = 10
    native_tokens_cached = 100
    # A twentieth of the prompt (none when a test sends a prompt count that is not valid).
    native_tokens_cache_write = factory.LazyAttribute(
        lambda o: o.tokens_prompt // 20 if type(o.tokens_prompt) is int and o.tokens_prompt > 0 else 0
    )
    total_cost = "0.0123"
    latency = 500
    generation_time = 1500
    # Tool calls on two of three events, one failing on every third; a session of five turns.
    tool_calls = factory.Sequence(lambda n: n % 3)
    tool_call_errors = factory.LazyAttribute(lambda o: {"invalid_json": 1} if o.tool_calls == 2 else None)
    tags = factory.Sequence(
        lambda n: {
            "programming_language": ("python", "typescript", "rust")[n % 3],
            "language": ("en", "zh-hans")[n % 2],
            "task": "code.debugging",
            "team": "search",  # not a ranked key: ignored
        }
    )
    session_id = factory.Sequence(lambda n: f"session-{n // 5}")

    class Params:
        # No prompt caching: any prompt count is valid (the defaults' cached tokens are 100).
        uncached = factory.Trait(native_tokens_cached=0, native_tokens_cache_write=0)


class AuthorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Author
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"author-{n}")
    name = factory.LazyAttribute(lambda o: o.slug.title())


class LLMModelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LLMModel
        django_get_or_create = ("slug",)

    author = factory.SubFactory(AuthorFactory)
    slug = factory.LazyAttributeSequence(lambda o, n: f"{o.author.slug}/model-{n}")
    name = factory.LazyAttribute(lambda o: o.slug.split("/")[1])


class AppFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = App

    slug = factory.Sequence(lambda n: f"app-{n}")
    name = factory.Sequence(lambda n: f"App {n}")
    origin = factory.LazyAttribute(lambda o: f"https://{o.slug}.example")
    url = factory.LazyAttribute(lambda o: o.origin)

    @factory.post_generation
    def with_origin(obj, create, extracted, **kwargs):
        if create:
            AppOrigin.objects.get_or_create(origin=obj.origin, defaults={"app": obj})


def post_events(
    client, key: str, body: Any, *, content_type: str = "application/json", gzipped=False, **extra
):
    """POST events the way a gateway does; ``body`` is a list/dict (JSON) or raw bytes/str."""
    if isinstance(body, (list, dict)):
        body = json.dumps(body)
    if isinstance(body, str):
        body = body.encode()
    if gzipped:
        body = gzip.compress(body)
        extra["HTTP_CONTENT_ENCODING"] = "gzip"
    if key is not None:
        extra["HTTP_AUTHORIZATION"] = f"Bearer {key}"
    return client.post("/api/v1/events", data=body, content_type=content_type, **extra)


# The measures an event's own fields add up to: every measure with an API name.
MEASURES = tuple(m.column for m in schema.MEASURES if m.api_name)


def rollup_totals(model=UsageDaily) -> dict[str, Any]:
    sums = model.objects.aggregate(**{m: Sum(m) for m in MEASURES})
    return {m: (v if v is not None else 0) for m, v in sums.items()}


def _tokens(event: dict[str, Any], count: schema.TokenCount) -> int:
    """A token count as sent: its first field given (native before normalized), else 0."""
    return next((int(event[name]) for name in count.fields if event.get(name) not in (None, "")), 0)


def expected_totals(events: list[dict[str, Any]]) -> dict[str, Any]:
    """What the rollups must hold for these (unique, valid) events."""
    expected = {
        "requests": len(events),
        "cost": sum((Decimal(str(e["total_cost"])) for e in events), Decimal(0)),
        **{count.column: sum(_tokens(e, count) for e in events) for count in schema.TOKENS},
    }
    assert set(expected) == set(MEASURES), "a measure the test events do not account for"
    return expected


def both_grains_equal(expected: dict[str, Any]) -> bool:
    return rollup_totals(UsageDaily) == expected and rollup_totals(UsageQuarterHour) == expected


# OpenRouter's activity CSV export columns (docs/api.md).
ACTIVITY_COLUMNS = [
    "generation_id",
    "created_at",
    "cost_total",
    "cost_web_search",
    "tokens_prompt",
    "tokens_completion",
    "tokens_reasoning",
    "tokens_cached",
    "model_permaslug",
    "provider_name",
    "variant",
    "app_name",
    "api_key_name",
    "streamed",
    "cancelled",
    "finish_reason_normalized",
    "finish_reason_raw",
    "generation_time_ms",
    "time_to_first_token_ms",
]


def activity_row(n: int, **values: str) -> dict[str, str]:
    """A row of the export, n minutes apart, three hours ago; ``values`` replace cells."""
    moment = datetime.now(UTC) - timedelta(hours=3, minutes=n)
    return {
        "generation_id": f"gen-export-{n}",
        "created_at": moment.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3],
        "cost_total": "0.001",
        "cost_web_search": "0",
        "tokens_prompt": "1000",
        "tokens_completion": "200",
        "tokens_reasoning": "0",
        "tokens_cached": "0",
        "model_permaslug": "deepseek/deepseek-r1-0528",
        "provider_name": "Chutes",
        "variant": "standard",
        "app_name": "",
        "api_key_name": "default",
        "streamed": "true",
        "cancelled": "false",
        "finish_reason_normalized": "stop",
        "finish_reason_raw": "stop",
        "generation_time_ms": "2000",
        "time_to_first_token_ms": "350",
        **values,
    }


def write_activity_export(path, rows, *, bom=True, gz=False) -> str:
    """As Excel saves "CSV UTF-8": a byte-order mark and CRLF line ends."""
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, ACTIVITY_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    data = (("\ufeff" if bom else "") + buffer.getvalue()).encode()
    path.write_bytes(gzip.compress(data) if gz else data)
    return str(path)


def usage_in_windows(specs, windows, hours: int = 150) -> list[dict[str, Any]]:
    """Events from Hypothesis specs ``(window index, model, origin, category, prompt tokens,
    completion tokens[, cost])``, each an hour apart from the start of its window (cached
    tokens a third of the prompt, reasoning a quarter of the completion)."""
    return [
        EventFactory.build(
            created_at=(windows[w].start + timedelta(hours=1 + n % hours)).isoformat(),
            model=model,
            origin=origin,
            categories=category,
            tokens_prompt=prompt,
            tokens_completion=completion,
            native_tokens_cached=prompt // 3,
            native_tokens_reasoning=completion // 4,
            **({"total_cost": str(cost[0])} if cost else {}),
        )
        for n, (w, model, origin, category, prompt, completion, *cost) in enumerate(specs)
    ]
