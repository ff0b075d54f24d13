"""Detail endpoints of the read API: a model, an author, an app, each with its totals and the
breakdowns its page shows (``ingest.schema``)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from ingest import schema
from rankings import selectors
from rankings.api import params
from rankings.api import serializers as s
from rankings.api.views import ReadView
from rankings.selectors import Filters, Window


def _detail(kind: str, obj: Any, window: Window) -> dict[str, Any]:
    """An entry's totals and the breakdowns of its page (``ingest.schema``), each under the
    plural of the dimension it ranks."""
    filters = Filters(**{kind: obj.pk})
    out = {
        "entity": s.entity_dict(obj),
        "window": s.window_dict(window),
        "totals": s.totals_dict(selectors.totals(window, filters)),
    }
    for _, entity in schema.DIMENSION[kind].page:
        rows = selectors.ranking(entity, window, filters=filters, limit=20).rows
        out[schema.DIMENSION[entity].plural] = [s.rank_row(r) for r in rows]
    return out


class ModelFactsSerializer(serializers.Serializer):
    author = s.EntitySerializer()
    context_length = serializers.IntegerField(allow_null=True)
    prompt_price_per_million = serializers.FloatField(allow_null=True, help_text="USD.")
    completion_price_per_million = serializers.FloatField(allow_null=True, help_text="USD.")
    supports_reasoning = serializers.BooleanField()
    release_date = serializers.DateField(allow_null=True)


class ProviderStatsSerializer(serializers.Serializer):
    entity = s.EntitySerializer()
    requests = serializers.IntegerField()
    tokens = serializers.IntegerField()
    share = serializers.FloatField(help_text="Share of the model's tokens, 0-1.")
    latency_ms = serializers.FloatField(allow_null=True)
    throughput = serializers.FloatField(allow_null=True, help_text="Completion tokens per second.")


class AppFactsSerializer(serializers.Serializer):
    description = serializers.CharField()
    url = serializers.CharField()


# What each detail adds to what :func:`_detail` answers for every kind.
_OWN_FIELDS: dict[str, dict[str, serializers.Field]] = {
    "model": {"model": ModelFactsSerializer(), "providers": ProviderStatsSerializer(many=True)},
    "app": {"app": AppFactsSerializer()},
}


def _shape(kind: str) -> type[serializers.Serializer]:
    """A detail's answer for the OpenAPI schema: :func:`_detail`'s keys (one list per
    breakdown of the entity's page, from ``ingest.schema``) and the kind's own."""
    fields = {
        "entity": s.EntitySerializer(),
        "window": s.WindowSerializer(),
        "totals": s.TotalsSerializer(),
        **{schema.DIMENSION[entity].plural: s.RankRowSerializer(many=True) for _, entity in schema.DIMENSION[kind].page},
        **_OWN_FIELDS.get(kind, {}),
    }
    return type(f"{kind.title()}DetailSerializer", (serializers.Serializer,), fields)


def _responses(kind: str) -> dict[int, Any]:
    """A detail's documented answers: its shape, and where the dimension's entries have other
    slugs (``Dimension.old_slugs``), the permanent redirect that those slugs answer."""
    responses: dict[int, Any] = {200: _shape(kind)}
    if schema.DIMENSION[kind].old_slugs:
        responses[301] = OpenApiResponse(
            description="Another slug of the entry (one merged into it, a model's dated permaslug): "
            "Location is this URL with the entry's slug, the query string kept."
        )
    return responses


class ModelDetailView(ReadView):
    @extend_schema(
        parameters=[params.PeriodParams],
        responses=_responses("model"),
        description="A model: pricing, totals, variants, providers with latency/throughput, apps.",
    )
    def get(self, request: Request, author: str, name: str) -> Response:
        query = params.parse(params.PeriodParams, request.query_params)
        model = selectors.entry("model", f"{author}/{name}")
        filters = Filters(model=model.pk)
        data = _detail("model", model, query["window"])
        data["model"] = {
            "author": s.entity_dict(model.author),
            "context_length": model.context_length,
            "prompt_price_per_million": float(model.prompt_price) if model.prompt_price is not None else None,
            "completion_price_per_million": float(model.completion_price)
            if model.completion_price is not None
            else None,
            "supports_reasoning": model.supports_reasoning,
            "release_date": model.release_date.isoformat() if model.release_date else None,
        }
        data["providers"] = [
            {
                "entity": s.entity_dict(p["provider"]),
                "requests": p["requests"],
                "tokens": p["tokens"],
                "share": p["share"],
                "latency_ms": p["latency_ms"],
                "throughput": p["throughput"],
            }
            for p in selectors.provider_stats(query["window"], filters)
        ]
        return Response(data)


class AuthorDetailView(ReadView):
    @extend_schema(parameters=[params.PeriodParams], responses=_responses("author"))
    def get(self, request: Request, slug: str) -> Response:
        query = params.parse(params.PeriodParams, request.query_params)
        author = selectors.entry("author", slug)
        return Response(_detail("author", author, query["window"]))


class AppDetailView(ReadView):
    @extend_schema(
        parameters=[params.PeriodParams],
        responses=_responses("app"),
        description="A public app; a private app answers 404 like a missing one.",
    )
    def get(self, request: Request, slug: str) -> Response:
        query = params.parse(params.PeriodParams, request.query_params)
        app = selectors.entry("app", slug)
        data = _detail("app", app, query["window"])
        data["app"] = {"description": app.description, "url": app.url}
        return Response(data)
