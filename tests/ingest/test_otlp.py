"""POST /otlp/v1/traces driven by the OpenTelemetry SDK's own OTLP/HTTP exporter and encoder,
and by an OTLP/JSON body shaped as OpenRouter Broadcast sends it."""

from __future__ import annotations

import gzip
import json
import time
from decimal import Decimal

import pytest
from django.utils import timezone
from google.rpc import status_pb2
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from ingest import maintenance
from ingest.events import with_defaults
from ingest.models import InboxBatch, SourceTally
from tests.conftest import wait_for
from tests.factories import rollup_totals

PROTOBUF = "application/x-protobuf"
URL = "/otlp/v1/traces"


def ns(minutes_ago: float) -> int:
    return int((time.time() - minutes_ago * 60) * 1e9)


def chat(n: int, **extra) -> dict:
    """Attributes of an inference span as semantic conventions v1.41 name them."""
    return {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "anthropic",
        "gen_ai.request.model": "claude-sonnet-4",
        "gen_ai.response.model": "claude-sonnet-4-20250514",
        "gen_ai.response.id": f"msg_{n:06d}",
        "gen_ai.usage.input_tokens": 1000 + n,
        "gen_ai.usage.output_tokens": 200 + n,
        "gen_ai.usage.cache_read.input_tokens": 600,
        "gen_ai.usage.cache_creation.input_tokens": 100,
        "gen_ai.usage.reasoning.output_tokens": 50,
        "gen_ai.response.finish_reasons": ["stop"],
        "gen_ai.usage.cost": 0.0125,
        **extra,
    }


def make_spans(specs: list[tuple[str, dict]], service: str = "Support bot", failed: set[int] = frozenset()):
    """Finished SDK spans (name, attributes), each 2 s long, ending a few minutes ago."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("tokenrank-tests")
    for index, (name, attributes) in enumerate(specs):
        start = ns(5 + index / 100)
        span = tracer.start_span(name, attributes=attributes, start_time=start)
        if index in failed:
            span.set_status(StatusCode.ERROR)
        span.end(end_time=start + 2_000_000_000)
    return list(memory.get_finished_spans())


@pytest.fixture
def key(ingest_key) -> str:
    """A fresh ingest key's secret."""
    return ingest_key[1]


def post(client, key, body: bytes, content_type: str = PROTOBUF, **extra):
    if key is not None:
        extra["HTTP_AUTHORIZATION"] = f"Bearer {key}"
    return client.post(URL, data=body, content_type=content_type, **extra)


def parsed(response) -> ExportTraceServiceResponse:
    assert response["Content-Type"] == PROTOBUF
    message = ExportTraceServiceResponse()
    message.ParseFromString(response.content)
    return message


def pending_events() -> list[dict]:
    return [with_defaults(e) for batch in InboxBatch.objects.order_by("pk") for e in batch.events]


@pytest.mark.django_db
def test_sdk_encoded_spans_become_events_and_other_spans_are_partial_success(client, key):
    spans = make_spans(
        [
            ("chat claude-sonnet-4", chat(1)),
            ("execute_tool get_weather", {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "w"}),
            (
                "invoke_agent planner",
                {"gen_ai.operation.name": "invoke_agent", "gen_ai.usage.input_tokens": 9999},
            ),
            ("GET /health", {"http.request.method": "GET"}),
        ]
    )
    response = post(client, key, encode_spans(spans).SerializeToString())
    assert response.status_code == 200
    answer = parsed(response)
    assert answer.partial_success.rejected_spans == 3
    message = answer.partial_success.error_message
    assert "3 of 4 spans rejected" in message
    assert "not inference (execute_tool span)" in message and "not inference (invoke_agent span)" in message
    assert "not a GenAI span" in message
    [event] = pending_events()
    assert event["id"] == "msg_000001"
    assert event["model"] == "anthropic/claude-sonnet-4-20250514"
    assert event["provider_name"] == "Anthropic"
    assert event["app_name"] == "Support bot"
    assert event["origin"] == "title:support bot"  # its app is the service, not "(unattributed)"
    # Input includes cache reads and writes, output includes reasoning: each counted once.
    assert (event["prompt"], event["completion"], event["cached"], event["reasoning"]) == (1001, 201, 600, 50)
    assert event["finish_reason"] == "stop"
    assert event["latency"] == 2000 and event["generation"] is None
    start = spans[0].start_time / 1e9
    assert abs(timezone.datetime.fromisoformat(event["created_at"]).timestamp() - start) < 0.001


