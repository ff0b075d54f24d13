"""Time done right: like-for-like changes (a steady rate reads as no change at any hour),
partial buckets flagged, exact windows echoed, and totals in any zone equal to raw events
bucketed in that zone (the quarter-hour cube at the edges, the date rollups inside, and the
date rollups rebuilt in another zone)."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command

from ingest.rollups import windows, zones
from ingest.services import import_events
from rankings import selectors
from tests.factories import EventFactory

pytestmark = pytest.mark.django_db

ZONES = ("UTC", "Asia/Kolkata", "Asia/Kathmandu", "Pacific/Chatham", "America/New_York", "Europe/Berlin")


def _tokens(event: dict) -> int:
    return event["tokens_prompt"] + event["tokens_completion"]


@pytest.mark.parametrize(
    "at",
    [
        datetime(2026, 11, 4, 0, 20, tzinfo=UTC),  # a Wednesday just after midnight
        datetime(2026, 11, 5, 9, 40, tzinfo=UTC),  # Thursday morning
        datetime(2026, 11, 13, 17, 5, tzinfo=UTC),  # Friday afternoon
        datetime(2026, 11, 22, 23, 50, tzinfo=UTC),  # Sunday night
    ],
)
@pytest.mark.parametrize("period", ["day", "week", "month", "year"])
def test_a_flat_series_shows_no_change(period, at):
    """The same event every hour: each period so far and the same elapsed time of the period
    before hold the same number of events."""
    window = windows.period_window(period, at, "UTC")
    previous = window.previous()
    assert previous.end <= window.start

    def hours(w: windows.Window) -> int:
        # Events at every whole hour in [start, end): the flat series, counted exactly.
        first = w.start.replace(minute=0, second=0, microsecond=0)
        first += timedelta(hours=1) if first < w.start else timedelta(0)
        return max(0, -(-(w.end - first) // timedelta(hours=1)))

    change = (hours(window) - hours(previous)) / hours(previous)
    assert abs(change) < 0.01, (period, at, window, previous)


def test_a_flat_series_shows_no_change_in_the_rankings(client):
    """The same through the rollups: a ranking's change for every period is about 0 %."""
    now = selectors.now()
    events = [
        EventFactory.build(
            created_at=(now - timedelta(hours=h, minutes=1)).isoformat(), tokens_prompt=1000, tokens_completion=100
        )
        for h in range(0, 24 * 700)  # this year so far and the year before
    ]
    assert import_events(events).accepted == len(events)
    for period in ("day", "week", "month", "year"):
        data = client.get(f"/api/v1/rankings/models?period={period}").json()
        row = data["results"][0]
        if row.get("change_pct") is not None:  # none just after midnight (nothing yet before)
            previous = selectors.period_window(period).previous()
            slack = 100 * 2 / max(1, previous.length / timedelta(hours=1))
            assert abs(row["change_pct"]) <= slack + 1e-9, (period, row, data["window"])


def test_partial_buckets_are_flagged(client):
    import_events(EventFactory.build_batch(3))
    data = client.get("/api/v1/timeseries?period=month&interval=week").json()
    assert len(data["partial"]) == len(data["buckets"])
    assert data["partial"][-1] is True  # the current week, so far
    month_start = datetime.fromisoformat(data["window"]["start"])
    assert data["partial"][0] is (month_start.weekday() != 0)  # a first week that starts mid-week
    assert not any(data["partial"][1:-1])
    csv = client.get("/api/v1/timeseries?period=month&interval=week&format=csv").content.decode()
    assert csv.splitlines()[0].endswith("partial") or "partial" in csv.splitlines()[0]


def test_windows_are_exact_or_echoed_with_a_note(client):
    exact = client.get("/api/v1/rankings/models?start=2026-01-01T12:30:00Z&end=2026-01-01T12:45:00Z").json()
    assert exact["window"] == {"start": "2026-01-01T12:30:00+00:00", "end": "2026-01-01T12:45:00+00:00", "tz": "UTC"}
    rounded = client.get("/api/v1/rankings/models?start=2026-01-01T12:00:00Z&end=2026-01-01T12:01:00Z").json()
    assert rounded["window"]["end"] == "2026-01-01T12:15:00+00:00" and "quarter-hours" in rounded["window"]["note"]


@pytest.mark.parametrize(
    "query",
    ["end=2026-01-02T00:00:00Z", "start=2026-01-01T00:00:00Z", "tz=Mars/Olympus", "tz=../../etc/passwd"],
)
def test_half_windows_and_unknown_zones_are_400(client, query):
    response = client.get(f"/api/v1/rankings/models?{query}")
    assert response.status_code == 400
    assert response.json()["error"]["field"] in ("start", "end", "tz")


