"""Gateway receivers: ``POST /otlp/v1/traces`` (OTLP/HTTP) and ``POST /api/v1/integrations/litellm``.

Both turn what a gateway already sends into usage events and hand them to
:func:`ingest.services.accept_events`, the durable accept path of ``POST /api/v1/events``:
the same validation, id claim, inbox batch and worker, so the same exactly-once rules.
The OTLP endpoint answers as the OTLP/HTTP specification says (``ExportTraceServiceResponse``
with ``partial_success``, ``google.rpc.Status`` errors, in the request's encoding).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from typing import Any

import orjson
from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from google.rpc import status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from rest_framework.exceptions import APIException
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api_errors import ApiError
from ingest import auth, gateways, litellm, otlp, tally
from ingest.bodies import media_type
from ingest.bodies import read_body as read_whole_body
from ingest.events import BodyError, Rejection
from ingest.models import InboxBatch, IngestKey
from ingest.services import Accepted, accept_events
from ingest.views import ACCEPTED_TYPES, KEY_AND_FORMAT_ANSWERS, AcceptedSerializer, ReceiverView

log = logging.getLogger(__name__)

PROTOBUF_TYPES = ("application/x-protobuf", "application/protobuf")
JSON_TYPE = "application/json"
UNAVAILABLE_RETRY_SECONDS = 30
MAX_MESSAGE = 1000
NOT_USAGE = "usage"  # the key of a rejection's reason when the item is not usage (vs invalid fields)

# HTTP status -> google.rpc.Code of the Status body.
GRPC_CODES = {400: 3, 401: 16, 403: 7, 404: 5, 411: 3, 413: 8, 415: 3, 429: 8, 503: 14}


class Unavailable(ApiError):
    """503 with Retry-After: the database is unreachable or the backlog is over its limit."""

    def __init__(self, message: str = "Storage is unavailable; retry later."):
        super().__init__(503, "unavailable", message)
        self.wait = UNAVAILABLE_RETRY_SECONDS


DATABASE_DOWN = (OperationalError, InterfaceError)


def read_body(request) -> bytes:
    """The request body, read whole (chunked too), gunzipped and bounded: the events
    endpoint's reader, with the receivers' own size limit."""
    return read_whole_body(request, settings.TOKENRANK["RECEIVER_MAX_BYTES"])


def accept(items: list[dict[str, Any]], key: IngestKey, source: str) -> Accepted:
    """:func:`accept_events` over chunks of ``INGEST_MAX_EVENTS`` (a gateway's batch size is
    its own), as one answer; indexes in ``rejected`` are those of ``items``. A database that
    cannot be reached is a 503: nothing of the failed chunk was stored, a retry resends it and
    the chunks already stored come back as duplicates."""
    size = settings.TOKENRANK["INGEST_MAX_EVENTS"]
    total = Accepted()
    for offset in range(0, len(items), size):
        # The app of a span or payload is a name its operator set (service.name, key alias).
        result = accept_events(items[offset : offset + size], key, source=source, titles_are_apps=True)
        total.accepted += result.accepted
        total.duplicates += result.duplicates
        for rejection in result.rejected:
            rejection.index += offset
            total.rejected.append(rejection)
    return total


def map_items(
    items: list[Any], to_event: Callable[[Any], tuple[dict[str, Any] | None, str]]
) -> tuple[list[dict[str, Any]], list[int], list[Rejection]]:
    """Events of the items that are usage, their positions, and a rejection for each other one."""
    events: list[dict[str, Any]] = []
    positions: list[int] = []
    not_usage: list[Rejection] = []
    for index, item in enumerate(items):
        event, why = to_event(item)
        if event is None:
            not_usage.append(Rejection(index, None, {NOT_USAGE: why}))
        else:
            events.append(event)
            positions.append(index)
    return events, positions, not_usage


def _merge(result: Accepted, positions: list[int], not_usage: list[Rejection]) -> list[Rejection]:
    """All rejections, indexed by the position of the item in the request."""
    for rejection in result.rejected:
        rejection.index = positions[rejection.index]
    return sorted(not_usage + result.rejected, key=lambda r: r.index)


def _reason(rejection: Rejection) -> str:
    """Why an item was rejected: not usage (with the mapping's reason) or its invalid fields."""
    if set(rejection.errors) == {NOT_USAGE}:
        return rejection.errors[NOT_USAGE]
    return tally.rejection_reason(rejection)


def _record(source: str, result: Accepted, rejected: list[Rejection]) -> None:
    reasons = Counter(_reason(r) for r in rejected)
    tally.record(source, tally.counts(result.accepted, result.duplicates, [], reasons))


def _check_backlog() -> None:
    limit = settings.TOKENRANK["OTLP_MAX_PENDING_BATCHES"]
    if InboxBatch.objects.filter(status=InboxBatch.Status.PENDING).values("pk")[: limit + 1].count() > limit:
        raise Unavailable(f"Over {limit:,} batches wait to be counted; retry later.")


# --- OTLP/HTTP ----------------------------------------------------------------------------


def _otlp_response(protobuf: bool, status: int, message, as_dict: dict[str, Any]) -> HttpResponse:
    if protobuf:
        return HttpResponse(message.SerializeToString(), status=status, content_type=PROTOBUF_TYPES[0])
    return HttpResponse(orjson.dumps(as_dict), status=status, content_type=JSON_TYPE)


def _partial_message(rejected: list[Rejection], total: int) -> str:
    """``2 of 5 spans rejected: 1 not inference (execute_tool span); 1 invalid (span 3: ...)``."""
    reasons: Counter[str] = Counter()
    examples: dict[str, str] = {}
    for r in rejected:
        reason = _reason(r)
        reasons[reason] += 1
        if NOT_USAGE not in r.errors:
            detail = "; ".join(f"{field}: {message}" for field, message in r.errors.items())
            examples.setdefault(reason, f"span {r.index}: {detail}")
    parts = [
        f"{n} {reason}" + (f" (e.g. {examples[reason]})" if reason in examples else "")
        for reason, n in reasons.most_common()
    ]
    return f"{len(rejected)} of {total} spans rejected: " + "; ".join(parts)


class OtlpTracesView(APIView):
    """OTLP/HTTP trace export: ``OTEL_EXPORTER_OTLP_ENDPOINT=https://host/otlp`` works as it is."""

    authentication_classes: list = []
    permission_classes: list = []
    parser_classes: list = []  # protobuf or JSON, read and bounded by hand

    @extend_schema(exclude=True)  # OTLP's own specification, not this API's (docs/integrations.md)
    def post(self, request):
        protobuf = media_type(request) in PROTOBUF_TYPES
        try:
            return self._export(request, protobuf)
        except DATABASE_DOWN:
            log.warning("OTLP receiver: database unavailable", exc_info=True)
            return self._error(Unavailable(), protobuf)
        except APIException as exc:
            return self._error(exc, protobuf)

    def _export(self, request, protobuf: bool) -> HttpResponse:
        key = auth.authenticate(request.META.get("HTTP_AUTHORIZATION", ""))
        auth.check_rate(key)
        _check_backlog()
        raw = read_body(request)
        if not raw.strip():  # an empty request (OpenRouter's connection test) is a success
            return _otlp_response(protobuf, 200, ExportTraceServiceResponse(), {})
        if not protobuf and media_type(request) != JSON_TYPE:
            raise ApiError(
                415,
                "unsupported_media_type",
                "Content-Type must be application/x-protobuf or application/json.",
            )
        try:
            spans = otlp.decode(raw, protobuf)
        except BodyError as exc:
            raise ApiError(400, "bad_data", str(exc)) from exc
        events, positions, not_usage = map_items(spans, otlp.to_event)
        result = accept(events, key, "otlp") if events else Accepted()
        rejected = _merge(result, positions, not_usage)
        _record("otlp", result, rejected)
        if not rejected:
            return _otlp_response(protobuf, 200, ExportTraceServiceResponse(), {})
        message = _partial_message(rejected, len(spans))[:MAX_MESSAGE]
        return _otlp_response(
            protobuf,
            200,
            ExportTraceServiceResponse(
                partial_success={"rejected_spans": len(rejected), "error_message": message}
            ),
            {"partialSuccess": {"rejectedSpans": str(len(rejected)), "errorMessage": message}},
        )

    def _error(self, exc: APIException, protobuf: bool) -> HttpResponse:
        status = exc.status_code
        message = str(exc.detail)
        tally.refused("otlp", tally.refusal_code(exc))
        body = status_pb2.Status(code=GRPC_CODES.get(status, 2), message=message)
        response = _otlp_response(protobuf, status, body, {"code": body.code, "message": message})
        wait = getattr(exc, "wait", None)
        if wait:
            response["Retry-After"] = str(max(1, int(wait)))
        if getattr(exc, "auth_header", None):
            response["WWW-Authenticate"] = exc.auth_header
        return response


class OtlpUnsupportedView(APIView):
    """``/otlp/v1/metrics`` and ``/otlp/v1/logs``: an SDK pointed at ``/otlp`` sends them too.
    Usage comes from spans only (counting GenAI metrics as well would count it twice)."""

    authentication_classes: list = []
    permission_classes: list = []
    parser_classes: list = []

    @extend_schema(exclude=True)
    def post(self, request, signal: str):
        protobuf = media_type(request) in PROTOBUF_TYPES
        message = (
            f"Tokenrank receives traces only, not {signal}: set OTEL_{signal.upper()}_EXPORTER=none "
            "or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT instead of OTEL_EXPORTER_OTLP_ENDPOINT."
        )
        body = status_pb2.Status(code=GRPC_CODES[404], message=message)
        return _otlp_response(protobuf, 404, body, {"code": body.code, "message": message})


# --- LiteLLM ------------------------------------------------------------------------------


class LiteLLMView(ReceiverView):
    tally_source = "litellm"

    @extend_schema(
        operation_id="ingest_litellm",
        summary="Receive LiteLLM proxy logs (generic_api logger)",
        description=(
            "LiteLLM's `StandardLoggingPayload` in each of its `log_format`s: a JSON array, NDJSON "
            "(also when labelled application/json) or one object; `Content-Encoding: gzip` accepted. "
            "One successful model call is one usage event; cache hits and failed calls without tokens "
            "are listed in `rejected` with the reason. See docs/integrations.md."
        ),
        parameters=[
            OpenApiParameter(
                "app",
                str,
                enum=list(litellm.APP_SOURCES),
                description="Which alias names the app: the virtual key's (default) or the team's; the other is the fallback.",
            )
        ],
        request={"application/json": {"type": "array", "items": {"type": "object"}}},
        responses={
            202: AcceptedSerializer,
            400: OpenApiResponse(description="Unparseable body or empty batch"),
            413: OpenApiResponse(description="Body over TOKENRANK_RECEIVER_MAX_BYTES"),
            503: OpenApiResponse(description="Storage unavailable (see Retry-After)"),
            **KEY_AND_FORMAT_ANSWERS,
        },
    )
    def post(self, request):
        try:
            return self._receive(request)
        except DATABASE_DOWN as exc:  # counted as refused ("unavailable"), as any ApiError
            log.warning("LiteLLM receiver: database unavailable", exc_info=True)
            raise Unavailable() from exc

    def _receive(self, request) -> Response:
        key = auth.authenticate(request.META.get("HTTP_AUTHORIZATION", ""))
        auth.check_rate(key)
        if media_type(request) not in ACCEPTED_TYPES:
            raise ApiError(
                415, "unsupported_media_type", "Content-Type must be application/json.", "Content-Type"
            )
        app_from = request.query_params.get("app", "key")
        if app_from not in litellm.APP_SOURCES:
            raise ApiError(400, "invalid", f"app must be one of {', '.join(litellm.APP_SOURCES)}.", "app")
        try:
            payloads, unreadable = litellm.parse(read_body(request))
        except BodyError as exc:
            raise ApiError(400, "parse_error", str(exc)) from exc
        if not payloads:
            raise ApiError(400, "empty_batch", "The body holds no payloads.")
        events, positions, not_usage = map_items(payloads, lambda p: litellm.to_event(p, app_from))
        unreadable_lines = {r.index for r in unreadable}
        not_usage = [r for r in not_usage if r.index not in unreadable_lines] + unreadable
        for r in not_usage:
            payload = payloads[r.index]
            if isinstance(payload, dict):
                r.id = gateways.text(payload.get("id"))[:200] or None
        result = accept(events, key, "litellm") if events else Accepted()
        rejected = _merge(result, positions, not_usage)
        _record("litellm", result, rejected)
        return Response(
            {
                "accepted": result.accepted,
                "duplicates": result.duplicates,
                "rejected": [r.as_dict() for r in rejected],
            },
            status=202,
        )