@pytest.mark.django_db
def test_genai_repo_and_legacy_names_and_anthropic_style_counts(client, key):
    newer = chat(2) | {
        "gen_ai.usage.cache_write.input_tokens": 100,
        "gen_ai.response.time_to_first_chunk": 0.5,
    }
    del newer["gen_ai.usage.cache_creation.input_tokens"]
    legacy = {  # before v1.27 / v1.37, no operation name (gateway style), Anthropic's own counts
        "gen_ai.system": "az.ai.openai",
        "gen_ai.request.model": "gpt-4o",
        "gen_ai.usage.prompt_tokens": 40,  # excludes the cache here: the subsets are larger
        "gen_ai.usage.completion_tokens": 10,
        "gen_ai.usage.cache_read.input_tokens": 900,
        "gen_ai.usage.cache_creation.input_tokens": 60,
    }
    spans = make_spans([("chat", newer), ("llm", legacy)])
    response = post(client, key, encode_spans(spans).SerializeToString())
    assert parsed(response).HasField("partial_success") is False
    first, second = pending_events()
    assert (first["prompt"], first["cached"], first["latency"], first["generation"]) == (1002, 600, 500, 1500)
    assert first["streamed"] is True
    assert second["model"] == "openai/gpt-4o" and second["provider_name"] == "Azure"
    assert (second["prompt"], second["completion"], second["cached"]) == (1000, 10, 900)
    assert second["id"] == f"{spans[1].context.trace_id:032x}:{spans[1].context.span_id:016x}"


@pytest.mark.django_db
def test_failed_span_counts_only_with_tokens(client, key):
    no_tokens = {
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": "gpt-4o",
        "gen_ai.provider.name": "openai",
    }
    spans = make_spans([("chat", no_tokens), ("chat", chat(3))], failed={0, 1})
    answer = parsed(post(client, key, encode_spans(spans).SerializeToString()))
    assert answer.partial_success.rejected_spans == 1
    assert "failed request without token usage" in answer.partial_success.error_message
    [event] = pending_events()
    assert event["finish_reason"] == "stop"  # its own finish reason wins over "error"


def broadcast_body(n: int = 3, cost: float = 0.0042) -> dict:
    """OTLP/JSON as OpenRouter Broadcast sends it: service.name=openrouter, gen_ai.system the
    upstream provider, hex ids, int64 as strings, trace.metadata.* from the request's trace."""

    def attr(key, value):
        kind = {str: "stringValue", int: "intValue", float: "doubleValue", bool: "boolValue"}[type(value)]
        return {"key": key, "value": {kind: str(value) if kind == "intValue" else value}}

    start = ns(10)
    spans = []
    for i in range(n):
        spans.append(
            {
                "traceId": f"{i + 1:032X}",
                "spanId": f"{i + 1:016X}",
                "name": "chat anthropic/claude-sonnet-4",
                "kind": 3,
                "startTimeUnixNano": str(start + i * 10**9),
                "endTimeUnixNano": str(start + i * 10**9 + 3 * 10**9),
                "attributes": [
                    attr("gen_ai.request.model", "anthropic/claude-sonnet-4"),
                    attr("gen_ai.response.model", "anthropic/claude-4-sonnet-20250522"),
                    attr("gen_ai.system", "Amazon Bedrock"),
                    attr("gen_ai.usage.input_tokens", 2000 + i),
                    attr("gen_ai.usage.output_tokens", 400),
                    attr("gen_ai.usage.total_tokens", 2400 + i),
                    attr("gen_ai.usage.input_tokens.cached", 1500),
                    attr("gen_ai.usage.output_tokens.reasoning", 100),
                    attr("gen_ai.usage.total_cost", cost),
                    attr("gen_ai.response.finish_reason", "stop"),
                    attr("user.id", "user-7"),
                    attr("session.id", "session-1"),
                    attr("trace.metadata.openrouter.api_key_name", "Production key"),
                    attr("trace.metadata.environment", "prod"),
                ],
                "status": {"code": 1},
            }
        )
    return {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": [attr("service.name", "openrouter"), attr("openrouter.trace.id", "gen-xyz")]
                },
                "scopeSpans": [{"scope": {"name": "openrouter"}, "spans": spans}],
            }
        ]
    }


