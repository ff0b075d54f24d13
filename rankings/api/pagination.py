"""Pages of the read API's long lists (rankings, daily datasets): DRF's limit/offset
pagination, its parameters and its ``count``/``next``/``previous``/``results``, with what
this API adds in one place:

- strict parameters: a ``limit`` or ``offset`` that is not a whole number in range, or an
  offset past the end of the list, is a 400 naming it (DRF would fall back to a default);
- a CSV export with neither ``limit`` nor ``offset`` is the whole list (a spreadsheet gets
  every row, not the first page);
- links relative, carrying only the list's own parameters: ranking answers are cached and
  shared, so a link never holds a request's host or made-up parameters; the ``Link``
  header (absolute) is added per request, outside the cache.

The selectors compute a page and the whole list's count in one query (a window function),
so a page is fetched with its count rather than counted and then sliced.

Offsets, not cursors: a ranking is computed for its window and ordered by a metric, not a
table read in a stable unique order, which is what DRF's CursorPagination needs.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit

from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request
from rest_framework.response import Response

from config.api_errors import ApiError


class Page(Protocol):
    rows: Sequence[Any]
    count: int  # rows of the whole list


class PageSerializer(serializers.Serializer):
    """The page's part of a list answer (:meth:`OffsetPagination.paginated`)."""

    count = serializers.IntegerField(help_text="Rows of the whole list (every page).")
    next = serializers.CharField(allow_null=True, help_text="The next page (also in the Link header).")
    previous = serializers.CharField(
        allow_null=True, help_text="The previous page (also in the Link header)."
    )


class OffsetPagination(LimitOffsetPagination):
    default_limit = 20
    max_limit = 100
    max_offset = 9_999_999

    @classmethod
    def schema_parameters(cls) -> list[OpenApiParameter]:
        """``limit`` and ``offset`` for ``extend_schema`` (these lists answer an object with
        the page inside, which drf-spectacular does not paginate by itself)."""
        return [
            OpenApiParameter(
                cls.limit_query_param,
                {"type": "integer", "minimum": 1, "maximum": cls.max_limit},
                description=f"Rows per page, 1 to {cls.max_limit:,} (default {cls.default_limit:,}). A CSV "
                "export with neither limit nor offset carries every row.",
            ),
            OpenApiParameter(
                cls.offset_query_param,
                {"type": "integer", "minimum": 0, "maximum": cls.max_offset},
                description="Rows skipped before the page (default 0): the `next` and `previous` links "
                "carry it. Past the end of the list: 400.",
            ),
        ]

    def given(self, request: Request, params: type[serializers.Serializer]) -> dict[str, str]:
        """The list's own parameters (``params``' fields, the page's, ``format``) as given,
        sorted by name: the canonical cache key, and what links carry. ``cursor`` is refused
        here, before any cached page could answer for it."""
        if "cursor" in request.query_params:  # the offset's former name: never read as page 1
            raise ApiError(400, "invalid", "cursor: now called offset (the same number).", "cursor")
        names = {*params().fields, self.limit_query_param, self.offset_query_param, "format"}
        return {name: request.query_params[name] for name in sorted(request.query_params) if name in names}

    def paginate(
        self, request: Request, params: type[serializers.Serializer], fetch: Callable[[int | None, int], Page]
    ) -> Page:
        """The page ``request`` asks for: ``fetch(limit, offset)`` (``limit`` None: every row)."""
        self.request = request
        self.carried = self.given(request, params)
        self.limit = self.get_limit(request)
        self.offset = self.get_offset(request)
        page = fetch(self.limit, self.offset)
        self.count = page.count
        if self.offset and not page.rows:
            raise ApiError(
                400,
                "invalid",
                f"offset {self.offset} is past the end of the list ({fetch(1, 0).count} rows).",
                self.offset_query_param,
            )
        return page

    def paginated(self, results: list[Any]) -> dict[str, Any]:
        """The page's part of an answer (DRF's paginated response, as a dict to add to)."""
        return {
            "count": self.count,
            "next": self.get_next_link(),
            "previous": self.get_previous_link(),
            "results": results,
        }

    def get_limit(self, request: Request) -> int | None:
        query = request.query_params
        if request.accepted_renderer.format == "csv" and not (
            {self.limit_query_param, self.offset_query_param} & query.keys()
        ):
            return None
        return _whole_number(query, self.limit_query_param, 1, self.max_limit, self.default_limit)

    def get_offset(self, request: Request) -> int:
        return _whole_number(request.query_params, self.offset_query_param, 0, self.max_offset, 0)

    def get_next_link(self) -> str | None:
        return None if self.limit is None else self._relative(super().get_next_link())

    def get_previous_link(self) -> str | None:
        return None if self.limit is None else self._relative(super().get_previous_link())

    def _relative(self, url: str | None) -> str | None:
        """DRF's link as a path and the carried parameters (one value each), with the page's
        ``limit`` and ``offset`` from DRF's link."""
        if url is None:
            return None
        parts = urlsplit(url)
        page_names = (self.limit_query_param, self.offset_query_param)
        page = {k: v for k, v in parse_qsl(parts.query) if k in page_names}
        query = {k: v for k, v in self.carried.items() if k not in page_names} | page
        return f"{parts.path}?{urlencode(query)}"

    @staticmethod
    def response(request: Request, payload: dict[str, Any]) -> Response:
        """The answer, with its links also as a ``Link`` header (CSV clients see no JSON)."""
        response = Response(payload)
        links = [
            f'<{request.build_absolute_uri(payload[name])}>; rel="{rel}"'
            for name, rel in (("next", "next"), ("previous", "prev"))
            if payload.get(name)
        ]
        if links:
            response["Link"] = ", ".join(links)
        return response


class DatasetPagination(OffsetPagination):
    default_limit = 1000
    max_limit = 5000


def _whole_number(query, name: str, low: int, high: int, default: int) -> int:
    value = query.get(name)
    if value is None:
        return default
    if not re.fullmatch(r"[0-9]{1,9}", value) or not low <= int(value) <= high:
        raise ApiError(400, "invalid", f"{name}: a whole number from {low} to {high:,}.", name)
    return int(value)
