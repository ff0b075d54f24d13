"""Things other sites show: /embed/ pages (the only pages that may be framed, by the
origins in EMBED_FRAME_ANCESTORS), README badges and link-preview images. Private apps
answer 404 everywhere here, exactly like unknown ones."""

from __future__ import annotations

import hashlib
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csp import csp_override
from django.views.decorators.http import require_safe

from ingest.rollups.read import has_usage
from rankings import badges, growth_views, listings, og, selectors, share, views
from rankings.cache import cached
from rankings.models import Category
from rankings.page_state import notices_key
from rankings.selectors import Filters
from rankings.views import METRIC_LABELS, PERIOD_LABELS, State

THEMES = ("light", "dark")


def frameable(view):
    """Lets the origins of EMBED_FRAME_ANCESTORS frame ``view`` (every other page denies it):
    the site's policy with that one directive replaced, and no X-Frame-Options."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        policy = {**settings.SECURE_CSP, "frame-ancestors": settings.EMBED_FRAME_ANCESTORS}
        return csp_override(policy)(view)(request, *args, **kwargs)

    return require_safe(xframe_options_exempt(wrapped))


def _kind(plural: str, allowed: tuple[str, ...] = tuple(listings.PLURALS)) -> str:
    if plural not in allowed:
        raise Http404("No such page.")
    return listings.PLURALS[plural]


def _options(request: HttpRequest) -> dict[str, Any]:
    """The embed's look, and ``in_embed``: an embed has no Copy link or Embed controls (its
    iframe has no dialog, and its foot links to the page)."""
    theme = request.GET.get("theme")
    return {
        "theme": theme if theme in THEMES else "",
        "compact": request.GET.get("compact") == "1",
        "in_embed": True,
    }


@frameable
def embed_section(request: HttpRequest, section: str) -> HttpResponse:
    """A home-page section on its own, with the same parameters; its tabs swap in place."""
    if section not in views.HOME_TITLES:
        raise Http404("No such chart.")
    state = State.from_request(request)
    path = request.path
    fragments = {section, "leaderboard_rows"} if section == "leaderboard" else {section}
    fragment = request.GET.get("section") if request.GET.get("section") in fragments else None
    options = _options(request)

    def page() -> str:
        context = {
            "state": state,
            "metric_label": METRIC_LABELS[state.metric],
            **options,  # its tab swaps too: in_embed
            **views.HOME_SECTIONS[section](state, path),
        }
        if fragment:
            return render_to_string(f"rankings/home.html#{fragment}", context, request)
        context.update(
            title=views.HOME_TITLES[section],
            partial=f"rankings/home.html#{section}",
            page_url=state.url("/") + f"#{section}",
        )
        return render_to_string("embed/base.html", context, request)

    key = f"html:embed:{section}:{views.embed_variant(options)}:" + state.url(
        path, fragment, offset=state.offset
    )
    return HttpResponse(cached(key, page))


@frameable
def embed_entity(request: HttpRequest, plural: str, slug: str) -> HttpResponse:
    """An entity's usage chart and numbers (compact: the chart alone)."""
    kind = _kind(plural)
    obj = selectors.entry(kind, slug)
    return views.entity_page(request, kind, obj, embed=_options(request))


@frameable
def embed_growth(request: HttpRequest, name: str) -> HttpResponse:
    """One panel of the growth page (same window and zone), under the window it shows and its
    comparison, with the page's notice when the window asked for was refused."""
    if name not in growth_views.GROWTH_PANELS:
        raise Http404("No such chart.")
    options = _options(request)

    def page() -> str:
        context = growth_views.growth_context(request)
        title = growth_views.GROWTH_PANELS[name].title
        if context.get("empty"):
            # the growth page in the same window and zone (``query`` carries both)
            context.update(
                panel="embed/no_data.html",
                page_url=f"/growth/{context['query']}#growth-{name}",
                ever_counted=has_usage(),  # the window is empty, or everything is
            )
        else:
            panel = context["panels"][name]  # its link: the growth page in the same window and zone
            context.update(chart=panel, panel=panel["template"], page_url=panel["link"])
        context.update(options, title=title, partial="embed/growth.html")
        return render_to_string("embed/base.html", context, request)

    # Keyed by what the panel shows: the window's parameters as read, its notice, and the
    # notices about the query string (an unusable zone) every page shows.
    asked, _, notice = growth_views.asked_window(request)
    window = hashlib.sha256(f"{urlencode(asked)}\n{notice}".encode()).hexdigest()[:32]
    key = f"html:embed:growth:{name}:{views.embed_variant(options)}:{window}{notices_key(request)}"
    return HttpResponse(cached(key, page))


