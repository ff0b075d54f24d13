"""Share, embed, badges and link previews: framing rules, themes, privacy, escaping and the
real numbers."""

from __future__ import annotations

import io
import re

import pytest
from PIL import Image

from ingest.services import import_events
from rankings import drivers, selectors
from rankings.growth_views import GROWTH_PANELS
from rankings.models import App, Category
from rankings.templatetags.rankings_format import compact
from tests.factories import EventFactory
from tests.rankings.conftest import XSS_NAME

pytestmark = pytest.mark.django_db

EMBEDS = [
    "/embed/chart/",
    "/embed/leaderboard/?period=month",
    "/embed/authors/",
    "/embed/categories/?category=roleplay",
    "/embed/apps/",
    "/embed/trending/",
    "/embed/performance/",
    "/embed/models/anthropic/claude-sonnet-4/",
    "/embed/authors/google/",
    "/embed/apps/cline-bot/",
    "/embed/categories/programming/",
    "/embed/providers/anthropic/",
    "/embed/growth/seven/",
    "/embed/growth/waterfall/",
    "/embed/growth/price/?period=month",
]


def frame_ancestors(response) -> str:
    policy = response["Content-Security-Policy"]
    return next(p.strip() for p in policy.split(";") if p.strip().startswith("frame-ancestors"))


@pytest.mark.parametrize("url", EMBEDS)
def test_embeds_are_the_only_frameable_pages(client, usage, url):
    response = client.get(url)
    assert response.status_code == 200
    assert frame_ancestors(response) == "frame-ancestors *"
    assert "X-Frame-Options" not in response
    body = response.content.decode()
    assert 'class="embed"' in body and '<base target="_blank">' in body and "plotly.min.js" in body


@pytest.mark.parametrize(
    "url", ["/", "/models/", "/apps/cline-bot/", "/search/?q=a", "/growth/", "/nowhere/"]
)
def test_other_pages_refuse_framing(client, usage, url):
    response = client.get(url)
    assert frame_ancestors(response) == "frame-ancestors 'none'"
    assert response["X-Frame-Options"] == "DENY"


def test_frame_ancestors_come_from_the_setting(client, usage, settings):
    settings.EMBED_FRAME_ANCESTORS = ["https://wiki.example.com", "https://docs.example.com"]
    response = client.get("/embed/chart/?theme=dark")
    assert frame_ancestors(response) == "frame-ancestors https://wiki.example.com https://docs.example.com"


def test_embed_themes_compact_and_fragments(client, usage):
    dark = client.get("/embed/leaderboard/?theme=dark&compact=1").content.decode()
    assert 'data-theme="dark"' in dark and 'class="embed compact"' in dark
    auto = client.get("/embed/leaderboard/?theme=<script>").content.decode()
    assert "data-theme" not in auto and "<script>" not in auto.split("</head>")[1]
    tab = client.get("/embed/leaderboard/?period=month&section=leaderboard", HTTP_HX_REQUEST="true")
    assert "<html" not in tab.content.decode() and 'id="leaderboard"' in tab.content.decode()
    body = client.get("/embed/chart/").content.decode()
    assert 'hx-get="/embed/chart/?interval=day&amp;section=chart"' in body  # tabs swap within the embed
    assert client.get("/embed/nonsense/").status_code == 404


def test_private_apps_have_no_embed_badge_or_preview(client, usage):
    secret = App.objects.get(origin="https://secret.example")
    for url in (
        f"/embed/apps/{secret.slug}/",
        f"/badge/apps/{secret.slug}.svg",
        f"/og/apps/{secret.slug}.png",
    ):
        private, missing = client.get(url), client.get(url.replace(secret.slug, "no-such-app"))
        assert private.status_code == missing.status_code == 404
        assert private.content == missing.content
    assert "Secret App" not in client.get("/embed/apps/?app_period=day").content.decode()


def test_badges_show_rank_category_and_tokens(client, usage):
    response = client.get("/badge/apps/cline-bot.svg")
    assert response["Content-Type"] == "image/svg+xml; charset=utf-8"
    assert "max-age=3600" in response["Cache-Control"]
    svg = response.content.decode()
    cline = selectors.ranking("app", selectors.period_window("week"), limit=1).rows[0]
    assert cline.entity.name == "Cline"
    assert f"#1 in programming this week · {compact(cline.value)} tokens" in svg
    model = client.get("/badge/models/google/gemini-2.5-flash.svg?period=month").content.decode()
    assert "#2 this month" in model
    in_category = client.get("/badge/models/google/gemini-2.5-flash.svg?category=roleplay").content.decode()
    assert "#1 in roleplay this week" in in_category
    unused = client.get("/badge/models/openai/gpt-4o-mini.svg").content.decode()
    assert "not ranked this week" in unused
    assert client.get("/badge/authors/google.svg").status_code == 404


