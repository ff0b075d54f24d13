"""Read API of the narrow rollups: tool calls, context length, tags and cost per session.
Same parameters, pages, CSV and error format as the rankings (:mod:`rankings.api.views`)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from config.api_errors import ApiError
from ingest import schema
from rankings import selectors
from rankings.api import params
from rankings.api import serializers as s
from rankings.api.views import FORMAT_PARAM, ReadView, _next_url, _page, _paginated, _past_the_end
from rankings.cache import cached
from rankings.models import TagKey
from rankings.selectors import sessions as session_selectors
from rankings.selectors import tools as tool_selectors

KINDS = tuple(kind for kind, _ in schema.TOOL_ERROR_KINDS)

# --- Parameters --------------------------------------------------------------------------


class ToolParams(params.FilteredParams, params.PageParams):
    filters = ("model", "provider")
    group_by = serializers.ChoiceField(
        choices=list(tool_selectors.GROUPINGS),
        default="model",
        help_text="Rank models, providers, or each model on each provider.",
    )


class ContextParams(params.FilteredParams):
    filters = ("model",)
    interval = serializers.ChoiceField(
        choices=list(selectors.INTERVALS),
        required=False,
        help_text="Also give each bucket's value per interval (`series`).",
    )


class TagParams(params.FilteredParams, params.PageParams):
    filters = ("model", "app")


class TagSeriesParams(params.FilteredParams):
    filters = ("model", "app")
    interval = serializers.ChoiceField(choices=["day", "week", "month"], default="week")
    top = serializers.IntegerField(min_value=1, max_value=50, default=8)
    default_period = "month"


class SessionParams(params.FilteredParams, params.PageParams):
    filters = ("model", "app")
    metric = serializers.ChoiceField(
        choices=list(session_selectors.METRICS),
        default="cost",
        help_text="What is summed per session: " + ", ".join(session_selectors.METRICS) + ".",
    )
    harness = serializers.RegexField(
        r"^[^\x00-\x1f]{1,64}$", required=False, help_text="A named harness, e.g. cline."
    )


# --- Answers -----------------------------------------------------------------------------


class ToolRowSerializer(serializers.Serializer):
    rank = serializers.IntegerField()
    model = s.EntitySerializer(allow_null=True)
    provider = s.EntitySerializer(allow_null=True)
    tool_calls = serializers.IntegerField()
    share = serializers.FloatField(help_text="Of the window's tool calls, 0-1.")
    requests = serializers.IntegerField(help_text="Requests that made tool calls.")
    value = serializers.FloatField(help_text="The metric over those requests.")
    errors = serializers.IntegerField(help_text="Tool calls that failed.")
    error_rate = serializers.FloatField(help_text="errors / tool_calls, 0-1.")
    errors_by_kind = serializers.DictField(
        child=serializers.IntegerField(), help_text="invalid_json, unknown_tool, schema_mismatch, other."
    )


class ToolListSerializer(serializers.Serializer):
    window = s.WindowSerializer()
    metric = serializers.CharField()
    group_by = serializers.CharField()
    total = serializers.IntegerField(help_text="Tool calls in the window.")
    count = serializers.IntegerField()
    next = serializers.CharField(allow_null=True)
    results = ToolRowSerializer(many=True)


class ContextRowSerializer(serializers.Serializer):
    bucket = serializers.CharField(help_text="lt-1k, 1k-10k, 10k-100k, 100k-1m or 1m-plus.")
    label = serializers.CharField()
    value = serializers.FloatField()
    share = serializers.FloatField()
    previous_value = serializers.FloatField(allow_null=True)
    change_pct = serializers.FloatField(allow_null=True)


class ContextSerializer(serializers.Serializer):
    window = s.WindowSerializer()
    metric = serializers.CharField()
    results = ContextRowSerializer(many=True)
    buckets = serializers.ListField(child=serializers.DateTimeField(), required=False)
    series = serializers.DictField(
        child=serializers.ListField(child=serializers.FloatField()), required=False
    )


class TagKeySerializer(serializers.Serializer):
    key = serializers.CharField()
    name = serializers.CharField()
    max_values = serializers.IntegerField()
    link = serializers.CharField(help_text="Its values ranked.")


class TagKeyListSerializer(serializers.Serializer):
    results = TagKeySerializer(many=True)


class TagValueSerializer(serializers.Serializer):
    key = serializers.CharField()
    value = serializers.CharField(help_text='"other": the values over the key\'s limit.')


class TagRowSerializer(serializers.Serializer):
    rank = serializers.IntegerField()
    tag = TagValueSerializer(allow_null=True)
    value = serializers.FloatField()
    share = serializers.FloatField()
    previous_value = serializers.FloatField(allow_null=True)
    change_pct = serializers.FloatField(allow_null=True)
    rank_change = serializers.IntegerField(allow_null=True)
    is_new = serializers.BooleanField()


class TagRankingSerializer(serializers.Serializer):
    window = s.WindowSerializer()
    metric = serializers.CharField()
    key = serializers.CharField()
    total = serializers.FloatField()
    count = serializers.IntegerField()
    next = serializers.CharField(allow_null=True)
    results = TagRowSerializer(many=True)


class TagSeriesItemSerializer(serializers.Serializer):
    tag = TagValueSerializer(allow_null=True)
    values = serializers.ListField(child=serializers.FloatField())


class TagSeriesSerializer(serializers.Serializer):
    window = s.WindowSerializer()
    metric = serializers.CharField()
    interval = serializers.CharField()
    buckets = serializers.ListField(child=serializers.DateTimeField())
    series = TagSeriesItemSerializer(many=True)
    others = serializers.ListField(child=serializers.FloatField())


class StatsSerializer(serializers.Serializer):
    sessions = serializers.IntegerField()
    total = serializers.FloatField(help_text="The metric over every session (groups are ranked by it).")
    median = serializers.FloatField(help_text="Median of the metric per session.")
    p90 = serializers.FloatField(help_text="90th percentile of the metric per session.")
    median_cost = serializers.FloatField(help_text="USD.")
    p90_cost = serializers.FloatField(help_text="USD.")
    median_turns = serializers.FloatField()


class SessionGroupSerializer(StatsSerializer):
    harness = serializers.CharField(help_text="The harness named by events, or the app's name.")
    app = s.EntitySerializer(allow_null=True, help_text="The app, when events named no harness.")
    model = s.EntitySerializer(allow_null=True)
    by_turns = serializers.DictField(child=StatsSerializer(), help_text="Per turn range: 1, 2–9, 10–49, 50+.")


class SessionReportSerializer(serializers.Serializer):
    window = s.WindowSerializer()
    metric = serializers.CharField()
    overall = StatsSerializer(allow_null=True)
    by_turns = serializers.DictField(child=StatsSerializer())
    count = serializers.IntegerField()
    next = serializers.CharField(allow_null=True)
    results = SessionGroupSerializer(many=True)


def tag_dict(value: Any) -> dict[str, str] | None:
    return None if value is None else {"key": value.key.key, "value": value.value}


def stats_dict(stats: session_selectors.Stats) -> dict[str, Any]:
    return vars(stats).copy()


# --- Views -------------------------------------------------------------------------------


def _cached(request: Request, name: str, serializer_class: type, compute) -> Response:
    """An answer cached under the parameters that change it (as the rankings are)."""
    given = params.known(serializer_class, request.query_params)
    key = f"api:{name}:{request.path}:{request.accepted_renderer.format}:{urlencode(given)}"
    return _paginated(request, cached(key, compute))


def _paged(request: Request, serializer_class: type, count: int, offset: int, limit: int | None) -> str | None:
    """The next page's address; a cursor past the last row is a 400."""
    if offset and offset >= count:
        _past_the_end(offset, count)
    return _next_url(request, serializer_class, offset, limit, count)


