"""Dashboard pages and htmx fragments: data, empty states, bad input, privacy, escaping."""

import json
import re

import pytest

from ingest.services import import_events
from rankings import selectors, views
from rankings.models import App
from tests.factories import EventFactory
from tests.rankings.conftest import XSS_NAME

pytestmark = pytest.mark.django_db

ENTITY_PAGES = [
    "/models/anthropic/claude-sonnet-4/",
    "/authors/anthropic/",
    "/apps/cline-bot/",
    "/categories/programming/",
    "/providers/anthropic/",
]
SECTIONS = [
    "chart",
    "leaderboard",
    "leaderboard_rows",
    "authors",
    "categories",
    "apps",
    "trending",
    "performance",
    "tools",
    "languages",
    "context",
    "tags",
    "sessions",
]


def test_empty_install_explains_how_to_send_events(client):
    response = client.get("/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "No usage yet" in body and "ingest_key create" in body and "/api/v1/events" in body


def test_home_renders_every_section_with_charts_when_asked_for_all(client, usage):
    body = client.get("/?sections=all").content.decode()
    for section in SECTIONS:
        if section != "leaderboard_rows":
            assert f'id="{section}"' in body
    assert "deferred" not in body
    assert 'href="/?period=month&amp;sections=all"' in body  # its tabs keep every section (no script)
    # top models, author share, category, languages, context length, a tag, sessions per turns
    assert body.count('class="plot') == 7
    assert "Claude Sonnet 4" in body
    assert 'src="/static/plotly/plotly.min.js"' in body and "htmx-2.min.js" in body


def test_home_renders_its_first_sections_and_loads_the_others_as_they_scroll_into_view(client, usage):
    body = client.get("/?period=month").content.decode()
    assert body.count('class="plot') == 1 and 'id="leaderboard"' in body  # the first two sections
    later = [name for name in views.HOME_TITLES if name not in views.HOME_FIRST]
    assert later and set(later) | set(views.HOME_FIRST) == set(SECTIONS) - {"leaderboard_rows"}
    for name in later:
        placeholder = re.search(rf'<section id="{name}" class="card deferred".*?</section>', body, re.S).group(0)
        assert f'hx-get="/?period=month&amp;section={name}"' in placeholder
        assert 'hx-trigger="revealed, retry"' in placeholder and 'aria-busy="true"' in placeholder
        # Without scripts: a link to the page with every section, at this one.
        assert f'href="/?period=month&amp;sections=all#{name}"' in placeholder
    assert "sections.js" in body


@pytest.mark.parametrize("section", SECTIONS)
def test_each_section_is_served_as_a_fragment(client, usage, section):
    response = client.get(f"/?section={section}", HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    body = response.content.decode()
    assert "<html" not in body
    if section != "leaderboard_rows":
        assert f'id="{section}"' in body


def test_period_tabs_are_links_and_htmx_requests(client, usage):
    body = client.get("/").content.decode()
    assert 'href="/?period=month"' in body
    assert 'hx-get="/?period=month&amp;section=leaderboard"' in body
    assert 'hx-push-url="/?period=month"' in body


def test_leaderboard_numbers_are_the_selectors_numbers(client, usage):
    body = client.get("/?section=leaderboard&period=week", HTTP_HX_REQUEST="true").content.decode()
    top = selectors.ranking("model", selectors.period_window("week"), limit=1).rows[0]
    assert top.entity.slug == "anthropic/claude-sonnet-4"
    tokens = sum(e["tokens_prompt"] + e["tokens_completion"] for e in usage[:30])
    assert top.value == tokens
    assert f"{tokens / 1000:.1f}K" in body


def test_show_more_loads_the_next_rows(client, db):
    events = [EventFactory.build(model=f"lab/model-{n:02d}") for n in range(25)]
    import_events(events)
    first = client.get("/?section=leaderboard", HTTP_HX_REQUEST="true").content.decode()
    assert "Show more" in first and "offset=20" in first
    more = client.get("/?section=leaderboard_rows&offset=20", HTTP_HX_REQUEST="true").content.decode()
    assert more.count("<tr>") == 5 and "Show more" not in more
    # Without scripts it is a link to the page with the next rows.
    assert 'href="/?offset=20#leaderboard"' in first
    page = client.get("/?offset=20").content.decode()
    assert "<tr><td>21</td>" in page and "<tr><td>1</td>" not in page


@pytest.mark.parametrize(
    "query",
    [
        "period=forever",
        "interval=year",
        "metric=vibes",
        "category=nope",
        "offset=-3",
        "offset=9999999999",
        "app_period=all",
        "section=nonsense",
    ],
)
def test_bad_parameters_fall_back_to_defaults(client, usage, query):
    assert client.get(f"/?{query}").status_code == 200


@pytest.mark.parametrize("url", ENTITY_PAGES)
def test_entity_pages_render(client, usage, url):
    App.objects.get_or_create(slug="cline-bot", defaults={"name": "Cline", "origin": "https://cline.bot/x"})
    response = client.get(url)
    assert response.status_code == 200
    assert 'class="plot' in response.content.decode()


def test_entity_body_fragment_and_metric_switch(client, usage):
    response = client.get(
        "/models/anthropic/claude-sonnet-4/?section=body&metric=cost", HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200 and "<html" not in response.content.decode()


@pytest.mark.parametrize(
    "url",
    [
        "/models/nobody/nothing/",
        "/authors/nobody/",
        "/apps/nobody/",
        "/categories/nobody/",
        "/providers/nobody/",
    ],
)
def test_unknown_slugs_are_404(client, usage, url):
    assert client.get(url).status_code == 404


def test_private_apps_never_appear(client, usage):
    secret = App.objects.get(origin="https://secret.example")
    assert client.get(f"/apps/{secret.slug}/").status_code == 404
    pages = [
        client.get(u).content.decode()
        for u in [
            "/",
            "/?app_period=day",
            "/models/deepseek/deepseek-r1/",
            "/providers/chutes/",
            "/categories/programming/",
        ]
    ]
    assert all("Secret App" not in page for page in pages)
    # Its usage still counts for the model it used.
    assert "DeepSeek R1" in client.get("/?period=day").content.decode()


def test_user_supplied_names_are_escaped_in_html_and_charts(client, usage):
    body = client.get("/?sections=all").content.decode()
    assert XSS_NAME not in body
    assert "&lt;img src=x onerror=alert(1)&gt;" in body
    app = App.objects.get(origin="https://evil.example")
    page = client.get(f"/apps/{app.slug}/").content.decode()
    assert XSS_NAME not in page
    for script in re.findall(r'<script id="fig-[^"]+" type="application/json">(.*?)</script>', body, re.S):
        assert "<img" not in json.loads(script).__repr__()


def test_every_embedded_figure_is_a_valid_plotly_figure(client, usage):
    """charts.py builds plain figure dicts; plotly's own validator checks each kind here."""
    import plotly.graph_objects as go

    checked = 0
    for url in ["/?sections=all", "/growth/", *ENTITY_PAGES]:
        body = client.get(url).content.decode()
        for script in re.findall(
            r'<script id="fig-[^"]+" type="application/json">(.*?)</script>', body, re.S
        ):
            go.Figure(json.loads(script))  # raises ValueError on any property plotly.js does not know
            checked += 1
    assert checked >= 3 + 7 + len(ENTITY_PAGES)


def test_a_new_event_shows_at_once_despite_the_cache(client, usage, django_capture_on_commit_callbacks):
    assert "GLM 4.5" not in client.get("/?section=leaderboard", HTTP_HX_REQUEST="true").content.decode()
    with django_capture_on_commit_callbacks(execute=True):  # the commit bumps the cache generation
        import_events([EventFactory.build(model="z-ai/glm-4.5", tokens_prompt=10**7)])
    assert "GLM 4.5" in client.get("/?section=leaderboard", HTTP_HX_REQUEST="true").content.decode()


def test_pages_send_a_csp_without_inline_scripts(client, usage):
    response = client.get("/")
    policy = response["Content-Security-Policy"]
    script_src = next(p for p in policy.split(";") if p.strip().startswith("script-src"))
    assert "unsafe-inline" not in script_src
    assert "<script>" not in response.content.decode()


def test_top_apps_show_each_apps_top_model(client, usage, django_assert_max_num_queries):
    with django_assert_max_num_queries(12):  # one query for all apps' top models, not one per app
        body = client.get("/?section=apps", HTTP_HX_REQUEST="true").content.decode()
    cline_row = next(row for row in body.split("<tr>") if "Cline" in row)
    assert 'href="/models/anthropic/claude-sonnet-4/"' in cline_row
    evil_row = next(row for row in body.split("<tr>") if "evil.example" in row or "&lt;img" in row)
    assert 'href="/models/google/gemini-2.5-flash/"' in evil_row


def test_generations_coalesce_under_continuous_ingest():
    import time

    from rankings.cache import MIN_SECONDS_BETWEEN_GENERATIONS, bump_generation, generation

    first = generation()
    assert generation() == first  # nothing changed
    bump_generation()
    second = generation()
    assert second == first + 1  # the first change shows at once
    bump_generation()
    assert generation() == second  # a burst of commits: at most one new generation per interval
    time.sleep(MIN_SECONDS_BETWEEN_GENERATIONS + 0.2)
    assert generation() == second + 1  # ...and the later commit shows right after it


@pytest.mark.parametrize("url", ["ftp://files.example/app", "javascript:alert(1)"])
def test_app_links_can_only_be_web_addresses(db, url):
    """Staff edit app URLs in the admin; the pages link to them, so only http(s) is allowed."""
    from django.core.exceptions import ValidationError

    app = App(slug="linked", name="Linked", origin="https://linked.example", url=url)
    with pytest.raises(ValidationError, match="url"):
        app.full_clean()
    app.url = "https://linked.example/home"
    app.full_clean()


@pytest.mark.parametrize(
    "url",
    [
        "/",
        "/models/",
        "/models/anthropic/claude-sonnet-4/",
        "/growth/",
        "/search/?q=claude",
        "/embed/leaderboard/",
        "/embed/growth/seven/",
        "/badge/models/anthropic/claude-sonnet-4.svg",
        "/og/home.png",
        "/healthz",
    ],
)
def test_head_answers_wherever_get_does(client, usage, url):
    """HTTP asks for HEAD wherever GET works: uptime monitors and link checkers (of README
    badges too) send it."""
    get, head = client.get(url), client.head(url)
    assert get.status_code == 200, url
    assert head.status_code == 200 and head["Content-Type"] == get["Content-Type"], url
