"""OpenAPI post-processing: the ingest key as a bearer security scheme, so /api/docs/ has an
Authorize button and POST /events can be tried there."""

from __future__ import annotations

from typing import Any

SCHEME = "ingestKey"
BEARER = {
    "type": "http",
    "scheme": "bearer",
    "description": "An ingest key (`manage.py ingest_key create NAME` or the admin's Ingest keys). "
    "Required to send events; optional on reads, where it earns the higher key rate.",
}


def add_security(result: dict[str, Any], generator, request, public) -> dict[str, Any]:
    """drf-spectacular hook: ingest needs the key; every read works with or without it."""
    result.setdefault("components", {}).setdefault("securitySchemes", {})[SCHEME] = BEARER
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            required = method == "post" and path.endswith("/events")
            operation["security"] = [{SCHEME: []}] if required else [{}, {SCHEME: []}]
    return result
