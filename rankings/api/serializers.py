"""Response shapes of the read API (documentation for the OpenAPI schema, and the one place
that turns selector results into JSON-ready dicts)."""

from __future__ import annotations

import json
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from rest_framework import serializers

from ingest import schema
from rankings.api.pagination import PageSerializer
from rankings.selectors import RankRow, Totals, Window


class EntitySerializer(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()
    link = serializers.CharField(help_text="Path of the entity's page.")


class WindowSerializer(serializers.Serializer):
    """The window actually read."""

    start = serializers.DateTimeField()
    end = serializers.DateTimeField(help_text="Exclusive.")
    tz = serializers.CharField(help_text="The time zone of its days, weeks and months.")
    period = serializers.CharField(required=False, help_text="The calendar period it is (so far).")
    note = serializers.CharField(required=False, help_text="Why it differs from the window asked for.")


class RankRowSerializer(serializers.Serializer):
    rank = serializers.IntegerField()
    entity = EntitySerializer(allow_null=True, help_text="null if the entity was deleted")
    value = serializers.FloatField(help_text="An integer for counts (tokens, requests); USD for cost.")
    share = serializers.FloatField(help_text="Share of the total of all ranked entries, 0-1.")
    previous_value = serializers.FloatField(allow_null=True, help_text="Same unit as value.")
    change_pct = serializers.FloatField(allow_null=True, help_text="Change vs the previous equal window, %.")
    rank_change = serializers.IntegerField(
        allow_null=True, help_text="Places gained (+) or lost (-); null = new."
    )
    is_new = serializers.BooleanField()


class RankingSerializer(PageSerializer):
    window = WindowSerializer()
    metric = serializers.CharField()
    total = serializers.FloatField(help_text="An integer for counts; USD for cost.")
    results = RankRowSerializer(many=True)


class SeriesItemSerializer(serializers.Serializer):
    entity = EntitySerializer(allow_null=True)
    values = serializers.ListField(
        child=serializers.FloatField(), help_text="Integers for counts; USD for cost."
    )


class TimeseriesSerializer(serializers.Serializer):
    window = WindowSerializer()
    metric = serializers.CharField()
    interval = serializers.CharField()
    buckets = serializers.ListField(child=serializers.DateTimeField())
    partial = serializers.ListField(child=serializers.BooleanField(), help_text="Buckets cut short (so far).")
    series = SeriesItemSerializer(many=True)
    others = serializers.ListField(child=serializers.FloatField())


class TrendingRowSerializer(serializers.Serializer):
    entity = EntitySerializer()
    tokens = serializers.FloatField()
    baseline = serializers.FloatField(allow_null=True, help_text="Mean of the three windows before (like for like).")
    score = serializers.FloatField()


class DatasetRowSerializer(serializers.Serializer):
    date = serializers.DateField()
    rank = serializers.IntegerField(allow_null=True, min_value=1, help_text="null on the day's `other` row")
    model_permaslug = serializers.CharField(
        help_text='The model\'s permaslug (e.g. openai/gpt-4o-mini-2024-07-18; its slug when it has none), or "other".'
    )
    total_tokens = serializers.IntegerField(min_value=0)
    total_requests = serializers.IntegerField(min_value=0)


class AppDatasetRowSerializer(serializers.Serializer):
    date = serializers.DateField()
    app_id = serializers.IntegerField(allow_null=True, help_text="null on the day's `other` row")
    app_name = serializers.CharField(
        help_text='The app\'s name, or "other" (the rest, private apps included).'
    )
    rank = serializers.IntegerField(allow_null=True, min_value=1, help_text="null on the day's `other` row")
    total_requests = serializers.IntegerField(min_value=0)
    total_tokens = serializers.IntegerField(min_value=0)


def entity_dict(entity: Any) -> dict[str, Any] | None:
    if entity is None:
        return None
    if isinstance(entity, str):  # a variant
        return {"slug": entity, "name": f":{entity}" if entity else "standard", "link": ""}
    return {"slug": entity.slug, "name": entity.name, "link": entity.get_absolute_url()}


def window_dict(window: Window) -> dict[str, str]:
    """The window actually read: its bounds, zone, period (so far) and a note when it differs
    from the one asked for."""
    answer = {"start": window.start.isoformat(), "end": window.end.isoformat(), "tz": window.zone}
    if window.period:
        answer["period"] = window.period
    if window.note:
        answer["note"] = window.note
    return answer


def amount(value: float | None, metric: str) -> int | float | None:
    """Counts stay integers in JSON (``509408``, not ``509408.0``); cost is USD."""
    if value is None or metric == "cost":
        return value
    return int(round(value))


def rank_row(row: RankRow, metric: str = "tokens") -> dict[str, Any]:
    return {"rank": row.rank, "entity": entity_dict(row.entity), **rank_fields(row, metric)}


def rank_fields(row: RankRow, metric: str = "tokens") -> dict[str, Any]:
    """A ranked row's value, share and movement."""
    return {
        "value": amount(row.value, metric),
        "share": row.share,
        "previous_value": amount(row.previous_value, metric),
        "change_pct": row.change,
        "rank_change": row.rank_change,
        "is_new": row.is_new,
    }


# Figures derived from the measures, after them in every answer's totals.
DERIVED = ("tokens_per_request", "price_per_million", "avg_latency_ms", "throughput")


def totals_dict(totals: Totals) -> dict[str, Any]:
    """Tokens, every measure the schema gives an API name, then the derived figures."""
    measures = {
        m.api_name: float(getattr(totals, m.column)) if m.money else getattr(totals, m.column)
        for m in schema.MEASURES
        if m.api_name
    }
    return {"tokens": totals.tokens, **measures, **{name: getattr(totals, name) for name in DERIVED}}


# The shape of ``totals_dict``, from the same declarations.
TotalsSerializer = type(
    "TotalsSerializer",
    (serializers.Serializer,),
    {
        "tokens": serializers.IntegerField(),
        **{
            m.api_name: serializers.FloatField(help_text="USD.") if m.money else serializers.IntegerField()
            for m in schema.MEASURES
            if m.api_name
        },
        **{name: serializers.FloatField(allow_null=True) for name in DERIVED},
    },
)


def flat(row: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """A nested row flattened for CSV: entity.slug -> entity_slug; a list (a detail's top
    apps, say) is one cell of JSON, as the JSON answer writes it."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        if isinstance(value, dict):
            out.update(flat(value, f"{prefix}{key}_"))
        elif isinstance(value, list):
            out[f"{prefix}{key}"] = json.dumps(value, ensure_ascii=False, cls=DjangoJSONEncoder)
        else:
            out[f"{prefix}{key}"] = value
    return out


class CatalogRowSerializer(serializers.Serializer):
    entity = EntitySerializer()
    tokens = serializers.FloatField()
    share = serializers.FloatField()
    rank = serializers.IntegerField(allow_null=True)


class CatalogListSerializer(serializers.Serializer):
    window = WindowSerializer()
    results = CatalogRowSerializer(many=True)


class TrendingListSerializer(serializers.Serializer):
    window = WindowSerializer()
    results = TrendingRowSerializer(many=True)


class DatasetSerializer(PageSerializer):
    window = WindowSerializer()
    results = DatasetRowSerializer(many=True)


class AppDatasetSerializer(DatasetSerializer):
    results = AppDatasetRowSerializer(many=True)
