"""Provider and model names as gateways and OpenTelemetry report them, turned into Tokenrank's.

Tokenrank ranks models as ``author/name`` (the lab that made the model, as in OpenRouter's
slugs) and providers by their display name (who served it). Gateways report a provider key
(``gen_ai.provider.name``, the legacy ``gen_ai.system``, LiteLLM's ``custom_llm_provider``)
and a model name that may carry a routing prefix (``bedrock/…``, ``openrouter/…``), a cloud's
vendor prefix (``us.anthropic.claude…-v2:0``) or a version suffix (``claude…@20240620``).
The tables below are documented in docs/integrations.md; nothing here touches the database.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from ingest.events import loads
from ingest.values import MAX_ID_LENGTH, MAX_MS, SURROGATE_RE, normalize_origin


@dataclass(frozen=True)
class Provider:
    name: str  # display name; its slug is the provider's identity in the catalog
    author: str | None = None  # set when the provider serves only its own lab's models


# Keys: OpenTelemetry GenAI ``gen_ai.provider.name`` values (semantic conventions v1.41 and the
# GenAI repository), then providers that only gateways name.
PROVIDERS: dict[str, Provider] = {
    "openai": Provider("OpenAI", "openai"),
    "anthropic": Provider("Anthropic", "anthropic"),
    "aws.bedrock": Provider("Amazon Bedrock"),
    "azure.ai.openai": Provider("Azure", "openai"),
    "azure.ai.inference": Provider("Azure"),
    "gcp.gemini": Provider("Google AI Studio", "google"),
    "gcp.vertex_ai": Provider("Google Vertex"),
    "gcp.gen_ai": Provider("Google"),
    "cohere": Provider("Cohere", "cohere"),
    "deepseek": Provider("DeepSeek", "deepseek"),
    "groq": Provider("Groq"),
    "ibm.watsonx.ai": Provider("IBM watsonx"),
    "mistral_ai": Provider("Mistral", "mistralai"),
    "perplexity": Provider("Perplexity", "perplexity"),
    "x_ai": Provider("xAI", "x-ai"),
    "moonshot_ai": Provider("Moonshot AI", "moonshotai"),
    # Gateways and hosts outside the semantic conventions.
    "openrouter": Provider("OpenRouter"),
    "together_ai": Provider("Together"),
    "fireworks_ai": Provider("Fireworks"),
    "deepinfra": Provider("DeepInfra"),
    "cerebras": Provider("Cerebras"),
    "sambanova": Provider("SambaNova"),
    "ollama": Provider("Ollama"),
    "hosted_vllm": Provider("vLLM"),
    "huggingface": Provider("Hugging Face"),
    "databricks": Provider("Databricks"),
    "nvidia_nim": Provider("NVIDIA NIM"),
    "cloudflare": Provider("Cloudflare Workers AI"),
    "novita": Provider("Novita"),
}

# Other spellings of the keys above: legacy ``gen_ai.system`` values (before v1.37), LiteLLM's
# provider names, Cloudflare AI Gateway's ``gen_ai.model.provider`` and display names.
ALIASES: dict[str, str] = {
    "xai": "x_ai",
    "az.ai.openai": "azure.ai.openai",
    "az.ai.inference": "azure.ai.inference",
    "gemini": "gcp.gemini",
    "google-ai-studio": "gcp.gemini",
    "google": "gcp.gen_ai",
    "vertex_ai": "gcp.vertex_ai",
    "vertex_ai_beta": "gcp.vertex_ai",
    "google-vertex-ai": "gcp.vertex_ai",
    "bedrock": "aws.bedrock",
    "bedrock_converse": "aws.bedrock",
    "aws-bedrock": "aws.bedrock",
    "amazon bedrock": "aws.bedrock",
    "azure": "azure.ai.openai",
    "azure-openai": "azure.ai.openai",
    "azure_ai": "azure.ai.inference",
    "mistral": "mistral_ai",
    "mistralai": "mistral_ai",
    "cohere_chat": "cohere",
    "watsonx": "ibm.watsonx.ai",
    "moonshot": "moonshot_ai",
    "text-completion-openai": "openai",
    "openai-compatible": "openai",
    "workers-ai": "cloudflare",
    "together": "together_ai",
    "fireworks": "fireworks_ai",
}

# Model-name prefixes -> author, for names that do not say their author (longest first
# where two overlap: Google's text-embedding-00x before OpenAI's text-embedding-*).
FAMILIES: tuple[tuple[str, str], ...] = (
    ("gpt", "openai"),
    ("chatgpt", "openai"),
    ("text-embedding-0", "google"),
    ("text-embedding", "openai"),
    ("davinci", "openai"),
    ("dall-e", "openai"),
    ("whisper", "openai"),
    ("codex", "openai"),
    ("claude", "anthropic"),
    ("gemini", "google"),
    ("gemma", "google"),
    ("llama", "meta-llama"),
    ("meta-llama", "meta-llama"),
    ("mistral", "mistralai"),
    ("mixtral", "mistralai"),
    ("codestral", "mistralai"),
    ("ministral", "mistralai"),
    ("magistral", "mistralai"),
    ("pixtral", "mistralai"),
    ("devstral", "mistralai"),
    ("command", "cohere"),
    ("embed-", "cohere"),
    ("c4ai", "cohere"),
    ("deepseek", "deepseek"),
    ("grok", "x-ai"),
    ("qwen", "qwen"),
    ("qwq", "qwen"),
    ("kimi", "moonshotai"),
    ("moonshot", "moonshotai"),
    ("glm", "z-ai"),
    ("nova-", "amazon"),
    ("titan", "amazon"),
    ("phi-", "microsoft"),
    ("jamba", "ai21"),
    ("sonar", "perplexity"),
    ("granite", "ibm-granite"),
    ("nemotron", "nvidia"),
    ("minimax", "minimax"),
)
_OPENAI_REASONING = re.compile(r"^o\d+(-|$)")  # o1, o3-mini, o4-mini

# Amazon Bedrock model ids: ``[region.]vendor.name[:version]``.
BEDROCK_VENDORS = {
    "anthropic": "anthropic",
    "meta": "meta-llama",
    "amazon": "amazon",
    "mistral": "mistralai",
    "cohere": "cohere",
    "ai21": "ai21",
    "deepseek": "deepseek",
    "qwen": "qwen",
    "openai": "openai",
    "writer": "writer",
}
_BEDROCK_REGIONS = ("us.", "eu.", "apac.", "global.", "us-gov.", "jp.", "au.", "ca.")

# OpenRouter's variant suffixes; any other ``:suffix`` is part of the name (``llama3.1:8b``).
VARIANTS = {"free", "nitro", "floor", "thinking", "extended", "online", "beta", "exacto"}

_NOT_SLUG = re.compile(r"[^a-z0-9._-]+")
_VERSION_SUFFIX = re.compile(r"(:\d+|@[\w.-]+)$")  # Bedrock ``:0``, Vertex ``@20240620``


def _key(value: str) -> str:
    key = value.strip().lower()
    return ALIASES.get(key, key)


@lru_cache(maxsize=4096)
def provider(value: str) -> Provider:
    """The provider a gateway's value names; an unknown value is its own display name."""
    known = PROVIDERS.get(_key(value))
    return known if known is not None else Provider(value.strip()[:100])


