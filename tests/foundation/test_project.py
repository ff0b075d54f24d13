"""The spine: pages answer, health reflects the services, the catalog is loaded."""

import pytest
from django.db import connection

from rankings import catalog
from rankings.models import App, Author, Category, LLMModel, Provider

pytestmark = pytest.mark.django_db


def test_home_page_answers(client):
    response = client.get("/")
    assert response.status_code == 200
    assert b"Tokenrank" in response.content


def test_healthz_ok_when_database_and_broker_answer(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db(transaction=True)
def test_healthz_503_with_reason_when_database_is_gone(client, tmp_path):
    """A database that cannot be reached gives a quick 503, not a hang or a 500."""
    original = dict(connection.settings_dict)
    connection.close()
    connection.settings_dict["HOST"] = str(tmp_path)  # no server socket here
    connection.settings_dict["OPTIONS"] = {**original["OPTIONS"], "host": str(tmp_path)}
    connection.settings_dict["PORT"] = "5"
    try:
        response = client.get("/healthz")
    finally:
        connection.close()
        connection.settings_dict.clear()
        connection.settings_dict.update(original)
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert any(reason.startswith("database:") for reason in body["reasons"])


def test_healthz_503_when_broker_is_unreachable(client, settings):
    from config.celery import app

    original = app.conf.broker_url
    app.conf.broker_url = "redis://127.0.0.1:9/0"  # nothing listens on the discard port
    try:
        response = client.get("/healthz")
    finally:
        app.conf.broker_url = original
    assert response.status_code == 503
    assert any(r.startswith("broker:") for r in response.json()["reasons"])


def test_admin_login_page_answers(client):
    assert client.get("/admin/login/").status_code == 200


def test_starting_catalog_is_loaded():
    assert LLMModel.objects.count() >= 40
    assert Author.objects.filter(models__isnull=False).distinct().count() >= 12
    assert Provider.objects.count() >= 15
    assert set(Category.objects.values_list("slug", flat=True)) == {s for s, _ in catalog.CATEGORIES}
    assert App.objects.get(slug=App.UNATTRIBUTED_SLUG).origins.filter(origin="").exists()


def test_model_urls_use_author_and_name():
    model = LLMModel.objects.get(slug="anthropic/claude-sonnet-4")
    assert model.get_absolute_url() == "/models/anthropic/claude-sonnet-4/"
