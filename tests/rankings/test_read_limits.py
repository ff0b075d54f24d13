"""Read-API limits that hold: the anonymous allowance follows the real client address
(X-Forwarded-For only from trusted proxies), a made-up bearer earns nothing, and the
expensive uncached reads are bounded with a 400 that names the limit."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from rest_framework.throttling import SimpleRateThrottle

from config.network import client_address, client_ident, parse_networks
from ingest.auth import revoke
from ingest.models import IngestKey
from tests.foundation.test_settings import _manage

pytestmark = pytest.mark.django_db

URL = "/api/v1/categories"


@pytest.fixture
def rates(monkeypatch):
    """Anonymous clients get 2 requests a minute, ingest keys 100."""
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"anon": "2/minute", "key": "100/minute"})


@pytest.fixture
def proxies(settings):
    def trust(*networks: str) -> None:
        settings.TOKENRANK = {**settings.TOKENRANK, "TRUSTED_PROXIES": parse_networks(networks)}

    return trust


def statuses(client, n: int, **headers) -> list[int]:
    return [client.get(URL, **headers).status_code for _ in range(n)]


def test_forwarded_for_from_an_untrusted_peer_buys_no_new_allowance(client, rates, proxies):
    proxies("10.0.0.0/8")
    answers = [
        client.get(URL, REMOTE_ADDR="203.0.113.5", HTTP_X_FORWARDED_FOR=f"198.51.100.{i}").status_code
        for i in range(3)
    ]
    assert answers == [200, 200, 429]


def test_behind_a_trusted_proxy_each_client_has_its_own_allowance(client, rates, proxies):
    proxies("10.0.0.0/8")
    via_proxy = {"REMOTE_ADDR": "10.0.0.2"}
    assert statuses(client, 3, HTTP_X_FORWARDED_FOR="198.51.100.1", **via_proxy) == [200, 200, 429]
    # Another client behind the same proxy is not throttled for the first one's requests.
    assert statuses(client, 1, HTTP_X_FORWARDED_FOR="198.51.100.2", **via_proxy) == [200]
    # A client that writes its own X-Forwarded-For is still known by what the proxy appended.
    spoofed = "192.0.2.77, 198.51.100.1"
    assert statuses(client, 1, HTTP_X_FORWARDED_FOR=spoofed, **via_proxy) == [429]


def test_ipv6_clients_are_counted_per_64(client, rates):
    assert statuses(client, 2, REMOTE_ADDR="2001:db8:1:2::1") == [200, 200]
    assert statuses(client, 1, REMOTE_ADDR="2001:db8:1:2::ffff") == [429]
    assert statuses(client, 1, REMOTE_ADDR="2001:db8:1:3::1") == [200]


def test_a_made_up_bearer_earns_no_allowance_of_its_own(client, rates):
    _, key = IngestKey.issue("reader")
    revoked, revoked_key = IngestKey.issue("old-reader")
    revoke(revoked)
    assert statuses(client, 2) == [200, 200]
    for made_up in ("Bearer trk_made-up", f"Bearer {key}x", f"Bearer {revoked_key}", "Bearer  "):
        assert statuses(client, 1, HTTP_AUTHORIZATION=made_up) == [429], made_up
    assert statuses(client, 5, HTTP_AUTHORIZATION=f"Bearer {key}") == [200] * 5


@pytest.mark.parametrize(
    ("remote", "forwarded", "expected"),
    [
        ("203.0.113.5", "198.51.100.1", "203.0.113.5"),  # not a proxy: header ignored
        ("10.0.0.2", "198.51.100.1", "198.51.100.1"),
        ("10.0.0.2", "198.51.100.1, 10.0.0.9", "198.51.100.1"),  # two trusted hops
        ("10.0.0.2", "evil, 198.51.100.1", "198.51.100.1"),
        ("10.0.0.2", "", "10.0.0.2"),  # a proxy with nothing to say is the client
        ("10.0.0.2", "not-an-address", "10.0.0.2"),
        ("10.0.0.2", "10.0.0.3, 10.0.0.4", "10.0.0.3"),  # only proxies: the first one
        ("::ffff:10.0.0.2", "198.51.100.1", "198.51.100.1"),  # IPv4-mapped peer
        ("", "198.51.100.1", ""),
    ],
)
def test_client_address(proxies, remote, forwarded, expected):
    proxies("10.0.0.0/8")
    request = RequestFactory().get("/", REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded)
    assert client_address(request) == expected


def test_client_ident_groups_ipv6_by_64(proxies):
    proxies()
    request = RequestFactory().get("/", REMOTE_ADDR="2001:db8::1234")
    assert client_ident(request) == "2001:db8::/64"


def test_a_bad_trusted_proxy_setting_stops_the_start():
    result = _manage("check", TOKENRANK_TRUSTED_PROXIES="10.0.0.0/8,nginx.local")
    assert result.returncode != 0
    assert "TOKENRANK_TRUSTED_PROXIES" in result.stderr and "nginx.local" in result.stderr


def test_long_windows_off_day_boundaries_are_read_exactly(client):
    """Only a window's edges are read from quarter-hours, so any length is fine (up to 10 years),
    and the window read is the one asked for."""
    long = "start=2025-01-01T06:00:00Z&end=2025-06-01T06:00:00Z"
    for url in (f"/api/v1/rankings/models?{long}", f"/api/v1/trending/apps?{long}"):
        assert client.get(url).status_code == 200, url
    window = client.get(f"/api/v1/rankings/models?{long}").json()["window"]
    assert (window["start"], window["end"], "note" in window) == (
        "2025-01-01T06:00:00+00:00",
        "2025-06-01T06:00:00+00:00",
        False,
    )


@pytest.mark.parametrize(
    ("query", "status", "field"),
    [
        ("start=2000-01-01&end=2010-01-01", 200, None),
        ("start=2000-01-01&end=2010-01-05", 400, "end"),  # ten years and four days
        ("start=2026-01-01&end=2036-01-01", 200, None),
        ("start=2026-01-01&end=2036-01-02", 400, "end"),  # ten calendar years and a day
        ("start=2028-02-29&end=2038-02-28", 200, None),
        ("start=2099-01-01&end=2100-01-01", 200, None),
        ("start=2099-12-31&end=2100-12-31", 400, "end"),
        ("start=1999-12-31&end=2000-01-02", 400, "start"),
        # Years with no room for ten more, or for a zone's offset (a tester's 500s).
        ("start=9999-01-01&end=9999-01-02", 400, "start"),
        ("start=9999-12-31T23:00&end=9999-12-31T23:59&tz=America/New_York", 400, "start"),
        ("start=0001-01-01T01:00&end=2000-01-02&tz=Asia/Kolkata", 400, "start"),
    ],
)
def test_windows_span_ten_years_at_most_within_2000_to_2100(client, query, status, field):
    response = client.get(f"/api/v1/rankings/models?{query}" + ("" if "tz=" in query else "&tz=UTC"))
    assert response.status_code == status, response.content
    if field:
        assert response.json()["error"]["field"] == field


def test_timeseries_points_are_bounded(client):
    window = "start=2025-01-01T00:00:00Z&end=2025-03-02T00:00:00Z"  # 60 days = 1,440 hours
    ok = client.get(f"/api/v1/timeseries?{window}&interval=hour&group_by=model&top=10")
    assert ok.status_code == 200 and len(ok.json()["buckets"]) == 1440
    response = client.get(f"/api/v1/timeseries?{window}&interval=hour&group_by=model&top=20")
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["field"]) == ("too_many_points", "top")
    assert "20,000" in error["message"] and "30,240" in error["message"]
    # Without group_by there is one series: the same window is fine.
    assert client.get(f"/api/v1/timeseries?{window}&interval=hour&top=20").status_code == 200


def test_made_up_parameters_do_not_bypass_the_ranking_cache(client, usage):
    first = client.get("/api/v1/rankings/models?period=month&limit=1&metric=requests")
    assert first.status_code == 200
    with CaptureQueriesContext(connection) as queries:
        again = client.get("/api/v1/rankings/models?metric=requests&limit=1&period=month&nonce=123")
    assert again.status_code == 200
    assert not any("rankings_usage" in q["sql"] for q in queries.captured_queries)
    assert again.json() == first.json()
    assert first.json()["next"] == "/api/v1/rankings/models?metric=requests&period=month&limit=1&offset=1"


@pytest.mark.parametrize(
    ("query", "status", "code"),
    [
        ("q=" + "a" * 4095, 414, "uri_too_long"),  # 4,097 bytes
        ("&".join(["a"] * 1001), 400, "too_many_parameters"),  # Django's 1,000, in 2,001 bytes
    ],
)
def test_a_query_string_not_read_is_the_documented_error(client, caplog, query, status, code):
    api = client.get(f"/api/v1/rankings/models?{query}")
    assert api.status_code == status
    assert api.json()["error"]["code"] == code and api.json()["error"]["field"] is None
    page = client.get(f"/models/?{query}&tz=Asia/Kolkata")
    assert page.status_code == status
    body = page.content.decode()
    assert f"Error {status}" in body and 'role="search"' in body  # the site's error page, not a bare one
    assert 'href="/models/"' in body  # its links carry nothing of the refused query
    assert "could not be rendered" not in caplog.text


def test_the_query_string_limits_are_exact(client):
    assert client.get("/api/v1/rankings/models?x=" + "a" * 4094).status_code == 200  # 4,096 bytes
    assert client.get("/api/v1/rankings/models?x=" + "a" * 4095).status_code == 414
    assert client.get("/api/v1/rankings/models?" + "&".join(["a"] * 1000)).status_code == 200
    assert client.get("/api/v1/rankings/models?" + "&".join(["a"] * 1001)).status_code == 400


@pytest.mark.parametrize(
    "url",
    ["/api/v1/growth?start=9999-01-01&end=9999-01-02", "/api/v1/timeseries?start=9999-12-31T23:00&end=9999-12-31T23:59"]
    + ["/growth/?start=9995-06-01&until=9995-06-02", "/embed/growth/seven/?start=9999-01-01&until=9999-01-02"],
)
def test_a_window_in_the_last_years_of_the_calendar_is_refused_not_a_500(client, usage, url):
    response = client.get(url)
    if url.startswith("/api/"):
        assert response.status_code == 400 and "2100-01-01" in response.json()["error"]["message"]
    else:  # pages say what the API refuses, and show the default window
        assert response.status_code == 200 and "2100-01-01" in response.content.decode()