def spans_of(body: dict) -> list[dict]:
    """The spans of a broadcast body (its one resource and scope)."""
    return body["resourceSpans"][0]["scopeSpans"][0]["spans"]


def set_attribute(body: dict, span: int, key: str, value: dict) -> None:
    """Gives span number ``span`` of ``body`` the attribute ``key``: ``value`` (an OTLP AnyValue)."""
    attributes = spans_of(body)[span]["attributes"]
    [at] = [i for i, attribute in enumerate(attributes) if attribute["key"] == key]
    attributes[at] = {"key": key, "value": value}


def other_span(operation: str) -> dict:
    """A span of an operation other than inference (no event)."""
    return {
        "traceId": "ab" * 16,
        "spanId": "cd" * 8,
        "attributes": [{"key": "gen_ai.operation.name", "value": {"stringValue": operation}}],
    }


def post_json(client, key, body: dict):
    return post(client, key, json.dumps(body).encode(), content_type="application/json")


def rejected(client, key, body: dict | bytes) -> tuple[int, str]:
    """How many spans of ``body`` (OTLP JSON) its 200 answer rejects, and why."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    response = post(client, key, raw, content_type="application/json")
    assert response.status_code == 200
    partial = response.json()["partialSuccess"]
    return int(partial["rejectedSpans"]), partial.get("errorMessage", "")


@pytest.mark.django_db
def test_openrouter_broadcast_json_and_its_connection_test(client, key):
    test = post(client, key, b"", content_type="application/json", HTTP_X_TEST_CONNECTION="true")
    assert test.status_code == 200 and test.json() == {}
    assert post(client, key, b'{"resourceSpans": []}', content_type="application/json").json() == {}
    assert InboxBatch.objects.count() == 0
    response = post_json(client, key, broadcast_body())
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    assert response.json() == {}
    events = pending_events()
    assert len(events) == 3
    first = events[0]
    assert first["id"] == f"{1:032x}:{1:016x}"
    assert first["model"] == "anthropic/claude-4-sonnet-20250522"  # served, not requested
    assert first["provider_name"] == "Amazon Bedrock"
    assert first["app_name"] == "Production key"  # not "openrouter", the emitter
    assert (first["prompt"], first["completion"], first["cached"], first["reasoning"]) == (
        2000,
        400,
        1500,
        100,
    )
    assert Decimal(first["cost"]) == Decimal("0.0042") and first["latency"] == 3000


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("spoil", "reason"),
    [
        (lambda body: spans_of(body).append(other_span("execute_tool")), "not inference (execute_tool span)"),
        # far in the future or the past
        (lambda body: spans_of(body)[0].update(startTimeUnixNano="1", endTimeUnixNano=str(2**64 + 5)), "created_at"),
    ],
    ids=["not-inference", "out-of-time"],
)
def test_a_json_partial_success_rejects_the_span_with_its_reason_not_an_error(client, key, spoil, reason):
    body = broadcast_body(2)
    spoil(body)
    count, message = rejected(client, key, body)
    assert count == 1 and reason in message


@pytest.mark.django_db
def test_invalid_span_values_are_rejected_with_the_field_and_nan_is_no_error(client, key):
    body = broadcast_body(3)
    set_attribute(body, 0, "gen_ai.usage.input_tokens", {"intValue": "999999999999"})
    set_attribute(body, 1, "gen_ai.usage.total_cost", {"doubleValue": "NaN"})
    raw = json.dumps(body).replace('"NaN"', "NaN").encode()
    count, message = rejected(client, key, raw)
    assert count == 2 and "span 0: native_tokens_prompt: must be at most 100,000,000" in message
    assert len(pending_events()) == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "content_type", "status", "grpc"),
    [
        (b"\xff\xff\xff garbage", PROTOBUF, 400, 3),
        (b"\x0a\xff\xff\xff\xff\x0f", PROTOBUF, 400, 3),  # a length past the end
        (b'{"resourceSpans": [', "application/json", 400, 3),
        (b"[1, 2]", "application/json", 400, 3),
        (b'{"resourceSpans": "x"}', "application/json", 200, None),  # unknown shapes are ignored
        (b"\xff\xfe", "application/json", 400, 3),
        (b"{}", "text/plain", 415, 3),
    ],
)
def test_bad_bodies_are_400_with_a_status_in_the_request_encoding(
    client, key, body, content_type, status, grpc
):
    response = post(client, key, body, content_type=content_type)
    assert response.status_code == status
    if grpc is None:
        return
    if content_type == PROTOBUF:
        message = status_pb2.Status()
        message.ParseFromString(response.content)
        assert message.code == grpc and message.message
    else:
        assert response.json()["code"] == grpc


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field, encoded by hand (the library refuses to build this)."""
    size, length = b"", len(payload)
    while True:
        size += bytes([(length & 0x7F) | (0x80 if length > 0x7F else 0)])
        length >>= 7
        if not length:
            break
    return bytes([number << 3 | 2]) + size + payload


