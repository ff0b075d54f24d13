"""Per-day (date-keyed) sections read in another zone than their rollups': a day's row goes
into the bucket of its own date in the asked zone (never the day before or after), the
answer's note says so, and ``period=all`` covers the first event in every zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command

from ingest.rollups import windows, zones
from ingest.services import import_events
from tests.factories import EventFactory

pytestmark = pytest.mark.django_db


def _noon_events(days: int) -> tuple[list[dict], datetime]:
    """One event at 12:00 UTC on each of the ``days`` days before today (day ``n`` has
    ``1000 * (n + 1)`` prompt tokens, so every day is told apart)."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    events = [
        EventFactory.build(
            created_at=(today - timedelta(days=days - n) + timedelta(hours=12)).isoformat(),
            tokens_prompt=1000 * (n + 1),
            tags={"language": "en"},
            tool_calls=1,
            session_id=f"s-{n}",
        )
        for n in range(days)
    ]
    assert import_events(events).accepted == len(events)
    return events, today


def _by_date(events: list[dict], zone: str) -> dict:
    """Tokens per date of the rows they are kept in (dates in ``zone``)."""
    sums: dict = {}
    for event in events:
        day = datetime.fromisoformat(event["created_at"]).astimezone(zones.info(zone)).date()
        sums[day] = sums.get(day, 0) + event["tokens_prompt"] + event["tokens_completion"]
    return sums


def _query(start: datetime, end: datetime, zone: str) -> str:
    return f"start={start.isoformat()}&end={end.isoformat()}&tz={zone}".replace("+", "%2B")


@pytest.mark.parametrize("built", ["UTC", "Asia/Kolkata"])
@pytest.mark.parametrize("zone", ["America/Los_Angeles", "UTC", "Asia/Kolkata", "Pacific/Chatham"])
def test_a_days_row_lands_in_the_bucket_of_its_own_date(client, settings, built, zone):
    events, _ = _noon_events(6)
    if built != "UTC":
        settings.TOKENRANK = {**settings.TOKENRANK, "TIME_ZONE": built}
        call_command("change_time_zone")
    try:
        kept = _by_date(events, built)  # what each date row of the narrow rollups holds
        first = min(kept)
        start = windows.midnight(first, zone)
        end = windows.midnight(max(kept) + timedelta(days=1), zone)
        query = _query(start, end, zone)
        tags = client.get(f"/api/v1/tags/language/timeseries?interval=day&{query}").json()
        context = client.get(f"/api/v1/context-lengths?interval=day&{query}").json()
        for data, values in ((tags, tags["series"][0]["values"]), (context, context["series"]["1k-10k"])):
            dates = [datetime.fromisoformat(b).astimezone(zones.info(zone)).date() for b in data["buckets"]]
            assert dict(zip(dates, values, strict=True)) == kept, (built, zone)
            assert (built in data["window"].get("note", "")) == (built != zone)
        # The whole days' totals of every narrow section hold the same dates.
        total = sum(kept.values())
        ranking = client.get(f"/api/v1/tags/language?{query}").json()
        assert ranking["results"][0]["value"] == total
        assert sum(r["value"] for r in context["results"]) == total
        tools = client.get(f"/api/v1/tool-calls?{query}").json()
        assert sum(r["tool_calls"] for r in tools["results"]) == len(events)
        sessions = client.get(f"/api/v1/sessions?{query}").json()
        assert (built in sessions["window"].get("note", "")) == (built != zone)
        # One date only: the row of that date, nothing of the day before or after.
        one = _query(windows.midnight(first, zone), windows.midnight(first + timedelta(days=1), zone), zone)
        day = client.get(f"/api/v1/tags/language?{one}").json()
        assert day["results"][0]["value"] == kept[first]
        dataset = client.get(f"/api/v1/datasets/rankings-daily?{one}").json()
        assert {r["date"] for r in dataset["results"]} == {first.isoformat()}
    finally:
        if built != "UTC":
            settings.TOKENRANK = {**settings.TOKENRANK, "TIME_ZONE": "UTC"}
            call_command("change_time_zone")
            zones.forget_built_zone()


