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

from ingest import schema
from ingest.rollups.read import has_usage
from rankings import charts, selectors, share
from rankings.cache import cached
from rankings.models import Category
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
# The pages' metric switch (``ingest.schema``).
METRIC_LABELS = {metric.name: metric.label for metric in schema.METRICS if metric.switch}
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
        if not has_usage():
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


def entity_object(kind: str, slug: str) -> Any:
    """The catalog entry of an entity page (a dimension of ``ingest.schema``); 404 for an
    unknown slug and for a private app."""
    dimension = schema.DIMENSION[kind]
    entries = selectors.entries(dimension)
    if dimension.related:
        entries = entries.select_related(*dimension.related)
    return get_object_or_404(entries, slug=slug)


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
            by_type = {count.label: series[count.column] for count in schema.TOKENS}
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
            for title, entity in schema.DIMENSION[kind].page
        ]
        providers = selectors.provider_stats(window, filters) if kind == "model" else None
        return {
            "window": window,
            "totals": totals,
            # Measures the schema shows as figures of their own.
            "stats": [(m.column, m.label, getattr(totals, m.column)) for m in schema.MEASURES if m.stat],
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
def entity_view(request: HttpRequest, kind: str, **slug: str) -> HttpResponse:
    """The page of a catalog entry at its dimension's route: its slug is the route's parts
    joined by "/" (a model's is author/name)."""
    return entity_page(request, kind, entity_object(kind, "/".join(slug.values())))
