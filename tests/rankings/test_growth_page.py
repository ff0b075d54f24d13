"""The growth page and /api/v1/growth as a reader meets them: windows and their notes, empty
windows, tables, names and wording (issue 18's tester findings)."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from ingest.rollups.windows import ceil_quarter
from ingest.services import import_events
from rankings import charts, driver_sentences, drivers, growth, selectors
from rankings.growth import CostSplit
from rankings.models import App, Provider
from rankings.selectors import Window
from rankings.templatetags.rankings_format import compact, points
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
        EventFactory.build_batch(
            25, created_at=(after.start + timedelta(hours=5)).isoformat(), tokens_prompt=4000
        )
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
def test_a_window_before_with_no_usage_is_said_in_words_not_dashes(client):
    after = selectors.rolling_window(7)
    import_events(EventFactory.build_batch(3, created_at=(after.start + timedelta(hours=5)).isoformat()))
    page = client.get("/growth/").content.decode()
    assert "the window before had no usage, so all of the change is more requests." in page
    assert "of completions (no completions before); cached is" in page and "(was –)" not in page


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
        [
            EventFactory.build(
                origin="https://rtl.example", app_name=RTL_OVERRIDE, provider_name="\u2066Prov\u2069"
            )
        ]
    )
    assert App.objects.get(origin="https://rtl.example").name == "RTL override app"
    assert Provider.objects.filter(name="Prov").exists()


@pytest.mark.django_db
def test_a_name_of_invisible_characters_only_is_no_name():
    """Zero-width and format characters alone would show as an empty link: the host is shown."""
    for n, name in enumerate(("\u200b\u200d\ufeff", "\u00ad\u034f", "\ufe0f", "\u3164", "\u2800", "\ue000")):
        import_events([EventFactory.build(origin=f"https://zw{n}.example", app_name=name)])
        assert App.objects.get(origin=f"https://zw{n}.example").name == f"zw{n}.example"
    import_events([EventFactory.build(origin="https://zwj.example", app_name="\U0001f468\u200d\U0001f4bb")])
    assert App.objects.get(origin="https://zwj.example").name == "\U0001f468\u200d\U0001f4bb"  # an emoji


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
    App.objects.filter(origin="https://rtl.example").update(
        name=RTL_OVERRIDE
    )  # stored before ingest removed it
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


@pytest.mark.parametrize(
    ("pct", "words"),
    [(12.3, "grew 12%"), (-0.44, "fell 0.4%"), (0.03, "stayed about the same"), (-91.2, "fell 91%")],
)
def test_small_changes_keep_a_decimal(pct, words):
    assert growth._moved(pct) == words


@pytest.mark.django_db
def test_fewer_requests_read_as_fewer_and_both_places_round_alike(client):
    after = selectors.rolling_window(7)
    import_events(
        EventFactory.build_batch(30, created_at=(after.previous().start + timedelta(hours=5)).isoformat())
    )
    import_events(
        EventFactory.build_batch(
            10, created_at=(after.start + timedelta(hours=5)).isoformat(), tokens_prompt=50_000
        )
    )
    data = client.get("/api/v1/growth").json()
    volume = data["volume_intensity"]["volume_points"]
    assert volume < 0
    assert f"Fewer requests explain {points(volume, 1)}, longer requests" in data["summary"][1]
    page = client.get("/growth/").content.decode()
    assert f"fewer requests {points(volume, 1)}, tokens per request" in page
    assert '<th scope="row">Fewer requests</th>' in page and '<th scope="row">More requests</th>' not in page
    assert "UTC (UTC)" not in page and re.search(r"2026( \d\d:\d\d)? UTC vs the previous 7 days", page)
    assert "\u2212" in page and not re.search(r">-\d", page)  # one minus sign in cells and labels
    [mix] = [t for t in json_figures(page) if "Prompt (uncached)" in str(t)]
    assert all("%{y:+.3s}" not in str(trace) for trace in mix["data"])
    waterfalls = [t for f in json_figures(page) for t in f["data"] if t["type"] == "waterfall"]
    assert waterfalls and all(t["hovertemplate"].startswith("%{text}") for t in waterfalls)
    assert any("\u2212" in label for t in waterfalls for label in t["text"])
    assert not any("-" in label for t in waterfalls for label in t["text"])


def json_figures(page: str) -> list[dict]:
    return [
        json.loads(m)
        for m in re.findall(r'<script id="fig-[^"]*" type="application/json">(.*?)</script>', page)
    ]


def test_one_precision_per_spend_sentence():
    split = CostSplit(
        before=Decimal("10"), after=Decimal("22.4"), price=Decimal("-0.0042"), volume=Decimal("12.4042")
    )
    assert (
        driver_sentences.spend_sentence(split)
        == "Spend changed by +$12.40: price $0.00, volume +$12.40 (per model, summed)."
    )
    small = CostSplit(
        before=Decimal("0.01"), after=Decimal("0.0142"), price=Decimal("0.001"), volume=Decimal("0.0032")
    )
    assert (
        driver_sentences.spend_sentence(small)
        == "Spend changed by +$0.0042: price +$0.0010, volume +$0.0032 (per model, summed)."
    )


def test_one_entrant_is_singular(two_weeks):
    [discovery] = [
        d
        for d in drivers.report(growth.decompose(two_weeks[1], with_history=False)).drivers
        if d.key == "discovery"
    ]
    one = replace(discovery, figures={**discovery.figures, "models": 1})
    assert "1 model that entered" in driver_sentences.sentence(one) and "; it holds " in driver_sentences.sentence(one)
    two = replace(discovery, figures={**discovery.figures, "models": 2})
    assert "; they hold " in driver_sentences.sentence(two)


def test_the_price_chart_leaves_room_for_its_right_axis():
    figure = charts.dual_lines(["2026-11-01"], ("$ per 1M tokens", [1.0]), ("Tokens per day", [2e9]))
    assert figure["layout"]["margin"]["r"] >= figure["layout"]["margin"]["l"]
    assert figure["layout"]["yaxis2"]["automargin"] is True


def test_only_the_growth_header_names_the_zone_of_a_long_window():
    week = Window(datetime(2026, 11, 23, tzinfo=UTC), datetime(2026, 11, 30, tzinfo=UTC), "UTC")
    assert week.label() == "Nov 23, 2026 – Nov 29, 2026"
    assert week.label(named=True) == "Nov 23, 2026 – Nov 29, 2026 UTC"
    day = Window(datetime(2026, 11, 30, tzinfo=UTC), datetime(2026, 11, 30, 14, 30, tzinfo=UTC), "UTC")
    assert day.label(named=True) == day.label() == "Nov 30, 2026 00:00 – 14:30 UTC"
    evening = Window(datetime(2026, 11, 30, 18, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC), "UTC")
    assert evening.label() == "Nov 30, 2026 18:00 – 24:00 UTC"  # not "– Dec 1 00:00"
    night = Window(datetime(2026, 11, 30, 22, tzinfo=UTC), datetime(2026, 12, 1, 2, tzinfo=UTC), "UTC")
    assert night.label() == "Nov 30, 2026 22:00 – Dec 1 02:00 UTC"
    # Starting within a day, over several (a start time asked for, with `until`): its times too.
    asked = Window(datetime(2026, 11, 20, 10, tzinfo=UTC), datetime(2026, 11, 26, tzinfo=UTC), "UTC")
    assert asked.label() == "Nov 20, 2026 10:00 – Nov 25, 2026 UTC"  # to the 25th, inclusive
    # A period so far, over days: its end's time (not "– Dec 1" at 00:15 on Dec 1).
    so_far = Window(datetime(2026, 11, 30, tzinfo=UTC), datetime(2026, 12, 1, 0, 15, tzinfo=UTC), "UTC", "week")
    assert so_far.label() == "Nov 30, 2026 – Dec 1, 2026 00:15 UTC"


@pytest.mark.django_db
def test_a_growth_window_asked_from_a_time_is_headed_by_it(client):
    import_events(EventFactory.build_batch(3))
    first, last = datetime.now(UTC).date() - timedelta(days=6), datetime.now(UTC).date() - timedelta(days=2)
    body = client.get(f"/growth/?start={first}T10:00&until={last}").content.decode()
    assert f"{first:%b %-d, %Y} 10:00 – {last:%b %-d, %Y} UTC" in body


@pytest.mark.django_db
def test_a_window_that_starts_after_now_answers_zeros_not_a_500(client):
    """Nothing of such a window has gone by, so the window a change compares it with is empty:
    every read of an empty window answers no rows (a tester's 500 on each of these)."""
    import_events(EventFactory.build_batch(3))
    model = "anthropic/claude-sonnet-4"
    for query in ("start=2027-01-01&end=2027-02-01", "start=2099-12-31T23:45&end=2100-01-01"):
        for url in (
            f"/api/v1/growth?{query}",
            f"/api/v1/rankings/models?{query}",
            f"/api/v1/rankings/apps?{query}&format=csv",
            f"/api/v1/models/{model}?{query}",
            f"/growth/?{query}",
            f"/embed/growth/seven/?{query}",
        ):
            assert client.get(url).status_code == 200, url
    data = client.get("/api/v1/growth?start=2027-01-01&end=2027-02-01").json()
    assert data["tokens"]["before"] == data["tokens"]["after"] == 0
    assert data["before"]["start"] == data["before"]["end"]  # nothing of it has gone by


def test_the_forms_to_day_is_included_and_the_zone_can_be_picked(client, two_weeks):
    """ "From Nov 1 to Nov 7" is seven days, and one day is from a day to the same day; the
    form shows the day asked for again (a tester's "until" lost a day each time). The page
    has the zone selector of the other pages, which keeps the window."""
    page = client.get("/growth/?start=2026-11-01&until=2026-11-07").content.decode()
    assert "Nov 1, 2026 – Nov 7, 2026 UTC" in page
    assert 'href="/api/v1/growth?start=2026-11-01&amp;end=2026-11-08"' in page
    assert 'name="until" value="2026-11-07"' in page
    one_day = client.get("/growth/?start=2026-11-01&until=2026-11-01").content.decode()
    assert "end must be after start" not in one_day and "end=2026-11-02" in one_day
    linked = client.get("/growth/?start=2026-11-01&end=2026-11-08").content.decode()
    assert 'name="until" value="2026-11-07"' in linked
    assert '<select id="tz" name="tz"' in page
    assert '<input type="hidden" name="start" value="2026-11-01">' in page
    assert '<input type="hidden" name="end" value="2026-11-08">' in page


@pytest.mark.parametrize(
    ("hours", "words"),
    [
        (0.75, "vs the previous 45 minutes"),
        (1, "vs the previous hour"),
        (23.5, "vs the previous 23 hours 30 minutes"),
        (710, "vs the previous 29 days 14 hours"),
        (24 * 7, "vs the previous 7 days"),
        (24, "vs the previous day"),
        (24 + 1 / 60, "vs the previous 1 day 1 minute"),
    ],
)
def test_comparisons_say_long_windows_in_days_hours_and_minutes(hours, words):
    start = datetime(2026, 10, 5, tzinfo=UTC)
    assert Window(start, start + timedelta(hours=hours), "UTC").comparison() == words


def test_changes_on_the_page_are_signed_like_the_sentences(client, two_weeks):
    page = client.get("/growth/").content.decode()
    caption = re.search(r"<caption>By app <span[^>]*>([^<]+)</span>", page).group(1)
    assert re.fullmatch(r"new 0 · departed 0 · incumbents \+[\d.]+K", caption), caption
    mix = page.split('id="growth-mix"', 1)[1].split("</section>", 1)[0]
    cells = re.findall(r'<td class="num">([^<]+)</td>', mix)
    assert cells and all(c[0] in "+\u2212" or c == "0" for c in cells), cells


def test_the_history_holds_the_90_days_it_says(client, two_weeks):
    days = client.get("/api/v1/growth").json()["history"]["days"]
    last = selectors.rolling_window(7).end - timedelta(microseconds=1)
    assert len(days) == 90 and days[-1] == last.astimezone(UTC).date().isoformat()


def test_the_forms_last_day_before_its_first_is_said_in_the_forms_words(client, two_weeks):
    page = client.get("/growth/?start=2026-11-10&until=2026-11-09").content.decode()
    assert "The last day must not be before the first day. Showing the last 7 days instead." in page
    page = client.get("/growth/?start=2026-11-10T10:00&until=2026-11-10T10:00").content.decode()
    assert "The end must be after the start. Showing the last 7 days instead." in page  # moments
    for end in ("T24:00", "T24:00:00", "T24:00:00.000"):
        page = client.get(f"/growth/?start=2026-11-09T18:00&until=2026-11-09{end}").content.decode()
        assert "Nov 9, 2026 18:00 – 24:00 UTC" in page and "Showing the last 7 days" not in page  # as labels write it
    page = client.get("/growth/?period=week&start=2026-11-09&until=2026-11-10").content.decode()
    assert "Give a period, or the first and the last day, not both." in page
    page = client.get("/growth/?start=2026-11-09&until=Nov 10").content.decode()
    assert "until: " in page and "end:" not in page  # the form's field, not the API's
    page = client.get("/growth/?start=2026-11-10").content.decode()
    assert "Give both the first and the last day, or neither. Showing the last 7 days instead." in page


def test_one_whole_day_is_headed_by_its_date(client, two_weeks):
    page = client.get("/growth/?start=2026-11-28&until=2026-11-28&tz=UTC").content.decode()
    assert "Nov 28, 2026 UTC" in page and "Nov 28 00:00 – Nov 29 00:00" not in page
