"""The API keeps its word: CSV exports carry every row, pages link to the next one, counts are
integers, an offset past the end is an error, datasets page and name permaslugs, and the
schema says how to authenticate and what ingest accepts."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest

from ingest.services import import_events
from rankings.models import App
from tests.factories import EventFactory


@pytest.fixture
def many_models(db):
    """25 models (more than a page) with distinct volumes, yesterday and today."""
    events = []
    for n in range(25):
        for day in (1, 0):
            at = (datetime.now(UTC) - timedelta(days=day, minutes=5)).isoformat()
            events += EventFactory.build_batch(n + 1, model=f"lab/model-{n:02d}", created_at=at)
    import_events(events)
    return events


def csv_rows(response) -> list[dict[str, str]]:
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.content.decode())))


def test_a_csv_export_carries_every_row_and_a_page_links_to_the_next(client, many_models):
    page = client.get("/api/v1/rankings/models?period=week")
    data = page.json()
    assert data["count"] == 25 and len(data["results"]) == 20
    assert page["Link"] == f'<http://testserver{data["next"]}>; rel="next"'
    everything = csv_rows(client.get("/api/v1/rankings/models?period=week&format=csv"))
    assert len(everything) == 25
    assert [r["entity_slug"] for r in everything][:20] == [r["entity"]["slug"] for r in data["results"]]
    assert len(csv_rows(client.get("/api/v1/rankings/models?period=week", HTTP_ACCEPT="text/csv"))) == 25
    # Asking for a page in CSV gets that page and the link to the rest.
    paged = client.get("/api/v1/rankings/models?period=week&format=csv&limit=10")
    assert len(csv_rows(paged)) == 10 and "offset=10" in paged["Link"]
    last = client.get("/api/v1/rankings/models?period=week&limit=10&offset=20")
    assert len(last.json()["results"]) == 5 and last.json()["next"] is None
    assert last.json()["previous"] == "/api/v1/rankings/models?period=week&limit=10&offset=10"
    assert last["Link"] == f'<http://testserver{last.json()["previous"]}>; rel="prev"'
    # Links carry the list's own parameters only, never made-up ones.
    middle = client.get("/api/v1/rankings/models?period=week&limit=10&offset=10&nonce=x")
    assert middle["Link"] == (
        '<http://testserver/api/v1/rankings/models?period=week&limit=10&offset=20>; rel="next", '
        '<http://testserver/api/v1/rankings/models?period=week&limit=10>; rel="prev"'
    )


def test_counts_are_integers_and_cost_is_money(client, many_models):
    data = client.get("/api/v1/rankings/models?period=day").json()  # yesterday is the previous day
    assert type(data["total"]) is int
    for row in data["results"]:
        assert type(row["value"]) is int and type(row["previous_value"]) is int
    cost = client.get("/api/v1/rankings/models?period=week&metric=cost").json()
    assert type(cost["results"][0]["value"]) is float
    series = client.get("/api/v1/timeseries?group_by=model&period=week&top=2").json()
    assert all(type(v) is int for s in series["series"] for v in s["values"])
    assert all(type(v) is int for v in series["others"])
    assert all(type(r["tokens"]) is int for r in client.get("/api/v1/categories").json()["results"])
    assert all(type(r["tokens"]) is int for r in client.get("/api/v1/trending/models").json()["results"])


def test_an_offset_past_the_end_is_a_400(client, many_models):
    for url in (
        "/api/v1/rankings/models?period=week&offset=25",
        "/api/v1/rankings/models?period=week&offset=999999",
        "/api/v1/datasets/rankings-daily?period=week&offset=5000",
    ):
        response = client.get(url)
        assert response.status_code == 400, url
        error = response.json()["error"]
        assert error["field"] == "offset" and "past the end" in error["message"], url
    assert (
        "(25 rows)" in client.get("/api/v1/rankings/models?period=week&offset=25").json()["error"]["message"]
    )
    # The last row's page is fine.
    assert len(client.get("/api/v1/rankings/models?period=week&offset=24").json()["results"]) == 1


def test_daily_datasets_page_and_use_openrouter_columns(client, many_models):
    import_events(
        EventFactory.build_batch(
            3, model="openai/gpt-4o-mini", origin="https://hidden.example", app_name="Hidden"
        )
    )
    App.objects.filter(origin="https://hidden.example").update(is_public=False)
    models = client.get("/api/v1/datasets/rankings-daily?period=week&top=10").json()
    today = datetime.now(UTC).date().isoformat()
    day = [r for r in models["results"] if r["date"] == today]
    assert [r["rank"] for r in day] == [*range(1, 11), None] and day[-1]["model_permaslug"] == "other"
    assert sum(r["total_requests"] for r in day) == sum(range(1, 26)) + 3  # nothing lost to "other"
    # The model's permaslug, not its undated slug.
    full = client.get("/api/v1/datasets/rankings-daily?period=week&top=100&format=csv")
    assert "openai/gpt-4o-mini-2024-07-18" in {r["model_permaslug"] for r in csv_rows(full)}
    # Pages: limit rows, next link, and every page together is the whole dataset.
    first = client.get("/api/v1/datasets/rankings-daily?period=week&top=10&limit=7")
    assert first.json()["count"] == len(models["results"]) and 'rel="next"' in first["Link"]
    seen, url = [], "/api/v1/datasets/rankings-daily?period=week&top=10&limit=7"
    while url:
        page = client.get(url).json()
        seen += page["results"]
        url = page["next"]
    assert seen == models["results"]

    apps = client.get("/api/v1/datasets/app-rankings-daily?period=week&top=1").json()
    app_day = [r for r in apps["results"] if r["date"] == today]
    assert list(app_day[0]) == ["date", "app_id", "app_name", "rank", "total_requests", "total_tokens"]
    assert app_day[0]["app_name"] == "Cline" and app_day[0]["rank"] == 1 and type(app_day[0]["app_id"]) is int
    assert app_day[-1]["app_name"] == "other" and app_day[-1]["app_id"] is None
    assert "Hidden" not in str(apps)  # private apps are counted in "other", never named
    assert app_day[-1]["total_requests"] == 3


def test_schema_declares_the_bearer_scheme_every_body_type_and_no_ignored_parameter(client, db):
    schema = client.get("/api/schema/?format=json").json()
    assert schema["components"]["securitySchemes"]["ingestKey"] == {
        "type": "http",
        "scheme": "bearer",
        "description": schema["components"]["securitySchemes"]["ingestKey"]["description"],
    }
    ingest = schema["paths"]["/api/v1/events"]["post"]
    assert ingest["security"] == [{"ingestKey": []}]
    assert set(ingest["requestBody"]["content"]) == {
        "application/json",
        "application/x-ndjson",
        "application/ndjson",
        "application/jsonl",
    }
    assert schema["paths"]["/api/v1/rankings/models"]["get"]["security"] == [{}, {"ingestKey": []}]
    timeseries = {p["name"] for p in schema["paths"]["/api/v1/timeseries"]["get"]["parameters"]}
    assert not {"limit", "offset"} & timeseries and {"group_by", "interval", "top"} <= timeseries
    dataset = {p["name"] for p in schema["paths"]["/api/v1/datasets/app-rankings-daily"]["get"]["parameters"]}
    assert {"limit", "offset", "top", "period"} <= dataset
