"""A merged app's or model's old slug keeps working (and a model's dated permaslug): its page,
API detail and filters, embeds, badges and preview images redirect permanently to the
survivor's, query string kept; a private survivor answers exactly as a missing app does."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from ingest.services import import_events
from rankings.models import App, AppSlugAlias, LLMModel
from rankings.services import merge_apps, merge_models, set_apps_public
from tests.factories import EventFactory

pytestmark = pytest.mark.django_db

# (URL under the old slug, the same URL under the survivor's); "{}" is the slug.
REDIRECTED = [
    "/apps/{}/",
    "/apps/{}/?period=month&interval=week",
    "/api/v1/apps/{}",
    "/api/v1/apps/{}?period=month&format=json",
    "/embed/apps/{}/?theme=dark&compact=1",
    "/badge/apps/{}.svg?period=month",
    "/og/apps/{}.png",
]
# The same for models: "{}" is a model's slug, author/name.
MODEL_REDIRECTED = [
    "/models/{}/",
    "/models/{}/?period=month&interval=week",
    "/api/v1/models/{}",
    "/api/v1/models/{}?period=month&format=json",
    "/embed/models/{}/?theme=dark&compact=1",
    "/badge/models/{}.svg?period=month&category=programming",
    "/og/models/{}.png",
]
# Reads that take a model= filter.
MODEL_FILTERED = ("/api/v1/rankings/apps", "/api/v1/timeseries", "/api/v1/tags/task", "/api/v1/sessions")


@pytest.fixture
def merged(db, client):
    """Two apps of one title merged in the admin's one click: "kilo" (the first seen)
    survives, "app-kilo" is merged away."""
    import_events(EventFactory.build_batch(4, origin="https://kilo.example", app_name="Kilo Code"))
    import_events(EventFactory.build_batch(3, origin="https://app.kilo.example", app_name="Kilo Code"))
    survivor, merged_away = App.objects.get(slug="kilo-example"), App.objects.get(slug="app-kilo-example")
    client.force_login(User.objects.create_superuser("root", password="x"))
    assert client.post(reverse("admin:rankings_app_merge_same_title"), {"title": "kilo code"}).status_code == 302
    client.logout()
    assert not App.objects.filter(pk=merged_away.pk).exists()
    return survivor, merged_away.slug


@pytest.mark.parametrize(
    ("merge", "url"),
    [*(("merged", url) for url in REDIRECTED), *(("merged_model", url) for url in MODEL_REDIRECTED)],
)
def test_an_old_slug_redirects_permanently_to_the_survivor(client, request, merge, url):
    survivor, old = request.getfixturevalue(merge)
    response = client.get(url.format(old))
    assert response.status_code == 301
    assert response["Location"] == url.format(survivor.slug)
    assert client.get(response["Location"]).status_code == 200


def test_an_old_slug_in_an_api_filter_redirects_with_the_other_parameters_kept(client, merged):
    survivor, old = merged
    for path in ("/api/v1/rankings/models", "/api/v1/timeseries", "/api/v1/tags/task", "/api/v1/sessions"):
        response = client.get(path, {"period": "month", "app": old, "metric": "requests"})
        assert response.status_code == 301, path
        assert response["Location"] == f"{path}?period=month&app={survivor.slug}&metric=requests"
        assert client.get(response["Location"]).status_code == 200, path
    assert client.get("/api/v1/rankings/models", {"app": "no-such-app"}).status_code == 400


def test_merges_in_a_chain_redirect_in_one_hop_and_live_slugs_win(client, merged):
    survivor, old = merged
    import_events(EventFactory.build_batch(2, origin="https://third.example", app_name="Third"))
    import_events(EventFactory.build_batch(2))  # Cline, the factory's app
    third = App.objects.get(slug="third-example")
    merge_apps(third, [survivor])
    for slug in (old, survivor.slug):
        assert client.get(f"/apps/{slug}/")["Location"] == "/apps/third-example/"
    assert set(third.old_slugs.values_list("slug", flat=True)) == {old, survivor.slug}
    # A new origin that slugifies like an old slug gets another slug: the old one keeps redirecting.
    import_events([EventFactory.build(origin="https://app.kilo-example", app_name="Newcomer")])
    newcomer = App.objects.get(origin="https://app.kilo-example")
    assert newcomer.slug != old
    assert client.get(f"/apps/{old}/")["Location"] == "/apps/third-example/"
    # An app the operator later names with an old slug answers under it; merged into yet
    # another app, the slug then redirects there.
    App.objects.filter(pk=newcomer.pk).update(slug=old)
    assert client.get(f"/apps/{old}/").status_code == 200
    merge_apps(App.objects.get(slug="cline-bot"), [App.objects.get(pk=newcomer.pk)])
    assert AppSlugAlias.objects.get(slug=old).app.slug == "cline-bot"
    assert client.get(f"/apps/{old}/")["Location"] == "/apps/cline-bot/"


def test_a_private_survivor_answers_as_a_missing_app(client, merged):
    survivor, old = merged
    set_apps_public([survivor], False)
    for url in REDIRECTED:
        moved, missing = client.get(url.format(old)), client.get(url.format("no-such-app"))
        assert moved.status_code == missing.status_code == 404, url
        assert moved.content == missing.content, url
    filtered = client.get("/api/v1/rankings/models", {"app": old})
    assert filtered.status_code == 400 and filtered.json()["error"]["message"] == f"No app with slug {old!r}."


def test_a_slug_renamed_in_the_admin_redirects_too(client, merged):
    survivor, old = merged
    client.force_login(User.objects.get(username="root"))
    form = {
        "name": survivor.name,
        "slug": "kilo-code",
        "description": "",
        "url": survivor.url,
        "origin": survivor.origin,
        "is_public": "on",
        "origins-TOTAL_FORMS": "0",
        "origins-INITIAL_FORMS": "0",
    }
    response = client.post(reverse("admin:rankings_app_change", args=[survivor.pk]), form)
    assert response.status_code == 302, response.content.decode()[:3000]
    client.logout()
    for slug in (old, "kilo-example"):
        response = client.get(f"/badge/apps/{slug}.svg?period=day")
        assert (response.status_code, response["Location"]) == (301, "/badge/apps/kilo-code.svg?period=day")
    # Renamed back: its own slug again, and no longer an old one.
    client.force_login(User.objects.get(username="root"))
    client.post(reverse("admin:rankings_app_change", args=[survivor.pk]), {**form, "slug": "kilo-example"})
    assert client.get("/apps/kilo-example/").status_code == 200
    assert set(survivor.old_slugs.values_list("slug", flat=True)) == {old, "kilo-code"}


@pytest.fixture
def merged_model(db, client):
    """A model that arrived under an undated snapshot slug, merged in the admin into the
    model it is (a different author's slug, as a lab's renamed prefix would be)."""
    import_events(EventFactory.build_batch(4, model="openai/gpt-4o-mini"))
    import_events(EventFactory.build_batch(3, model="open-ai/gpt-4o-mini-snapshot"))
    survivor = LLMModel.objects.get(slug="openai/gpt-4o-mini")
    stray = LLMModel.objects.get(slug="open-ai/gpt-4o-mini-snapshot")
    client.force_login(User.objects.create_superuser("root", password="x"))
    changelist = reverse("admin:rankings_llmmodel_changelist")
    form = {"action": "merge", "_selected_action": [survivor.pk, stray.pk], "target": survivor.pk}
    assert client.post(changelist, form).status_code == 302
    client.logout()
    assert not LLMModel.objects.filter(pk=stray.pk).exists()
    return survivor, stray.slug


@pytest.mark.parametrize("url", MODEL_REDIRECTED)
def test_a_dated_permaslug_or_a_slug_with_capitals_redirects_to_its_model(client, url):
    """Exports name models by their dated permaslugs (the catalog's, and those ingest
    records); slugs are lower case, so one typed or pasted with capitals is no 404 either."""
    import_events([EventFactory.build(model="acme/widget-2025-01-02")])
    other_slugs = {
        "openai/gpt-4o-mini-2024-07-18": "openai/gpt-4o-mini",
        "acme/widget-2025-01-02": "acme/widget",
        "Acme/Widget": "acme/widget",
        "OpenAI/GPT-4o-mini-2024-07-18": "openai/gpt-4o-mini",
    }
    for other, model in other_slugs.items():
        response = client.get(url.format(other))
        assert (response.status_code, response["Location"]) == (301, url.format(model))
        assert client.get(response["Location"]).status_code == 200
    for unknown in ("acme/widget-2025-01-03", "Acme/Gadget"):
        assert client.get(url.format(unknown)).status_code == 404


def test_an_old_model_slug_in_an_api_filter_redirects_with_the_other_parameters_kept(client, merged_model):
    survivor, old = merged_model
    for slug in (old, "openai/gpt-4o-mini-2024-07-18", "OpenAI/GPT-4o-mini"):
        for path in MODEL_FILTERED:
            response = client.get(path, {"period": "month", "model": slug, "metric": "requests"})
            assert response.status_code == 301, path
            moved = f"{path}?period=month&model={quote(survivor.slug, safe='')}&metric=requests"
            assert response["Location"] == moved
            assert client.get(response["Location"]).status_code == 200, path
    assert client.get("/api/v1/rankings/apps", {"model": "openai/no-such-model"}).status_code == 400


def test_model_merges_in_a_chain_redirect_in_one_hop(client, merged_model):
    survivor, old = merged_model
    import_events(EventFactory.build_batch(2, model="openai/gpt-4o-mini-2"))
    third = LLMModel.objects.get(slug="openai/gpt-4o-mini-2")
    merge_models(third, [survivor])
    for slug in (old, survivor.slug, "openai/gpt-4o-mini-2024-07-18"):
        response = client.get(f"/api/v1/models/{slug}?period=day")
        moved = "/api/v1/models/openai/gpt-4o-mini-2?period=day"
        assert (response.status_code, response["Location"]) == (301, moved)


def test_a_slug_that_is_also_the_routes_plural_is_replaced_only_where_it_is_the_slug(client, merged):
    survivor, _ = merged
    AppSlugAlias.objects.create(slug="apps", app=survivor)
    response = client.get("/embed/apps/apps/?theme=dark")
    assert (response.status_code, response["Location"]) == (301, f"/embed/apps/{survivor.slug}/?theme=dark")


def test_the_schema_declares_the_redirect_of_the_details_with_old_slugs(client, db):
    paths = client.get("/api/schema/?format=json").json()["paths"]
    for path in ("/api/v1/models/{author}/{name}", "/api/v1/apps/{slug}"):
        moved = paths[path]["get"]["responses"]["301"]
        assert "Location" in moved["headers"] and "content" not in moved, path
    assert "301" not in paths["/api/v1/authors/{slug}"]["get"]["responses"]


def test_a_model_slug_renamed_in_the_admin_redirects_and_still_counts(client, merged_model):
    survivor, old = merged_model
    client.force_login(User.objects.get(username="root"))
    change_url = reverse("admin:rankings_llmmodel_change", args=[survivor.pk])
    form = client.get(change_url).context["adminform"].form
    payload = {k: v for k, v in form.initial.items() if v is not None}
    payload.update({"slug": "openai/gpt-4o-mini-renamed", "author": survivor.author_id})
    assert client.post(change_url, payload).status_code == 302
    client.logout()
    for slug in (old, "openai/gpt-4o-mini", "openai/gpt-4o-mini-2024-07-18"):
        response = client.get(f"/badge/models/{slug}.svg?period=day")
        moved = "/badge/models/openai/gpt-4o-mini-renamed.svg?period=day"
        assert (response.status_code, response["Location"]) == (301, moved)
    # Events still sent under the old slug count for the model, as a merged slug's do.
    import_events([EventFactory.build(model="openai/gpt-4o-mini")])
    assert not LLMModel.objects.filter(slug="openai/gpt-4o-mini").exists()


def test_apps_of_one_title_listed_together_are_told_apart_by_their_host(client):
    """Until staff merge them, the two apps of one title show their hosts wherever they are
    listed together (the leaderboard, the chart's lines, the API), never as one name twice."""
    import_events(EventFactory.build_batch(4, origin="https://kilo.example", app_name="Kilo Code"))
    import_events(EventFactory.build_batch(3, origin="https://app.kilo.example", app_name="Kilo Code"))
    # An export's row with the title alone (two apps have it: a third, known by its title).
    import_events(EventFactory.build_batch(2, origin="", app_name="Kilo Code"), titles_are_apps=True)
    names = {r["entity"]["name"] for r in client.get("/api/v1/rankings/apps").json()["results"]}
    assert {"Kilo Code (kilo.example)", "Kilo Code (app.kilo.example)", "Kilo Code (no URL)"} <= names
    assert "Kilo Code" not in names
    # On any page of a list, alone on it or not.
    for offset in range(3):
        [row] = client.get(f"/api/v1/rankings/apps?limit=1&offset={offset}").json()["results"]
        assert row["entity"]["name"].startswith("Kilo Code (")
    series = client.get("/api/v1/timeseries?group_by=app").json()["series"]
    assert {"Kilo Code (kilo.example)", "Kilo Code (app.kilo.example)"} <= {s["entity"]["name"] for s in series}
    # Alone on its own page, an app keeps its title.
    assert client.get("/api/v1/apps/kilo-example").json()["entity"]["name"] == "Kilo Code"
    # The index, search and the daily dataset list every app of the title with its host too.
    listed = {
        "index": [r["entity"] for r in client.get("/api/v1/apps?q=kilo").json()["results"]],
        "search": client.get("/api/v1/search?q=kilo").json()["results"]["apps"],
    }
    for where, entities in listed.items():
        assert {e["name"] for e in entities} >= {"Kilo Code (kilo.example)", "Kilo Code (app.kilo.example)"}, where
    dataset = client.get("/api/v1/datasets/app-rankings-daily").json()["results"]
    assert {"Kilo Code (kilo.example)", "Kilo Code (app.kilo.example)"} <= {r["app_name"] for r in dataset}


def test_a_look_alike_host_of_one_title_shows_as_dns_spells_it(client):
    """A hostile gateway names an app like another, from a host with a Cyrillic letter: listed
    together, the host shows in punycode, and a title with extra spaces is the same title."""
    import_events(EventFactory.build_batch(2, origin="https://kilocode.example", app_name="Kilo Code"))
    import_events(EventFactory.build_batch(2, origin="https://kiloc\u043ede.example", app_name="Kilo  Code "))
    names = {r["entity"]["name"] for r in client.get("/api/v1/rankings/apps").json()["results"]}
    assert "Kilo Code (kilocode.example)" in names
    assert any("(xn--" in n for n in names), names
