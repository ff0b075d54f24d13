"""Link previews: Open Graph and Twitter card meta for every page, with a one-sentence
summary made of the page's real numbers and an image of its main chart (rankings.og)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import reverse

from rankings.listings import PLURAL_OF
from rankings.templatetags.rankings_format import compact, percent, plural

SITE_NAME = "Tokenrank"


def og_image_path(kind: str, obj: Any = None) -> str:
    """Path of the PNG preview of a page's main chart: the home chart, or an entity's usage."""
    if kind == "home":
        return reverse("rankings:og-home")
    return reverse("rankings:og-entity", kwargs={"plural": PLURAL_OF[kind], "slug": obj.slug})


def meta(request: HttpRequest, title: str, description: str, image_path: str) -> dict[str, str]:
    """The values base.html writes as og:* and twitter:* meta tags (absolute URLs)."""
    return {
        "title": f"{title} · {SITE_NAME}",
        "description": description,
        "url": request.build_absolute_uri(),
        "image": request.build_absolute_uri(image_path),
        "image_alt": f"Chart: {title}",
    }


def home_summary(ranking, period_label: str) -> str:
    """ "This week 45 models used 25.6M tokens; Gemini 2.5 Flash led with 2.8M (10.9%)."."""
    if not ranking.rows or ranking.metric != "tokens":
        return f"LLM token usage rankings, {period_label.lower()}: models, authors, apps and trends."
    top = ranking.rows[0]
    name = top.entity.name if top.entity is not None else "(deleted)"
    return (
        f"{period_label}, {plural(ranking.count, 'model')} used {compact(ranking.total)} tokens; "
        f"{name} led with {compact(top.value)} ({percent(top.share)})."
    )


def entity_summary(name: str, totals, period_label: str, previous_tokens: float | None) -> str:
    """ "Claude Sonnet 4 used 1.2B tokens in 34.0K requests this week, +12.3% on the week before."."""
    sentence = (
        f"{name} used {compact(totals.tokens)} tokens in {plural(totals.requests, 'request', compact(totals.requests))} "
        f"{period_label.lower()}"
    )
    if previous_tokens:
        change = (totals.tokens - previous_tokens) * 100 / previous_tokens
        sentence += f", {'+' if change >= 0 else '−'}{abs(change):,.1f}% on the period before"
    return sentence + "."