def _events_across_days(now: datetime) -> list[dict]:
    """Events every 37 minutes for 20 days up to now, crossing the US DST change when it is near
    (and every zone's day boundary at many minutes past the hour)."""
    events = []
    moment = now - timedelta(days=20)
    n = 0
    while moment < now - timedelta(minutes=1):
        events.append(
            EventFactory.build(
                created_at=moment.isoformat(),
                model=("anthropic/claude-sonnet-4", "deepseek/deepseek-r1")[n % 2],
                tokens_prompt=5000 + n,
            )
        )
        moment += timedelta(minutes=37)
        n += 1
    return events


def _raw(events: list[dict], zone: str, window: windows.Window, unit: str | None = None) -> dict:
    """Tokens per (local bucket start, model) of the events in ``window``, bucketed in ``zone``."""
    sums: dict = defaultdict(int)
    for event in events:
        moment = datetime.fromisoformat(event["created_at"])
        if window.start <= moment < window.end:
            bucket = windows.local_start(moment, unit, zone) if unit else None
            sums[bucket, event["model"]] += _tokens(event)
    return dict(sums)


@pytest.mark.parametrize("zone", ZONES)
def test_zone_totals_equal_raw_sums(client, zone):
    now = selectors.now()
    events = _events_across_days(now)
    assert import_events(events).accepted == len(events)
    for period in ("day", "week", "month"):
        window = windows.period_window(period, zone=zone)
        data = client.get(f"/api/v1/rankings/models?period={period}&tz={zone}").json()
        api = {r["entity"]["slug"]: r["value"] for r in data["results"]}
        expected = {model: v for (_, model), v in _raw(events, zone, window).items()}
        assert api == expected, (zone, period)
        previous = window.previous()
        expected_before = {model: v for (_, model), v in _raw(events, zone, previous).items()}
        ranking = selectors.ranking("model", window)
        assert {r.entity.slug: r.previous_value for r in ranking.rows} == {
            m: expected_before.get(m) for m in api
        }
    data = client.get(f"/api/v1/timeseries?start=2026-01-01T00:00:00Z&end=2026-01-02T00:00:00Z&tz={zone}").json()
    assert data["window"]["tz"] == zone
    history = windows.history_window(20, "day", zone=zone)
    series = selectors.timeseries("model", history, interval="day")
    expected = _raw(events, zone, history, "day")
    for start, position in zip(series.buckets, range(len(series.buckets)), strict=True):
        for entity, values in series.series:
            assert values[position] == expected.get((start, entity.slug), 0), (zone, start, entity.slug)
        assert start.astimezone(ZoneInfo(zone)).time() == datetime.min.time()


def test_date_rollups_rebuilt_in_another_zone_answer_it_from_them(client):
    """After change_time_zone the date rollups (days, weeks, the narrow sections) are in the new
    zone: reads in it use them, and still equal raw sums."""
    now = selectors.now()
    events = _events_across_days(now)
    assert import_events(events).accepted == len(events)
    call_command("change_time_zone", "Asia/Kathmandu", "--force")
    try:
        assert zones.built_zone(fresh=True) == "Asia/Kathmandu"
        window = windows.period_window("week", zone="Asia/Kathmandu")
        data = client.get("/api/v1/rankings/models?period=week&tz=Asia/Kathmandu").json()
        assert {r["entity"]["slug"]: r["value"] for r in data["results"]} == {
            model: v for (_, model), v in _raw(events, "Asia/Kathmandu", window).items()
        }
        # Events written after the change land in the new zone's days.
        later = EventFactory.build_batch(2)
        import_events(later)
        events += later
        call_command("verify_rollups")
        context = client.get("/api/v1/context-lengths?period=week&tz=Asia/Kathmandu").json()
        total = sum(r["value"] for r in context["results"])
        assert total == sum(_tokens(e) for e in events if window.start <= datetime.fromisoformat(e["created_at"]))
    finally:
        call_command("change_time_zone", "UTC", "--force")
        zones.forget_built_zone()


