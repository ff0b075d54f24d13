"""``/api/v1/datasets/exports/``: the published daily snapshots (rankings.snapshots), their
manifests and files, and a README with the operator's license. Files are immutable, so
they are sent with a year-long cache lifetime and their SHA-256 as ETag."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import FileResponse, Http404, HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from rankings import snapshots
from rankings.api.views import ReadView

DAY_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
IMMUTABLE = "public, max-age=31536000, immutable"


def _manifest(day: str) -> dict:
    if not DAY_RE.fullmatch(day):
        raise Http404("No snapshot for that day.")
    try:
        with snapshots.storage().open(f"{day}/{snapshots.MANIFEST}") as handle:
            return json.load(handle)
    except (FileNotFoundError, OSError) as error:
        raise Http404("No snapshot for that day.") from error


def exports_schema(operation: str, description: str, responses: Any = OpenApiTypes.OBJECT) -> Callable:
    """The schema of a snapshots endpoint, named ``v1_datasets_exports_<operation>``."""
    return extend_schema(
        operation_id=f"v1_datasets_exports_{operation}", responses=responses, description=description
    )


class ExportsIndexView(ReadView):
    renderer_classes = [JSONRenderer]

    @exports_schema("list", "Published daily snapshots, newest first, with the README and the license.")
    def get(self, request: Request) -> Response:
        days = snapshots.published_days()
        return Response(
            {
                "readme": request.build_absolute_uri("README"),
                "license": settings.EXPORTS_LICENSE or None,
                "snapshots": [
                    {"date": d.isoformat(), "manifest": request.build_absolute_uri(f"{d.isoformat()}/")}
                    for d in days
                ],
            }
        )


class ExportsReadmeView(ReadView):
    @extend_schema(
        responses={(200, "text/markdown"): OpenApiTypes.STR}, description="What the snapshots hold."
    )
    def get(self, request: Request) -> HttpResponse:
        return HttpResponse(snapshots.readme(), content_type="text/markdown; charset=utf-8")


class ImmutableView(ReadView):
    """A published snapshot never changes: cache its answers for a year."""

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if response.status_code == 200:
            response["Cache-Control"] = IMMUTABLE
        return response


class ExportsManifestView(ImmutableView):
    renderer_classes = [JSONRenderer]

    @exports_schema("manifest", "A day's manifest: each file's rows, bytes and SHA-256.")
    def get(self, request: Request, day: str) -> Response:
        manifest = _manifest(day)
        for item in manifest["files"]:
            item["url"] = request.build_absolute_uri(item["name"])
        return Response(manifest)


class ExportsFileView(ImmutableView):
    @exports_schema(
        "file",
        "One file of a day's snapshot (as listed in its manifest).",
        {
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR),
            (200, "application/json"): OpenApiResponse(OpenApiTypes.OBJECT),
        },
    )
    def get(self, request: Request, day: str, name: str) -> HttpResponse:
        files = {item["name"]: item for item in _manifest(day)["files"]}
        if name not in files:
            raise Http404("No such file in that snapshot.")
        content_type = "text/csv; charset=utf-8" if name.endswith(".csv") else "application/json"
        response = FileResponse(snapshots.storage().open(f"{day}/{name}"), content_type=content_type)
        response["ETag"] = f'"{files[name]["sha256"]}"'
        return response
