"""The documented tables: provider names, model slugs, tokens counted once, timing."""

import pytest

from ingest import gateways


@pytest.mark.parametrize(
    ("model", "provider", "slug"),
    [
        ("gpt-4o", "openai", "openai/gpt-4o"),
        ("gpt-4o", "az.ai.openai", "openai/gpt-4o"),
        ("o3-mini", "azure", "openai/o3-mini"),
        ("openai/gpt-4o", "", "openai/gpt-4o"),
        ("anthropic/claude-sonnet-4:thinking", "", "anthropic/claude-sonnet-4:thinking"),
        ("openrouter/anthropic/claude-3.5-sonnet", "openrouter", "anthropic/claude-3.5-sonnet"),
        ("deepseek/deepseek-r1:free", "", "deepseek/deepseek-r1:free"),
        ("meta-llama/llama-3.3-70b-instruct", "", "meta-llama/llama-3.3-70b-instruct"),
        (
            "bedrock/us.anthropic.claude-3-5-sonnet-20241022-v2:0",
            "bedrock",
            "anthropic/claude-3-5-sonnet-20241022-v2",
        ),
        ("meta.llama3-1-70b-instruct-v1:0", "aws.bedrock", "meta-llama/llama3-1-70b-instruct-v1"),
        ("claude-sonnet-4@20250514", "gcp.vertex_ai", "anthropic/claude-sonnet-4"),
        ("gemini-2.5-pro", "gcp.gemini", "google/gemini-2.5-pro"),
        ("models/gemini-1.5-pro", "gemini", "google/gemini-1.5-pro"),
        ("gemini/gemini-2.5-flash", "gemini", "google/gemini-2.5-flash"),
        ("mistral/mistral-large-latest", "mistral", "mistralai/mistral-large-latest"),
        ("grok-4", "xai", "x-ai/grok-4"),
        ("llama-3.3-70b-versatile", "groq", "meta-llama/llama-3.3-70b-versatile"),
        ("together_ai/Qwen/Qwen3-235B", "together_ai", "qwen/qwen3-235b"),
        ("llama3.1:8b", "ollama", "meta-llama/llama3.1-8b"),
        ("my-finetune", "ollama", "ollama/my-finetune"),
        ("house-model", "Some Host", "some-host/house-model"),
        ("house-model", "", "unknown/house-model"),
    ],
)
def test_model_slugs(model, provider, slug):
    assert gateways.model_slug(model, provider) == slug


@pytest.mark.parametrize(
    ("value", "name"),
    [
        ("aws.bedrock", "Amazon Bedrock"),
        ("bedrock", "Amazon Bedrock"),
        ("Amazon Bedrock", "Amazon Bedrock"),
        ("az.ai.inference", "Azure"),
        ("vertex_ai", "Google Vertex"),
        ("gcp.gemini", "Google AI Studio"),
        ("xai", "xAI"),
        ("mistral_ai", "Mistral"),
        ("  Fancy Cloud ", "Fancy Cloud"),
    ],
)
def test_provider_names(value, name):
    assert gateways.provider(value).name == name


@pytest.mark.parametrize(
    ("counts", "expected"),
    [
        # semconv: input includes cache reads and writes, output includes reasoning
        ((1000, 200, 600, 100, 50), (1000, 200, 600, 50)),
        # Anthropic's own counts: input excludes the cache (the subsets are larger)
        ((40, 10, 900, 60, 0), (1000, 10, 900, 0)),
        # output reported without its reasoning
        ((10, 5, 0, 0, 20), (10, 25, 0, 20)),
        # strings and whole doubles, as OTLP/JSON and gateways send them
        (("1000", 200.0, "600", None, None), (1000, 200, 600, 0)),
        # unusable values are left for validation to reject, never "fixed" by the arithmetic
        ((-5, 10, 100, 0, 0), (-5, 10, 100, 0)),
        ((float("nan"), 10, 0, 0, 0), ("nan", 10, 0, 0)),
    ],
)
def test_tokens_counted_once(counts, expected):
    fields = gateways.token_fields(*counts)
    got = (
        fields["native_tokens_prompt"],
        fields["native_tokens_completion"],
        fields["native_tokens_cached"],
        fields["native_tokens_reasoning"],
    )
    assert tuple(str(v) if isinstance(v, float) else v for v in got) == expected


def test_cache_writes_have_their_own_field():
    assert gateways.token_fields(1000, 200, 600, 100, 50)["native_tokens_cache_write"] == 100
    assert gateways.token_fields(40, 10, 900, 60, 0)["native_tokens_cache_write"] == 60


def test_timing_first_token_and_generation():
    assert gateways.timing_fields(2000, 500) == {"latency": 500, "generation_time": 1500}
    assert gateways.timing_fields(2000, None) == {"latency": 2000, "generation_time": None}
    assert gateways.timing_fields(2000, 2000) == {"latency": 2000, "generation_time": None}
    assert gateways.timing_fields(10**12, None) == {"latency": None, "generation_time": None}
    assert gateways.timing_fields(float("inf"), -3) == {"latency": None, "generation_time": None}


def test_finish_reasons_and_origins():
    assert gateways.finish_reason(["length", "stop"]) == "length"
    assert gateways.finish_reason('["stop"]') == "stop"
    assert gateways.finish_reason("x" * 80) == "x" * 50
    assert gateways.finish_reason(7) is None
    assert gateways.usable_origin("https://Cline.bot/") == "https://cline.bot"
    assert gateways.usable_origin("javascript:alert(1)") is None


def test_an_origin_is_one_app_with_or_without_its_schemes_port():
    from ingest.values import normalize_origin

    assert normalize_origin("https://COUNTER.example:443/") == normalize_origin("https://counter.example")
    assert normalize_origin("http://counter.example:80/app") == "http://counter.example/app"
    assert normalize_origin("https://counter.example:8443") == "https://counter.example:8443"
    assert normalize_origin("http://counter.example:443") == "http://counter.example:443"


def test_ids_that_cannot_be_stored_as_sent_keep_their_identity():
    """A response id with a lone surrogate, control characters or over 200 characters is
    stored as its hash: the same for every resend, never the same as another id's."""
    from ingest.gateways import event_id

    long_id = "resp-" + "x" * 300
    assert event_id(long_id) == event_id(long_id) and len(event_id(long_id)) <= 200
    assert event_id(long_id) != event_id(long_id + "y")
    assert event_id("a\ud801") != event_id("a\ud802")  # no longer both "a\ufffd"
    assert event_id("a\x00") != event_id("a\x01")
    assert event_id("gen-123") == "gen-123" and event_id("  ") is None and event_id(7) is None