def test_badges_escape_names(client, usage):
    Category.objects.filter(slug="programming").update(name='"><svg onload=alert(1)>')
    svg = client.get("/badge/apps/cline-bot.svg").content.decode()
    assert "<svg onload" not in svg and "&quot;&gt;&lt;svg onload=alert(1)&gt;" in svg


@pytest.mark.parametrize(
    "url", ["/og/home.png", "/og/models/anthropic/claude-sonnet-4.png", "/og/apps/evil-example.png", "/og/categories/roleplay.png"]
)
def test_preview_images_are_pngs_of_the_chart(client, usage, url):
    response = client.get(url)
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    image = Image.open(io.BytesIO(response.content))
    assert image.size == (1200, 630)
    colors = image.convert("RGB").getcolors(1_000_000)
    assert len(colors) > 20  # bars and text, not a blank card


def test_pages_carry_preview_meta_with_real_numbers(client, usage):
    body = client.get("/").content.decode()
    description = re.search(r'<meta property="og:description" content="([^"]*)"', body).group(1)
    ranking = selectors.ranking("model", selectors.period_window("week"))
    top = ranking.rows[0]
    assert description == (
        f"This week, 3 models used {compact(ranking.total)} tokens; "
        f"Claude Sonnet 4 led with {compact(top.value)} ({top.share * 100:.1f}%)."
    )
    assert '<meta property="og:image" content="http://testserver/og/home.png">' in body
    assert '<meta name="twitter:card" content="summary_large_image">' in body
    model = client.get("/models/anthropic/claude-sonnet-4/").content.decode()
    change = (top.value - top.previous_value) * 100 / top.previous_value
    assert (
        f'content="Claude Sonnet 4 used {compact(top.value)} tokens in 30 requests this week, '
        f'+{change:.1f}% on the period before."'
    ) in model
    assert "http://testserver/og/models/anthropic/claude-sonnet-4.png" in model
    growth = client.get("/growth/").content.decode()
    assert '<meta property="og:description" content="' in growth and "tokens" in growth
    evil = client.get("/apps/evil-example/").content.decode()
    assert XSS_NAME not in evil
    once = {"origin": "https://once.example", "app_name": "Once", "tokens_completion": 10}
    import_events([EventFactory.build(**once, tokens_prompt=100, uncached=True)])
    once = client.get("/apps/once-example/").content.decode()
    assert 'content="Once used 110 tokens in 1 request this week."' in once


def test_sections_have_copy_link_and_embed_controls(client, usage):
    body = client.get("/?period=month&sections=all").content.decode()
    for section in ("chart", "leaderboard", "authors", "categories", "apps", "trending", "performance"):
        assert f'href="/?period=month#{section}" data-copy-link' in body
        assert f'data-embed="/embed/{section}/?period=month"' in body
    model = client.get("/models/anthropic/claude-sonnet-4/?interval=day").content.decode()
    assert 'href="/models/anthropic/claude-sonnet-4/?interval=day#usage" data-copy-link' in model
    assert 'data-embed="/embed/models/anthropic/claude-sonnet-4/?interval=day"' in model
    assert 'id="embed-dialog"' in body


def test_every_chart_has_a_data_table_alternative(client, usage):
    for url in (
        "/",
        "/growth/",
        "/models/anthropic/claude-sonnet-4/",
        "/apps/evil-example/",
        "/embed/chart/",
    ):
        body = client.get(url).content.decode()
        assert body.count('class="plot') == body.count('<details class="chart-data">'), url
        assert XSS_NAME not in body and "&amp;lt;" not in body  # escaped once, not twice
    home = client.get("/?interval=day").content.decode()
    table = home.split('<details class="chart-data">', 1)[1].split("</details>", 1)[0]
    assert "<caption>Top models per period</caption>" in table and "anthropic/claude-sonnet-4" in table
    assert re.search(r'<th scope="row">\d{4}-\d{2}-\d{2}</th>', table)


def test_growth_panels_have_links_embeds_and_an_empty_state(client, usage):
    # Windows the fixture's usage is in whatever the day and hour: this week so far (UTC), and
    # the last 7 x 24 hours in any zone (a calendar period in Kolkata may have just begun).
    body = client.get("/growth/?period=week").content.decode()
    assert list(GROWTH_PANELS)[0] == "seven"  # the page's first panel
    for name, panel in GROWTH_PANELS.items():
        assert body.count(f'id="growth-{name}"') == 1
        assert f'href="/growth/?period=week#growth-{name}" data-copy-link' in body
        assert f'data-embed="/embed/growth/{name}/?period=week"' in body
        embed = client.get(f"/embed/growth/{name}/?tz=Asia/Kolkata").content.decode()
        assert f'<h2 id="growth-{name}-title">{panel.title}</h2>' in embed
        assert f'href="/growth/?tz=Asia%2FKolkata#growth-{name}" rel="noopener"' in embed
        assert XSS_NAME not in embed and "&amp;lt;" not in embed  # escaped once, not twice
    embed = client.get("/embed/growth/mix/").content.decode()
    assert embed.count('class="plot') == 1 and "Token mix of the change" in embed
    assert client.get("/embed/growth/nothing/").status_code == 404


