"""The growth page and /api/v1/growth as a reader meets them: windows and their notes, empty
windows, tables, names and wording (issue 18's tester findings)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from ingest.rollups.windows import ceil_quarter
from ingest.services import import_events
from rankings import selectors
from rankings.models import App, Provider
from rankings.templatetags.rankings_format import compact
from tests.factories import EventFactory


def iso(moment) -> str:
    return moment.isoformat().replace("+00:00", "Z")


@pytest.fixture
def two_weeks(db):
    """Usage in the last 7 x 24 hours and in the 7 x 24 before (the page's default window)."""
    after = selectors.rolling_window(7)
    before = after.previous()
    import_events(EventFactory.build_batch(10, created_at=(before.start + timedelta(hours=5)).isoformat()))
    import_events(
        EventFactory.build_batch(25, created_at=(after.start + timedelta(hours=5)).isoformat(), tokens_prompt=4000)
    )
    return before, after


@pytest.mark.django_db
def test_the_window_note_is_the_requests_own_not_the_cached_ones(client):
    widened = client.get("/api/v1/growth?start=2026-10-05T00:00:01Z&end=2026-10-06T00:00:00Z").json()
    assert "widened" in widened["after"]["note"]
    exact = client.get("/api/v1/growth?start=2026-10-05T00:00:00Z&end=2026-10-06T00:00:00Z").json()
    assert "note" not in exact["after"]
    assert exact["after"]["start"] == widened["after"]["start"] == "2026-10-05T00:00:00+00:00"
    again = client.get("/api/v1/growth?start=2026-10-05T00:00:01Z&end=2026-10-06T00:00:00Z").json()
    assert "widened" in again["after"]["note"]


def test_an_empty_window_keeps_the_page_and_its_controls(client, two_weeks):
    page = client.get("/growth/?start=2020-01-01&end=2020-02-01").content.decode()
    assert "No usage in this window" in page
    assert "create an ingest key" not in page.lower() and "No usage yet" not in page
    assert 'role="tablist"' in page and 'name="start"' in page and 'href="/growth/"' in page
    embed = client.get("/embed/growth/waterfall/?start=2020-01-01&end=2020-02-01")
    assert embed.status_code == 200


@pytest.mark.django_db
def test_onboarding_only_when_nothing_was_ever_counted(client):
    page = client.get("/growth/?start=2020-01-01&end=2020-02-01").content.decode()
    assert "No usage yet" in page and "No usage in this window" not in page


def test_the_waterfall_tables_end_in_the_after_total(client, two_weeks):
    data = client.get("/api/v1/growth").json()
    after = compact(data["tokens"]["after"])
    assert after != "0"
    for page in (client.get("/growth/"), client.get("/embed/growth/drivers/")):
        tables = [
            t
            for t in page.content.decode().split('<details class="chart-data">')
            if "<caption>Waterfall of the change" in t or "<caption>Volume and intensity" in t
        ]
        assert tables
        for table in tables:
            assert re.findall(r'<th scope="row">After</th><td class="num">([^<]+)</td>', table) == [after]


RTL_OVERRIDE = "\u202eRTL override app"


@pytest.mark.django_db
def test_bidi_controls_are_removed_from_free_text_at_ingest():
    import_events(
        [EventFactory.build(origin="https://rtl.example", app_name=RTL_OVERRIDE, provider_name="\u2066Prov\u2069")]
    )
    assert App.objects.get(origin="https://rtl.example").name == "RTL override app"
    assert Provider.objects.filter(name="Prov").exists()


def test_stored_names_cannot_flip_the_growth_pages_sentences(client, two_weeks):
    before, after = two_weeks
    import_events(
        EventFactory.build_batch(
            40,
                created_at=(after.start + timedelta(hours=6)).isoformat(),
                origin="https://rtl.example",
                app_name="RTL",
                tokens_prompt=10_000,
        )
    )
    App.objects.filter(origin="https://rtl.example").update(name=RTL_OVERRIDE)  # stored before ingest removed it
    page = client.get("/growth/").content.decode()
    assert "The largest single app contributor was <bdi>\u202eRTL override app</bdi>" in page
    assert "<bdi>\u202eRTL override app</bdi></a>" in page  # the table of apps
    assert "\u202eRTL override app" not in page.replace("<bdi>\u202eRTL override app</bdi>", "")


@pytest.mark.django_db
def test_a_window_into_the_future_is_compared_like_for_like(client):
    start = ceil_quarter(datetime.now(UTC)) - timedelta(hours=2)
    end = start + timedelta(days=7)
    same = {"tokens_prompt": 1000, "tokens_completion": 100}
    import_events(EventFactory.build_batch(10, created_at=(start + timedelta(hours=1)).isoformat(), **same))
    earlier = start - timedelta(days=7)
    import_events(EventFactory.build_batch(10, created_at=(earlier + timedelta(hours=1)).isoformat(), **same))
    # Later in the week before: beyond the elapsed time, not compared.
    import_events(EventFactory.build_batch(50, created_at=(earlier + timedelta(days=3)).isoformat(), **same))
    data = client.get(f"/api/v1/growth?start={iso(start)}&end={iso(end)}").json()
    assert data["before"]["start"] == earlier.isoformat()
    assert data["before"]["end"] == (earlier + timedelta(hours=2)).isoformat()
    assert "ends after now" in data["after"]["note"]
    assert data["tokens"]["change"] == 0 and data["tokens"]["before"] == 11_000
    assert "the same elapsed time of the previous 7 days" in " ".join(data["summary"])
    page = client.get(f"/growth/?start={iso(start)}&end={iso(end)}").content.decode()
    assert "vs the same elapsed time of the previous 7 days" in page


@pytest.mark.django_db
def test_period_all_is_no_growth_period(client):
    response = client.get("/api/v1/growth?period=all")
    assert response.status_code == 400 and "nothing before it" in response.json()["error"]["message"]
    schema = client.get("/api/schema/").content.decode()
    assert "minutes" not in client.get("/growth/?period=all").content.decode()
    assert "since the first event, nothing comes before" in schema


def test_the_json_link_carries_the_pages_window_and_zone(client, two_weeks):
    query = "?period=month&tz=Asia%2FKolkata"
    page = client.get("/growth/" + query).content.decode()
    assert f'href="/api/v1/growth{query.replace("&", "&amp;")}"' in page
    custom = client.get("/growth/?start=2026-01-01&end=2026-02-01").content.decode()
    assert 'href="/api/v1/growth?start=2026-01-01&amp;end=2026-02-01"' in custom
