"""The growth page (/growth/): why usage grew, the decomposition of /api/v1/growth drawn;
its panels are embeddable one by one (rankings.embeds)."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Any, NamedTuple
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from config.api_errors import ApiError
from ingest.rollups.read import has_usage
from rankings import charts, selectors, share
from rankings.api import params
from rankings.api.growth import GrowthParams, growth_payload
from rankings.page_state import page_zone, with_zone
from rankings.templatetags.rankings_format import signed_compact
from rankings.views import State

# The page's windows: the API's (rankings.api.growth.GrowthParams): the last 7 x 24 hours by
# default, a calendar period so far, or start and end.
GROWTH_PERIODS = {
    "": "Last 7 days",
    "day": "Today",
    "week": "This week",
    "month": "This month",
    "year": "This year",
}
MIX_LABELS = {
    "prompt_uncached": "Prompt (uncached)",
    "cached": "Prompt (cached)",
    "completion_visible": "Completion (visible)",
    "reasoning": "Reasoning",
}


# Each driver's small chart: the title of its value axis.
DRIVER_AXES = {
    "model_breadth": "Models per app",
    "discovery": "Share of tokens (%)",
    "reasoning": "Of completions (%)",
    "free_vs_paid": "Share of tokens (%)",
    "routing_variants": "Share of tokens (%)",
    "app_growth": "Share of tokens (%)",
    "context_growth": "Prompt tokens / request",
}


class GrowthPanel(NamedTuple):
    """A panel of the growth page with an embed of its own (/embed/growth/<name>/): its title,
    the text alternative's label and the template that draws it."""

    title: str
    label: str
    template: str = "rankings/_growth_chart.html"  # one chart (``figures`` of growth_context)


# The growth page's panels, each embeddable: the Seven drivers (a row and a small chart per
# driver), then one chart each.
GROWTH_PANELS = {
    "seven": GrowthPanel("Seven drivers", "The seven drivers of token growth", "rankings/_growth_seven.html"),
    "waterfall": GrowthPanel(
        "From before to after, by author", "Waterfall of the change in tokens by author"
    ),
    "drivers": GrowthPanel("More requests or bigger requests?", "Volume and intensity parts of the change"),
    "mix": GrowthPanel("Token mix of the change", "Change by token type"),
    "variants": GrowthPanel("Free, paid and routing variants", "Share of tokens by variant before and after"),
    "context": GrowthPanel("Context growth", "Prompt tokens per request over time"),
    "shares": GrowthPanel("Reasoning and caching", "Reasoning and cached shares over time"),
    "price": GrowthPanel("Price against volume", "Effective price per million tokens and tokens per day"),
}


def asked_window(request: HttpRequest) -> tuple[dict[str, str], selectors.Window, str]:
    """The window a growth page or embed shows: the API's parameters read from the query
    (``asked``, in the API's names), the window they give, and the notice when the API
    refuses them (then the default window is shown). Everything the page depends on besides
    the data: its cache key too (rankings.embeds)."""
    # An unusable zone is dropped here (the page says so: rankings.context_processors.zone).
    zone = {"tz": tz} if (tz := page_zone(request)) else {}
    asked = {k: request.GET[k] for k in ("period", "start", "end") if request.GET.get(k)} | zone
    if "end" not in asked and (until := request.GET.get("until")):
        asked["end"] = day_after(until)
    try:
        return asked, params.parse(GrowthParams, asked)["window"], ""
    except ApiError as error:  # pages are lenient: what the API refuses, the page says, and shows the default
        problem = str(error.detail)
        if "end" not in request.GET:  # the form's words (its fields: start and until), not the API's
            if error.field == "end" and "until" in request.GET and "after start" in problem:
                days = asked["end"] != request.GET["until"]  # a day, not a moment (day_after)
                problem = "The last day must not be before the first day." if days else "The end must be after the start."
            elif error.field == "end" and "until" in request.GET and problem.startswith("end"):
                problem = "until" + problem.removeprefix("end")  # the form's field
            elif error.field == "period" and "until" in request.GET and "not both" in problem:
                problem = "Give a period, or the first and the last day, not both."
            elif problem.startswith("Give both start and end"):
                problem = "Give both the first and the last day, or neither."
        notice = f"{problem} Showing the last 7 days instead."
        return zone, params.parse(GrowthParams, zone)["window"], notice


