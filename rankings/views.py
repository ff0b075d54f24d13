"""Dashboard pages. One template per page with partials; an htmx request for a section
(``?section=...``) gets only that partial, rendered by the same view, so every switch also
works as a plain link."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.template.loader import render_to_string
from django.views.decorators.http import require_GET

from rankings import charts, selectors, share
from rankings.cache import cached
from rankings.models import App, Author, Category, LLMModel, Provider, UsageDaily
from rankings.selectors import Filters

PERIOD_LABELS = {
    "day": "Today",
    "week": "This week",
    "month": "This month",
    "year": "This year",
    "all": "All time",
}
APP_PERIODS = ("day", "week", "month")
INTERVAL_LABELS = {"day": "Daily", "week": "Weekly", "month": "Monthly"}
INTERVAL_SPAN = {"day": 90, "week": 364, "month": 365}  # days of history each interval shows
METRIC_LABELS = {"tokens": "Tokens", "requests": "Requests", "cost": "Cost"}
PAGE_SIZE = 20
SLUG_RE = re.compile(r"[a-z0-9-]{1,50}")


@dataclass
class State:
    """The page's switches, read leniently: an unknown value falls back to the default."""

    period: str = "week"
    interval: str = "week"
    metric: str = "tokens"
    category: str = "programming"
    app_period: str = "week"
    offset: int = 0

    @classmethod
    def from_request(cls, request: HttpRequest) -> State:
        get = request.GET
        state = cls()
        if get.get("period") in PERIOD_LABELS:
            state.period = get["period"]
        if get.get("interval") in INTERVAL_LABELS:
            state.interval = get["interval"]
        if get.get("metric") in METRIC_LABELS:
            state.metric = get["metric"]
        category = get.get("category", "")
        if SLUG_RE.fullmatch(category) and Category.objects.filter(slug=category).exists():
            state.category = category
        if get.get("app_period") in APP_PERIODS:
            state.app_period = get["app_period"]
        offset = get.get("offset", "")
        if offset.isdigit() and int(offset) < 100_000:
            state.offset = int(offset)
        return state

    def url(self, path: str, section: str | None = None, **changes: Any) -> str:
        """This state's URL with ``changes``; with ``section``, the htmx fragment URL."""
        values = {**vars(self), "offset": 0, **changes}
        defaults = vars(State())
        query = {k: v for k, v in values.items() if v != defaults[k]}
        if section:
            query["section"] = section
        return path + ("?" + urlencode(query) if query else "")

    def key(self, *names: str) -> str:
        return ":".join(f"{n}={getattr(self, n)}" for n in names)


def _tabs(state: State, path: str, field: str, labels: dict[str, str], section: str) -> list[dict[str, Any]]:
    return [
        {
            "value": value,
            "label": text,
            "active": getattr(state, field) == value,
            "url": state.url(path, **{field: value}),
            "section_url": state.url(path, section, **{field: value}),
        }
        for value, text in labels.items()
    ]


# --- Home sections ------------------------------------------------------------------------


def section_chart(state: State, path: str) -> dict[str, Any]:
    def compute():
        window = selectors.history_window(INTERVAL_SPAN[state.interval], state.interval)
        series = selectors.timeseries("model", window, interval=state.interval, metric=state.metric, top=10)
        return {"figure": charts.stacked_bars(series), "window": window}

    return {
        "chart": cached("home:chart:" + state.key("interval", "metric"), compute),
        "interval_tabs": _tabs(state, path, "interval", INTERVAL_LABELS, "chart"),
    }


def section_leaderboard(state: State, path: str) -> dict[str, Any]:
    def compute():
        window = selectors.period_window(state.period)
        return selectors.ranking("model", window, metric=state.metric, limit=PAGE_SIZE, offset=state.offset)

    ranking = cached("home:leaderboard:" + state.key("period", "metric", "offset"), compute)
    more = state.offset + PAGE_SIZE < ranking.count
    more_url = state.url(path, "leaderboard_rows", offset=state.offset + PAGE_SIZE)
    return {
        "leaderboard": ranking,
        "period_tabs": _tabs(state, path, "period", PERIOD_LABELS, "leaderboard"),
        "more_url": more_url if more else None,
    }


