"""A zone picked on a page follows the visitor through every link and form of the site (the
URL is the only memory); which zones visitors may ask for; windows the pages do not read, and
window edges that do not exist."""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit

import pytest

from ingest.rollups import zones
from rankings.page_state import ZONE_CHOICES, State, zone_choices

pytestmark = pytest.mark.django_db

KOLKATA = "Asia/Kolkata"
# Links that are not pages in a zone: the API's documents and files, static files.
NOT_PAGES = ("/api/", "/static/", "/admin/", "/otlp/", "/badge/", "/og/")


class Links(HTMLParser):
    """A page's links (``href``, htmx ``hx-get`` of an element that sends no form's fields)
    to pages of the site, and the fields of each of its GET forms."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.forms: list[dict] = []
        self._form: dict | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "a" and a.get("href"):
            self._link(a["href"])
        if a.get("hx-get") and "hx-include" not in a and tag != "form":  # a form sends its fields
            self._link(a["hx-get"])
        if tag == "form" and (a.get("method") or "get").lower() == "get":
            self._form = {"action": a.get("action"), "fields": {}}
            self.forms.append(self._form)
        if tag in ("input", "select") and self._form is not None and a.get("name"):
            self._form["fields"][a["name"]] = a.get("value")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None

    def _link(self, url: str) -> None:
        if url.startswith("/") and not url.startswith("//") and not url.startswith(NOT_PAGES):
            self.links.append(url)


def _parse(client, url: str) -> Links:
    response = client.get(url)
    assert response.status_code in (200, 404), url
    parser = Links()
    parser.feed(response.content.decode())
    return parser


def _tz(url: str) -> list[str]:
    return parse_qs(urlsplit(url).query).get("tz", [])


def _asked(url: str, tz: str) -> str:
    """``url`` asked for in ``tz`` (none: as it is, without a zone)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "tz"] + ([("tz", tz)] if tz else [])
    return parts.path + ("?" + urlencode(query) if query else "")


def _crawl(client, start: str, tz: str, clicks: int = 2) -> dict[str, Links]:
    """Every page reached from ``start`` in ``clicks`` clicks (each path once), asked for in
    ``tz`` whether or not the link carried it."""
    seen: dict[str, Links] = {}
    frontier = [start]
    for _ in range(clicks + 1):
        following = []
        for url in frontier:
            path = urlsplit(url).path
            if path not in seen:
                seen[path] = _parse(client, _asked(url, tz))
                following += seen[path].links
        frontier = following
    return seen


def test_every_link_and_form_of_every_page_keeps_the_zone_picked(client, usage):
    """From the home page in Asia/Kolkata, two clicks deep: navigation, entity links, breadcrumbs,
    tabs, "Show more", fragments, search results and every GET form carry the zone."""
    pages = _crawl(client, "/?sections=all", KOLKATA)
    kinds = {urlsplit(p).path.split("/")[1] for p in pages}
    assert {"", "models", "apps", "authors", "categories", "providers", "growth", "embed"} <= kinds, kinds
    assert len(pages) > 20
    for path, page in pages.items():
        assert page.links, path
        for link in page.links:
            assert _tz(link) == [KOLKATA], (path, link)
        for form in page.forms:
            # A hidden field, or the zone selector (a select: no value attribute).
            assert "tz" in form["fields"] and form["fields"]["tz"] in (KOLKATA, None), (path, form)


def test_search_results_and_suggestions_keep_the_zone(client, usage):
    for url in (f"/search/?q=claude&tz={KOLKATA}",):
        page = _parse(client, url)
        assert any("/models/anthropic/claude-sonnet-4/" in link for link in page.links)
        assert all(_tz(link) == [KOLKATA] for link in page.links), page.links
    suggestions = client.get(f"/search/?q=claude&tz={KOLKATA}", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="site-suggest")
    parser = Links()
    parser.feed(suggestions.content.decode())
    assert parser.links and all(_tz(link) == [KOLKATA] for link in parser.links), parser.links
    header = _parse(client, f"/?tz={KOLKATA}")
    search_form = next(f for f in header.forms if f["action"] == "/search/")
    assert search_form["fields"]["tz"] == KOLKATA  # the header's box sends it (hx-include)


def test_the_sites_own_zone_is_never_added_to_a_link(client, usage):
    """Default URLs stay clean, also when a visitor asks for the site's zone by name."""
    pages = _crawl(client, "/?sections=all", "UTC", clicks=1)
    assert len(pages) > 10
    for path, page in pages.items():
        for link in page.links:
            assert _tz(link) == [], (path, link)
        for form in page.forms:
            assert form["fields"].get("tz") is None, (path, form)
    assert "Times in UTC." in client.get("/").content.decode()
    assert f"Times in {KOLKATA}." in client.get(f"/?tz={KOLKATA}").content.decode()


def test_the_zone_selector_offers_only_zones_visitors_may_ask_for_and_the_sites_as_empty():
    for zone in ZONE_CHOICES:
        assert zones.askable(zone) and zone in zones.places(), zone
    choices = zone_choices(State(tz=KOLKATA))
    assert [c for c in choices if c["selected"]] == [{"value": KOLKATA, "label": KOLKATA, "selected": True}]
    assert choices[0] == {"value": "", "label": "UTC", "selected": False}


