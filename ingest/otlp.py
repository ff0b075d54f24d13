"""OTLP trace requests (protobuf or OTLP/JSON) into usage events.

One inference span (``gen_ai.operation.name`` chat, text_completion, generate_content or
embeddings; or, from gateways that leave the operation out, a span with a model and token
usage) becomes one event in the generation-record shape of :mod:`ingest.events`; every other
span is "not usage" with a reason, answered as rejected in ``partial_success``. Attribute names
of semantic conventions v1.41, of the GenAI repository that followed it, and of gateways
(OpenRouter Broadcast, LiteLLM, Cloudflare) are read; docs/integrations.md lists them.
Nothing here touches the database.
"""

from __future__ import annotations

import binascii
import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from ingest import gateways
from ingest.events import BodyError, loads

INFERENCE_OPERATIONS = frozenset({"chat", "text_completion", "generate_content", "embeddings"})
MAX_ARRAY_ITEMS = 16  # of an array attribute; only the first finish reason is read

# Attribute names, preferred first: semantic conventions v1.41, then the GenAI repository's
# renames, then pre-v1.27 names, then gateway-specific ones (OpenRouter, Cloudflare, LiteLLM).
OPERATION = "gen_ai.operation.name"
MODEL = ("gen_ai.response.model", "gen_ai.request.model")
PROVIDER = (
    "gen_ai.provider.name",
    "gen_ai.system",
    "gen_ai.model.provider",
    "trace.metadata.openrouter.provider_name",
)
RESPONSE_ID = "gen_ai.response.id"
INPUT = ("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens")
OUTPUT = ("gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens")
CACHE_READ = (
    "gen_ai.usage.cache_read.input_tokens",
    "gen_ai.usage.input_tokens.cached",
    "gen_ai.usage.cache_read_input_tokens",
)
CACHE_WRITE = (
    "gen_ai.usage.cache_write.input_tokens",
    "gen_ai.usage.cache_creation.input_tokens",
    "gen_ai.usage.cache_creation_input_tokens",
)
REASONING = (
    "gen_ai.usage.reasoning.output_tokens",
    "gen_ai.usage.output_tokens.reasoning",
    "gen_ai.usage.reasoning_tokens",
)
COST = ("gen_ai.usage.cost", "gen_ai.usage.total_cost", "gen_ai.cost.total_cost")
FINISH = ("gen_ai.response.finish_reasons", "gen_ai.response.finish_reason")
TIME_TO_FIRST_CHUNK = "gen_ai.response.time_to_first_chunk"  # seconds
CONVERSATION = ("gen_ai.conversation.id", "session.id")  # an agent or chat session
REFERER = ("http.request.header.referer", "http.request.header.http-referer")
SERVICE_NAME = "service.name"
GATEWAY_SERVICES = frozenset({"openrouter", "litellm"})
OPENROUTER_KEY_NAME = "trace.metadata.openrouter.api_key_name"
STATUS_ERROR = 2


@dataclass(slots=True)
class Span:
    trace_id: str
    span_id: str
    start_ns: int
    end_ns: int
    failed: bool
    attributes: dict[str, Any]
    resource: dict[str, Any]


# --- Decoding -----------------------------------------------------------------------------


def decode(raw: bytes, protobuf: bool) -> list[Span]:
    """Every span of an ``ExportTraceServiceRequest``; a :class:`BodyError` if the body is not one."""
    return list(_from_protobuf(raw) if protobuf else _from_json(raw))


_PB_SCALARS = frozenset({"string_value", "int_value", "double_value", "bool_value"})


def _pb_scalar(value) -> Any:
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind in _PB_SCALARS else None


def _pb_value(value) -> Any:
    if value.HasField("array_value"):
        return [_pb_scalar(v) for v in value.array_value.values[:MAX_ARRAY_ITEMS]]
    return _pb_scalar(value)


def _pb_attributes(attributes) -> dict[str, Any]:
    return {kv.key: _pb_value(kv.value) for kv in attributes}


