"""Index pages (/models/, /apps/, /authors/, /providers/, /categories/) and search. One view
and one template per page: an htmx request aimed at the results (``HX-Target``) gets only
that partial, so the filter form, the tabs and the page links also work as plain links."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_safe

from rankings import indexes, listings, share
from rankings.indexes import METRICS, PERIODS, SPECS, IndexQuery
from rankings.page_state import page_zone, window_notice, with_zone
from rankings.templatetags.rankings_format import compact

RESULTS_TARGET = "index-results"
SUGGEST_TARGET = "site-suggest"


def _htmx_target(request: HttpRequest) -> str | None:
    return request.htmx.target if getattr(request, "htmx", None) else None


def _fragment_response(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    # The same URL answers a page or a fragment: caches must keep them apart.
    patch_vary_headers(response, ["HX-Request", "HX-Target"])
    return response


def _summary(spec: indexes.Spec, query: IndexQuery, result: indexes.Result) -> str:
    """One sentence with the real numbers, for link previews."""
    rows = listings.entries(spec.kind, query.period, "tokens", zone=query.tz or None)
    top = max(rows, key=lambda r: r["value"], default=None)
    sentence = f"{result.total:,} {spec.plural} on Tokenrank"
    if top and top["value"]:
        period = PERIODS[query.period].lower()
        sentence += f"; the most used {period} is {top['name']} with {compact(top['tokens'])} tokens"
    return sentence + "."


@require_safe
def index(request: HttpRequest, kind: str) -> HttpResponse:
    spec = SPECS[kind]
    query = IndexQuery.parse(spec, request.GET)
    result = indexes.apply(spec, query)
    path = request.path
    context: dict[str, Any] = {
        "spec": spec,
        "kind": kind,
        "query": query,
        "result": result,
        "metric_label": METRICS[query.metric],
        "period_label": PERIODS[query.period],
        "pages": indexes.page_links(query, result, path),
        "periods": PERIODS,
        "metrics": METRICS,
        "clear_url": path,
        "share_url": query.url(path, page=result.page) + "#index-results",
        "window_notice": window_notice(request),
        "rows_template": f"rankings/_index_{kind if kind in ('model', 'app') else 'catalog'}.html",
    }
    if _htmx_target(request) == RESULTS_TARGET:
        return _fragment_response(request, render(request, "rankings/index.html#results", context))
    context["fields"] = [
        {"field": f, "value": query.filters.get(f.name, ""), "options": f.options() if f.options else None}
        for f in spec.fields
    ]
    context["og"] = share.meta(
        request,
        f"{spec.title} · LLM rankings",
        _summary(spec, query, result),
        share.og_image_path("home"),
    )
    return _fragment_response(request, render(request, "rankings/index.html", context))


def _with_q(url_name: str, q: str, tz: str) -> str:
    """A page's URL searching for ``q``, in the zone ``tz``."""
    return with_zone(f"{reverse(url_name)}?{urlencode({'q': q})}", tz)


@require_safe
def search(request: HttpRequest) -> HttpResponse:
    """Models, apps and authors whose names have every word typed."""
    q = " ".join(request.GET.get("q", "").split())[: indexes.MAX_QUERY]
    suggest = _htmx_target(request) == SUGGEST_TARGET
    tz = page_zone(request)
    results = indexes.search(q, limit=5 if suggest else 20, zone=tz or None)
    groups = [
        {"kind": kind, "title": SPECS[kind].title, "rows": rows, "more_url": _with_q(SPECS[kind].url_name, q, tz)}
        for kind, rows in results.items()
        if rows
    ]
    context = {"q": q, "groups": groups, "searched": bool(q), "every_url": _with_q("rankings:search", q, tz)}
    if suggest:
        return _fragment_response(request, render(request, "rankings/search.html#suggestions", context))
    found = sum(len(g["rows"]) for g in groups)
    summary = f"{found} results for “{q}” on Tokenrank." if q else "Search models, apps and authors."
    context["og"] = share.meta(request, "Search", summary, share.og_image_path("home"))
    return _fragment_response(request, render(request, "rankings/search.html", context))
