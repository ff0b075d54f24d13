"""``GET /api/v1/growth``: the growth decomposition as JSON (same numbers as /growth/)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from config.memory import collector_paused
from ingest.rollups.windows import CALENDAR_PERIODS
from rankings import driver_sentences, drivers, growth, selectors
from rankings.api import params
from rankings.api.growth_schema import GrowthSerializer
from rankings.api.serializers import entity_dict, window_dict
from rankings.api.views import ReadView
from rankings.cache import cached


def driver_dict(d: drivers.Driver) -> dict[str, Any]:
    return {
        "key": d.key,
        "name": d.name,
        "tokens": d.tokens,
        "share_of_change": d.share_of_change,
        "before": d.before,
        "after": d.after,
        "unit": d.unit,
        "exact": d.exact,
        "method": d.method,
        "summary": d.summary,
        "parts": d.parts,
        "figures": d.figures,
    }


def spend_dict(split: growth.CostSplit) -> dict[str, Any]:
    return {
        "before": float(split.before),
        "after": float(split.after),
        "change": float(split.change),
        "price": float(split.price),
        "volume": float(split.volume),
        "method": "Exact decomposition per model, summed: volume = change in tokens × the mean of the two "
        "costs per token, price = the rest (the symmetric two-factor split, no interaction term).",
        "summary": driver_sentences.spend_sentence(split),
    }


def growth_dict(g: growth.Growth) -> dict[str, Any]:
    t0, t1 = g.totals_before, g.totals_after
    report = drivers.report(g)
    return {
        "before": window_dict(g.before),
        "after": window_dict(g.after),
        "tokens": {"before": t0.tokens, "after": t1.tokens, "change": g.change, "change_pct": g.change_pct},
        "requests": {"before": t0.requests, "after": t1.requests},
        "volume_intensity": {
            "method": "LMDI-I (additive log-mean Divisia index)",
            "volume": g.volume,
            "intensity": g.intensity,
            "volume_points": g.points(g.volume),
            "intensity_points": g.points(g.intensity),
        },
        "contributors": {
            name: {
                "new_entrants": c.new_total,
                "departures": c.departed_total,
                "incumbents": c.incumbent_total,
                "items": [
                    {
                        "entity": entity_dict(i.entity)
                        if not isinstance(i.entity, str)
                        else {"slug": i.entity, "name": i.entity, "link": ""},
                        "kind": i.kind,
                        "before": i.before,
                        "after": i.after,
                        "change": i.change,
                    }
                    for i in c.items
                ],
            }
            for name, c in g.contributors.items()
        },
        "mix": g.mix,
        "shares": {
            "reasoning_before": t0.reasoning_share,
            "reasoning_after": t1.reasoning_share,
            "cached_before": t0.cached_share,
            "cached_after": t1.cached_share,
        },
        "variants": g.variants,
        "history": g.history,
        "summary": growth.summary(g),
        "drivers": [driver_dict(d) for d in report.drivers],
        "spend": spend_dict(report.spend),
    }


class GrowthParams(params.WindowParams):
    # Growth is a comparison, and `all` (since the first event) has nothing to compare with.
    period = serializers.ChoiceField(
        choices=list(CALENDAR_PERIODS),
        required=False,
        help_text="day/week/month/year so far in tz, compared with the same elapsed time of the period "
        "before (not all: since the first event, nothing comes before to compare with). Give period, "
        "or start and end, not both.",
        error_messages={
            "invalid_choice": '"{input}" is not a period growth compares: day, week, month or year '
            "(all, since the first event, has nothing before it)."
        },
    )

    def validate(self, attrs):
        if not {"period", "start", "end"} & set(attrs):
            zone = params.zone_of(attrs)
            attrs["window"] = selectors.rolling_window(7, zone=zone)
            return attrs
        return super().validate(attrs)


def _report(window: selectors.Window) -> dict[str, Any]:
    with collector_paused():
        return growth_dict(growth.decompose(window))


def growth_payload(window: selectors.Window) -> dict[str, Any]:
    """The report of the window read, cached under it; its ``after`` window (with the note on
    how the window asked for was read) is this request's own, never another request's."""
    data = cached(
        f"growth:{window.start.isoformat()}:{window.end.isoformat()}:{window.zone}:{window.period}",
        lambda: _report(window),
    )
    return {**data, "after": window_dict(window)}


class GrowthView(ReadView):
    renderer_classes = [JSONRenderer]  # a report, not a list: no CSV

    @extend_schema(
        parameters=[GrowthParams, OpenApiParameter("format", str, enum=["json"])],
        responses=GrowthSerializer,
        description="Why tokens changed between a window and the one a change compares it with (a "
        "period so far: the same elapsed time of the period before; start/end: the equal window before; "
        "default: the last 7 x 24 hours vs the 7 x 24 before). Every decomposition is additive: volume + "
        "intensity, the contributors of each kind, the token-mix parts and each driver's parts sum to "
        "tokens.change; spend.price + spend.volume = spend.change. The seven drivers overlap: their tokens "
        "do not add up.",
    )
    def get(self, request: Request) -> Response:
        query = params.parse(GrowthParams, request.query_params)
        return Response(growth_payload(query["window"]))
