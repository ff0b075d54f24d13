"""Index pages, search and error pages: full pages and htmx fragments from one view,
search, filters, sort, pages, privacy and escaping."""

from __future__ import annotations

import re

import pytest

from ingest.services import import_events
from rankings.models import App, LLMModel
from tests.factories import EventFactory, LLMModelFactory
from tests.rankings.conftest import XSS_NAME

pytestmark = pytest.mark.django_db

INDEXES = ["/models/", "/apps/", "/authors/", "/providers/", "/categories/"]


def rows(body: str) -> list[str]:
    """The rows of the index table (one string per <tr> of the body)."""
    table = body.split("<tbody>", 1)[1].split("</tbody>", 1)[0] if "<tbody>" in body else ""
    return re.findall(r"<tr>(.*?)</tr>", table, re.S)


def fragment(client, url: str):
    return client.get(url, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="index-results")


@pytest.mark.parametrize("url", INDEXES)
def test_index_pages_render_in_the_site_look(client, usage, url):
    response = client.get(url)
    assert response.status_code == 200
    body = response.content.decode()
    assert "<html" in body and 'class="topbar"' in body and 'id="index-results"' in body
    assert 'id="index-form"' in body and 'name="q"' in body
    assert 'property="og:description"' in body and 'name="twitter:card"' in body
    assert "HX-Request" in response["Vary"]


@pytest.mark.parametrize("url", INDEXES)
def test_the_same_view_answers_the_htmx_fragment(client, usage, url):
    response = fragment(client, url)
    body = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in body and body.lstrip().startswith('<section id="index-results"')


def test_models_index_lists_every_catalog_model_with_its_facts(client, usage):
    body = client.get("/models/?sort=name").content.decode()
    assert f"{LLMModel.objects.count()} models" in body
    body = client.get("/models/").content.decode()
    first = rows(body)[0]
    assert "Claude Sonnet 4" in first  # the most used this week comes first
    assert "Anthropic" in first and "$3.00" in first and "$15.00" in first and "1.0M" in first
    gemini = next(r for r in rows(body) if "Gemini 2.5 Flash" in r)
    assert "Google Vertex" in gemini and ":free" in gemini


def test_search_matches_every_word_in_names_and_slugs(client, usage):
    body = fragment(client, "/models/?q=claude+sonnet").content.decode()
    assert rows(body) and all("claude" in r.lower() and "sonnet" in r.lower() for r in rows(body))
    body = fragment(client, "/models/?q=deepseek/deepseek-r1").content.decode()
    assert "DeepSeek R1" in body
    body = fragment(client, "/models/?q=zzzz-nothing").content.decode()
    assert rows(body) == [] and "No models match" in body and "Clear the search" in body


@pytest.mark.parametrize(
    ("query", "keep", "drop"),
    [
        ("author=google", "Gemini 2.5 Flash", "Claude Sonnet 4"),
        ("provider=google-vertex", "Gemini 2.5 Flash", "Claude Sonnet 4"),
        pytest.param("price_min=2&price_max=4", "Claude Sonnet 4", "Gemini 2.5 Flash", id="price-range"),
        ("reasoning=1", "DeepSeek R1", "Gemini 2.0 Flash"),
        ("context=200000", "Gemini 2.5 Flash", "DeepSeek R1"),
        ("price_max=1", "Gemini 2.5 Flash", "Claude Sonnet 4"),
    ],
)
def test_model_filters(client, usage, query, keep, drop):
    body = fragment(client, f"/models/?{query}").content.decode()
    names = " ".join(rows(body))
    assert keep in names and drop not in names


def test_sorts_order_the_rows(client, usage):
    def first_prices(sort: str) -> list[float]:
        body = fragment(client, f"/models/?sort={sort}").content.decode()
        return [float(p) for r in rows(body)[:5] for p in re.findall(r"\$([\d.]+)</td>", r)[:1]]

    prices = first_prices("price")
    assert prices == sorted(prices)
    context_body = fragment(client, "/models/?sort=context").content.decode()
    assert re.search(r'class="num">[\d.]+M</td>', rows(context_body)[0])
    newest = fragment(client, "/models/?sort=newest").content.decode()
    assert "–" not in re.findall(r"<td>([^<]*)</td></tr>|$", rows(newest)[0])[0]


