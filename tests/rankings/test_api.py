"""The read API: same numbers as the pages and as raw events, CSV = JSON, errors, caching,
throttling, privacy, and a schemathesis run over the OpenAPI schema."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.db import connection

from ingest.models import IngestKey
from ingest.rollups import read
from ingest.rollups.maintain import raw_model_tokens
from rankings import selectors
from rankings.models import App, Category, LLMModel
from tests.conftest import assert_absent

pytestmark = pytest.mark.django_db

LIST_ENDPOINTS = [
    "/api/v1/rankings/models",
    "/api/v1/rankings/authors",
    "/api/v1/rankings/apps",
    "/api/v1/rankings/categories",
    "/api/v1/rankings/providers",
    "/api/v1/trending/models",
    "/api/v1/trending/apps",
    "/api/v1/categories",
    "/api/v1/providers",
    "/api/v1/datasets/rankings-daily",
]


def raw_leaderboard(window: selectors.Window) -> dict[str, float]:
    """The weekly model leaderboard recomputed from raw events, bypassing the rollups."""
    slugs = dict(LLMModel.objects.values_list("pk", "slug"))
    return {slugs[model]: tokens for model, tokens in raw_model_tokens(window.start, window.end).items()}


def test_rankings_equal_the_page_and_the_raw_events(client, usage):
    data = client.get("/api/v1/rankings/models?period=week").json()
    window = selectors.period_window("week")
    api = {r["entity"]["slug"]: r["value"] for r in data["results"]}
    assert api == raw_leaderboard(window)
    page_rows = selectors.ranking("model", window).rows  # what the leaderboard template renders
    assert api == {r.entity.slug: r.value for r in page_rows}
    assert abs(sum(r["share"] for r in data["results"]) - 1) < 1e-9
    top = data["results"][0]
    assert top["entity"] == {
        "slug": "anthropic/claude-sonnet-4",
        "name": "Claude Sonnet 4",
        "link": "/models/anthropic/claude-sonnet-4/",
    }
    assert top["rank"] == 1 and top["previous_value"] > 0 and top["change_pct"] is not None


def test_metrics_and_filters(client, usage):
    by_requests = client.get("/api/v1/rankings/models?metric=requests").json()["results"]
    assert {r["entity"]["slug"]: r["value"] for r in by_requests}["anthropic/claude-sonnet-4"] == 30
    roleplay = client.get("/api/v1/rankings/models?category=roleplay").json()["results"]
    assert [r["entity"]["slug"] for r in roleplay] == ["google/gemini-2.5-flash"]
    free = client.get("/api/v1/rankings/models?variant=free").json()["results"]
    assert [r["entity"]["slug"] for r in free] == ["google/gemini-2.5-flash"]
    assert client.get("/api/v1/rankings/models?variant=FREE").json()["results"] == free


def test_offset_pagination(client, usage):
    first = client.get("/api/v1/rankings/models?limit=1").json()
    assert first["count"] == 3 and len(first["results"]) == 1 and first["previous"] is None
    second = client.get(first["next"]).json()
    assert second["results"][0]["rank"] == 2
    assert client.get(second["previous"]).json() == first


def test_timeseries_zero_fills_and_sums_to_the_ranking(client, usage):
    data = client.get("/api/v1/timeseries?group_by=model&interval=day&period=month&top=2").json()
    assert len(data["buckets"]) == 30 and len(data["series"]) == 2
    assert all(len(s["values"]) == 30 for s in data["series"])
    total = sum(sum(s["values"]) for s in data["series"]) + sum(data["others"])
    ranking_total = client.get("/api/v1/rankings/models?period=month").json()["total"]
    assert total == ranking_total
    assert 0.0 in data["series"][0]["values"]  # gaps are zeros


@pytest.mark.parametrize("url", LIST_ENDPOINTS)
def test_csv_carries_the_same_rows_as_json(client, usage, url):
    json_rows = client.get(url).json()["results"]
    response = client.get(url + "?format=csv")
    assert response["Content-Type"].startswith("text/csv")
    csv_rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert len(csv_rows) == len(json_rows)
    via_accept = client.get(url, HTTP_ACCEPT="text/csv")
    assert via_accept.content == response.content


def test_detail_endpoints(client, usage):
    model = client.get("/api/v1/models/anthropic/claude-sonnet-4").json()
    assert model["model"]["prompt_price_per_million"] == 3.0
    assert model["totals"]["requests"] == 30
    assert model["providers"][0]["entity"]["slug"] == "anthropic"
    assert client.get("/api/v1/authors/anthropic").status_code == 200


def test_detail_answers_are_documented_key_for_key(client, usage):
    """The OpenAPI schema says what each detail answers, at every level, not "an object"."""
    spec = client.get("/api/schema/?format=json").json()
    components = spec["components"]["schemas"]

    def documented(path: str) -> dict:
        ref = spec["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
        return components[ref.rsplit("/", 1)[-1]]

    public = App.objects.exclude(origin="https://secret.example").first()
    for path, url in (
        ("/api/v1/models/{author}/{name}", "/api/v1/models/anthropic/claude-sonnet-4"),
        ("/api/v1/authors/{slug}", "/api/v1/authors/anthropic"),
        ("/api/v1/apps/{slug}", f"/api/v1/apps/{public.slug}"),
    ):
        answer, shape = client.get(url).json(), documented(path)
        assert set(answer) == set(shape["properties"]), path
        totals = components[shape["properties"]["totals"]["$ref"].rsplit("/", 1)[-1]]
        assert set(answer["totals"]) == set(totals["properties"]), path
    model = documented("/api/v1/models/{author}/{name}")["properties"]
    providers = components[model["providers"]["items"]["$ref"].rsplit("/", 1)[-1]]
    answer = client.get("/api/v1/models/anthropic/claude-sonnet-4").json()
    assert set(answer["providers"][0]) == set(providers["properties"])


def test_private_apps_are_404_and_never_listed(client, usage):
    secret = App.objects.get(origin="https://secret.example")
    assert client.get(f"/api/v1/apps/{secret.slug}").status_code == 404
    assert client.get(f"/api/v1/rankings/models?app={secret.slug}").status_code == 400
    lists = ("/api/v1/rankings/apps?period=day", "/api/v1/trending/apps", "/api/v1/rankings/apps?format=csv")
    assert_absent(client, lists, "Secret App", secret.slug)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("period=decade", "period"),
        ("metric=vibes", "metric"),
        ("limit=0", "limit"),
        ("limit=abc", "limit"),
        ("start=2025-01-01T00:00:00Z", "end"),
        ("start=2025-02-01T00:00:00Z&end=2025-01-01T00:00:00Z", "end"),
        ("category=nope", "category"),
        ("author=%00", "author"),
        ("offset=-1", "offset"),
        ("offset=1.5", "offset"),
        ("limit=101", "limit"),
        ("cursor=20", "cursor"),  # the offset's former name: a 400, not the first page again
        ("cursor=abc", "cursor"),
        ("start=yesterday&end=now", "start"),
    ],
)
def test_bad_parameters_are_400_naming_the_parameter(client, usage, query, field):
    assert client.get("/api/v1/rankings/models").status_code == 200  # a cached page must not answer
    response = client.get(f"/api/v1/rankings/models?{query}")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["field"] == field and error["code"] and error["message"]


def test_unknown_paths_and_slugs_use_the_error_format(client, db):
    for url in ("/api/v1/nothing-here", "/api/v1/models/no/such", "/api/v1/authors/nobody"):
        response = client.get(url)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"
    message = client.get("/api/v1/models/no/such").json()["error"]["message"]
    assert message == "No model with this slug."  # the API's words, not a class name


def test_conditional_get_answers_304(client, usage):
    first = client.get("/api/v1/rankings/models")
    assert first["ETag"] and "max-age" in first["Cache-Control"]
    again = client.get("/api/v1/rankings/models", HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304


def test_throttling_answers_429_with_retry_after(client, usage, monkeypatch):
    from rest_framework.throttling import SimpleRateThrottle

    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"anon": "3/minute", "key": "1000/minute"})
    statuses = [client.get("/api/v1/categories").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    throttled = client.get("/api/v1/categories")
    assert int(throttled["Retry-After"]) > 0
    assert throttled.json()["error"]["code"] == "throttled"
    # An ingest key gets its own, larger allowance.
    _, key = IngestKey.issue("reader")
    assert client.get("/api/v1/categories", HTTP_AUTHORIZATION=f"Bearer {key}").status_code == 200


def test_schema_is_openapi_31_and_documents_every_endpoint(client, db):
    response = client.get("/api/schema/?format=json")
    schema = response.json()
    assert schema["openapi"].startswith("3.1")
    for path in [
        "/api/v1/events",
        "/api/v1/rankings/models",
        "/api/v1/timeseries",
        "/api/v1/datasets/rankings-daily",
        "/api/v1/models/{author}/{name}",
    ]:
        assert path in schema["paths"], path
    params = {p["name"] for p in schema["paths"]["/api/v1/rankings/models"]["get"]["parameters"]}
    assert {
        "period",
        "start",
        "end",
        "metric",
        "category",
        "author",
        "provider",
        "app",
        "variant",
        "limit",
        "offset",
    } <= params
    from openapi_spec_validator import validate

    validate(schema)


def test_docs_page_loads_assets_locally(client, db):
    body = client.get("/api/docs/").content.decode()
    assert "/static/drf_spectacular_sidecar/" in body and "cdn" not in body.lower()


def _cube_ranking(window, extra: str = "") -> dict:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT model_id, sum(prompt_tokens + completion_tokens) FROM rankings_usagedaily "
            f"WHERE bucket >= %s AND bucket < %s{extra} GROUP BY 1",
            list(read.day_bounds(window)),
        )
        return {k: float(v) for k, v in cursor.fetchall()}


def test_reads_use_the_smallest_rollup_that_answers(usage):
    from datetime import timedelta

    from django.test.utils import CaptureQueriesContext

    from rankings.selectors import Filters, Window

    def hours_ago(hours: int):
        return selectors.now().replace(minute=0, second=0, microsecond=0) - timedelta(hours=hours)

    # Seven whole days that are not a calendar week, whatever today is.
    today = selectors.period_window("day").start
    first = today - timedelta(days=7 if (today - timedelta(days=7)).weekday() else 8)
    week = Window(first, first + timedelta(days=7))
    weeks = selectors.history_window(90, "week")  # whole calendar weeks to now
    app = App.objects.get(origin="https://evil.example")
    category = Category.objects.get(slug="roleplay")
    cases = [
        (lambda: selectors.ranking("model", week), "rankings_usagemodeltotal"),
        (lambda: selectors.ranking("author", week), "rankings_usagemodeltotal"),
        (lambda: selectors.ranking("category", week), "ingest_usagecategorydaily"),
        (
            lambda: selectors.ranking("model", week, filters=Filters(variant="free")),
            "rankings_usagemodeldaily",
        ),
        (lambda: selectors.ranking("app", week), "rankings_usageappdaily"),
        (lambda: selectors.ranking("provider", week), "rankings_usagedaily"),
        (lambda: selectors.ranking("model", week, filters=Filters(app=app.pk)), "rankings_usagedaily"),
        # Today so far: its day read whole (nothing is counted later than now); on a Monday, its week.
        (
            lambda: selectors.ranking("model", selectors.period_window("day")),
            ("rankings_usagemodeltotal", "rankings_usagemodelweekly"),
        ),
        (lambda: selectors.ranking("model", Window(hours_ago(3), hours_ago(1))), "rankings_usagequarterhour"),
        (lambda: selectors.ranking("model", weeks), "rankings_usagemodelweekly"),
        (lambda: selectors.timeseries("author", weeks, interval="week"), "rankings_usagemodelweekly"),
        (
            lambda: selectors.ranking("model", weeks, filters=Filters(category=category.pk)),
            "rankings_usagecategoryweekly",
        ),
        (lambda: selectors.timeseries(None, weeks, interval="day"), "rankings_usagemodeltotal"),
    ]
    for reader, table in cases:
        with CaptureQueriesContext(connection) as queries:
            reader()
        rollup_reads = [q["sql"] for q in queries.captured_queries if "ingest_calendar" not in q["sql"]]
        tables = table if isinstance(table, tuple) else (table,)
        assert any(f'FROM "{t}"' in rollup_reads[0] for t in tables), table
    # The narrow and weekly tables agree with the full cube.
    assert {r.key: r.value for r in selectors.ranking("model", week).rows} == _cube_ranking(week)
    assert {r.key: r.value for r in selectors.ranking("model", weeks).rows} == _cube_ranking(weeks)
    in_category = selectors.ranking("model", weeks, filters=Filters(category=category.pk)).rows
    assert {r.key: r.value for r in in_category} == _cube_ranking(weeks, f" AND category_id = {category.pk}")
    assert in_category


@pytest.mark.parametrize("entity", ["model", "author", "app", "category"])
def test_previous_values_for_listed_rows_match_the_full_comparison(usage, entity):
    week = selectors.period_window("week")
    full = selectors.ranking(entity, week)
    listed = selectors.ranking(entity, week, previous_ranks=False)
    assert [(r.key, r.value, r.share, r.previous_value) for r in listed.rows] == [
        (r.key, r.value, r.share, r.previous_value) for r in full.rows
    ]
    assert any(r.previous_value for r in listed.rows)  # the fixture has usage the week before
    assert all(r.previous_rank is None for r in listed.rows)


@pytest.mark.parametrize("interval", ["hour", "day", "week"])
def test_measure_series_adds_up_to_the_window_totals(usage, interval):
    from rankings.selectors import Filters

    window = selectors.period_window("day") if interval == "hour" else selectors.history_window(14, interval)
    top_model = selectors.ranking("model", window, limit=1).rows[0].key
    for filters in (Filters(), Filters(model=top_model)):
        series = selectors.measure_series(window, interval=interval, filters=filters)
        totals = selectors.totals(window, filters)
        assert len(series["tokens"]) == len(selectors.bucket_starts(window, interval))
        for column in selectors.SERIES_COLUMNS:
            assert sum(series[column]) == pytest.approx(float(getattr(totals, column))), column
        assert sum(series["tokens"]) == pytest.approx(totals.tokens) and totals.tokens > 0


@pytest.mark.parametrize("interval", ["hour", "day"])
def test_measure_series_of_several_entries_equals_each_ones_own(usage, interval):
    """One read for several categories (the growth report's trends) answers what a read
    scoped to each answers, an entry without usage included (zeros)."""
    from rankings.models import Category
    from rankings.selectors import Filters

    window = selectors.period_window("day") if interval == "hour" else selectors.history_window(14, interval)
    used = [r.key for r in selectors.ranking("category", window).rows]
    unused = Category.objects.exclude(pk__in=used).values_list("pk", flat=True).first()
    keys = [*used, unused]
    together = selectors.measure_series_of("category", keys, window, interval=interval)
    assert list(together) == keys and used
    for key in keys:
        alone = selectors.measure_series(window, interval=interval, filters=Filters(category=key))
        assert together[key] == alone, key
    assert any(together[used[0]]["tokens"]) and not any(together[unused]["tokens"])


def test_csv_quotes_formulas_but_leaves_empty_texts_empty(client, usage):
    """A name a spreadsheet would run as a formula starts with a quote; an empty text (an app
    without a description, the standard variant) stays empty, not a lone quote."""
    import csv
    import io

    from rankings.api.renderers import spreadsheet_safe

    assert spreadsheet_safe({"a": "=1+1", "b": "\t=1", "c": "", "d": "ok", "e": 5}) == {
        "a": "'=1+1",
        "b": "'\t=1",
        "c": "",
        "d": "ok",
        "e": 5,
    }
    rows = list(csv.DictReader(io.StringIO(client.get("/api/v1/apps?format=csv").content.decode())))
    assert rows and any(r["description"] == "" for r in rows)
    assert all(value != "'" for r in rows for value in r.values())
    series = client.get("/api/v1/timeseries?group_by=variant&interval=day&period=week&format=csv")
    entities = {r["entity"] for r in csv.DictReader(io.StringIO(series.content.decode()))}
    assert "" in entities and "'" not in entities


def test_a_details_lists_are_json_in_its_csv_not_python(client, usage):
    (row,) = csv.DictReader(
        io.StringIO(client.get("/api/v1/models/anthropic/claude-sonnet-4?format=csv").content.decode())
    )
    apps = json.loads(row["apps"])
    assert apps and apps[0]["entity"]["slug"] and "{'" not in row["apps"]
