"""List endpoints behind the index pages (``/api/v1/models``, ``/apps``, ``/authors``) and
search (``/api/v1/search``): the same entries, search, filters and sorts as the pages
(rankings.indexes), read strictly: an invalid parameter is a 400 naming it."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from config.api_errors import ApiError
from rankings import indexes, selectors
from rankings.api import serializers as s
from rankings.api.params import refuse_repeated, zone_of
from rankings.api.views import FORMAT_PARAM, ReadView
from rankings.indexes import SPECS, IndexQuery, InvalidParam


class IndexRowSerializer(serializers.Serializer):
    rank = serializers.IntegerField(allow_null=True, help_text="null when unused in the window")
    entity = s.EntitySerializer()
    value = serializers.FloatField(help_text="The metric in the window.")
    previous_value = serializers.FloatField(allow_null=True)
    change_pct = serializers.FloatField(allow_null=True)
    share = serializers.FloatField()
    tokens = serializers.IntegerField()
    requests = serializers.IntegerField()
    # Per kind: models
    author = s.EntitySerializer(required=False)
    context_length = serializers.IntegerField(required=False, allow_null=True)
    prompt_price_per_million = serializers.FloatField(required=False, allow_null=True)
    completion_price_per_million = serializers.FloatField(required=False, allow_null=True)
    supports_reasoning = serializers.BooleanField(required=False)
    providers = s.EntitySerializer(many=True, required=False, help_text="Seen in the last 30 days.")
    variants = serializers.ListField(child=serializers.CharField(), required=False)
    # models and apps
    first_seen = serializers.DateField(required=False, allow_null=True)
    # apps
    url = serializers.CharField(required=False)
    description = serializers.CharField(required=False)
    # authors and providers
    models = serializers.IntegerField(required=False)


class IndexListSerializer(serializers.Serializer):
    window = s.WindowSerializer()
    metric = serializers.CharField()
    count = serializers.IntegerField(help_text="Entries matching the search and filters.")
    page = serializers.IntegerField()
    pages = serializers.IntegerField()
    next = serializers.CharField(allow_null=True)
    results = IndexRowSerializer(many=True)


def _entity(kind: str, slug: str, name: str) -> dict[str, str]:
    return {"slug": slug, "name": name, "link": indexes.entity_link(kind, slug)}


def index_item(kind: str, row: dict[str, Any]) -> dict[str, Any]:
    """An index entry as the API shows it."""
    item = {
        "rank": row["rank"],
        "entity": {"slug": row["slug"], "name": row["name"], "link": row["link"]},
        "value": row["value"],
        "previous_value": row["previous"],
        "change_pct": row["change"],
        "share": row["share"],
        "tokens": row["tokens"],
        "requests": row["requests"],
    }
    if kind == "model":
        item.update(
            author=_entity("author", row["author_slug"], row["author_name"]),
            context_length=row["context"],
            prompt_price_per_million=row["prompt_price"],
            completion_price_per_million=row["completion_price"],
            supports_reasoning=row["reasoning"],
            providers=[_entity("provider", slug, name) for slug, name in row["providers"]],
            variants=row["variants"],
        )
    if kind in ("model", "app"):
        item["first_seen"] = row["first_seen"].isoformat() if row["first_seen"] else None
    if kind == "app":
        item.update(url=row["url"], description=row["description"])
    if kind in ("author", "provider"):
        item["models"] = row["models"]
    return item


# An entry with every key, for the CSV header of an empty list.
TZ_PARAM = OpenApiParameter(
    "tz",
    str,
    description="Time zone of the period: a place's IANA zone (Region/City) or UTC (default: the site's "
    "reporting zone); another name: 400.",
)
BLANK_ROW = {
    **dict.fromkeys(
        ("rank", "previous", "change", "context", "prompt_price", "completion_price", "first_seen")
    ),
    **dict.fromkeys(("value", "share", "tokens", "requests", "models", "reasoning"), 0),
    **dict.fromkeys(("slug", "name", "link", "author_name", "url", "description"), ""),
    "author_slug": "-",
    "providers": [],
    "variants": [],
}


def _parameters(spec: indexes.Spec) -> list[OpenApiParameter]:
    common = [
        OpenApiParameter(
            "q", str, description="Every word must appear in the name or slug (≤ 100 characters)."
        ),
        OpenApiParameter("period", str, enum=list(indexes.PERIODS), description="Default: week."),
        TZ_PARAM,
        OpenApiParameter("metric", str, enum=list(indexes.METRICS), description="Default: tokens."),
        OpenApiParameter("sort", str, enum=list(spec.sorts), description="Default: usage (the metric)."),
        OpenApiParameter("page", int, description="From 1; past the last page: 400."),
        OpenApiParameter("limit", int, description="Entries per page, 1-100 (default 50)."),
    ]
    fields = [
        OpenApiParameter(
            f.name,
            bool if f.widget == "checkbox" else float if f.widget == "number" else str,
            description=f.help or f.label,
        )
        for f in spec.fields
    ]
    return [*common, *fields, FORMAT_PARAM]


class IndexListView(ReadView):
    kind = "model"

    def get(self, request: Request) -> Response:
        spec = SPECS[self.kind]
        refuse_repeated(request.query_params, (*IndexQuery.names(spec), "limit", "format"))
        params = {k: v for k, v in request.query_params.items() if k != "format"}
        if params.get("reasoning") in ("false", "0"):
            params.pop("reasoning")
        try:
            query = IndexQuery.parse(spec, params, strict=True)
        except InvalidParam as error:
            raise ApiError(400, "invalid", str(error), error.name) from error
        limit = params.get("limit", "50")
        if not limit.isdigit() or not 1 <= int(limit) <= 100:
            raise ApiError(400, "invalid", "limit: a whole number from 1 to 100.", "limit")
        result = indexes.apply(spec, query, page_size=int(limit))
        if query.page > result.pages:  # pages show the last page; a client paging on must stop
            message = f"page {query.page} is past the last page ({result.pages:,} of {int(limit)} entries)."
            raise ApiError(400, "invalid", message, "page")
        next_url = None
        if result.page < result.pages:
            following = request.query_params.copy()
            following["page"] = str(result.page + 1)
            next_url = f"{request.path}?{following.urlencode()}"
        items = [index_item(self.kind, row) for row in result.rows]
        response = Response(
            {
                "window": s.window_dict(selectors.period_window(query.period, zone=query.tz or None)),
                "metric": query.metric,
                "count": result.count,
                "page": result.page,
                "pages": result.pages,
                "next": next_url,
                "results": items,
            }
        )
        response.csv_columns = list(s.flat(index_item(self.kind, BLANK_ROW)))
        # CSV cells hold text: lists become "a; b".
        response.csv_rows = [
            {
                k: "; ".join(p["slug"] if isinstance(p, dict) else p for p in v) if isinstance(v, list) else v
                for k, v in item.items()
            }
            for item in items
        ]
        return response


def index_list_view(kind: str) -> type[IndexListView]:
    spec = SPECS[kind]

    # A function of its own per kind: the schema decorator annotates the function.
    @extend_schema(
        operation_id=f"v1_{spec.plural}_list",
        parameters=_parameters(spec),
        responses=IndexListSerializer,
        description=f"{spec.intro} The list behind /{spec.plural}/: search, filters, sort and pages.",
    )
    def get(self, request: Request) -> Response:
        return IndexListView.get(self, request)

    return type(f"{kind.title()}ListView", (IndexListView,), {"kind": kind, "get": get})


class SearchSerializer(serializers.Serializer):
    q = serializers.CharField()
    results = serializers.DictField(child=s.EntitySerializer(many=True))


class SearchView(ReadView):
    renderer_classes = [JSONRenderer]  # grouped results: no CSV shape

    @extend_schema(
        parameters=[
            OpenApiParameter("q", str, required=True, description="Words to find (≤ 100 characters)."),
            TZ_PARAM,
        ],
        responses=SearchSerializer,
        description="Models, apps and authors whose name or slug has every word of q, most used this "
        "week first (the header search box).",
    )
    def get(self, request: Request) -> Response:
        refuse_repeated(request.query_params, ("q", "tz"))
        q = " ".join(request.query_params.get("q", "").split())
        if not q or len(q) > indexes.MAX_QUERY:
            raise ApiError(400, "invalid", f"q: 1 to {indexes.MAX_QUERY} characters.", "q")
        found = indexes.search(q, limit=10, zone=zone_of(request.query_params))
        results = {
            SPECS[kind].plural: [{"slug": r["slug"], "name": r["name"], "link": r["link"]} for r in rows]
            for kind, rows in found.items()
        }
        return Response({"q": q, "results": results})