@require_safe
def badge(request: HttpRequest, plural: str, slug: str) -> HttpResponse:
    """An SVG badge for a README; ``period`` (day, week, month) and, for models, ``category``."""
    kind = _kind(plural, ("models", "apps"))
    period = request.GET.get("period") if request.GET.get("period") in badges.PERIOD_WORDS else "week"
    try:
        obj = selectors.entry(kind, slug)
    except Http404:
        response = HttpResponse(badges.render("not found", badges.MUTED_COLOR), status=404)
        response["Content-Type"] = "image/svg+xml; charset=utf-8"
        return response
    category = None
    if kind == "model" and request.GET.get("category"):
        category = Category.objects.filter(slug=request.GET["category"][:100]).first()

    def compute() -> str:
        text, ranked = badges.message(kind, obj, period, category)
        return badges.render(text, badges.VALUE_COLOR if ranked else badges.MUTED_COLOR)

    # Badges sit in READMEs behind image proxies: ten-minute-old numbers are fresh enough,
    # and a badge then costs one rank query per ten minutes, not per rollup generation.
    svg = cached(f"badge:{kind}:{obj.pk}:{period}:{category.pk if category else ''}", compute, ttl=listings.SLOW_TTL)
    response = HttpResponse(svg, content_type="image/svg+xml; charset=utf-8")
    response["Cache-Control"] = "public, max-age=3600"
    return response


def _png(data: bytes) -> HttpResponse:
    response = HttpResponse(data, content_type="image/png")
    response["Cache-Control"] = "public, max-age=3600"
    return response


@require_safe
def og_home(request: HttpRequest) -> HttpResponse:
    """The home page's preview: weekly tokens of the top models over twelve weeks."""

    def compute() -> bytes:
        history = selectors.history_window(84, "week")
        series = selectors.timeseries("model", history, interval="week", top=6)
        ranking = selectors.ranking("model", selectors.period_window("week"), limit=1)
        return og.render(
            "LLM token rankings",
            share.home_summary(ranking, PERIOD_LABELS["week"]),
            [b.strftime("%b %-d") for b in series.buckets],
            [(str(e) if e is not None else "(deleted)", v) for e, v in series.series]
            + [("Others", series.others)],
        )

    return _png(cached("og:home", compute, ttl=listings.SLOW_TTL))


@require_safe
def og_entity(request: HttpRequest, plural: str, slug: str) -> HttpResponse:
    """An entity page's preview: its daily tokens over 30 days (by model, except for a model)."""
    kind = _kind(plural)
    obj = selectors.entry(kind, slug)
    filters = Filters(**{kind: obj.pk})

    def compute() -> bytes:
        history = selectors.history_window(30, "day")
        week = selectors.period_window("week")
        if kind == "model":
            series = selectors.timeseries(None, history, interval="day", filters=filters)
            named = [("Tokens", series.others)]
        else:
            series = selectors.timeseries("model", history, interval="day", top=5, filters=filters)
            named = [(str(e), v) for e, v in series.series] + [("Others", series.others)]
        summary = share.entity_summary(
            obj.name,
            selectors.totals(week, filters),
            PERIOD_LABELS["week"],
            selectors.totals(week.previous(), filters).tokens,
        )
        return og.render(obj.name, summary, [b.strftime("%b %-d") for b in series.buckets], named)

    return _png(cached(f"og:{kind}:{obj.pk}", compute, ttl=listings.SLOW_TTL))
