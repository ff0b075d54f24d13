"""Dashboard pages. One template per page with partials; an htmx request for a section
(``?section=...``) gets only that partial, rendered by the same view, so every switch also
works as a plain link."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.views.decorators.http import require_safe

from ingest import schema
from ingest.rollups.read import has_usage
from rankings import charts, selectors, share
from rankings.cache import cached
from rankings.models import Category
from rankings.narrow_views import NARROW_SECTIONS, entity_sections
from rankings.page_state import (
    APP_PERIODS,
    INTERVAL_LABELS,
    INTERVAL_SPAN,
    METRIC_LABELS,
    PAGE_SIZE,
    PERIOD_LABELS,
    State,
    notices_key,
    tabs,
    window_notice,
)
from rankings.selectors import Filters

# --- Home sections ------------------------------------------------------------------------


def section_chart(state: State, path: str) -> dict[str, Any]:
    def compute():
        window = state.history_window(INTERVAL_SPAN[state.interval], state.interval)
        series = selectors.timeseries("model", window, interval=state.interval, metric=state.metric, top=10)
        return {"figure": charts.stacked_bars(series), "window": window}

    return {
        "chart": cached("home:chart:" + state.key("interval", "metric"), compute),
        "interval_tabs": tabs(state, path, "interval", INTERVAL_LABELS, "chart"),
    }


def section_leaderboard(state: State, path: str) -> dict[str, Any]:
    def compute():
        window = state.period_window(state.period)
        return selectors.ranking("model", window, metric=state.metric, limit=PAGE_SIZE, offset=state.offset)

    ranking = cached("home:leaderboard:" + state.key("period", "metric", "offset"), compute)
    more = state.offset + PAGE_SIZE < ranking.count
    more_url = state.url(path, "leaderboard_rows", offset=state.offset + PAGE_SIZE)
    return {
        "leaderboard": ranking,
        "period_tabs": tabs(state, path, "period", PERIOD_LABELS, "leaderboard"),
        "more_url": more_url if more else None,
        # Without scripts: the page showing the next rows.
        "more_page": state.url(path, offset=state.offset + PAGE_SIZE) + "#leaderboard",
    }


def section_authors(state: State, path: str) -> dict[str, Any]:
    def compute():
        history = state.history_window(364, "week")
        series = selectors.timeseries("author", history, interval="week", metric=state.metric, top=8)
        window = state.period_window(state.period)
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
        window = state.period_window(state.period)
        history = state.history_window(90, "week")
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
        "category_tabs": tabs(
            state, path, "category", dict(Category.objects.values_list("slug", "name")), "categories"
        ),
    }


def section_apps(state: State, path: str) -> dict[str, Any]:
    def compute():
        window = state.period_window(state.app_period)
        ranking = selectors.ranking("app", window, metric=state.metric, limit=20, previous_ranks=False)
        top_models = selectors.top_model_per_app(window, [row.key for row in ranking.rows])
        for row in ranking.rows:
            row.extra["top_model"] = top_models.get(row.key)
        return ranking

    return {
        "apps": cached("home:apps:" + state.key("app_period", "metric"), compute),
        "app_tabs": tabs(state, path, "app_period", {p: PERIOD_LABELS[p] for p in APP_PERIODS}, "apps"),
    }


def section_trending(state: State, path: str) -> dict[str, Any]:
    def compute():
        window = state.period_window("week")
        return {
            "models": selectors.trending("model", window, limit=8, min_volume=1000),
            "apps": selectors.trending("app", window, limit=8, min_volume=1000),
            "new_models": selectors.new_models(state.period_window("month"), limit=8),
            "label": selectors.trending_words(window),
        }

    return {"trending": cached("home:trending:" + state.key(), compute)}


def section_performance(state: State, path: str) -> dict[str, Any]:
    return {
        "performance": cached(
            "home:performance:" + state.key(), lambda: selectors.performance(state.period_window("day"))
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
    **NARROW_SECTIONS,
}
# The home page's sections in page order, with their titles (their embeds' too).
HOME_TITLES = {
    "chart": "Top models",
    "leaderboard": "LLM leaderboard",
    "authors": "Market share by author",
    "categories": "Categories",
    "apps": "Top apps",
    "tools": "Tool calls",
    "languages": "Languages",
    "context": "Context length",
    "tags": "By tag",
    "sessions": "Cost per session",
    "trending": "Trending",
    "performance": "Performance",
}
# Rendered with the page: what a visitor sees first. The others are placeholders that fetch
# their fragment when scrolled into view (each cached on its own), so an uncached page costs
# two sections' reads, not twelve; ``?sections=all`` renders every one (no script needed), and
# its tabs keep it.
HOME_FIRST = ("chart", "leaderboard")


@require_safe
def home(request: HttpRequest) -> HttpResponse:
    state = State.from_request(request)
    path = request.path
    section = request.GET.get("section")
    every = state.sections == "all"
    base = {"state": state, "metric_label": METRIC_LABELS[state.metric], "window_notice": window_notice(request)}
    if section not in HOME_SECTIONS:
        section = None
        if not has_usage():
            return render(request, "rankings/empty.html", base)

    def page() -> str:
        if section:
            context = {**base, **HOME_SECTIONS[section](state, path)}
            return render_to_string(f"rankings/home.html#{section}", context, request)
        context = dict(base)
        for name in HOME_TITLES if every else HOME_FIRST:
            context.update(HOME_SECTIONS[name](state, path))
        if not every:
            context["deferred"] = [
                {"name": name, "title": title, "url": state.url(path, name)}
                for name, title in HOME_TITLES.items()
                if name not in HOME_FIRST
            ]
            context["every_url"] = state.url(path, sections="all")
        context["metric_tabs"] = tabs(state, path, "metric", METRIC_LABELS, "")
        summary = share.home_summary(context["leaderboard"], PERIOD_LABELS[state.period])
        context["og"] = share.meta(request, "LLM token rankings", summary, share.og_image_path("home"))
        return render_to_string("rankings/home.html", context, request)

    # The rendered HTML depends only on the state (the page has no per-user part), the host
    # (named by the link-preview meta) and the notices about its query string: cache it per
    # canonical state URL and rollup generation.
    url = request.build_absolute_uri(state.url(path, section, offset=state.offset))
    return HttpResponse(cached("html:" + url + notices_key(request), page))


# --- Entity pages -------------------------------------------------------------------------


def entity_page(
    request: HttpRequest, kind: str, obj: Any, embed: dict[str, Any] | None = None
) -> HttpResponse:
    """An entity's page, or with ``embed`` (theme, compact) its /embed/ version;
    ``?section=body`` is the htmx fragment of either."""
    state = State.from_request(request)
    path = request.path
    filters = Filters(**{kind: obj.pk})

    def compute():
        window = state.period_window(state.period)
        history = state.history_window(INTERVAL_SPAN[state.interval], state.interval)
        totals = selectors.totals(window, filters)
        if kind == "model":
            series = selectors.measure_series(history, interval=state.interval, filters=filters)
            by_type = {count.label: series[count.column] for count in schema.TOKENS}
            buckets = selectors.bucket_starts(history, state.interval)
            partial = selectors.partial_buckets(history, state.interval, buckets)
            figure = charts.lines(by_type, selectors.wall_clock(buckets, history.zone), partial=partial)
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
            **entity_sections(kind, obj, state, window, history),
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
            "period_tabs": tabs(state, path, "period", PERIOD_LABELS, "body"),
            "interval_tabs": tabs(state, path, "interval", INTERVAL_LABELS, "body"),
            "metric_tabs": tabs(state, path, "metric", METRIC_LABELS, "body"),
            "page_url": state.url(obj.get_absolute_url()),
            "embed_url": state.url("/embed" + obj.get_absolute_url()),
            "window_notice": window_notice(request),
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
    url = request.build_absolute_uri(state.url(path, section)) + notices_key(request)
    return HttpResponse(cached(f"html:{kind}:{obj.pk}:{embed_variant(embed)}:{url}", page))


def embed_variant(embed: dict[str, Any] | None) -> str:
    """A cache-key part for a page or one of its embed looks."""
    return "page" if embed is None else f"embed-{embed['theme'] or 'auto'}-{int(embed['compact'])}"


@require_safe
def entity_view(request: HttpRequest, kind: str, **slug: str) -> HttpResponse:
    """The page of a catalog entry at its dimension's route: its slug is the route's parts
    joined by "/" (a model's is author/name)."""
    return entity_page(request, kind, selectors.entry(kind, "/".join(slug.values())))