@pytest.mark.parametrize("zone", ["America/New_York", "Europe/Berlin", "Pacific/Chatham"])
def test_daily_buckets_across_a_dst_change_equal_raw_sums(client, zone):
    start = datetime(2026, 3, 1, tzinfo=UTC)  # New York changes on March 8, Berlin on 29, Chatham April 5
    events, moment, n = [], start, 0
    while moment < start + timedelta(days=43):
        events.append(EventFactory.build(created_at=moment.isoformat(), tokens_prompt=5000 + n))
        moment += timedelta(minutes=37)
        n += 1
    assert import_events(events).accepted == len(events)
    first, last = windows.midnight(date(2026, 3, 2), zone), windows.midnight(date(2026, 4, 12), zone)
    query = f"start={first.isoformat()}&end={last.isoformat()}&tz={zone}&interval=day".replace("+", "%2B")
    data = client.get(f"/api/v1/timeseries?{query}").json()
    window = windows.Window(first, last, zone)
    expected = _raw(events, zone, window, "day")
    assert len(data["buckets"]) == 41 and not any(data["partial"])
    for bucket, value in zip(data["buckets"], data["others"], strict=True):
        start_of_day = datetime.fromisoformat(bucket).astimezone(UTC)
        assert value == sum(v for (b, _), v in expected.items() if b == start_of_day), (zone, bucket)
    lengths = {windows.shift(b, "day", 1, zone) - b for b in (datetime.fromisoformat(x) for x in data["buckets"])}
    assert len(lengths) == 2  # a 23- or 25-hour day among the 24-hour ones


def test_pages_take_a_zone_from_the_url_and_keep_it(client):
    assert import_events(EventFactory.build_batch(5)).accepted == 5
    page = client.get("/?tz=Asia/Kolkata&sections=all").content.decode()
    assert '<option value="Asia/Kolkata" selected>' in page
    assert 'name="tz"' in page and "tz=Asia%2FKolkata" in page  # the tabs keep the zone
    assert "so far" in page  # the current week's bar, labelled
    # An unknown zone is ignored (pages are lenient), never echoed.
    assert "<option value=\"Mars" not in client.get("/?tz=Mars/Olympus").content.decode()


def test_charts_flag_and_draw_the_partial_bucket():
    from rankings import charts  # noqa: PLC0415

    assert import_events(EventFactory.build_batch(3)).accepted == 3
    series = selectors.timeseries("model", windows.history_window(90, "week", zone="Asia/Kolkata"), interval="week")
    figure = charts.stacked_bars(series)
    assert figure["layout"]["meta"]["partial"][-1] is True
    assert figure["data"][0]["marker"]["pattern"]["shape"][-1] == "/"
    assert figure["layout"]["annotations"][-1]["text"] == "so far"
    assert figure["data"][0]["x"][-1].endswith("T00:00:00")  # Monday 00:00 in Kolkata, wall clock


def test_growth_takes_the_api_windows_and_names_its_comparison(client):
    now = selectors.now()
    events = [EventFactory.build(created_at=(now - timedelta(hours=h, minutes=5)).isoformat()) for h in range(60)]
    assert import_events(events).accepted == len(events)
    hour = (now - timedelta(hours=3)).replace(minute=0, second=0, microsecond=0)
    query = f"start={hour.isoformat()}&end={(hour + timedelta(hours=1)).isoformat()}".replace("+", "%2B")
    summary = client.get(f"/api/v1/growth?{query}").json()["summary"][0]
    assert "vs the previous hour" in summary and "day over day" not in summary
    for period, words in (("week", "vs the same time last week"), ("year", "vs the same time last year")):
        data = client.get(f"/api/v1/growth?period={period}").json()
        assert data["after"]["period"] == period and (not data["summary"] or "%" not in data["summary"][0] or words in data["summary"][0])
        page = client.get(f"/growth/?period={period}&tz=Asia/Kolkata").content.decode()
        assert words in page and "Asia/Kolkata" in page
    page = client.get(f"/growth/?{query}").content.decode()
    assert "vs the previous hour" in page
    assert client.get("/api/v1/growth?end=2026-01-01T00:00:00Z").status_code == 400
    assert client.get("/growth/?end=nonsense&tz=Nope/Nope").status_code == 200  # pages fall back


def test_a_changed_reporting_zone_is_reported_until_the_rollups_are_rebuilt(client, settings):
    settings.TOKENRANK = {**settings.TOKENRANK, "TIME_ZONE": "Asia/Kolkata"}
    ready = client.get("/readyz").json()
    assert ready["status"] in ("degraded", "not ready")
    assert any("change_time_zone" in reason for reason in ready["reasons"])
    call_command("change_time_zone")
    try:
        assert not any("time zone" in r for r in client.get("/readyz").json().get("reasons", []))
    finally:
        call_command("change_time_zone", "UTC", "--force")


def test_an_unknown_zone_setting_stops_the_start(monkeypatch):
    from django.core.exceptions import ImproperlyConfigured  # noqa: PLC0415

    from config.envvars import time_zone  # noqa: PLC0415

    monkeypatch.setenv("TOKENRANK_TIME_ZONE", "Asia/Atlantis")
    with pytest.raises(ImproperlyConfigured, match="unknown time zone"):
        time_zone("TOKENRANK_TIME_ZONE", "UTC")
    monkeypatch.setenv("TOKENRANK_TIME_ZONE", "Asia/Kathmandu")
    assert time_zone("TOKENRANK_TIME_ZONE", "UTC") == "Asia/Kathmandu"