@pytest.mark.parametrize("zone", ["America/Los_Angeles", "Pacific/Pago_Pago", "Asia/Kolkata", "Pacific/Chatham"])
def test_all_time_holds_the_first_event_in_every_zone(client, zone):
    """``period=all`` starts at the local start of the day holding the first event, which in a
    zone west of UTC is the day before its UTC date."""
    first = (datetime.now(UTC) - timedelta(days=20)).replace(hour=2, minute=5, second=0, microsecond=0)
    events = [EventFactory.build(created_at=(first + timedelta(days=n)).isoformat()) for n in range(3)]
    assert import_events(events).accepted == len(events)
    total = sum(e["tokens_prompt"] + e["tokens_completion"] for e in events)
    data = client.get(f"/api/v1/rankings/models?period=all&tz={zone}".replace("+", "%2B")).json()
    assert data["total"] == total, zone
    assert datetime.fromisoformat(data["window"]["start"]) == windows.local_start(first, "day", zone)


def _narrow_total() -> int:
    from django.db import connection  # noqa: PLC0415
    from psycopg import sql  # noqa: PLC0415

    from ingest.rollups import read  # noqa: PLC0415
    from ingest.rollups.grains import CONTEXT_TOTAL  # noqa: PLC0415

    with connection.cursor() as cursor:
        cursor.execute(sql.SQL("SELECT sum({}) FROM {} u").format(read.metric_sum("tokens"), CONTEXT_TOTAL.name))
        return cursor.fetchone()[0]


def test_verify_passes_right_after_each_zone_change_and_every_event_counts_once(settings):
    """Raw events kept from a few days before the oldest fully kept day: after a change east
    (UTC to Kolkata), then west (to Los Angeles), then back within the same day, the narrow
    rollups verify and still hold every event once; the command names the zone the older
    narrow rows are really in."""
    from io import StringIO  # noqa: PLC0415

    settings.TOKENRANK = {**settings.TOKENRANK, "RAW_RETENTION_DAYS": 6}
    now = datetime.now(UTC)
    events, moment, n = [], now - timedelta(days=7), 0
    while moment < now - timedelta(minutes=1):
        events.append(EventFactory.build(created_at=moment.isoformat(), tags={"language": "en"}, tool_calls=1))
        moment += timedelta(minutes=37)
        n += 1
    assert import_events(events).accepted == len(events)
    total = sum(e["tokens_prompt"] + e["tokens_completion"] for e in events)
    said = []
    try:
        for zone, older in (("Asia/Kolkata", "UTC"), ("America/Los_Angeles", "UTC"), ("Asia/Kolkata", "UTC")):
            settings.TOKENRANK = {**settings.TOKENRANK, "TIME_ZONE": zone}
            out = StringIO()
            call_command("change_time_zone", stdout=out)
            said.append(out.getvalue())
            assert f"older narrow rows stay in {older}" in said[-1], said
            call_command("verify_rollups", stdout=StringIO())
            assert _narrow_total() == total, zone
    finally:
        settings.TOKENRANK = {**settings.TOKENRANK, "TIME_ZONE": "UTC"}
        call_command("change_time_zone", stdout=StringIO())
        zones.forget_built_zone()


def test_change_time_zone_refuses_another_zone_than_the_setting_unless_forced():
    from django.core.management.base import CommandError  # noqa: PLC0415

    with pytest.raises(CommandError, match="TOKENRANK_TIME_ZONE is UTC"):
        call_command("change_time_zone", "Asia/Tokyo")
    assert zones.built_zone(fresh=True) == "UTC"


def test_trending_compares_the_same_time_of_the_three_weeks_before():
    """Monday 00:00-10:00 so far against Monday 00:00-10:00 of each of the three weeks before,
    not the 30 hours just before (the weekend)."""
    from rankings import selectors  # noqa: PLC0415

    monday = (datetime.now(UTC) - timedelta(days=30)).replace(hour=0, minute=0, second=0, microsecond=0)
    monday -= timedelta(days=monday.weekday())
    window = windows.period_window("week", monday + timedelta(hours=10), "UTC")
    assert window.start == monday and window.comparison() == "vs the same time last week"
    model = "anthropic/claude-sonnet-4"
    at = [monday + timedelta(hours=5)] + [monday - timedelta(days=7 * n) + timedelta(hours=5) for n in (1, 2, 3)]
    events = [
        EventFactory.build(created_at=m.isoformat(), model=model, tokens_prompt=p)
        for m, p in zip(at, (5000, 1000, 1000, 1000), strict=True)
    ]
    # The Sunday evening before: in the 30 hours just before, in none of the three Mondays.
    events.append(EventFactory.build(created_at=(monday - timedelta(hours=4)).isoformat(), model=model, tokens_prompt=90000))
    assert import_events(events).accepted == len(events)
    tokens = [e["tokens_prompt"] + e["tokens_completion"] for e in events]
    (row,) = selectors.trending("model", window)
    assert row.value == tokens[0]
    assert row.previous_value == pytest.approx(sum(tokens[1:4]) / 3)
    assert "same time of the three weeks before" in selectors.trending_words(window)


