"""Making an app private takes effect at once, by every route: the very next page or API
answer no longer shows it, even though those answers were cached a moment before and a
cache generation had just started (as under continuous ingest)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth.models import Group, User
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.db.models import Model
from django.urls import reverse

from ingest.services import import_events
from rankings.cache import BUMP_LOCK_KEY
from rankings.models import App
from rankings.services import set_apps_public
from tests.factories import EventFactory

pytestmark = pytest.mark.django_db

NAME = "Hush Assistant"
PAGES = [
    "/?sections=all",
    "/?app_period=day&section=apps",
    "/models/anthropic/claude-sonnet-4/",
    "/growth/",
    "/api/v1/rankings/apps",
    "/api/v1/rankings/apps?format=csv",
    "/api/v1/trending/apps",
    "/api/v1/models/anthropic/claude-sonnet-4",
    "/api/v1/growth",
]


@pytest.fixture
def hush(db) -> App:
    import_events(EventFactory.build_batch(12, origin="https://hush.example", app_name=NAME))
    import_events(EventFactory.build_batch(4, origin="https://loud.example", app_name="Loud App"))
    return App.objects.get(origin="https://hush.example")


def shows(client, url: str, app: App) -> bool:
    body = client.get(url).content.decode()
    return NAME in body or app.slug in body


def operator(client) -> None:
    user = User.objects.create_user("op", password="x", is_staff=True)
    user.groups.add(Group.objects.get(name="operator"))
    client.force_login(user)


def _plain(value):
    if isinstance(value, Model):
        return value.pk
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def admin_change_form(client, app: App) -> None:
    operator(client)
    url = reverse("admin:rankings_app_change", args=[app.pk])
    context = client.get(url).context
    payload = {k: _plain(v) for k, v in context["adminform"].form.initial.items() if v is not None}
    for inline in context["inline_admin_formsets"]:
        formset = inline.formset
        payload.update({formset.add_prefix(k): v for k, v in formset.management_form.initial.items()})
        for form in formset.forms:
            payload.update({form.add_prefix(k): _plain(v) for k, v in form.initial.items() if v is not None})
            payload[form.add_prefix("id")] = form.instance.pk
    payload.pop("is_public")  # an unticked checkbox is not sent
    response = client.post(url, payload)
    errors = response.context and (
        response.context["adminform"].form.errors,
        [f.errors for i in response.context["inline_admin_formsets"] for f in i.formset.forms],
        [i.formset.non_form_errors() for i in response.context["inline_admin_formsets"]],
    )
    assert response.status_code == 302, (errors, payload)
    client.logout()


def admin_list_checkbox(client, app: App) -> None:
    operator(client)
    url = reverse("admin:rankings_app_changelist")
    formset = client.get(url).context["cl"].formset
    payload = {formset.add_prefix(k): v for k, v in formset.management_form.initial.items()}
    for form in formset.forms:
        payload[form.add_prefix("id")] = form.instance.pk
        if form.instance.is_public and form.instance.pk != app.pk:
            payload[form.add_prefix("is_public")] = "on"
    response = client.post(url, {**payload, "_save": "Save"})
    assert response.status_code == 302
    client.logout()


def admin_action(client, app: App) -> None:
    operator(client)
    response = client.post(
        reverse("admin:rankings_app_changelist"), {"action": "make_private", "_selected_action": [app.pk]}
    )
    assert response.status_code == 302
    client.logout()


def command(client, app: App) -> None:
    call_command("app_privacy", app.slug, "--private")


def service(client, app: App) -> None:
    assert set_apps_public([app], False) == 1


ROUTES: list[Callable] = [admin_change_form, admin_list_checkbox, admin_action, command, service]


@pytest.mark.parametrize("route", ROUTES, ids=[r.__name__ for r in ROUTES])
def test_making_an_app_private_hides_it_from_the_next_answer(
    client, hush, route, django_capture_on_commit_callbacks
):
    for url in PAGES:
        assert shows(client, url, hush), url  # and now cached
    assert client.get(f"/apps/{hush.slug}/").status_code == 200
    # A generation has just started (continuous ingest): a plain "changed" mark would wait.
    cache.set(BUMP_LOCK_KEY, 1, timeout=60)
    with django_capture_on_commit_callbacks(execute=True):
        route(client, hush)
    assert not App.objects.get(pk=hush.pk).is_public
    for url in PAGES:
        assert not shows(client, url, hush), url
    assert client.get(f"/apps/{hush.slug}/").status_code == 404
    assert client.get(f"/api/v1/apps/{hush.slug}").status_code == 404


def test_making_it_public_again_shows_it_at_once(client, hush, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        set_apps_public([hush], False)
    assert not shows(client, "/api/v1/rankings/apps", hush)
    cache.set(BUMP_LOCK_KEY, 1, timeout=60)
    with django_capture_on_commit_callbacks(execute=True):
        call_command("app_privacy", hush.slug, "--public")
    assert shows(client, "/api/v1/rankings/apps", hush) and shows(client, "/?sections=all", hush)


def test_app_privacy_command_refuses_unknown_slugs_and_changes_nothing(hush):
    with pytest.raises(CommandError, match="no-such-app"):
        call_command("app_privacy", hush.slug, "no-such-app", "--private")
    assert App.objects.get(pk=hush.pk).is_public
    with pytest.raises(CommandError):
        call_command("app_privacy", hush.slug)  # --private or --public is required