def test_the_migration_splits_kept_hours_into_quarter_hours():
    """0014 turns the hourly rows whose raw events are kept into quarter-hour rows from them
    (measures from ingest.schema), leaving totals unchanged."""
    import importlib  # noqa: PLC0415

    from django.db import connection  # noqa: PLC0415

    from tests.factories import rollup_totals  # noqa: PLC0415

    migration = importlib.import_module("ingest.migrations.0014_quarter_hours_and_calendar")
    start = datetime(2026, 6, 1, 10, 0, tzinfo=UTC)
    events = [EventFactory.build(created_at=(start + timedelta(minutes=7 * n)).isoformat()) for n in range(40)]
    assert import_events(events).accepted == len(events)
    from ingest.models import UsageQuarterHour  # noqa: PLC0415

    written = sorted(UsageQuarterHour.objects.values_list("bucket", "requests", "prompt_tokens"))
    totals = rollup_totals(UsageQuarterHour)
    from ingest import schema  # noqa: PLC0415

    keys = ", ".join(schema.DIMENSION[name].column for name in schema.CUBE)
    measures = [m.column for m in schema.MEASURES]
    with connection.cursor() as cursor:  # the rows as the hourly cube held them
        cursor.execute(
            f"CREATE TEMP TABLE hourly AS SELECT date_trunc('hour', bucket) AS bucket, {keys}, "
            + ", ".join(f"sum({m}) AS {m}" for m in measures)
            + f" FROM rankings_usagequarterhour GROUP BY 1, {keys}"
        )
        cursor.execute("DELETE FROM rankings_usagequarterhour")
        cursor.execute(f"INSERT INTO rankings_usagequarterhour (bucket, {keys}, {', '.join(measures)}) SELECT * FROM hourly")
    assert UsageQuarterHour.objects.count() < len(written)
    with connection.schema_editor() as editor:
        migration.split_kept_hours(None, editor)
    assert rollup_totals(UsageQuarterHour) == totals
    after = sorted(UsageQuarterHour.objects.values_list("bucket", "requests", "prompt_tokens"))
    # The first hour of raw events may be partly purged: it stays an hour; the rest is split.
    assert [r for r in after if r[0] >= start + timedelta(hours=1)] == [
        r for r in written if r[0] >= start + timedelta(hours=1)
    ]


@pytest.mark.parametrize(
    ("interval", "zone", "at"),
    [
        ("day", "Asia/Kolkata", datetime(2026, 11, 30, 18, 19, tzinfo=UTC)),  # 23:49 there: the day ends 18:30 UTC
        ("hour", "UTC", datetime(2026, 11, 30, 18, 49, tzinfo=UTC)),  # the hour ends at the next quarter-hour
    ],
)
def test_a_bucket_that_ends_within_the_current_quarter_hour_is_so_far(monkeypatch, interval, zone, at):
    """The window ends at now rounded up to the quarter-hour; a bucket that ends there has not
    ended yet, and is drawn so far, not as a finished (lower) bar."""
    monkeypatch.setattr(windows, "now", lambda: at)
    window = windows.period_window("week", at, zone)
    starts = windows.bucket_starts(window, interval)
    assert windows.shift(starts[-1], interval, 1, zone) == window.end  # ends with the window
    assert windows.partial_buckets(window, interval, starts)[-1] is True
    assert not any(windows.partial_buckets(window, interval, starts)[1:-1])


@pytest.mark.parametrize(
    ("period", "at"),
    [
        ("day", datetime(2026, 11, 30, 23, 50, tzinfo=UTC)),
        ("month", datetime(2026, 11, 30, 23, 50, tzinfo=UTC)),
        ("year", datetime(2026, 12, 31, 23, 50, tzinfo=UTC)),
    ],
)
def test_a_period_in_its_last_quarter_hour_is_still_compared_like_for_like(monkeypatch, period, at):
    """At 23:50 on Nov 30 the month so far ends at midnight (now rounded up), but the month is
    not over: it is compared with the same elapsed time of October (30 days, not 31), and
    says so, until it has ended; then with the whole month before."""
    monkeypatch.setattr(windows, "now", lambda: at)
    window = windows.period_window(period, at, "UTC")
    assert window.end == at + timedelta(minutes=10)
    assert window.previous().length == window.length and not window.complete
    assert window.comparison() == {"day": "vs the same time yesterday"}.get(period, f"vs the same time last {period}")
    monkeypatch.setattr(windows, "now", lambda: window.end)  # over: the whole period before
    assert window.complete and window.comparison() == f"{period} over {period}"
    assert window.previous().end == window.start