@pytest.mark.parametrize("period", ["week", "month", "year"])
def test_entity_pages_name_what_a_change_compares_with(client, period):
    events = EventFactory.build_batch(2, model="anthropic/claude-sonnet-4")
    assert import_events(events).accepted == 2
    page = client.get(f"/models/anthropic/claude-sonnet-4/?period={period}").content.decode()
    assert f"change {windows.period_window(period).comparison()}" in page
    assert "previous equal period" not in page


def test_per_day_series_take_no_hours_and_give_local_partial_buckets(client):
    assert import_events(EventFactory.build_batch(2, tags={"language": "en"})).accepted == 2
    for url in ("/api/v1/context-lengths?interval=hour&period=day", "/api/v1/tags/language/timeseries?interval=hour"):
        response = client.get(url)
        assert response.status_code == 400 and response.json()["error"]["field"] == "interval", url
    for url in (
        "/api/v1/context-lengths?interval=day&period=week&tz=Asia/Kolkata",
        "/api/v1/tags/language/timeseries?interval=day&period=week&tz=Asia/Kolkata",
    ):
        data = client.get(url).json()
        assert all(b.endswith("T00:00:00+05:30") for b in data["buckets"]), url
        assert len(data["partial"]) == len(data["buckets"]) and data["partial"][-1] is True, url
    assert client.get("/api/v1/context-lengths?interval=day&period=week").json()["interval"] == "day"


def test_per_day_sections_on_pages_say_the_note_and_show_no_day_not_begun(client):
    assert import_events(EventFactory.build_batch(3, tags={"language": "en"}, tool_calls=1)).accepted == 3
    for section in ("tools", "context", "tags", "sessions"):
        page = client.get(f"/?section={section}&tz=America/Los_Angeles").content.decode()
        assert "each day holds that date&#x27;s usage in UTC" in page or "each day holds that date's usage in UTC" in page, section
        same = client.get(f"/?section={section}").content.decode()
        assert "kept per day" not in same, section
    zone = "Asia/Kathmandu"
    tomorrow = datetime.now(zones.info(zone)).date() + timedelta(days=1)
    page = client.get(f"/?section=tools&period=month&tz={zone}").content.decode()
    assert f"{tomorrow:%b %-d, %Y}" not in page


def test_index_lists_and_search_take_a_zone_or_refuse_an_unknown_one(client):
    """``tz`` on the index API, pages and search: the period in that zone; an unknown name
    (or a file of the zone database that is no zone, or a name with a space) is a 400 in the
    API, a visible fallback on pages."""
    now = datetime.now(UTC)
    events = [
        EventFactory.build(created_at=(now - timedelta(minutes=37 * n + 1)).isoformat()) for n in range(80)
    ]
    assert import_events(events).accepted == len(events)
    for zone in ("UTC", "Pacific/Chatham", "America/Los_Angeles"):
        window = windows.period_window("day", zone=zone)
        expected = sum(
            e["tokens_prompt"] + e["tokens_completion"]
            for e in events
            if window.start <= datetime.fromisoformat(e["created_at"]) < window.end
        )
        data = client.get(f"/api/v1/models?period=day&tz={zone}").json()
        assert data["window"]["tz"] == zone
        assert sum(r["tokens"] for r in data["results"]) == expected, zone
    for bad in ("bogus", "localtime", "%20UTC", "posixrules"):
        for url in (
            f"/api/v1/models?tz={bad}",
            f"/api/v1/apps?tz={bad}",
            f"/api/v1/search?q=a&tz={bad}",
            f"/api/v1/rankings/models?tz={bad}",
        ):
            response = client.get(url)
            assert response.status_code == 400 and response.json()["error"]["field"] == "tz", url
        for url in (f"/models/?tz={bad}", f"/?tz={bad}"):
            response = client.get(url)
            assert response.status_code == 200 and "Unknown time zone: showing UTC" in response.content.decode(), url
    page = client.get("/models/?tz=Asia/Kolkata").content.decode()
    assert "Unknown time zone" not in page
