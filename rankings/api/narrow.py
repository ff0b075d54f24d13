"""Read API of the narrow rollups: tool calls, context length, tags and cost per session.
Same parameters, pages, CSV and error format as the rankings (:mod:`rankings.api.views`)."""

from __future__ import annotations

from functools import partial
from typing import Any
from urllib.parse import urlencode

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from config.api_errors import ApiError
from rankings import selectors
from rankings.api import params
from rankings.api import serializers as s
from rankings.api.narrow_schema import (
    ContextParams,
    ContextRowSerializer,
    ContextSerializer,
    SessionParams,
    SessionReportSerializer,
    StatsSerializer,
    TagKeyListSerializer,
    TagKeySerializer,
    TagParams,
    TagRankingSerializer,
    TagSeriesParams,
    TagSeriesSerializer,
    ToolListSerializer,
    ToolParams,
    ToolRowSerializer,
    stats_dict,
    tag_dict,
)
from rankings.api.pagination import OffsetPagination
from rankings.api.views import FORMAT_PARAM, ReadView, ranking_payload, read_schema
from rankings.cache import cached
from rankings.models import TagKey
from rankings.selectors import sessions as session_selectors


class CachedView(ReadView):
    """An answer of the narrow rollups: its parameters (``params_class``) parsed, then
    computed once per the parameters that change it (:meth:`payload`), cached like the
    rankings; a list is paged like them (``paginator``: ``limit``, ``offset``, ``Link``)."""

    params_class: type[serializers.Serializer]
    pagination_class = OffsetPagination

    def payload(
        self, request: Request, query: dict[str, Any], paginator: OffsetPagination, **kwargs: str
    ) -> dict[str, Any]:
        raise NotImplementedError

    def get(self, request: Request, **kwargs: str) -> Response:
        query = params.parse(self.params_class, request.query_params)
        paginator = self.pagination_class()
        given = paginator.given(request, self.params_class)
        key = f"api:{request.path}:{request.accepted_renderer.format}:{urlencode(given)}"
        response = paginator.response(
            request, cached(key, lambda: self.payload(request, query, paginator, **kwargs))
        )
        if request.accepted_renderer.format == "csv" and (rows := self.csv_rows(response.data)) is not None:
            response.csv_rows = rows
        return response

    def csv_rows(self, data: dict[str, Any]) -> list[dict[str, Any]] | None:
        """The CSV's lines when they are not the answer's ``results`` as they are (None)."""
        return None


@extend_schema_view(
    get=read_schema(
        ToolParams,
        ToolListSerializer,
        "Models (or providers, or models on each provider) ranked by the tool calls of their "
        "requests, with the share that failed, by kind. A response with finish_reason `tool_calls` and no "
        "count counts as one call.",
        pages=OffsetPagination,
    )
)
class ToolCallsView(CachedView):
    params_class = ToolParams
    csv_columns = tuple(ToolRowSerializer().fields)

    def payload(self, request: Request, query: dict[str, Any], paginator: OffsetPagination) -> dict[str, Any]:
        window, by, filters = query["window"], query["group_by"], query["filters"]
        ranking = paginator.paginate(
            request,
            self.params_class,
            lambda limit, offset: selectors.tool_ranking(
                window, by=by, metric=query["metric"], filters=filters, limit=limit, offset=offset
            ),
        )
        return {
            "window": s.window_dict(ranking.window),
            "metric": ranking.metric,
            "group_by": ranking.by,
            "total": ranking.total,
            **paginator.paginated(
                [
                    {
                        "rank": row.rank,
                        "model": s.entity_dict(row.entities.get("model")),
                        "provider": s.entity_dict(row.entities.get("provider")),
                        "tool_calls": row.tool_calls,
                        "share": row.share,
                        "requests": row.requests,
                        "value": s.amount(row.value, ranking.metric),
                        "errors": row.errors,
                        "error_rate": row.error_rate,
                        "errors_by_kind": row.failures,
                    }
                    for row in ranking.rows
                ]
            ),
        }


