"""The read API of tool calls, context length, tags and sessions: the selectors' numbers
(checked against raw events in test_narrow_rollups), CSV equal to JSON, pages, errors in the
API's format, and private apps' tags and sessions in no answer."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest

from ingest.services import import_events
from rankings import selectors
from rankings.api.narrow import SESSION_CSV_COLUMNS
from rankings.models import LLMModel, TagKey
from tests.factories import EventFactory
from tests.rankings.conftest import MODELS

pytestmark = pytest.mark.django_db

ENDPOINTS = [
    "/api/v1/tool-calls",
    "/api/v1/tool-calls?group_by=model_provider",
    "/api/v1/context-lengths?interval=week&period=month",
    "/api/v1/tags",
    "/api/v1/tags/programming_language?period=month",
    "/api/v1/tags/language/timeseries?interval=day",
    "/api/v1/sessions?period=month",
]


@pytest.mark.parametrize("url", ENDPOINTS)
def test_every_endpoint_answers_json_and_csv_without_private_apps(client, narrow, url):
    response = client.get(url)
    assert response.status_code == 200, response.content
    body = response.content.decode()
    assert "secret" not in body.lower()  # the private app, its language and its harness
    rows = list(
        csv.DictReader(
            io.StringIO(client.get(url + ("&" if "?" in url else "?") + "format=csv").content.decode())
        )
    )
    results = response.json().get("results")
    if results is not None and "series" not in response.json():  # a series' CSV is its points
        assert len(rows) == len(results)


def test_tool_calls_equal_the_selector(client, narrow):
    data = client.get("/api/v1/tool-calls?period=month&metric=requests").json()
    ranking = selectors.tool_ranking(selectors.period_window("month"), metric="requests", limit=20)
    assert [(r["model"]["slug"], r["tool_calls"], r["value"]) for r in data["results"]] == [
        (row.entities["model"].slug, row.tool_calls, row.value) for row in ranking.rows
    ]
    top = data["results"][0]
    assert top["errors"] == sum(top["errors_by_kind"].values())
    assert top["error_rate"] == pytest.approx(top["errors"] / top["tool_calls"])
    assert data["total"] == ranking.total


def test_tool_calls_of_a_model_per_provider(client, narrow):
    data = client.get(f"/api/v1/tool-calls?group_by=provider&model={MODELS[0]}&period=month").json()
    assert {r["provider"]["slug"] for r in data["results"]} == {"together", "fireworks"}
    assert all(r["model"] is None for r in data["results"])


def test_context_lengths_equal_the_selector(client, narrow):
    model = LLMModel.objects.get(slug=MODELS[1])
    data = client.get(f"/api/v1/context-lengths?model={MODELS[1]}&period=month").json()
    rows = selectors.context_shares(
        selectors.period_window("month"), filters=selectors.Filters(model=model.pk)
    )
    assert [(r["bucket"], r["value"]) for r in data["results"]] == [(r.entity.code, r.value) for r in rows]


def test_tag_values_pages_and_series(client, narrow):
    key = TagKey.objects.get(key="programming_language")
    first = client.get("/api/v1/tags/programming_language?period=month&limit=2").json()
    ranking = selectors.tag_ranking(key, selectors.period_window("month"), limit=None)
    assert first["count"] == ranking.count and len(first["results"]) == 2
    rest = client.get(first["next"]).json()["results"]
    assert [(r["tag"]["value"], r["value"]) for r in first["results"] + rest][: len(ranking.rows)] == [
        (row.entity.value, row.value) for row in ranking.rows
    ][: 2 + len(rest)]
    series = client.get("/api/v1/tags/language/timeseries?interval=week&top=1&period=month").json()
    assert len(series["series"]) == 1 and len(series["others"]) == len(series["buckets"])


def test_sessions_equal_the_selector(client, narrow):
    data = client.get("/api/v1/sessions?period=month&metric=tokens").json()
    report = selectors.session_report(selectors.period_window("month"), metric="tokens", limit=20)
    assert data["count"] == report.count
    assert [(r["harness"], r["sessions"], r["median"]) for r in data["results"]] == [
        (g.harness or g.app.name, g.all.sessions, g.all.median) for g in report.rows
    ]
    assert set(data["by_turns"]) <= {"1", "2–9", "10–49", "50+"}
    weekly = client.get("/api/v1/context-lengths?interval=week&period=month").json()
    table = list(
        csv.DictReader(
            io.StringIO(
                client.get("/api/v1/context-lengths?interval=week&period=month&format=csv").content.decode()
            )
        )
    )
    assert len(table) == len(weekly["buckets"]) * len(weekly["series"]) and set(table[0]) == {
        "interval_start",
        "context",
        "value",
        "partial",
    }
    assert client.get("/api/v1/tags/Language?period=month").json()["key"] == "language"
    table = client.get("/api/v1/sessions?period=month&format=csv").content.decode()
    header = next(csv.reader(io.StringIO(table)))
    assert header == list(SESSION_CSV_COLUMNS) and "by_turns_50+_median" in header and "app" not in header
    cline = client.get("/api/v1/sessions?period=month&harness=cline").json()["results"]
    assert cline and all(r["harness"] == "cline" for r in cline)
    assert client.get("/api/v1/sessions?period=month&harness=CLINE").json()["results"] == cline


@pytest.mark.parametrize(
    ("url", "status", "field"),
    [
        ("/api/v1/tags/team", 404, None),  # not a ranked key
        ("/api/v1/tags/nope/timeseries", 404, None),
        ("/api/v1/tool-calls?group_by=app", 400, "group_by"),
        ("/api/v1/tool-calls?app=cline", 200, None),  # not a filter of tool calls: ignored
        ("/api/v1/sessions?metric=cached_tokens", 400, "metric"),
        ("/api/v1/sessions?harness=%01x", 400, "harness"),
        ("/api/v1/sessions?app=secret", 400, "app"),  # a private app is unknown
        ("/api/v1/tags/language?app=secret", 400, "app"),
        ("/api/v1/tags/language?offset=900", 400, "offset"),  # past the end
        ("/api/v1/tags/language?cursor=20", 400, "cursor"),  # the offset's former name
        ("/api/v1/context-lengths?interval=hour&period=year", 400, "interval"),
    ],
)
def test_bad_parameters_are_4xx_in_the_api_format(client, narrow, url, status, field):
    response = client.get(url)
    assert response.status_code == status, response.content
    if status != 200:
        assert response.json()["error"]["field"] == field


def test_windows_are_read_as_whole_utc_days(client, narrow):
    data = client.get("/api/v1/context-lengths?start=2026-01-02T05:00:00Z&end=2026-01-03T07:00:00Z").json()
    assert data["window"] == {
        "start": "2026-01-02T00:00:00+00:00",
        "end": "2026-01-04T00:00:00+00:00",
        "tz": "UTC",
        "note": "read as whole days in UTC (this section is kept per day)",
    }
    day = client.get("/api/v1/tool-calls?period=day").json()["window"]
    assert day["start"].endswith("T00:00:00+00:00") and day["period"] == "day" and "note" not in day


def test_a_period_so_far_is_the_same_window_in_every_section(client, narrow):
    """The narrow rollups are kept per day, but a day so far still ends now, as everywhere."""
    now = datetime.now(UTC).isoformat()  # today whatever the hour (the factory's default is 5 minutes ago)
    import_events(EventFactory.build_batch(3, created_at=now, session_id="today-session", harness="today"))
    expected = client.get("/api/v1/rankings/models?period=day").json()["window"]
    for path in (
        "/api/v1/sessions",
        "/api/v1/tool-calls",
        "/api/v1/tags/language",
        "/api/v1/context-lengths",
    ):
        window = client.get(f"{path}?period=day").json()["window"]
        assert (window["start"], window["end"]) == (expected["start"], expected["end"]), path
    today = client.get("/api/v1/sessions?period=day&harness=today").json()["results"]
    assert today and today[0]["sessions"] == 1