class ToolCallsView(ReadView):
    csv_columns = tuple(ToolRowSerializer().fields)

    @extend_schema(
        parameters=[ToolParams, FORMAT_PARAM],
        responses=ToolListSerializer,
        description="Models (or providers, or models on each provider) ranked by the tool calls of their "
        "requests, with the share that failed, by kind. A response with finish_reason `tool_calls` and no "
        "count counts as one call.",
    )
    def get(self, request: Request) -> Response:
        query = params.parse(ToolParams, request.query_params)
        limit, offset = _page(request, query)

        def compute() -> dict[str, Any]:
            ranking = selectors.tool_ranking(
                query["window"],
                by=query["group_by"],
                metric=query["metric"],
                filters=query["filters"],
                limit=limit,
                offset=offset,
            )
            count = ranking.count or (
                selectors.tool_ranking(
                    query["window"], by=query["group_by"], filters=query["filters"], limit=None
                ).count
                if offset
                else 0
            )
            return {
                "window": s.window_dict(ranking.window),
                "metric": ranking.metric,
                "group_by": ranking.by,
                "total": ranking.total,
                "count": count,
                "next": _paged(request, ToolParams, count, offset, limit),
                "results": [
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
                ],
            }

        return _cached(request, "tools", ToolParams, compute)


class ContextLengthView(ReadView):
    csv_columns = tuple(ContextRowSerializer().fields)

    @extend_schema(
        parameters=[ContextParams, FORMAT_PARAM],
        responses=ContextSerializer,
        description="The metric per context-length bucket of the prompt (< 1K, 1K–10K, 10K–100K, 100K–1M, "
        "≥ 1M prompt tokens), with share and change; per interval with `interval`.",
    )
    def get(self, request: Request) -> Response:
        query = params.parse(ContextParams, request.query_params)
        window, metric, filters = query["window"].whole_days(), query["metric"], query["filters"]
        if "interval" in query:
            params.check_buckets(window, query["interval"], len(selectors.BUCKETS))

        def compute() -> dict[str, Any]:
            rows = selectors.context_shares(window, metric=metric, filters=filters)
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
                    for row in rows
                ],
            }
            if "interval" in query:
                series = selectors.context_series(
                    window, interval=query["interval"], metric=metric, filters=filters
                )
                data["buckets"] = [b.isoformat() for b in series.buckets]
                data["series"] = {
                    b.code: [s.amount(v, metric) for v in values] for b, values in series.series
                }
            return data

        return _cached(request, "context", ContextParams, compute)


