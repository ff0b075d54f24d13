"""Parameters and answers of the narrow rollups' endpoints (:mod:`rankings.api.narrow`): the
parameters validated (and documented in the OpenAPI schema) like the rankings', the answers'
shapes for the schema, and the dicts selector results become."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from ingest.rollups.windows import DATE_INTERVALS
from rankings.api import params
from rankings.api import serializers as s
from rankings.api.pagination import PageSerializer
from rankings.selectors import sessions as session_selectors
from rankings.selectors import tools as tool_selectors

# --- Parameters --------------------------------------------------------------------------


class ToolParams(params.FilteredParams):
    filters = ("model", "provider")
    group_by = serializers.ChoiceField(
        choices=list(tool_selectors.GROUPINGS),
        default="model",
        help_text="Rank models, providers, or each model on each provider.",
    )


class ContextParams(params.FilteredParams):
    filters = ("model",)
    interval = serializers.ChoiceField(
        choices=list(DATE_INTERVALS),
        required=False,
        help_text="Also give each bucket's value per interval (`series`; kept per day: no hours).",
    )


class TagParams(params.FilteredParams):
    filters = ("model", "app")


class TagSeriesParams(params.FilteredParams):
    filters = ("model", "app")
    interval = serializers.ChoiceField(choices=list(DATE_INTERVALS), default="week")
    top = serializers.IntegerField(min_value=1, max_value=50, default=8)
    default_period = "month"


class SessionParams(params.FilteredParams):
    filters = ("model", "app")
    metric = serializers.ChoiceField(
        choices=list(session_selectors.METRICS),
        default="cost",
        help_text="What is summed per session: " + ", ".join(session_selectors.METRICS) + ".",
    )
    harness = serializers.RegexField(
        r"^[^\x00-\x1f]{1,64}$", required=False, help_text="A named harness, e.g. cline (any case)."
    )

    def validate_harness(self, value: str) -> str:
        return value.lower()  # as ingest keeps harnesses (ingest.extras.harness)


# --- Answers -----------------------------------------------------------------------------


class ToolRowSerializer(serializers.Serializer):
    rank = serializers.IntegerField()
    model = s.EntitySerializer(allow_null=True)
    provider = s.EntitySerializer(allow_null=True)
    tool_calls = serializers.IntegerField(min_value=0)
    share = serializers.FloatField(help_text="Of the window's tool calls, 0-1.")
    requests = serializers.IntegerField(min_value=0, help_text="Requests that made tool calls.")
    value = serializers.FloatField(help_text="The metric over those requests.")
    errors = serializers.IntegerField(min_value=0, help_text="Tool calls that failed.")
    error_rate = serializers.FloatField(help_text="errors / tool_calls, 0-1.")
    errors_by_kind = serializers.DictField(
        child=serializers.IntegerField(), help_text="invalid_json, unknown_tool, schema_mismatch, other."
    )


class ToolListSerializer(PageSerializer):
    window = s.WindowSerializer()
    metric = serializers.CharField()
    group_by = serializers.CharField()
    total = serializers.IntegerField(help_text="Tool calls in the window.")
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
    interval = serializers.CharField(required=False)
    buckets = serializers.ListField(
        child=serializers.DateTimeField(), required=False, help_text="Local bucket starts, with their offset."
    )
    partial = serializers.ListField(
        child=serializers.BooleanField(), required=False, help_text="Buckets cut short (so far)."
    )
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


class TagRankingSerializer(PageSerializer):
    window = s.WindowSerializer()
    metric = serializers.CharField()
    key = serializers.CharField()
    total = serializers.FloatField()
    results = TagRowSerializer(many=True)


class TagSeriesItemSerializer(serializers.Serializer):
    tag = TagValueSerializer(allow_null=True)
    values = serializers.ListField(child=serializers.FloatField())


class TagSeriesSerializer(s.TimeseriesSerializer):
    series = TagSeriesItemSerializer(many=True)


class StatsSerializer(serializers.Serializer):
    sessions = serializers.IntegerField(min_value=0)
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


class SessionReportSerializer(PageSerializer):
    window = s.WindowSerializer()
    metric = serializers.CharField()
    overall = StatsSerializer(allow_null=True)
    by_turns = serializers.DictField(child=StatsSerializer())
    results = SessionGroupSerializer(many=True)


def tag_dict(value: Any) -> dict[str, str] | None:
    return None if value is None else {"key": value.key.key, "value": value.value}


def stats_dict(stats: session_selectors.Stats) -> dict[str, Any]:
    return vars(stats).copy()