@extend_schema_view(
    get=read_schema(
        ContextParams,
        ContextSerializer,
        "The metric per context-length bucket of the prompt (< 1K, 1K–10K, 10K–100K, 100K–1M, "
        "≥ 1M prompt tokens), with share and change; per interval with `interval`.",
    )
)
class ContextLengthView(CachedView):
    params_class = ContextParams
    csv_columns = tuple(ContextRowSerializer().fields)

    def csv_rows(self, data: dict[str, Any]) -> list[dict[str, Any]] | None:
        """With ``interval``, the series, a line per interval and context bucket (as the tag
        timeseries' CSV), not the window's totals alone."""
        if "series" not in data:
            return None
        return [
            {"interval_start": start, "context": bucket, "value": values[n], "partial": data["partial"][n]}
            for bucket, values in data["series"].items()
            for n, start in enumerate(data["buckets"])
        ]

    def payload(self, request: Request, query: dict[str, Any], paginator: OffsetPagination) -> dict[str, Any]:
        window, metric, filters = query["window"].whole_days(), query["metric"], query["filters"]
        data = {
            "window": s.window_dict(window),
            "metric": metric,
            "results": [
                {
                    "bucket": row.entity.code,
                    "label": row.entity.label,
                    "value": s.amount(row.value, metric),
                    "share": row.share,
                    "previous_value": s.amount(row.previous_value, metric),
                    "change_pct": row.change,
                }
                for row in selectors.context_shares(window, metric=metric, filters=filters)
            ],
        }
        if "interval" in query:
            params.check_buckets(window, query["interval"], len(selectors.BUCKETS))
            series = selectors.context_series(
                window, interval=query["interval"], metric=metric, filters=filters
            )
            data["interval"] = query["interval"]
            data["buckets"] = series.local_starts()
            data["partial"] = series.partial
            data["series"] = {b.code: [s.amount(v, metric) for v in values] for b, values in series.series}
        return data


def ranked_key(key: str) -> TagKey:
    found = TagKey.objects.filter(key=key.lower(), ranked=True).first()  # keys are lower case
    if found is None:
        raise ApiError(404, "not_found", f"No ranked tag key {key[:64]!r}; see /api/v1/tags.")
    return found


class TagKeysView(ReadView):
    csv_columns = tuple(TagKeySerializer().fields)

    @extend_schema(
        operation_id="v1_tags_list",
        parameters=[FORMAT_PARAM],
        responses=TagKeyListSerializer,
        description="The tag keys ranked (chosen by the operator), each with its value limit.",
    )
    def get(self, request: Request) -> Response:
        base = request.build_absolute_uri("/api/v1/tags/")
        return Response(
            {
                "results": [
                    {"key": k.key, "name": k.name, "max_values": k.max_values, "link": base + k.key}
                    for k in selectors.ranked_keys()
                ]
            }
        )


@extend_schema_view(
    get=read_schema(
        TagParams,
        TagRankingSerializer,
        "The values of a ranked tag key ranked by a metric, with share and change. Private apps' "
        "use is never counted here; `model` shows only values public apps use too; `app` an app's own.",
        pages=OffsetPagination,
        operation_id="v1_tags_values",
    )
)
class TagRankingView(CachedView):
    params_class = TagParams
    csv_columns = ("rank", "tag_key", "tag_value", "value", "share", "previous_value", "change_pct")

    def payload(
        self, request: Request, query: dict[str, Any], paginator: OffsetPagination, key: str
    ) -> dict[str, Any]:
        tag_key = ranked_key(key)
        return ranking_payload(
            request,
            self.params_class,
            query,
            paginator,
            partial(selectors.tag_ranking, tag_key),
            lambda row, metric: {"rank": row.rank, "tag": tag_dict(row.entity), **s.rank_fields(row, metric)},
            key=tag_key.key,
        )