def test_the_seven_drivers_embed_has_every_driver_with_its_chart_and_sentence(client, usage):
    embed = client.get("/embed/growth/seven/?theme=dark").content.decode()
    page = client.get("/growth/").content.decode()
    for key in drivers.KEYS:
        assert embed.count(f'id="driver-{key}"') == page.count(f'id="driver-{key}"') == 1
    rows = embed.split('<ol class="drivers">', 1)[1].split("</ol>", 1)[0]
    assert rows.count('class="plot driver-plot"') == rows.count('<details class="chart-data">') == 7
    assert page.split('<ol class="drivers">', 1)[1].split("</ol>", 1)[0] == rows  # the page's panel
    assert 'data-theme="dark"' in embed and "Seven drivers · Tokenrank" in embed


def test_growth_embed_without_usage(client, db):
    response = client.get("/embed/growth/waterfall/")
    assert response.status_code == 200 and "No usage yet" in response.content.decode()


def test_growth_embed_of_an_empty_window_says_the_window_is_empty(client, usage):
    body = client.get("/embed/growth/waterfall/?start=2020-01-01&end=2020-02-01").content.decode()
    assert "No usage in this window" in body and "No usage yet" not in body


@pytest.mark.parametrize("url", EMBEDS)
def test_embeds_have_no_share_controls_only_their_link_to_the_page(client, usage, url):
    """Inside an iframe "Embed" has no dialog to open: an embed's only link out is its foot."""
    body = client.get(url).content.decode()
    assert "data-copy-link" not in body and "data-embed=" not in body
    assert 'class="embed-foot"' in body
    if "/leaderboard/" in url:  # nor its tab swaps
        tab = client.get(url + "&section=leaderboard", HTTP_HX_REQUEST="true").content.decode()
        assert 'id="leaderboard"' in tab and "data-copy-link" not in tab


def test_growth_embeds_say_their_window_and_comparison_like_the_page(client, usage):
    page = client.get("/growth/?period=month").content.decode()
    said = re.search(r'<p class="muted">([^<]+)</p>', page).group(1)
    assert "vs the same time last month" in said or "month over month" in said
    for name in GROWTH_PANELS:
        embed = client.get(f"/embed/growth/{name}/?period=month").content.decode()
        assert f'<p class="muted small">{said}</p>' in embed


@pytest.mark.parametrize(
    "query",
    [
        "?tz=America/New_York&start=2026-03-08T02:30&end=2026-03-09",  # a time the zone skips
        "?start=2026-03-09&end=2026-03-08",  # reversed
        "?period=all",
    ],
)
def test_growth_embeds_say_when_the_window_asked_for_is_refused(client, usage, query):
    page = client.get(f"/growth/{query}").content.decode()
    notice = re.search(r'<p class="notice" role="status">([^<]+)</p>', page).group(1)
    assert "Showing the last 7 days instead." in notice
    for name in ("seven", "waterfall"):
        embed = client.get(f"/embed/growth/{name}/{query}").content.decode()
        assert f'<p class="notice" role="status">{notice}</p>' in embed


def test_growth_embeds_of_different_windows_are_cached_apart(client, usage):
    """The page's form sends ``until`` (its last day): an embed so addressed is its own window."""
    start = client.get("/embed/growth/waterfall/?start=2026-11-01").content.decode()
    until = client.get("/embed/growth/waterfall/?start=2026-11-01&until=2026-11-07").content.decode()
    assert "Showing the last 7 days instead." in start
    assert "Showing the last 7 days instead." not in until and "Nov 1, 2026 – Nov 7, 2026 UTC" in until


def test_growth_embeds_are_cached_by_what_they_show(client, usage):
    """The cache key is what the panel shows (the window as read, its notices), not a list of
    query names: the same window asked for in two ways is one entry, and a zone the page
    cannot use shows its warning even after the default was cached."""
    plain = client.get("/embed/growth/seven/").content.decode()
    assert "Unknown time zone" not in plain
    assert "Unknown time zone" in client.get("/embed/growth/seven/?tz=Bogus/Zone").content.decode()
    assert "Unknown time zone" not in client.get("/embed/growth/seven/").content.decode()
    by_until = client.get("/embed/growth/seven/?start=2026-11-01&until=2026-11-07").content.decode()
    by_end = client.get("/embed/growth/seven/?start=2026-11-01&end=2026-11-08").content.decode()
    assert by_until == by_end and "Nov 1, 2026 – Nov 7, 2026" in by_end