def section_authors(state: State, path: str) -> dict[str, Any]:
    def compute():
        history = selectors.history_window(364, "week")
        series = selectors.timeseries("author", history, interval="week", metric=state.metric, top=8)
        window = selectors.period_window(state.period)
        return {
            "figure": charts.stacked_bars(series, normalize=True),
            "ranking": selectors.ranking(
                "author", window, metric=state.metric, limit=15, previous_ranks=False
            ),
        }

    return {"authors": cached("home:authors:" + state.key("period", "metric"), compute)}


def section_categories(state: State, path: str) -> dict[str, Any]:
    def compute():
        category = Category.objects.get(slug=state.category)
        filters = Filters(category=category.pk)
        window = selectors.period_window(state.period)
        history = selectors.history_window(90, "week")
        return {
            "category": category,
            "ranking": selectors.ranking(
                "model", window, metric=state.metric, filters=filters, limit=10, previous_ranks=False
            ),
            "figure": charts.stacked_bars(
                selectors.timeseries(
                    "model", history, interval="week", metric=state.metric, top=5, filters=filters
                ),
                height=260,
            ),
        }

    return {
        "categories": cached("home:categories:" + state.key("category", "period", "metric"), compute),
        "category_tabs": _tabs(
            state, path, "category", dict(Category.objects.values_list("slug", "name")), "categories"
        ),
    }


def section_apps(state: State, path: str) -> dict[str, Any]:
    def compute():
        window = selectors.period_window(state.app_period)
        ranking = selectors.ranking("app", window, metric=state.metric, limit=20, previous_ranks=False)
        top_models = selectors.top_model_per_app(window, [row.key for row in ranking.rows])
        for row in ranking.rows:
            row.extra["top_model"] = top_models.get(row.key)
        return ranking

    return {
        "apps": cached("home:apps:" + state.key("app_period", "metric"), compute),
        "app_tabs": _tabs(state, path, "app_period", {p: PERIOD_LABELS[p] for p in APP_PERIODS}, "apps"),
    }


def section_trending(state: State, path: str) -> dict[str, Any]:
    def compute():
        window = selectors.period_window("week")
        return {
            "models": selectors.trending("model", window, limit=8, min_volume=1000),
            "apps": selectors.trending("app", window, limit=8, min_volume=1000),
            "new_models": selectors.new_models(selectors.period_window("month"), limit=8),
        }

    return {"trending": cached("home:trending", compute)}


def section_performance(state: State, path: str) -> dict[str, Any]:
    return {
        "performance": cached(
            "home:performance", lambda: selectors.performance(selectors.period_window("day"))
        )
    }


HOME_SECTIONS: dict[str, Callable[[State, str], dict[str, Any]]] = {
    "chart": section_chart,
    "leaderboard": section_leaderboard,
    "leaderboard_rows": section_leaderboard,
    "authors": section_authors,
    "categories": section_categories,
    "apps": section_apps,
    "trending": section_trending,
    "performance": section_performance,
}


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    state = State.from_request(request)
    path = request.path
    section = request.GET.get("section")
    base = {"state": state, "metric_label": METRIC_LABELS[state.metric]}
    if section not in HOME_SECTIONS:
        section = None
        if not UsageDaily.objects.exists():
            return render(request, "rankings/empty.html", base)

    def page() -> str:
        if section:
            context = {**base, **HOME_SECTIONS[section](state, path)}
            return render_to_string(f"rankings/home.html#{section}", context, request)
        context = dict(base)
        for name in ("chart", "leaderboard", "authors", "categories", "apps", "trending", "performance"):
            context.update(HOME_SECTIONS[name](state, path))
        context["metric_tabs"] = _tabs(state, path, "metric", METRIC_LABELS, "")
        summary = share.home_summary(context["leaderboard"], PERIOD_LABELS[state.period])
        context["og"] = share.meta(request, "LLM token rankings", summary, share.og_image_path("home"))
        return render_to_string("rankings/home.html", context, request)

    # The rendered HTML depends only on the state (the page has no form or per-user part)
    # and the host (named by the link-preview meta): cache it per canonical state URL and
    # rollup generation.
    url = request.build_absolute_uri(state.url(path, section, offset=state.offset))
    return HttpResponse(cached("html:" + url, page))


# --- Entity pages -------------------------------------------------------------------------


