"""LiteLLM proxy ``StandardLoggingPayload`` batches (its ``generic_api`` logger) into usage events.

LiteLLM sends a JSON array, NDJSON (labelled ``application/json``) or one object per request,
depending on ``log_format``. One successful model call is one event; a cache hit (answered
by LiteLLM's cache, no model call: its tokens were counted when first generated) and a failed
call that reports no tokens are not usage, with the reason. Nothing here touches the database.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

from ingest import gateways
from ingest.events import BodyError, Rejection, loads, parse_body

# Calls that run a model; others (moderation, image, audio, rerank, files...) count only
# when they report tokens.
INFERENCE_CALL_TYPES = frozenset(
    {
        "completion",
        "acompletion",
        "text_completion",
        "atext_completion",
        "embedding",
        "aembedding",
        "responses",
        "aresponses",
        "anthropic_messages",
        "generate_content",
        "agenerate_content",
    }
)
APP_SOURCES = ("key", "team")  # which alias names the app; the other is the fallback


def parse(raw: bytes) -> tuple[list[Any], list[Rejection]]:
    """Payloads of a body in any of LiteLLM's log formats: ``json_array``, ``ndjson``, ``single``."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BodyError(f"body is not UTF-8 (byte {exc.start})") from exc
    try:
        document = loads(text)
    except json.JSONDecodeError as exc:
        if len(text.strip().splitlines()) > 1:  # ndjson: one payload per line
            return parse_body(raw, "application/x-ndjson")
        raise BodyError(f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from exc
    except RecursionError as exc:
        raise BodyError("invalid JSON: nested too deeply") from exc
    if isinstance(document, list):
        return document, []
    if isinstance(document, dict):
        return [document], []
    raise BodyError("expected a StandardLoggingPayload object, a JSON array of them, or NDJSON")


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _seconds(value: Any) -> float | None:
    """An epoch or a duration in seconds (LiteLLM's floats)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def _moment(epoch: float | None) -> str | None:
    if epoch is None or not 0 < epoch < 253402300799:  # before year 10000
        return None
    return datetime.fromtimestamp(epoch, UTC).isoformat()


def _served_model(payload: dict[str, Any]) -> str:
    """The model that answered (the response's), else the deployment LiteLLM called; the
    alias the client asked for (``model_group``) only when nothing else is known."""
    for value in (
        _dict(payload.get("response")).get("model"),
        payload.get("model"),
        _dict(payload.get("hidden_params")).get("litellm_model_name"),
        payload.get("model_group"),
    ):
        if gateways.text(value):
            return gateways.text(value)
    return ""


def _usage(payload: dict[str, Any]) -> dict[str, Any]:
    """Token fields from the top-level counts and the provider's usage object (its details)."""
    usage = (
        _dict(_dict(payload.get("metadata")).get("usage_object"))
        or _dict(_dict(payload.get("hidden_params")).get("usage_object"))
        or _dict(_dict(payload.get("response")).get("usage"))
    )
    prompt_details = _dict(usage.get("prompt_tokens_details"))
    completion_details = _dict(usage.get("completion_tokens_details"))
    return gateways.token_fields(
        payload.get("prompt_tokens", usage.get("prompt_tokens")),
        payload.get("completion_tokens", usage.get("completion_tokens")),
        prompt_details.get("cached_tokens") or usage.get("cache_read_input_tokens"),
        usage.get("cache_creation_input_tokens") or prompt_details.get("cache_creation_tokens"),
        completion_details.get("reasoning_tokens"),
    )


def _app_name(payload: dict[str, Any], app_from: str) -> str | None:
    metadata = _dict(payload.get("metadata"))
    key = gateways.text(metadata.get("user_api_key_alias"))
    team = gateways.text(metadata.get("user_api_key_team_alias") or metadata.get("team_alias"))
    first, second = (team, key) if app_from == "team" else (key, team)
    return (first or second)[:200] or None


def _finish_reason(payload: dict[str, Any], failed: bool) -> str | None:
    choices = _dict(payload.get("response")).get("choices")
    first = choices[0] if isinstance(choices, list) and choices else None
    return gateways.finish_reason(_dict(first).get("finish_reason")) or ("error" if failed else None)


def to_event(payload: Any, app_from: str = "key") -> tuple[dict[str, Any] | None, str]:
    """The usage event of one payload, or ``(None, why it is not usage)``."""
    if not isinstance(payload, dict):
        return None, "not a JSON object"
    if payload.get("cache_hit") is True:
        return None, "cache hit (answered by LiteLLM's cache: no model call, no new tokens)"
    failed = payload.get("status") == "failure"
    tokens = _usage(payload)
    used = tokens["native_tokens_prompt"] or tokens["native_tokens_completion"]
    if failed and not used:
        return None, "failed request without token usage"
    call_type = gateways.text(payload.get("call_type"))
    if call_type and call_type not in INFERENCE_CALL_TYPES and not used:
        return None, f"no token usage ({call_type[:40]} call)"
    model = _served_model(payload)
    if not model:
        return None, "no model"
    start, end = _seconds(payload.get("startTime")), _seconds(payload.get("endTime"))
    moment = _moment(start) or _moment(end)
    if moment is None:
        return None, "no startTime or endTime"
    event_id = next(
        (i for i in map(gateways.event_id, (payload.get("id"), payload.get("litellm_call_id"))) if i),
        "",
    )
    if not event_id:
        return None, "no id or litellm_call_id"
    provider_value = gateways.text(payload.get("custom_llm_provider")) or gateways.text(
        _dict(payload.get("error_information")).get("llm_provider")
    )
    first_token = _seconds(payload.get("completionStartTime"))
    stream = payload.get("stream")
    return {
        "id": event_id,
        "created_at": moment,
        "model": gateways.model_slug(model, provider_value),
        "provider_name": gateways.provider(provider_value).name if provider_value else None,
        "app_name": _app_name(payload, app_from),
        "total_cost": payload.get("response_cost"),
        "finish_reason": _finish_reason(payload, failed),
        "streamed": stream if isinstance(stream, bool) else None,
        **tokens,
        **gateways.timing_fields(
            (end - start) * 1000 if start is not None and end is not None else None,
            (first_token - start) * 1000 if start is not None and first_token is not None else None,
        ),
    }, ""