@pytest.mark.django_db
def test_deeply_nested_protobuf_is_400(client, key):
    value = _field(1, b"x")  # AnyValue.string_value
    for _ in range(150):  # AnyValue.kvlist_value -> KeyValueList.values -> KeyValue{key, value}
        value = _field(6, _field(1, _field(1, b"k") + _field(2, value)))
    span = _field(9, _field(1, b"attr") + _field(2, value))  # Span.attributes
    body = _field(1, _field(2, _field(2, span)))  # request.resource_spans.scope_spans.spans
    response = post(client, key, body)
    assert response.status_code == 400
    assert "ExportTraceServiceRequest" in json.dumps(response.content.decode(errors="replace"))


@pytest.mark.django_db
def test_auth_errors_are_status_bodies(client, ingest_key):
    key_row, key = ingest_key
    body = encode_spans(make_spans([("chat", chat(4))])).SerializeToString()
    missing = post(client, None, body)
    assert missing.status_code == 401 and "Bearer" in missing["WWW-Authenticate"]
    status = status_pb2.Status()
    status.ParseFromString(missing.content)
    assert status.code == 16 and "ingest key" in status.message
    assert post(client, "trk_wrong", body).status_code == 401
    key_row.revoked_at = timezone.now()
    key_row.save()
    assert post(client, key, body).status_code == 403
    refused = dict(
        SourceTally.objects.filter(source="otlp", outcome="refused").values_list("reason", "count")
    )
    assert refused == {"not_authenticated": 1, "invalid_key": 1, "key_revoked": 1}


@pytest.mark.django_db
def test_rate_limit_is_429_and_backlog_is_503_with_retry_after(client, ingest_key, settings):
    key_row, key = ingest_key
    body = encode_spans(make_spans([("chat", chat(5))])).SerializeToString()
    settings.TOKENRANK = {**settings.TOKENRANK, "OTLP_MAX_PENDING_BATCHES": 0}
    assert post(client, key, body).status_code == 200  # nothing pending yet
    busy = post(client, key, body)
    assert busy.status_code == 503 and int(busy["Retry-After"]) > 0
    status = status_pb2.Status()
    status.ParseFromString(busy.content)
    assert status.code == 14
    settings.TOKENRANK = {**settings.TOKENRANK, "OTLP_MAX_PENDING_BATCHES": 100}
    key_row.rate_limit_per_minute = 1
    key_row.save()
    limited = post(client, key, body)
    assert limited.status_code == 429 and 0 < int(limited["Retry-After"]) <= 60


@pytest.mark.django_db
def test_size_limits_and_gzip_bomb(client, key, settings):
    bomb = gzip.compress(b"\x00" * (80 * 1024 * 1024), compresslevel=9)
    response = post(client, key, bomb, HTTP_CONTENT_ENCODING="gzip")
    assert response.status_code == 413
    settings.TOKENRANK = {**settings.TOKENRANK, "RECEIVER_MAX_BYTES": 500}
    body = encode_spans(make_spans([("chat", chat(i)) for i in range(10)])).SerializeToString()
    assert post(client, key, body).status_code == 413
    assert post(client, key, b"junk", HTTP_CONTENT_ENCODING="gzip").status_code == 400
    assert InboxBatch.objects.count() == 0


@pytest.mark.django_db
def test_many_spans_are_accepted_in_chunks_of_the_event_limit(client, key, settings):
    settings.TOKENRANK = {**settings.TOKENRANK, "INGEST_MAX_EVENTS": 4}
    spans = make_spans([("chat", chat(i)) for i in range(10)])
    assert post(client, key, encode_spans(spans).SerializeToString()).status_code == 200
    assert sorted(InboxBatch.objects.values_list("event_count", flat=True)) == [2, 4, 4]