class TagSeriesView(ReadView):
    @read_schema(
        TagSeriesParams,
        TagSeriesSerializer,
        "A ranked tag key's top values per interval bucket plus others (gaps are zeros).",
    )
    def get(self, request: Request, key: str) -> Response:
        tag_key = ranked_key(key)
        query = params.parse(TagSeriesParams, request.query_params)
        window = query["window"].whole_days()
        params.check_buckets(window, query["interval"], query["top"] + 1)
        series = selectors.tag_series(
            tag_key,
            window,
            interval=query["interval"],
            metric=query["metric"],
            top=query["top"],
            filters=query["filters"],
        )
        buckets = series.local_starts()
        metric = series.metric
        response = Response(
            {
                "window": s.window_dict(window),
                "metric": metric,
                "interval": query["interval"],
                "buckets": buckets,
                "partial": series.partial,
                "series": [
                    {"tag": tag_dict(t), "values": [s.amount(v, metric) for v in values]}
                    for t, values in series.series
                ],
                "others": [s.amount(v, metric) for v in series.others],
            }
        )
        response.csv_rows = [
            {"bucket": b, "tag": t.value if t else "", "value": s.amount(v, metric)}
            for t, values in [*series.series, (None, series.others)]
            for b, v in zip(buckets, values, strict=True)
        ]
        return response


_STATS = tuple(StatsSerializer().fields)
# One header whatever the rows hold: every turn range, in order, each with every figure.
SESSION_CSV_COLUMNS = (
    "harness",
    "app_slug",
    "app_name",
    "model_slug",
    "model_name",
    *_STATS,
    *(f"by_turns_{turns}_{stat}" for turns in session_selectors.TURN_RANGES for stat in _STATS),
)


def _session_csv_row(row: dict[str, Any]) -> dict[str, Any]:
    """A harness x model group as one CSV line of :data:`SESSION_CSV_COLUMNS` (a turn range
    without sessions: empty cells)."""
    app, model = row["app"] or {}, row["model"] or {}
    line = {"harness": row["harness"], "app_slug": app.get("slug", ""), "app_name": app.get("name", "")}
    line |= {"model_slug": model.get("slug", ""), "model_name": model.get("name", "")}
    line |= {stat: row[stat] for stat in _STATS}
    for turns in session_selectors.TURN_RANGES:
        stats = row["by_turns"].get(turns) or {}
        line |= {f"by_turns_{turns}_{stat}": stats.get(stat) for stat in _STATS}
    return line


@extend_schema_view(
    get=read_schema(
        SessionParams,
        SessionReportSerializer,
        "Cost per session: median and 90th percentile of the metric (default cost, USD) and of "
        "cost per session, by harness x model, overall and per turn range (1, 2–9, 10–49, 50+), with "
        "turns per session. Sessions are events' `session_id` per app and model; a harness not named is "
        "the app. Private apps' sessions never show.",
        pages=OffsetPagination,
    )
)
class SessionsView(CachedView):
    params_class = SessionParams
    csv_columns = SESSION_CSV_COLUMNS

    def csv_rows(self, data: dict[str, Any]) -> list[dict[str, Any]]:
        return [_session_csv_row(row) for row in data["results"]]

    def payload(self, request: Request, query: dict[str, Any], paginator: OffsetPagination) -> dict[str, Any]:
        report = paginator.paginate(
            request,
            self.params_class,
            lambda limit, offset: selectors.session_report(
                query["window"],
                metric=query["metric"],
                filters=query["filters"],
                harness=query.get("harness"),
                limit=limit,
                offset=offset,
            ),
        )
        return {
            "window": s.window_dict(report.window),
            "metric": report.metric,
            "overall": stats_dict(report.overall) if report.overall else None,
            "by_turns": {label: stats_dict(stats) for label, stats in report.by_turns.items()},
            **paginator.paginated(
                [
                    {
                        "harness": group.harness or (group.app.name if group.app else ""),
                        "app": s.entity_dict(group.app),
                        "model": s.entity_dict(group.model),
                        **stats_dict(group.all),
                        "by_turns": {label: stats_dict(stats) for label, stats in group.by_turns.items()},
                    }
                    for group in report.rows
                ]
            ),
        }