def growth_context(request: HttpRequest) -> dict[str, Any]:
    """The growth page's data and charts; ``empty`` (window, tabs, no data) when there is no
    usage in either window."""
    asked, window, notice = asked_window(request)
    data = growth_payload(window)
    query = "?" + urlencode(asked) if asked else ""
    page = {
        "window": window,
        "window_label": window.label(named=True),
        "asked": asked,
        "tabs": window_tabs(request, window, asked),
        "query": query,
        "until": last_day(asked),
        # The zone selector's form keeps the window asked for.
        "zone_hidden": [(k, v) for k, v in asked.items() if k != "tz"],
        "window_notice": notice,
    }
    if not data["tokens"]["before"] and not data["tokens"]["after"]:
        return {**page, "empty": True}
    authors = data["contributors"]["author"]["items"]
    figures = {
        "waterfall": charts.waterfall(
            "Before", data["tokens"]["before"], [(i["entity"]["name"], i["change"]) for i in authors], "After"
        ),
        "drivers": charts.waterfall(
            "Before",
            data["tokens"]["before"],
            [
                (
                    "More requests" if data["volume_intensity"]["volume"] >= 0 else "Fewer requests",
                    data["volume_intensity"]["volume"],
                ),
                ("Tokens per request", data["volume_intensity"]["intensity"]),
            ],
            "After",
        ),
        "mix": charts.titled(
            charts.grouped_bars(
                ["Change"], {MIX_LABELS[k]: [v] for k, v in data["mix"].items()}, labels=signed_compact
            ),
            y="Change in tokens",
        ),
        "variants": charts.titled(
            charts.grouped_bars(
                ["Before", "After"],
                {
                    (f":{v['variant']}" if v["variant"] else "standard"): [
                        v["share_before"] * 100,
                        v["share_after"] * 100,
                    ]
                    for v in data["variants"]
                },
                stacked=True,
                suffix="%",
                labels="%{y:.1f}%",
            ),
            y="Share of tokens (%)",
        ),
        "context": charts.titled(
            charts.lines(
                {
                    "All": data["history"]["prompt_per_request"],
                    **data["history"]["prompt_per_request_by_category"],
                },
                data["history"]["days"],
            ),
            x=f"Day ({window.zone})",
            y="Prompt tokens per request",
        ),
        "shares": charts.titled(
            charts.lines(
                {
                    "Reasoning / completion": [
                        v * 100 if v is not None else None for v in data["history"]["reasoning_share"]
                    ],
                    "Cached / prompt": [
                        v * 100 if v is not None else None for v in data["history"]["cached_share"]
                    ],
                },
                data["history"]["days"],
                suffix="%",
            ),
            x=f"Day ({window.zone})",
            y="Share (%)",
        ),
        "price": charts.titled(
            charts.dual_lines(
                data["history"]["days"],
                ("$ per 1M tokens", data["history"]["price_per_million"]),
                ("Tokens per day", data["history"]["tokens"]),
            ),
            x=f"Day ({window.zone})",
        ),
    }
    driver_rows = [
        {
            **d,
            "figure": charts.before_after(
                d["before"], d["after"], unit=DRIVER_AXES[d["key"]], percent=d["unit"].startswith("share")
            ),
            "label": f"{d['name']}: {d['unit']} before and after",
        }
        for d in data["drivers"]
    ]
    panels = {
        name: {
            **panel._asdict(),
            "name": name,
            "figure": figures.get(name),  # the Seven drivers' figures are in ``drivers``
            "link": f"/growth/{query}#growth-{name}",
            "embed": f"/embed/growth/{name}/{query}",
        }
        for name, panel in GROWTH_PANELS.items()
    }
    names = [i["entity"]["name"] for c in data["contributors"].values() for i in c["items"]]
    return {**page, "g": data, "panels": panels, "drivers": driver_rows, "names": names}


# A day's end as "24:00" (seconds and fractions of zero allowed, no offset: the page's zone).
_MIDNIGHT_END = re.compile(r"(\d{4}-\d{2}-\d{2})[T ]24:00(?::00(?:\.0+)?)?")


def day_after(day: str) -> str:
    """The page form's last day (inclusive: "from Nov 1 to Nov 7" is seven days) as the API's
    exclusive ``end``: the next day; a day at 24:00 (how window labels write a midnight end) is
    the same. Not a date: left as it is, for the API's message."""
    if match := _MIDNIGHT_END.fullmatch(day):
        day = match[1]
    try:
        return (date.fromisoformat(day) + timedelta(days=1)).isoformat()
    except ValueError:
        return day


def last_day(asked: dict[str, str]) -> str:
    """The form's "to" day of the window asked for: its end's day, the day before when the end
    is a midnight (the end is exclusive)."""
    end = asked.get("end", "")
    try:
        moment = datetime.fromisoformat(end)
    except ValueError:
        return end[:10]
    midnight = (moment.hour, moment.minute, moment.second, moment.microsecond) == (0, 0, 0, 0)
    return (moment.date() - timedelta(days=1) if midnight else moment.date()).isoformat()


def window_tabs(
    request: HttpRequest, window: selectors.Window, asked: dict[str, str]
) -> list[dict[str, Any]]:
    """The period tabs (the custom window's, when asked for, is none of them)."""
    custom = "start" in asked
    return [
        {
            "value": p,
            "label": label,
            "active": p == (window.period or "") and not custom,
            "url": with_zone(request.path + (f"?period={p}" if p else ""), asked.get("tz", "")),
        }
        for p, label in GROWTH_PERIODS.items()
    ]


@require_safe
def growth_page(request: HttpRequest) -> HttpResponse:
    """Why usage grew: the same decomposition as /api/v1/growth, drawn."""
    state = State.from_request(request)
    if not has_usage():  # nothing ever counted: how to start
        return render(request, "rankings/empty.html", {"state": state})
    context = {**growth_context(request), "state": state}
    if not context.get("empty"):
        summary = context["g"]["summary"][0] if context["g"]["summary"] else "Why LLM token usage changed."
        context["og"] = share.meta(request, "Why usage grew", summary, share.og_image_path("home"))
    return render(request, "rankings/growth.html", context)