def ranked_key(key: str) -> TagKey:
    found = TagKey.objects.filter(key=key, ranked=True).first()
    if found is None:
        raise ApiError(404, "not_found", f"No ranked tag key {key[:64]!r}; see /api/v1/tags.")
    return found


class TagKeysView(ReadView):
    csv_columns = tuple(TagKeySerializer().fields)

    @extend_schema(
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


class TagRankingView(ReadView):
    csv_columns = ("rank", "tag_key", "tag_value", "value", "share", "previous_value", "change_pct")

    @extend_schema(
        parameters=[TagParams, FORMAT_PARAM],
        responses=TagRankingSerializer,
        description="The values of a ranked tag key ranked by a metric, with share and change. Private apps' "
        "use is never counted here; `model` shows only values public apps use too; `app` an app's own.",
    )
    def get(self, request: Request, key: str) -> Response:
        tag_key = ranked_key(key)
        query = params.parse(TagParams, request.query_params)
        limit, offset = _page(request, query)

        def compute() -> dict[str, Any]:
            ranking = selectors.tag_ranking(
                tag_key,
                query["window"],
                metric=query["metric"],
                filters=query["filters"],
                limit=limit,
                offset=offset,
            )
            return {
                "window": s.window_dict(ranking.window),
                "metric": ranking.metric,
                "key": tag_key.key,
                "total": s.amount(ranking.total, ranking.metric),
                "count": ranking.count,
                "next": _paged(request, TagParams, ranking.count, offset, limit),
                "results": [
                    {"rank": row.rank, "tag": tag_dict(row.entity), **s.rank_fields(row, ranking.metric)}
                    for row in ranking.rows
                ],
            }

        return _cached(request, "tags", TagParams, compute)


class TagSeriesView(ReadView):
    @extend_schema(
        parameters=[TagSeriesParams, FORMAT_PARAM],
        responses=TagSeriesSerializer,
        description="A ranked tag key's top values per interval bucket plus others (gaps are zeros).",
    )
    def get(self, request: Request, key: str) -> Response:
        tag_key = ranked_key(key)
        query = params.parse(TagSeriesParams, request.query_params)
        params.check_buckets(query["window"], query["interval"], query["top"] + 1)
        series = selectors.tag_series(
            tag_key,
            query["window"],
            interval=query["interval"],
            metric=query["metric"],
            top=query["top"],
            filters=query["filters"],
        )
        buckets = [b.isoformat() for b in series.buckets]
        metric = series.metric
        response = Response(
            {
                "window": s.window_dict(query["window"].whole_days()),
                "metric": metric,
                "interval": query["interval"],
                "buckets": buckets,
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


class SessionsView(ReadView):
    csv_columns = ("harness", "app_slug", "model_slug", *StatsSerializer().fields)

    @extend_schema(
        parameters=[SessionParams, FORMAT_PARAM],
        responses=SessionReportSerializer,
        description="Cost per session: median and 90th percentile of the metric (default cost, USD) and of "
        "cost per session, by harness x model, overall and per turn range (1, 2–9, 10–49, 50+), with "
        "turns per session. Sessions are events' `session_id` per app and model; a harness not named is "
        "the app. Private apps' sessions never show.",
    )
    def get(self, request: Request) -> Response:
        query = params.parse(SessionParams, request.query_params)
        limit, offset = _page(request, query)

        def compute() -> dict[str, Any]:
            report = selectors.session_report(
                query["window"],
                metric=query["metric"],
                filters=query["filters"],
                harness=query.get("harness"),
                limit=limit,
                offset=offset,
            )
            return {
                "window": s.window_dict(report.window),
                "metric": report.metric,
                "overall": stats_dict(report.overall) if report.overall else None,
                "by_turns": {label: stats_dict(stats) for label, stats in report.by_turns.items()},
                "count": report.count,
                "next": _paged(request, SessionParams, report.count, offset, limit),
                "results": [
                    {
                        "harness": group.harness or (group.app.name if group.app else ""),
                        "app": s.entity_dict(group.app),
                        "model": s.entity_dict(group.model),
                        **stats_dict(group.all),
                        "by_turns": {label: stats_dict(stats) for label, stats in group.by_turns.items()},
                    }
                    for group in report.groups
                ],
            }

        return _cached(request, "sessions", SessionParams, compute)