@pytest.mark.parametrize("name", ["Factory", "EST5EDT", "Etc/GMT+5", "US/Eastern", "Japan", "GMT", "Etc/UTC"])
def test_names_that_are_no_places_zone_are_refused_by_the_api_and_pages(client, usage, name):
    assert name in zones.known()  # zoneinfo lists them: only the rule refuses them
    for url in (
        f"/api/v1/rankings/models?tz={name}",
        f"/api/v1/timeseries?tz={name}",
        f"/api/v1/models?tz={name}",
        f"/api/v1/search?q=a&tz={name}",
        f"/api/v1/growth?tz={name}",
    ):
        response = client.get(url.replace("+", "%2B"))
        assert response.status_code == 400, url
        error = response.json()["error"]
        assert error["field"] == "tz" and "is no place's time zone" in error["message"], (url, error)
    for url in (f"/?tz={name}", f"/models/?tz={name}", f"/growth/?tz={name}"):
        page = client.get(url.replace("+", "%2B")).content.decode()
        assert "Not a place&#x27;s time zone: showing UTC" in page, url
        assert "tz=" not in "".join(_parse(client, url.replace("+", "%2B")).links)


@pytest.mark.parametrize("name", ["UTC", "Asia/Kolkata", "America/Argentina/Buenos_Aires", "Pacific/Chatham"])
def test_places_and_utc_are_accepted(client, name):
    response = client.get(f"/api/v1/rankings/models?tz={name}")
    assert response.status_code == 200 and response.json()["window"]["tz"] == name


def test_a_window_edge_in_a_dst_gap_is_a_400_naming_it(client, usage):
    """2026-03-08 02:00-03:00 does not exist in New York (clocks jump to 03:00)."""
    base = "/api/v1/rankings/models?tz=America/New_York"
    response = client.get(f"{base}&start=2026-03-08T02:30&end=2026-03-09T00:00")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["field"] == "start"
    assert "2026-03-08T02:30:00 does not exist in America/New_York" in error["message"]
    assert "daylight-saving" in error["message"]
    response = client.get(f"{base}&start=2026-03-07T00:00&end=2026-03-08T02:00")
    assert response.status_code == 400 and response.json()["error"]["field"] == "end"
    # Just outside the gap, or with an offset: read as asked.
    window = client.get(f"{base}&start=2026-03-08T03:00&end=2026-03-09T00:00").json()["window"]
    assert window["start"] == "2026-03-08T07:00:00+00:00"
    window = client.get(f"{base}&start=2026-03-08T02:30-05:00&end=2026-03-09T00:00").json()["window"]
    assert window["start"] == "2026-03-08T07:30:00+00:00"
    # A repeated time (clocks set back on 2026-11-01) reads its first occurrence (EDT).
    window = client.get(f"{base}&start=2026-11-01T01:30&end=2026-11-02T00:00").json()["window"]
    assert window["start"] == "2026-11-01T05:30:00+00:00"
    # The growth page says the same, and shows its default window.
    page = client.get("/growth/?tz=America/New_York&start=2026-03-08T02:30&end=2026-03-09").content.decode()
    assert "2026-03-08T02:30:00 does not exist in America/New_York" in page
    assert "Showing the last 7 days instead." in page


@pytest.mark.parametrize("endpoint", ["rankings/models", "timeseries", "growth", "trending/models"])
def test_period_with_start_and_end_is_a_400_in_the_api(client, endpoint):
    response = client.get(f"/api/v1/{endpoint}?period=day&start=2026-11-01&end=2026-11-02")
    expected = {"code": "invalid", "message": "Give period, or start and end, not both.", "field": "period"}
    assert (response.status_code, response.json()["error"]) == (400, expected)


def test_period_with_start_and_end_on_the_growth_page_says_the_same_and_shows_the_default(client, usage):
    notice = "Give period, or start and end, not both. Showing the last 7 days instead."
    assert notice in client.get("/growth/?period=day&start=2026-11-01&end=2026-11-02").content.decode()
    assert "not both" not in client.get("/growth/?start=2026-11-01&end=2026-11-02").content.decode()


@pytest.mark.parametrize(
    "path", ["/", "/models/anthropic/claude-sonnet-4/", "/models/", "/authors/"]
)
def test_pages_of_calendar_periods_say_they_do_not_read_start_and_end(client, usage, path):
    notice = "This page shows calendar periods (its period tabs), not a window from start to end"
    for query in ("?start=2026-11-01&end=2026-11-02", "?period=month&start=2026-11-01", "?end=2026-11-02"):
        assert notice in client.get(path + query).content.decode(), path + query
    # Never cached into the page without them.
    assert notice not in client.get(path).content.decode()
    assert notice not in client.get(path + "?period=month").content.decode()


@pytest.mark.parametrize("path", ["/", "/models/anthropic/claude-sonnet-4/"])
def test_a_zone_warning_is_cached_apart_from_the_page_without_it(client, usage, path):
    """``?tz=bogus`` shows the page of the site's zone (same state, same cached page) plus a
    warning: neither may leak into the other."""
    warning = "Unknown time zone: showing UTC"
    assert warning not in client.get(path).content.decode()
    assert warning in client.get(path + "?tz=bogus").content.decode()
    assert warning not in client.get(path).content.decode()