def _family_author(name: str) -> str | None:
    if _OPENAI_REASONING.match(name):
        return "openai"
    for prefix, author in FAMILIES:
        if name.startswith(prefix):
            return author
    return None


def _clean(text: str) -> str:
    return _NOT_SLUG.sub("-", text.lower()).strip("-._")


@lru_cache(maxsize=16384)
def model_slug(model: str, provider_value: str = "") -> str:
    """``author/name[:variant]`` for a model as a gateway names it, served by ``provider_value``.

    ``openrouter/anthropic/claude-3.5-sonnet`` and ``anthropic/claude-3.5-sonnet`` ->
    ``anthropic/claude-3.5-sonnet``; ``us.anthropic.claude-3-5-sonnet-20241022-v2:0`` on
    Bedrock -> ``anthropic/claude-3-5-sonnet-20241022-v2``; ``gpt-4o`` on Azure ->
    ``openai/gpt-4o``. An author that cannot be told is the provider's slug, so the model is
    still counted (and flagged for review in the catalog like every new model).
    """
    served_by = provider(provider_value) if provider_value else None
    text = model.strip().lower()
    author = None
    segments = [s for s in text.split("/") if s]
    # Routing prefixes: a provider key ("bedrock/", "openrouter/"), or Google's "models/".
    while len(segments) > 1 and (_key(segments[0]) in PROVIDERS or segments[0] == "models"):
        known = PROVIDERS.get(_key(segments.pop(0)))
        author = known.author if known is not None else None
    if len(segments) > 1:
        # "meta-llama/llama-3-70b": already author/name; a longer path keeps its last segment.
        author, name = (segments[0], segments[1]) if len(segments) == 2 else (None, segments[-1])
    else:
        name = segments[0] if segments else ""
        region_free = name.removeprefix(next((r for r in _BEDROCK_REGIONS if name.startswith(r)), ""))
        vendor, dot, rest = region_free.partition(".")
        if dot and vendor in BEDROCK_VENDORS and rest:
            author, name = BEDROCK_VENDORS[vendor], rest
    variant = ""
    head, colon, suffix = name.rpartition(":")
    if colon and suffix in VARIANTS:
        name, variant = head, suffix
    name = _clean(_VERSION_SUFFIX.sub("", name))
    author = author or _family_author(name) or (served_by.author if served_by else None)
    if not author:
        author = _clean((served_by.name if served_by else "") or "unknown")
    return f"{_clean(author)[:64]}/{name[:128]}" + (f":{variant}" if variant else "")


