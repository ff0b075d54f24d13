"""``POST /api/v1/events``: the gateway's way in."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import APIException
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api_errors import ApiError, error_body
from ingest import auth, tally
from ingest.bodies import media_type, read_body
from ingest.events import BodyError, parse_body
from ingest.services import accept_events

ACCEPTED_TYPES = ("application/json", "application/x-ndjson", "application/ndjson", "application/jsonl")


# What an event may carry (docs/api.md has the rules); unknown fields are ignored.
EVENT_SCHEMA = {
    "type": "object",
    "required": ["id", "created_at", "model"],
    "properties": {
        "id": {"type": ["string", "integer"], "description": "Idempotency key, 1-200 printable characters."},
        "created_at": {"type": "string", "format": "date-time"},
        "model": {"type": "string", "examples": ["anthropic/claude-sonnet-4:thinking"]},
        "provider_name": {"type": "string"},
        "origin": {"type": "string", "description": "The app's URL (its identity); or http_referer."},
        "app_name": {"type": "string"},
        "categories": {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
        **{
            name: {"type": "integer", "minimum": 0}
            for name in (
                "tokens_prompt",
                "tokens_completion",
                "native_tokens_prompt",
                "native_tokens_completion",
                "native_tokens_reasoning",
                "native_tokens_cached",
                "latency",
                "generation_time",
            )
        },
        "total_cost": {"type": ["number", "string"], "description": "USD"},
        "streamed": {"type": "boolean"},
        "cancelled": {"type": "boolean"},
        "is_byok": {"type": "boolean"},
        "finish_reason": {"type": "string"},
    },
}
EVENTS_JSON = {
    "oneOf": [
        {"type": "array", "items": EVENT_SCHEMA},
        {
            "type": "object",
            "required": ["events"],
            "properties": {"events": {"type": "array", "items": EVENT_SCHEMA}},
        },
    ]
}
EVENTS_NDJSON = {"type": "string", "description": "One event (a JSON object) per line."}


class RejectedSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    id = serializers.CharField(allow_null=True)
    errors = serializers.DictField(child=serializers.CharField())


class AcceptedSerializer(serializers.Serializer):
    accepted = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    rejected = RejectedSerializer(many=True)


# What every ingest endpoint answers about its key and its body's format (OpenAPI).
KEY_AND_FORMAT_ANSWERS = {
    401: OpenApiResponse(description="No or unknown ingest key"),
    403: OpenApiResponse(description="Revoked ingest key"),
    411: OpenApiResponse(description="Chunked body through a server that cannot de-chunk it"),
    415: OpenApiResponse(description="Unsupported Content-Type or Content-Encoding"),
    429: OpenApiResponse(description="Over the key's rate limit (see Retry-After)"),
}


class ReceiverView(APIView):
    """A way in for usage, authorized by an ingest key (no session, no DRF parser: the body is
    read and bounded by hand, gzip included). Every request it refuses with an error is
    counted for the ingest health page under ``tally_source``."""

    authentication_classes: list = []
    permission_classes: list = []
    parser_classes: list = []
    tally_source = ""

    def handle_exception(self, exc):
        if isinstance(exc, APIException):
            tally.refused(self.tally_source, tally.refusal_code(exc))
        return super().handle_exception(exc)


class EventsView(ReceiverView):
    tally_source = "http"

    @extend_schema(
        operation_id="ingest_events",
        summary="Send usage events",
        description=(
            'Body: a JSON array of events, `{"events": [...]}`, or NDJSON '
            "(`Content-Type: application/x-ndjson`, `application/ndjson` or `application/jsonl`); "
            "any of them may be sent with `Content-Encoding: gzip`. Authorize with an ingest key. "
            "Fields follow OpenRouter's generation record; see docs/api.md. Answers 202 once "
            "the valid events are durably stored; invalid ones are listed in `rejected`."
        ),
        request={
            "application/json": EVENTS_JSON,
            **{media_type: EVENTS_NDJSON for media_type in ACCEPTED_TYPES[1:]},
        },
        responses={
            202: AcceptedSerializer,
            400: OpenApiResponse(description="Unparseable body, or no valid event"),
            413: OpenApiResponse(description="Too many events or too many bytes"),
            **KEY_AND_FORMAT_ANSWERS,
        },
        examples=[
            OpenApiExample(
                "One event",
                value=[
                    {
                        "id": "gen-123",
                        "created_at": "2025-08-01T12:00:00Z",
                        "model": "anthropic/claude-sonnet-4",
                        "provider_name": "Anthropic",
                        "origin": "https://cline.bot/",
                        "app_name": "Cline",
                        "categories": "programming",
                        "tokens_prompt": 20000,
                        "tokens_completion": 800,
                        "native_tokens_reasoning": 300,
                        "native_tokens_cached": 15000,
                        "total_cost": 0.0645,
                        "latency": 900,
                        "generation_time": 12000,
                    }
                ],
                request_only=True,
            )
        ],
    )
    def post(self, request):
        key = auth.authenticate(request.META.get("HTTP_AUTHORIZATION", ""))
        auth.check_rate(key)
        content_type = media_type(request)
        if content_type not in ACCEPTED_TYPES:
            raise ApiError(
                415,
                "unsupported_media_type",
                "Content-Type must be application/json or application/x-ndjson.",
                "Content-Type",
            )
        limits = settings.TOKENRANK
        raw = read_body(request._request, limits["INGEST_MAX_BYTES"])
        try:
            items, rejected = parse_body(raw, content_type)
        except BodyError as exc:
            raise ApiError(400, "parse_error", str(exc)) from exc
        if len(items) > limits["INGEST_MAX_EVENTS"]:
            raise ApiError(
                413, "too_many_events", f"At most {limits['INGEST_MAX_EVENTS']:,} events per request."
            )
        if not items:
            raise ApiError(400, "empty_batch", "The body holds no events.")
        result = accept_events(items, key, rejected=rejected)
        tally.record("http", tally.counts(result.accepted, result.duplicates, result.rejected))
        if result.accepted == 0 and result.duplicates == 0:
            body = error_body("no_valid_events", "No event in the batch is valid; see rejected.")
            return Response({**body, **result.as_dict()}, status=400)
        return Response(result.as_dict(), status=202)
