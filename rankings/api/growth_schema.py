"""The shape of ``GET /api/v1/growth`` for the OpenAPI schema (documentation only: the view
answers the dict of ``rankings.api.growth.growth_dict``; the schema tests hold the two
together)."""

from __future__ import annotations

from rest_framework import serializers

from rankings.api.serializers import EntitySerializer, WindowSerializer
from rankings.drivers import KEYS
from rankings.growth import CONTRIBUTOR_ENTITIES

Nullable = {"allow_null": True}


class TokensSerializer(serializers.Serializer):
    before = serializers.IntegerField()
    after = serializers.IntegerField()
    change = serializers.IntegerField()
    change_pct = serializers.FloatField(**Nullable, help_text="null when the earlier window is empty")


class RequestsSerializer(serializers.Serializer):
    before = serializers.IntegerField()
    after = serializers.IntegerField()


class VolumeIntensitySerializer(serializers.Serializer):
    method = serializers.CharField()
    volume = serializers.FloatField(help_text="Tokens of the change due to more requests.")
    intensity = serializers.FloatField(help_text="Tokens of the change due to more tokens per request.")
    volume_points = serializers.FloatField(**Nullable, help_text="In percentage points of the earlier total.")
    intensity_points = serializers.FloatField(**Nullable)


class ContributionSerializer(serializers.Serializer):
    entity = EntitySerializer(**Nullable)
    kind = serializers.ChoiceField(["incumbent", "new", "departed", "others"])
    before = serializers.FloatField()
    after = serializers.FloatField()
    change = serializers.FloatField()


class ContributorsSerializer(serializers.Serializer):
    new_entrants = serializers.FloatField()
    departures = serializers.FloatField()
    incumbents = serializers.FloatField()
    items = ContributionSerializer(many=True)


ContributorsByEntity = type(
    "ContributorsByEntitySerializer",
    (serializers.Serializer,),
    {entity: ContributorsSerializer() for entity in CONTRIBUTOR_ENTITIES},
)


class MixSerializer(serializers.Serializer):
    prompt_uncached = serializers.IntegerField()
    cached = serializers.IntegerField()
    completion_visible = serializers.IntegerField()
    reasoning = serializers.IntegerField()


class SharesSerializer(serializers.Serializer):
    reasoning_before = serializers.FloatField(**Nullable)
    reasoning_after = serializers.FloatField(**Nullable)
    cached_before = serializers.FloatField(**Nullable)
    cached_after = serializers.FloatField(**Nullable)


class VariantSerializer(serializers.Serializer):
    variant = serializers.CharField(help_text='"" is the standard variant.')
    before = serializers.FloatField()
    after = serializers.FloatField()
    share_before = serializers.FloatField()
    share_after = serializers.FloatField()


def _daily(help_text: str = "") -> serializers.ListField:
    return serializers.ListField(child=serializers.FloatField(**Nullable), help_text=help_text)


class HistorySerializer(serializers.Serializer):
    days = serializers.ListField(child=serializers.DateField())
    tokens = _daily()
    prompt_per_request = _daily()
    prompt_per_request_by_category = serializers.DictField(child=_daily(), help_text="By category name.")
    reasoning_share = _daily()
    cached_share = _daily()
    price_per_million = _daily()


class DriverSerializer(serializers.Serializer):
    key = serializers.ChoiceField(KEYS)
    name = serializers.CharField()
    tokens = serializers.IntegerField(help_text="The change in tokens attributed to the driver.")
    share_of_change = serializers.FloatField(
        **Nullable, help_text="tokens / tokens.change (null: no change)."
    )
    before = serializers.FloatField(**Nullable, help_text="The driver's indicator in the earlier window.")
    after = serializers.FloatField(**Nullable, help_text="The driver's indicator in the later window.")
    unit = serializers.CharField(help_text="What before and after measure.")
    exact = serializers.BooleanField(
        help_text="tokens is a part of an exact decomposition (false: an indicator)."
    )
    method = serializers.CharField()
    summary = serializers.CharField(help_text="A sentence whose numbers are this driver's fields.")
    parts = serializers.DictField(
        child=serializers.IntegerField(), help_text="Whole tokens that add up to tokens.change exactly."
    )
    figures = serializers.DictField(
        child=serializers.FloatField(**Nullable), help_text="Counts and rates quoted."
    )


class SpendSerializer(serializers.Serializer):
    before = serializers.FloatField(help_text="USD")
    after = serializers.FloatField()
    change = serializers.FloatField()
    price = serializers.FloatField(help_text="Part of the change due to cost per token, per model, summed.")
    volume = serializers.FloatField(help_text="Part of the change due to tokens, per model, summed.")
    method = serializers.CharField()
    summary = serializers.CharField()


class GrowthSerializer(serializers.Serializer):
    before = WindowSerializer()
    after = WindowSerializer()
    tokens = TokensSerializer()
    requests = RequestsSerializer()
    volume_intensity = VolumeIntensitySerializer()
    contributors = ContributorsByEntity()
    mix = MixSerializer()
    shares = SharesSerializer()
    variants = VariantSerializer(many=True)
    history = HistorySerializer()
    summary = serializers.ListField(child=serializers.CharField())
    drivers = DriverSerializer(
        many=True, help_text="The seven drivers, in this order: " + ", ".join(KEYS) + "."
    )
    spend = SpendSerializer()