def test_pages_link_to_each_other_and_keep_the_query(client, db):
    LLMModelFactory.create_batch(30)
    body = client.get("/models/?sort=name&metric=requests").content.decode()
    count = LLMModel.objects.count()
    assert count > 50  # the starting catalog spans pages
    assert 'href="/models/?metric=requests&amp;sort=name&amp;page=2"' in body
    second = fragment(client, "/models/?sort=name&metric=requests&page=2").content.decode()
    assert len(rows(second)) == min(50, count - 50)
    assert fragment(client, "/models/?page=999").status_code == 200  # clamped to the last page


@pytest.mark.parametrize(
    "query",
    [
        "sort=vibes",
        "period=forever",
        "metric=\u202e",
        "page=-1",
        "price_min=abc",
        "price_max=1e999",
        "author=nobody",
        "context=7",
        "reasoning=maybe",
        "q=" + "x" * 500,
        "category=%F0%9F%92%A5",
    ],
)
def test_bad_parameters_fall_back_to_defaults(client, usage, query):
    for url in ("/models/", "/apps/"):
        assert client.get(f"{url}?{query}").status_code == 200


def test_apps_index_hides_private_apps_and_filters_by_category(client, usage):
    body = client.get("/apps/").content.decode()
    assert "Cline" in body and "Secret App" not in body
    assert "Secret App" not in client.get("/apps/?q=secret").content.decode()
    roleplay = " ".join(rows(fragment(client, "/apps/?category=roleplay").content.decode()))
    assert "&lt;img" in roleplay and "<img src=x" not in roleplay  # the hostile app, escaped
    assert "Cline" not in roleplay


def test_hostile_names_are_escaped_on_index_and_search(client, usage):
    for url in ("/apps/", "/apps/?q=img", "/search/?q=img"):
        body = client.get(url).content.decode()
        assert XSS_NAME not in body
        assert "&lt;img src=x onerror=alert(1)&gt;" in body
    body = client.get('/models/?q="><svg onload=alert(1)>').content.decode()
    assert "<svg onload" not in body and "&quot;&gt;&lt;svg onload=alert(1)&gt;" in body


def test_catalog_indexes_count_models_and_shares(client, usage):
    body = client.get("/authors/").content.decode()
    anthropic = next(r for r in rows(body) if ">Anthropic<" in r)
    assert re.search(r'class="num">\d+</td>', anthropic)
    shares = [
        float(s)
        for r in rows(client.get("/categories/").content.decode())
        for s in re.findall(r"([\d.]+)%</td>", r)[:1]
    ]
    assert abs(sum(shares) - 100) < 1


def test_header_search_suggests_and_the_search_page_groups(client, usage):
    body = client.get("/").content.decode()
    assert 'action="/search/"' in body and 'hx-get="/search/"' in body
    suggestions = client.get("/search/?q=deepseek", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="site-suggest")
    text = suggestions.content.decode()
    assert (
        "<html" not in text
        and 'href="/models/deepseek/deepseek-r1/"' in text
        and 'href="/authors/deepseek/"' in text
    )
    page = client.get("/search/?q=goog").content.decode()
    assert "<html" in page and "Models" in page and "Authors" in page and "Gemini" in page
    assert "Nothing matches" in client.get("/search/?q=qqqqqq").content.decode()
    assert "Secret App" not in client.get("/search/?q=secret").content.decode()


def test_new_usage_shows_on_the_index_at_once(client, usage, django_capture_on_commit_callbacks):
    assert "GLM 4.5" not in " ".join(rows(client.get("/models/?sort=usage").content.decode())[:3])
    with django_capture_on_commit_callbacks(execute=True):
        import_events([EventFactory.build(model="z-ai/glm-4.5", tokens_prompt=10**8)])
    assert "GLM 4.5" in rows(client.get("/models/").content.decode())[0]