def _from_protobuf(raw: bytes) -> Iterator[Span]:
    request = ExportTraceServiceRequest()
    try:
        request.ParseFromString(raw)
    except (DecodeError, RecursionError) as exc:
        raise BodyError(f"not an OTLP ExportTraceServiceRequest protobuf: {exc}") from exc
    for resource_spans in request.resource_spans:
        resource = _pb_attributes(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                yield Span(
                    span.trace_id.hex(),
                    span.span_id.hex(),
                    span.start_time_unix_nano,
                    span.end_time_unix_nano,
                    span.status.code == STATUS_ERROR,
                    _pb_attributes(span.attributes),
                    resource,
                )


def _field(obj: dict, camel: str, snake: str) -> Any:
    """OTLP/JSON uses lowerCamelCase; protobuf's JSON parsers accept the proto names too."""
    value = obj.get(camel)
    return obj.get(snake) if value is None else value


def _list(obj: Any, camel: str, snake: str) -> list:
    value = _field(obj, camel, snake) if isinstance(obj, dict) else None
    return value if isinstance(value, list) else []


_JSON_SCALARS = (
    ("stringValue", "string_value"),
    ("intValue", "int_value"),
    ("doubleValue", "double_value"),
    ("boolValue", "bool_value"),
)


def _json_scalar(value: Any) -> Any:
    if isinstance(value, dict):
        for camel, snake in _JSON_SCALARS:
            found = _field(value, camel, snake)
            if found is not None:
                return found
    return None


def _json_value(value: Any) -> Any:
    if isinstance(value, dict):
        array = _field(value, "arrayValue", "array_value")
        if array is not None:
            return [_json_scalar(v) for v in _list(array, "values", "values")[:MAX_ARRAY_ITEMS]]
    return _json_scalar(value)


def _json_attributes(attributes: list) -> dict[str, Any]:
    return {
        kv["key"]: _json_value(kv.get("value"))
        for kv in attributes
        if isinstance(kv, dict) and isinstance(kv.get("key"), str)
    }


def _hex_id(value: Any) -> str:
    """OTLP/JSON ids are hex (any case); anything else is no id."""
    if not isinstance(value, str) or len(value) > 64:
        return ""
    try:
        return binascii.unhexlify(value).hex()
    except (binascii.Error, ValueError):
        return ""


def _nanoseconds(value: Any) -> int:
    """int64 as a decimal string (the JSON mapping) or a number; 0 when unusable."""
    if isinstance(value, str) and value.isdigit() and len(value) <= 20:
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    if isinstance(value, float) and math.isfinite(value) and value > 0:
        return int(value)
    return 0


def _from_json(raw: bytes) -> Iterator[Span]:
    try:
        document = loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise BodyError(f"body is not UTF-8 (byte {exc.start})") from exc
    except ValueError as exc:  # json.JSONDecodeError
        raise BodyError(f"invalid JSON: {exc}") from exc
    except RecursionError as exc:
        raise BodyError("invalid JSON: nested too deeply") from exc
    if not isinstance(document, dict):
        raise BodyError('expected an OTLP/JSON ExportTraceServiceRequest: {"resourceSpans": [...]}')
    for resource_spans in _list(document, "resourceSpans", "resource_spans"):
        if not isinstance(resource_spans, dict):
            continue
        resource = _json_attributes(_list(resource_spans.get("resource"), "attributes", "attributes"))
        scopes = _list(resource_spans, "scopeSpans", "scope_spans") or _list(
            resource_spans, "instrumentationLibrarySpans", "instrumentation_library_spans"
        )
        for scope_spans in scopes:
            for span in _list(scope_spans, "spans", "spans"):
                if not isinstance(span, dict):
                    span = {}
                status = span.get("status")
                yield Span(
                    _hex_id(_field(span, "traceId", "trace_id")),
                    _hex_id(_field(span, "spanId", "span_id")),
                    _nanoseconds(_field(span, "startTimeUnixNano", "start_time_unix_nano")),
                    _nanoseconds(_field(span, "endTimeUnixNano", "end_time_unix_nano")),
                    isinstance(status, dict) and status.get("code") in (STATUS_ERROR, "STATUS_CODE_ERROR"),
                    _json_attributes(_list(span, "attributes", "attributes")),
                    resource,
                )


# --- Mapping ------------------------------------------------------------------------------


def _first(attributes: dict[str, Any], names: tuple[str, ...]) -> Any:
    for name in names:
        value = attributes.get(name)
        if value is not None and value != "":
            return value
    return None


def _text(value: Any) -> str:
    if isinstance(value, list):
        value = value[0] if value else None
    return gateways.text(value)


def _moment(nanoseconds: int) -> str | None:
    if not 0 < nanoseconds < 2**63:
        return None
    return datetime.fromtimestamp(nanoseconds / 1e9, UTC).isoformat()


def to_event(span: Span) -> tuple[dict[str, Any] | None, str]:
    """The usage event of an inference span, or ``(None, why it is not usage)``."""
    attributes = span.attributes
    operation = attributes.get(OPERATION)
    counts = [_first(attributes, names) for names in (INPUT, OUTPUT, CACHE_READ, CACHE_WRITE, REASONING)]
    if operation is not None and operation not in INFERENCE_OPERATIONS:
        return None, f"not inference ({gateways.text(str(operation))[:40]} span)"
    if operation is None and counts[0] is None and counts[1] is None:
        return None, "not a GenAI span (no gen_ai.operation.name, no token usage)"
    model = _text(_first(attributes, MODEL))
    if not model:
        return None, "no model (gen_ai.response.model or gen_ai.request.model)"
    tokens = gateways.token_fields(*counts)
    if span.failed and not (tokens["native_tokens_prompt"] or tokens["native_tokens_completion"]):
        return None, "failed request without token usage"
    moment = _moment(span.start_ns) or _moment(span.end_ns)
    if moment is None:
        return None, "no start or end time"
    event_id = gateways.event_id(attributes.get(RESPONSE_ID))
    if event_id is None:
        if not (span.trace_id and span.span_id):
            return None, "no gen_ai.response.id and no trace and span id"
        event_id = f"{span.trace_id}:{span.span_id}"
    provider_value = _text(_first(attributes, PROVIDER))
    ttfc = attributes.get(TIME_TO_FIRST_CHUNK)
    first_token_ms = ttfc * 1000 if isinstance(ttfc, (int, float)) and not isinstance(ttfc, bool) else None
    duration_ms = (span.end_ns - span.start_ns) / 1e6 if span.end_ns >= span.start_ns > 0 else None
    return {
        "id": event_id,
        "created_at": moment,
        "model": gateways.model_slug(model, provider_value),
        "provider_name": gateways.provider(provider_value).name if provider_value else None,
        "app_name": _app_name(span),
        "origin": gateways.usable_origin(
            _text(_first(span.attributes, REFERER) or _first(span.resource, REFERER))
        ),
        "total_cost": _first(attributes, COST),
        "finish_reason": gateways.finish_reason(_first(attributes, FINISH))
        or ("error" if span.failed else None),
        "streamed": True if first_token_ms is not None else None,
        "session_id": _text(_first(attributes, CONVERSATION)) or None,
        **tokens,
        **gateways.timing_fields(duration_ms, first_token_ms),
    }, ""


def _app_name(span: Span) -> str | None:
    """The emitting service, unless that is the gateway itself (OpenRouter Broadcast says
    ``service.name=openrouter``): then the OpenRouter API key's name, where sent."""
    service = _text(span.resource.get(SERVICE_NAME))
    if service.lower() in GATEWAY_SERVICES:
        service = _text(span.attributes.get(OPENROUTER_KEY_NAME))
    return service[:200] or None