@pytest.mark.django_db
def test_metrics_and_logs_are_refused_with_a_hint(client, ingest_key):
    response = client.post("/otlp/v1/metrics", data=b"", content_type="application/json")
    assert response.status_code == 404 and "OTEL_METRICS_EXPORTER=none" in response.json()["message"]
    assert client.post("/otlp/v1/logs", data=b"", content_type=PROTOBUF).status_code == 404


@pytest.mark.worker
def test_sdk_exporter_resends_counted_once_in_the_rollups(live_server, worker, key, monkeypatch):
    """The SDK's exporter, configured only by the standard environment variables, gzip on."""
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"{live_server.url}/otlp")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", f"Authorization=Bearer%20{key}")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip")
    specs = [("chat", chat(i)) for i in range(30)]
    specs += [("chat", chat(100 + i, **{"gen_ai.response.id": ""})) for i in range(5)]  # ids from the span
    specs += [("execute_tool x", {"gen_ai.operation.name": "execute_tool"})] * 3
    spans = make_spans(specs)
    exporter = OTLPSpanExporter()
    for batch in (spans, spans[:20], spans[10:], spans):
        assert exporter.export(batch) == SpanExportResult.SUCCESS
    exporter.shutdown()
    wait_for(lambda: not InboxBatch.objects.exclude(status="done").exists(), timeout=120)
    inference = [attributes for _, attributes in specs if attributes["gen_ai.operation.name"] == "chat"]
    expected = {
        "requests": 35,
        "prompt_tokens": sum(a["gen_ai.usage.input_tokens"] for a in inference),
        "completion_tokens": sum(a["gen_ai.usage.output_tokens"] for a in inference),
        "reasoning_tokens": 35 * 50,
        "cached_tokens": 35 * 600,
        "cache_write_tokens": 35 * 100,
    }
    expected["cost"] = Decimal("0.0125") * 35
    assert rollup_totals() == expected
    assert maintenance.verify_rollups()[1] == []
    counted = dict(SourceTally.objects.filter(source="otlp").values_list("outcome", "count").order_by())
    assert counted["accepted"] == 35


@pytest.mark.django_db
def test_lone_surrogates_in_strings_are_no_error(client, key):
    body = broadcast_body(1)
    set_attribute(body, 0, "trace.metadata.openrouter.api_key_name", {"stringValue": "key\ud800"})
    spans_of(body).append(other_span("\udfff"))
    assert rejected(client, key, body)[0] == 1
    [event] = pending_events()
    assert event["app_name"] == "key\ufffd"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20,
)


@pytest.mark.django_db
@hypothesis_settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    raw=st.binary(max_size=300),
    value=json_values,
    key_name=st.sampled_from(
        [
            "gen_ai.usage.input_tokens",
            "gen_ai.request.model",
            "gen_ai.operation.name",
            "gen_ai.response.id",
            "gen_ai.usage.total_cost",
            "gen_ai.response.finish_reason",
        ]
    ),
)
def test_no_body_answers_5xx(client, key, raw, value, key_name):
    assert post(client, key, raw).status_code < 500
    assert post(client, key, raw, content_type="application/json").status_code < 500
    body = broadcast_body(1)
    attributes = spans_of(body)[0]["attributes"]
    attributes.append({"key": key_name, "value": value})
    attributes.insert(
        0, {"key": key_name, "value": {"stringValue": value} if isinstance(value, str) else value}
    )
    response = post_json(client, key, body)
    assert response.status_code == 200


@pytest.mark.django_db
def test_a_conversation_is_a_session_and_a_tool_call_finish_counts_one_call(client, key):
    spans = make_spans(
        [
            ("chat", chat(1, **{"gen_ai.conversation.id": "conv-7", "gen_ai.response.finish_reasons": ["tool_calls"]})),
            ("chat", chat(2)),
        ]
    )
    assert post(client, key, encode_spans(spans).SerializeToString()).status_code == 200
    first, second = pending_events()
    assert (first["session_id"], first["tool_calls"]) == ("conv-7", 1)
    assert (second["session_id"], second["tool_calls"]) == ("", 0)