# --- Fields shared by the receivers ---------------------------------------------------------


def text(value: Any) -> str:
    """A string value, stripped, lone surrogates (valid in JSON, not in UTF-8: nothing could
    store them) replaced by U+FFFD; anything else is ""."""
    if not isinstance(value, str):
        return ""
    return (value if value.isascii() else SURROGATE_RE.sub("\ufffd", value)).strip()


def event_id(value: Any) -> str | None:
    """The id of an event from a gateway's id value (a response id, a call id), or None when
    there is none. An id that cannot be stored as it is (over MAX_ID_LENGTH characters, control
    characters, lone surrogates) becomes a hash of itself: still the same id whenever and
    through whichever receiver it is resent, and never one shared with a different id."""
    if not isinstance(value, str) or not value.strip():
        return None
    value = value.strip()
    if len(value) <= MAX_ID_LENGTH and value.isprintable():
        return value
    return "sha256:" + hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()


def usable_origin(value: str) -> str | None:
    """An app origin from a header-like value, or None: a bad referer must not cost the event."""
    try:
        return (normalize_origin(value) or None) if value else None
    except ValueError:
        return None


def finish_reason(value: Any) -> str | None:
    """The first finish reason of a list, of a JSON list in a string (LiteLLM's OTel spans), or a string."""
    if isinstance(value, str) and value.startswith("["):
        try:
            value = loads(value)
        except (ValueError, RecursionError):
            pass
    if isinstance(value, list):
        value = value[0] if value else None
    return text(value)[:50] or None


def whole(value: Any) -> Any:
    """A token count as an int when it is a clean whole number (numbers may arrive as strings or
    doubles); anything else is returned as it is, for the event validation to reject with its message."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value == int(value):
        return int(value)
    if isinstance(value, str) and value.strip().isdigit() and len(value) <= 30:
        return int(value)
    return value


def token_fields(
    prompt: Any, completion: Any, cache_read: Any, cache_write: Any, reasoning: Any
) -> dict[str, Any]:
    """Event token fields, each token counted once.

    Input (prompt) tokens include cache reads and cache writes, and output (completion) tokens
    include reasoning, as the semantic conventions and OpenAI-style usage say. A source that
    reports them apart (Anthropic's own ``input_tokens`` exclude the cache) shows it by a subset
    larger than its total: then the subsets are added to the total, once. Cache writes count
    inside prompt tokens, and on their own as cache-write tokens.
    """
    counts = [
        0 if value is None else whole(value)
        for value in (prompt, completion, cache_read, cache_write, reasoning)
    ]
    prompt, completion, cache_read, cache_write, reasoning = counts
    if all(type(v) is int and v >= 0 for v in counts):
        if cache_read + cache_write > prompt:
            prompt += cache_read + cache_write
        if reasoning > completion:
            completion += reasoning
    return {
        "native_tokens_prompt": prompt,
        "native_tokens_completion": completion,
        "native_tokens_cached": cache_read,
        "native_tokens_cache_write": cache_write,
        "native_tokens_reasoning": reasoning,
    }


def _ms(value: float | None) -> int | None:
    return round(value) if value is not None and math.isfinite(value) and 0 <= value <= MAX_MS else None


def timing_fields(total_ms: float | None, first_token_ms: float | None) -> dict[str, int | None]:
    """``latency`` is the time to the first token (OpenRouter's meaning; the whole request when
    nothing was streamed, as the first token arrives with the last), ``generation_time`` the time
    after it. Values out of range are dropped, not rejected: timing is never worth an event."""
    total, first = _ms(total_ms), _ms(first_token_ms)
    if first is not None and (total is None or first <= total):
        generation = total - first if total is not None else None
        return {"latency": first, "generation_time": generation or None}
    return {"latency": total, "generation_time": None}