def test_an_app_new_since_the_first_days_were_read_has_its_first_day(client, usage, django_capture_on_commit_callbacks):
    """First days are kept for minutes; a row listed with usage never shows none."""
    assert client.get("/api/v1/apps").status_code == 200  # first days read and kept
    with django_capture_on_commit_callbacks(execute=True):
        import_events([EventFactory.build(origin="https://brand-new.example", app_name="Brand New")])
    (row,) = client.get("/api/v1/apps?q=brand").json()["results"]
    assert row["tokens"] and row["first_seen"]


@pytest.mark.parametrize("url", ["/nowhere/", "/models/nobody/nothing/", "/apps/nobody/"])
def test_404_pages_are_in_the_site_look_with_search(client, usage, url):
    response = client.get(url)
    assert response.status_code == 404
    body = response.content.decode()
    assert 'class="topbar"' in body and "Page not found" in body and 'action="/search/"' in body


def test_private_app_404_is_the_same_as_a_missing_one(client, usage):
    secret = App.objects.get(origin="https://secret.example")
    private = client.get(f"/apps/{secret.slug}/")
    missing = client.get("/apps/no-such-app-at-all/")
    assert private.status_code == missing.status_code == 404
    assert private.content == missing.content


def test_api_errors_stay_json(client, usage):
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    response = client.get("/api/v1/apps/nobody")
    assert response.status_code == 404 and "error" in response.json()


def test_500_page_is_in_the_site_look_and_json_for_the_api(client, monkeypatch):
    from rankings import browse

    def boom(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(browse.indexes, "apply", boom)
    client.raise_request_exception = False
    response = client.get("/models/")
    assert response.status_code == 500
    assert (
        "Something went wrong" in response.content.decode() and 'class="topbar"' in response.content.decode()
    )
    from django.test import RequestFactory

    from rankings.errors import server_error

    api = server_error(RequestFactory().get("/api/v1/models"))
    assert api.status_code == 500 and api["Content-Type"] == "application/json"


def test_400_and_403_pages(client):
    from django.test import RequestFactory

    from rankings.errors import bad_request, permission_denied

    for handler, status in ((bad_request, 400), (permission_denied, 403)):
        response = handler(RequestFactory().get("/models/"))
        assert response.status_code == status and 'class="topbar"' in response.content.decode()
    # A host outside ALLOWED_HOSTS is a real 400 through the handler.
    response = client.get("/", HTTP_HOST="evil.example")
    assert response.status_code == 400 and "Bad request" in response.content.decode()


def test_list_api_has_the_index_pages_rows(client, usage):
    data = client.get("/api/v1/models?author=google&sort=name&limit=2").json()
    assert data["count"] == sum(1 for m in LLMModel.objects.filter(author__slug="google"))
    assert len(data["results"]) == 2 and data["next"].endswith("page=2")
    names = [r["entity"]["name"] for r in data["results"]]
    assert names == sorted(names, key=str.casefold)
    top = client.get("/api/v1/models").json()["results"][0]
    assert top["entity"]["link"] == "/models/anthropic/claude-sonnet-4/" and top["rank"] == 1
    assert top["author"]["slug"] == "anthropic" and top["providers"][0]["slug"] == "anthropic"
    assert top["tokens"] == top["value"] > 0 and top["first_seen"]
    apps = client.get("/api/v1/apps?q=e").json()["results"]
    assert all(a["entity"]["name"] != "Secret App" for a in apps)
    past = client.get(f"/api/v1/models?author=google&limit=2&page={data['count'] // 2 + 2}")
    assert past.status_code == 400 and past.json()["error"]["field"] == "page"
    capitals = client.get("/api/v1/models?author=Google&sort=name&limit=2")
    assert capitals.status_code == 200 and capitals.json()["count"] == data["count"]
    authors = client.get("/api/v1/authors?sort=models").json()["results"]
    assert authors[0]["models"] >= authors[-1]["models"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("sort=vibes", "sort"),
        ("author=nobody", "author"),
        ("price_min=x", "price_min"),
        ("limit=0", "limit"),
        ("page=0", "page"),
        ("q=" + "x" * 101, "q"),
        ("context=7", "context"),
    ],
)
def test_list_api_rejects_bad_parameters_naming_them(client, db, query, field):
    response = client.get(f"/api/v1/models?{query}")
    assert response.status_code == 400 and response.json()["error"]["field"] == field


