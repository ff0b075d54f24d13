"""One error format for every API 4xx: ``{"error": {"code", "message", "field"}}``."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, JsonResponse
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


class ApiError(exceptions.APIException):
    """A 4xx with a code, a message and, when a parameter is to blame, its name."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None):
        super().__init__(detail=message, code=code)
        self.status_code = status
        self.field = field


def error_body(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "field": field}}


def _first_message(detail: Any) -> tuple[str | None, str]:
    """Flatten DRF's nested detail into (field, message)."""
    if isinstance(detail, dict):
        field, value = next(iter(detail.items()))
        inner_field, message = _first_message(value)
        return (field if field != "non_field_errors" else inner_field), message
    if isinstance(detail, list) and detail:
        return _first_message(detail[0])
    return None, str(detail)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, ApiError):
        field, message = exc.field, str(exc.detail)
    else:
        field, message = _first_message(exc.detail if hasattr(exc, "detail") else str(exc))
    code = {Http404: "not_found", PermissionDenied: "permission_denied"}.get(type(exc), "error")
    if isinstance(exc, exceptions.APIException):
        codes = exc.get_codes()
        if isinstance(codes, str):
            code = codes
    response.data = error_body(code, message, field)
    return response


def json_error(status: int, code: str, message: str, field: str | None = None) -> JsonResponse:
    """The same format for responses made outside DRF (e.g. 404 on an API path)."""
    return JsonResponse(error_body(code, message, field), status=status)


ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "field"],
            "properties": {
                "code": {"type": "string", "examples": ["invalid"]},
                "message": {"type": "string", "examples": ['metric: "vibes" is not a valid choice.']},
                "field": {"type": ["string", "null"], "examples": ["metric"]},
            },
        }
    },
}
LOCATION = {
    "description": "Where the resource is now.",
    "schema": {"type": "string", "format": "uri-reference"},
}
ERROR_STATUSES = {
    "400": "Invalid parameter or body (the message names it)",
    "404": "No such resource (private apps answer 404 too)",
    "414": "Query string too long (the message gives the limit)",
    "429": "Rate limited; see Retry-After",
}


def add_error_responses(result: dict[str, Any], generator, request, public) -> dict[str, Any]:
    """drf-spectacular hook: every API operation documents the shared error format (and a
    redirect its Location header)."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            for status, description in ERROR_STATUSES.items():
                content = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
                if "csv" in str(operation.get("parameters", "")):
                    content["text/csv"] = {"schema": {"type": "string"}}
                responses.setdefault(status, {"description": description, "content": content})
            for status, response in responses.items():
                if status.startswith("3"):  # a redirect says where to
                    response.setdefault("headers", {})["Location"] = LOCATION
                if status.startswith(("4", "5")) and "content" not in response:
                    response["content"] = {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                    }
    return result