# The breakdown tables of each entity page: (title, entity ranked within it).
BREAKDOWNS = {
    "model": [("Variants", "variant"), ("Top apps", "app"), ("Categories", "category")],
    "app": [("Models it uses", "model"), ("Providers", "provider")],
    "author": [("Models", "model"), ("Top apps", "app")],
    "category": [("Top models", "model"), ("Top apps", "app")],
    "provider": [("Models", "model"), ("Top apps", "app")],
}
ENTITY_CLASSES = {"model": LLMModel, "app": App, "author": Author, "category": Category, "provider": Provider}


def entity_object(kind: str, slug: str) -> Any:
    """The object of an entity page; 404 for an unknown slug and for a private app."""
    if kind == "model":
        return get_object_or_404(LLMModel.objects.select_related("author"), slug=slug)
    if kind == "app":
        return get_object_or_404(App, slug=slug, is_public=True)
    return get_object_or_404(ENTITY_CLASSES[kind], slug=slug)


def entity_page(
    request: HttpRequest, kind: str, obj: Any, embed: dict[str, Any] | None = None
) -> HttpResponse:
    """An entity's page, or with ``embed`` (theme, compact) its /embed/ version;
    ``?section=body`` is the htmx fragment of either."""
    state = State.from_request(request)
    path = request.path
    filters = Filters(**{kind: obj.pk})

    def compute():
        window = selectors.period_window(state.period)
        history = selectors.history_window(INTERVAL_SPAN[state.interval], state.interval)
        totals = selectors.totals(window, filters)
        if kind == "model":
            series = selectors.measure_series(history, interval=state.interval, filters=filters)
            by_type = {
                name: series[metric]
                for name, metric in (
                    ("Prompt", "prompt_tokens"),
                    ("Completion", "completion_tokens"),
                    ("Reasoning", "reasoning_tokens"),
                    ("Cached", "cached_tokens"),
                )
            }
            buckets = selectors.bucket_starts(history, state.interval)
            figure = charts.lines(by_type, [b.isoformat() for b in buckets])
        else:
            figure = charts.stacked_bars(
                selectors.timeseries(
                    "model", history, interval=state.interval, metric=state.metric, top=8, filters=filters
                )
            )
        tables = [
            (title, entity, selectors.ranking(entity, window, metric=state.metric, filters=filters, limit=10))
            for title, entity in BREAKDOWNS[kind]
        ]
        providers = selectors.provider_stats(window, filters) if kind == "model" else None
        return {
            "window": window,
            "totals": totals,
            "figure": figure,
            "tables": tables,
            "providers": providers,
        }

    section = "body" if request.GET.get("section") == "body" else None

    def page() -> str:
        context = {
            "state": state,
            "kind": kind,
            "object": obj,
            "metric_label": METRIC_LABELS[state.metric],
            "period_tabs": _tabs(state, path, "period", PERIOD_LABELS, "body"),
            "interval_tabs": _tabs(state, path, "interval", INTERVAL_LABELS, "body"),
            "metric_tabs": _tabs(state, path, "metric", METRIC_LABELS, "body"),
            "page_url": state.url(obj.get_absolute_url()),
            "embed_url": state.url("/embed" + obj.get_absolute_url()),
            **compute(),
        }
        if section:
            return render_to_string("rankings/entity.html#body", context, request)
        if embed is not None:
            context.update(embed, title=obj.name, partial="rankings/entity.html#body")
            context["page_url"] += "#usage"
            return render_to_string("embed/base.html", context, request)
        if state.period != "all":
            previous = selectors.totals(context["window"].previous(), filters).tokens
        else:
            previous = None
        summary = share.entity_summary(obj.name, context["totals"], PERIOD_LABELS[state.period], previous)
        context["og"] = share.meta(request, obj.name, summary, share.og_image_path(kind, obj))
        return render_to_string("rankings/entity.html", context, request)

    # Like the home page: the HTML is a function of the object, the state and the data (and
    # of the host, which the link-preview meta names).
    url = request.build_absolute_uri(state.url(path, section))
    return HttpResponse(cached(f"html:{kind}:{obj.pk}:{embed_variant(embed)}:{url}", page))


