"""The read API (``/api/v1/``): thin views over :mod:`rankings.selectors`, so every number is
the page's number. JSON by default; CSV with ``?format=csv`` or ``Accept: text/csv``."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from typing import Any
from urllib.parse import urlencode

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema, extend_schema_view
from rest_framework.exceptions import Throttled
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api_errors import ApiError, json_error
from ingest import schema
from rankings import selectors
from rankings.api import params
from rankings.api import serializers as s
from rankings.api.pagination import DatasetPagination, OffsetPagination
from rankings.api.renderers import CSVRenderer
from rankings.api.throttles import AnonReadThrottle, KeyReadThrottle
from rankings.cache import cached
from rankings.models import Category, Provider
from rankings.selectors import Window

log = logging.getLogger(__name__)

PAGES = (
    " Pages of `limit` rows from `offset`: `count` rows in all, `next` and `previous` links (also "
    "as a `Link` header); a CSV export with neither `limit` nor `offset` carries every row."
)

# Catalog dimensions have rankings endpoints under their plural.
ENTITY_BY_PLURAL = {d.plural: d.name for d in schema.DIMENSIONS if d.catalog}
FORMAT_PARAM = OpenApiParameter(
    "format", str, enum=["json", "csv"], description="Response format (or use Accept)."
)


def read_schema(
    params_class: type, responses: Any, description: str, *, pages: type | None = None, **extra: Any
) -> Callable:
    """A read's OpenAPI schema: the parameters of ``params_class``, then those of its
    pagination class ``pages`` if it is paged (``limit``, ``offset``), then ``format``."""
    paging = pages.schema_parameters() if pages else []
    return extend_schema(
        parameters=[params_class, *paging, FORMAT_PARAM],
        responses=responses,
        description=description,
        **extra,
    )


RANKING_EXAMPLE = OpenApiExample(
    "Top models this week",
    value={
        "window": {"start": "2025-08-01T00:00:00+00:00", "end": "2025-08-08T00:00:00+00:00"},
        "metric": "tokens",
        "total": 3.1e12,
        "count": 312,
        "next": "/api/v1/rankings/models?limit=20&offset=20",
        "previous": None,
        "results": [
            {
                "rank": 1,
                "entity": {
                    "slug": "anthropic/claude-sonnet-4",
                    "name": "Claude Sonnet 4",
                    "link": "/models/anthropic/claude-sonnet-4/",
                },
                "value": 5.2e11,
                "share": 0.168,
                "previous_value": 4.9e11,
                "change_pct": 6.1,
                "rank_change": 0,
                "is_new": False,
            }
        ],
    },
    response_only=True,
)


class ReadView(APIView):
    renderer_classes = [JSONRenderer, CSVRenderer]
    throttle_classes = [AnonReadThrottle, KeyReadThrottle]

    def perform_content_negotiation(self, request, force=False):
        fmt = request.query_params.get("format")
        allowed = [r.format for r in self.renderer_classes]
        if fmt is not None and fmt not in allowed and not force:
            raise ApiError(400, "invalid", f"format must be one of: {', '.join(allowed)}.", "format")
        return super().perform_content_negotiation(request, force)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if request.method == "GET" and response.status_code == 200:
            # ETag (and 304s) come from ConditionalGetMiddleware over the rendered body.
            response["Cache-Control"] = "public, max-age=30"
            response["Vary"] = "Accept, Authorization"
        return response

    def check_throttles(self, request):
        try:
            super().check_throttles(request)
        except Throttled:
            raise
        except Exception:
            # A cache outage must not take the API down: no throttling until it is back.
            log.warning("read throttle unavailable (cache down); not throttling", exc_info=True)


def ranking_payload(
    request: Request,
    params_class: type,
    query: dict[str, Any],
    paginator: OffsetPagination,
    rank: Callable[..., Any],
    row: Callable[[Any, str], dict],
    **extra: Any,
) -> dict:
    """A page of the ranking ``rank`` reads (a selector taking the window, then the query's
    metric and filters, a limit and an offset): its window, metric, total, ``extra`` fields
    and each row as ``row(ranking_row, metric)`` makes it."""
    ranking = paginator.paginate(
        request,
        params_class,
        lambda limit, offset: rank(
            query["window"], metric=query["metric"], filters=query["filters"], limit=limit, offset=offset
        ),
    )
    return {
        "window": s.window_dict(ranking.window),
        "metric": ranking.metric,
        **extra,
        "total": s.amount(ranking.total, ranking.metric),
        **paginator.paginated([row(r, ranking.metric) for r in ranking.rows]),
    }


RANK_ROW_COLUMNS = (
    "rank",
    "entity_slug",
    "entity_name",
    "entity_link",
    "value",
    "share",
    "previous_value",
    "change_pct",
    "rank_change",
    "is_new",
)


class RankingView(ReadView):
    entity = "model"
    csv_columns = RANK_ROW_COLUMNS  # the header of an empty list
    pagination_class = OffsetPagination

    @read_schema(
        params.RankingParams,
        s.RankingSerializer,
        "Entities ranked by a metric in a window, with share, change and rank movement vs the "
        "previous equal window. Private apps are never listed." + PAGES,
        pages=OffsetPagination,
        examples=[RANKING_EXAMPLE],
    )
    def get(self, request: Request) -> Response:
        query = params.parse(params.RankingParams, request.query_params)
        paginator = self.pagination_class()
        # Cached under the parameters that change the answer, in a fixed order: made-up
        # parameters or a reordered query string do not buy a fresh computation.
        given = paginator.given(request, params.RankingParams)
        key = f"api:ranking:{self.entity}:{request.accepted_renderer.format}:{urlencode(given)}"
        payload = cached(
            key,
            lambda: ranking_payload(
                request,
                params.RankingParams,
                query,
                paginator,
                partial(selectors.ranking, self.entity),
                s.rank_row,
            ),
        )
        return paginator.response(request, payload)


def ranking_view(plural: str) -> type[RankingView]:
    entity = ENTITY_BY_PLURAL[plural]
    return type(f"{entity.title()}RankingView", (RankingView,), {"entity": entity})


class TimeseriesView(ReadView):
    @read_schema(
        params.TimeseriesParams,
        s.TimeseriesSerializer,
        "A metric per interval bucket (in the window's zone) for the top N entities of the "
        "window plus others; gaps are zeros. Without group_by, the total is under `others`. `partial[i]` "
        "is true for a bucket cut short: the current one (so far) or a first one starting mid-bucket.",
    )
    def get(self, request: Request) -> Response:
        query = params.parse(params.TimeseriesParams, request.query_params)
        series = selectors.timeseries(
            query.get("group_by"),
            query["window"],
            interval=query["interval"],
            metric=query["metric"],
            top=query["top"],
            filters=query["filters"],
        )
        buckets = series.local_starts()
        partial = dict(zip(buckets, series.partial, strict=True))

        def values(numbers: list[float]) -> list[int | float]:
            return [s.amount(n, series.metric) for n in numbers]

        response = Response(
            {
                "window": s.window_dict(query["window"]),
                "metric": series.metric,
                "interval": query["interval"],
                "buckets": buckets,
                "partial": series.partial,
                "series": [{"entity": s.entity_dict(e), "values": values(v)} for e, v in series.series],
                "others": values(series.others),
            }
        )
        response.csv_rows = [
            {
                "bucket": b,
                "entity": s.entity_dict(e)["slug"] if e is not None else "",
                "value": value,
                "partial": partial[b],
            }
            for e, v in series.series
            for b, value in zip(buckets, values(v), strict=True)
        ] + [
            {"bucket": b, "entity": "others", "value": value, "partial": partial[b]}
            for b, value in zip(buckets, values(series.others), strict=True)
        ]
        return response


class TrendingView(ReadView):
    entity = "model"
    csv_columns = ("entity_slug", "entity_name", "entity_link", "tokens", "baseline", "score")

    @read_schema(
        params.PeriodParams,
        s.TrendingListSerializer,
        "Growth score: tokens in the window minus the mean of the three windows before, like for like (a period "
        "so far: the same elapsed time of each period before; start/end: the three equal windows before).",
    )
    def get(self, request: Request) -> Response:
        query = params.parse(params.PeriodParams, request.query_params)
        rows = selectors.trending(self.entity, query["window"], limit=20, min_volume=1000)
        return Response(
            {
                "window": s.window_dict(query["window"]),
                "results": [
                    {
                        "entity": s.entity_dict(r.entity),
                        "tokens": s.amount(r.value, "tokens"),
                        "baseline": r.previous_value,
                        "score": r.extra["score"],
                    }
                    for r in rows
                ],
            }
        )


class TrendingAppsView(TrendingView):
    entity = "app"


class CatalogListView(ReadView):
    model = Category
    entity = "category"

    @read_schema(
        params.PeriodParams,
        s.CatalogListSerializer,
        "Every entry with its tokens in the window (zero when unused).",
    )
    def get(self, request: Request) -> Response:
        query = params.parse(params.PeriodParams, request.query_params)
        ranked = {r.key: r for r in selectors.ranking(self.entity, query["window"], limit=10_000).rows}
        results = []
        for obj in self.model.objects.all():
            row = ranked.get(obj.pk)
            results.append(
                {
                    "entity": s.entity_dict(obj),
                    "tokens": s.amount(row.value, "tokens") if row else 0,
                    "share": row.share if row else 0.0,
                    "rank": row.rank if row else None,
                }
            )
        results.sort(key=lambda r: -r["tokens"])
        return Response({"window": s.window_dict(query["window"]), "results": results})


class ProviderListView(CatalogListView):
    model = Provider
    entity = "provider"


class DailyDatasetView(ReadView):
    """Per UTC day, the top entities plus an `other` row; :func:`dataset_view` makes one per
    entity with its own documented columns."""

    entity = "model"
    pagination_class = DatasetPagination

    def get(self, request: Request) -> Response:
        query = params.parse(params.DatasetParams, request.query_params)
        window: Window = query["window"]
        paginator = self.pagination_class()
        page = paginator.paginate(
            request,
            params.DatasetParams,
            lambda limit, offset: selectors.daily_dataset(
                self.entity, window, top=query["top"], limit=limit, offset=offset
            ),
        )
        return paginator.response(
            request, {"window": s.window_dict(window), **paginator.paginated(page.rows)}
        )


def dataset_view(
    entity: str, serializer: type[s.DatasetSerializer], description: str
) -> type[DailyDatasetView]:
    view = type(
        f"{entity.title()}DailyDatasetView",
        (DailyDatasetView,),
        # the header of an empty list: the row serializer's columns
        {"entity": entity, "csv_columns": tuple(serializer().fields["results"].child.fields)},
    )
    schema = read_schema(
        params.DatasetParams,
        serializer,
        description + PAGES,
        pages=DatasetPagination,
    )
    return extend_schema_view(get=schema)(view)


ModelDailyDatasetView = dataset_view(
    "model",
    s.DatasetSerializer,
    "Per UTC day, the top `top` (default 50) models by tokens plus one `other` row for the rest, in "
    "OpenRouter's public daily rankings dataset columns.",
)
AppDailyDatasetView = dataset_view(
    "app",
    s.AppDatasetSerializer,
    "Per UTC day, the top `top` (default 50) public apps by tokens plus one `other` row for the rest "
    "(private apps are counted there, never named): OpenRouter's app rankings columns `app_id`, "
    "`app_name`, `rank`, `total_requests`, `total_tokens`.",
)


class ApiRootView(ReadView):
    @extend_schema(exclude=True)
    def get(self, request: Request) -> Response:
        base = request.build_absolute_uri("/api/v1/")
        return Response(
            {
                "rankings": {p: f"{base}rankings/{p}" for p in ENTITY_BY_PLURAL},
                "timeseries": f"{base}timeseries",
                "trending": [f"{base}trending/models", f"{base}trending/apps"],
                "models": f"{base}models",
                "apps": f"{base}apps",
                "authors": f"{base}authors",
                "categories": f"{base}categories",
                "providers": f"{base}providers",
                "search": f"{base}search",
                "datasets": [
                    f"{base}datasets/rankings-daily",
                    f"{base}datasets/app-rankings-daily",
                    f"{base}datasets/exports/",
                ],
                "growth": f"{base}growth",
                "tool_calls": f"{base}tool-calls",
                "context_lengths": f"{base}context-lengths",
                "tags": f"{base}tags",
                "sessions": f"{base}sessions",
                "schema": request.build_absolute_uri("/api/schema/"),
                "docs": request.build_absolute_uri("/api/docs/"),
            }
        )


def not_found(request, path: str = ""):
    """Unknown paths under /api/ answer in the API's error format, not with an HTML page."""
    return json_error(404, "not_found", "No such API endpoint; see /api/docs/.")