def test_list_api_csv_and_search(client, usage):
    response = client.get("/api/v1/models?format=csv&author=google")
    assert response["Content-Type"].startswith("text/csv")
    header, *lines = response.content.decode().splitlines()
    assert (
        "providers" in header
        and "entity_slug" in header
        and len(lines) == LLMModel.objects.filter(author__slug="google").count()
    )
    found = client.get("/api/v1/search?q=deep").json()["results"]
    assert found["authors"][0]["slug"] == "deepseek" and found["models"]
    assert client.get("/api/v1/search?q=secret").json()["results"]["apps"] == []
    assert client.get("/api/v1/search").status_code == 400


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/rankings/models?start=2001-01-01T00:00:00Z&end=2001-01-02T00:00:00Z",
        "/api/v1/trending/apps?start=2001-01-01T00:00:00Z&end=2001-01-02T00:00:00Z",
        "/api/v1/datasets/rankings-daily?start=2001-01-01T00:00:00Z&end=2001-01-02T00:00:00Z",
        "/api/v1/models?q=nothing-matches-this",
    ],
)
def test_an_empty_csv_list_still_has_its_header(client, db, url):
    response = client.get(url + "&format=csv")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert response.content.decode().splitlines()[0].count(",") >= 2


@pytest.mark.parametrize(
    "url",
    [
        "/models/?author=%00",
        "/apps/?category=a%00b",
        "/api/v1/models?provider=%00",
        "/badge/models/anthropic/claude-sonnet-4.svg?category=%00",
        "/badge/apps/%00.svg",
        "/embed/models/%00/%00/",
        "/og/apps/a%00b.png",
    ],
)
def test_a_nul_character_anywhere_in_the_address_is_a_400(client, usage, url):
    response = client.get(url)
    assert response.status_code == 400
    if url.startswith("/api/"):
        assert response.json()["error"] == {
            "code": "invalid",
            "message": "provider: must not contain NUL characters.",
            "field": "provider",
        }
    else:
        assert b"Bad request" in response.content and b'name="q"' in response.content


def test_an_api_parameter_given_twice_is_a_400_not_the_last_value(client, usage):
    error = {"code": "invalid", "message": "period: given more than once.", "field": "period"}
    for path in ("/api/v1/models", "/api/v1/growth", "/api/v1/rankings/models", "/api/v1/tags/language"):
        response = client.get(f"{path}?period=day&limit=5&period=week")
        assert (response.status_code, response.json()["error"]) == (400, error), path
    response = client.get("/api/v1/search?q=a&q=b")
    assert response.status_code == 400 and response.json()["error"]["field"] == "q"


def test_a_page_parameter_given_twice_still_answers(client, usage):
    """A page's form may send a name twice (a hidden copy and a control): pages read the last.
    A name no read takes is ignored in the API however often it comes."""
    assert client.get("/?period=week&period=month").status_code == 200
    assert client.get("/api/v1/rankings/models?utm=a&utm=b").status_code == 200


def test_a_refused_form_post_gets_the_site_403_page(db):
    from django.test import Client

    response = Client(enforce_csrf_checks=True).post("/admin/login/", {"username": "a"})
    assert response.status_code == 403
    assert b"Not allowed" in response.content and b"CSRF verification failed" not in response.content