def embed_variant(embed: dict[str, Any] | None) -> str:
    """A cache-key part for a page or one of its embed looks."""
    return "page" if embed is None else f"embed-{embed['theme'] or 'auto'}-{int(embed['compact'])}"


@require_GET
def model_detail(request: HttpRequest, author: str, name: str) -> HttpResponse:
    return entity_page(request, "model", entity_object("model", f"{author}/{name}"))


@require_GET
def scoped_detail(request: HttpRequest, slug: str, kind: str) -> HttpResponse:
    return entity_page(request, kind, entity_object(kind, slug))


GROWTH_PERIODS = {"day": 1, "week": 7, "month": 30}
MIX_LABELS = {
    "prompt_uncached": "Prompt (uncached)",
    "cached": "Prompt (cached)",
    "completion_visible": "Completion (visible)",
    "reasoning": "Reasoning",
}


# The growth page's charts: title and text alternative label; each has an embed.
GROWTH_CHARTS = {
    "waterfall": ("From before to after, by author", "Waterfall of the change in tokens by author"),
    "drivers": ("More requests or bigger requests?", "Volume and intensity parts of the change"),
    "mix": ("Token mix of the change", "Change by token type"),
    "variants": ("Free, paid and routing variants", "Share of tokens by variant before and after"),
    "context": ("Context growth", "Prompt tokens per request over time"),
    "shares": ("Reasoning and caching", "Reasoning and cached shares over time"),
    "price": ("Price against volume", "Effective price per million tokens and tokens per day"),
}


def growth_context(request: HttpRequest) -> dict[str, Any] | None:
    """The growth page's data and charts (None when there is no usage in either window)."""
    from rankings import growth
    from rankings.api.growth import growth_payload

    period = request.GET.get("period") if request.GET.get("period") in GROWTH_PERIODS else "week"
    window = growth.rolling_window(GROWTH_PERIODS[period])
    data = growth_payload(window)
    if not data["tokens"]["before"] and not data["tokens"]["after"]:
        return None
    authors = data["contributors"]["author"]["items"]
    figures = {
        "waterfall": charts.waterfall(
            "Before", data["tokens"]["before"], [(i["entity"]["name"], i["change"]) for i in authors], "After"
        ),
        "drivers": charts.waterfall(
            "Before",
            data["tokens"]["before"],
            [
                ("More requests", data["volume_intensity"]["volume"]),
                ("Tokens per request", data["volume_intensity"]["intensity"]),
            ],
            "After",
        ),
        "mix": charts.grouped_bars(["Change"], {MIX_LABELS[k]: [v] for k, v in data["mix"].items()}),
        "variants": charts.grouped_bars(
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
        ),
        "context": charts.lines(
            {
                "All": data["history"]["prompt_per_request"],
                **data["history"]["prompt_per_request_by_category"],
            },
            data["history"]["days"],
        ),
        "shares": charts.lines(
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
        "price": charts.dual_lines(
            data["history"]["days"],
            ("$ per 1M tokens", data["history"]["price_per_million"]),
            ("Tokens per day", data["history"]["tokens"]),
        ),
    }
    tabs = [
        {
            "value": p,
            "label": {"day": "Day", "week": "Week", "month": "30 days"}[p],
            "active": p == period,
            "url": f"{request.path}?period={p}",
        }
        for p in GROWTH_PERIODS
    ]
    query = "" if period == "week" else f"?period={period}"
    growth_charts = {
        name: {
            "name": name,
            "title": title,
            "label": label,
            "figure": figures[name],
            "link": f"/growth/{query}#growth-{name}",
            "embed": f"/embed/growth/{name}/{query}",
        }
        for name, (title, label) in GROWTH_CHARTS.items()
    }
    return {"g": data, "charts": growth_charts, "tabs": tabs}


@require_GET
def growth_page(request: HttpRequest) -> HttpResponse:
    """Why usage grew: the same decomposition as /api/v1/growth, drawn."""
    state = State.from_request(request)
    context = growth_context(request)
    if context is None:
        return render(request, "rankings/empty.html", {"state": state})
    summary = context["g"]["summary"][0] if context["g"]["summary"] else "Why LLM token usage changed."
    context["og"] = share.meta(request, "Why usage grew", summary, share.og_image_path("home"))
    context["state"] = state
    return render(request, "rankings/growth.html", context)
