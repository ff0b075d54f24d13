"""The state of a page's switches (period, interval, metric, the sections' tabs), read
leniently from the query string, and the tabs that change one of them; shared by every page
module."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.http import HttpRequest

from ingest import schema
from ingest.rollups import zones
from ingest.rollups.windows import Window, history_window, period_window
from rankings.models import Category, TagKey

PERIOD_LABELS = {
    "day": "Today",
    "week": "This week",
    "month": "This month",
    "year": "This year",
    "all": "All time",
}
APP_PERIODS = ("day", "week", "month")
INTERVAL_LABELS = {"day": "Daily", "week": "Weekly", "month": "Monthly"}
INTERVAL_SPAN = {"day": 90, "week": 364, "month": 365}  # days of history each interval shows
# The pages' metric switch (``ingest.schema``).
METRIC_LABELS = {metric.name: metric.label for metric in schema.METRICS if metric.switch}
PAGE_SIZE = 20
SLUG_RE = re.compile(r"[a-z0-9-]{1,50}")
TAG_RE = re.compile(r"[a-z0-9_.-]{1,64}")
# The Languages section's tabs: ranked tag keys (rankings.catalog.TAG_KEYS).
LANGUAGE_KEYS = ("programming_language", "language")
LANGUAGE_LABELS = {"programming_language": "Programming", "language": "Natural"}
# The Cost per session section's tabs: every session, or a turn range.
TURN_LABELS = {
    "all": "All sessions",
    **{label: f"{label} turn{'s' if last != 1 else ''}" for label, _, last in schema.TURN_RANGES},
}


@dataclass
class Switches:
    """The switches of every page and index, with their defaults."""

    period: str = "week"
    metric: str = "tokens"
    tz: str = ""  # a time zone asked for (IANA name); empty: the site's reporting zone


@dataclass
class State(Switches):
    """The page's switches, read leniently: an unknown value falls back to the default."""

    interval: str = "week"
    category: str = "programming"
    app_period: str = "week"
    offset: int = 0
    lang: str = LANGUAGE_KEYS[0]
    tag: str = "task"
    turns: str = "all"
    sections: str = ""  # "all": the home page with every section rendered at once

    @classmethod
    def from_request(cls, request: HttpRequest) -> State:
        get = request.GET
        state = cls()
        if get.get("period") in PERIOD_LABELS:
            state.period = get["period"]
        if get.get("interval") in INTERVAL_LABELS:
            state.interval = get["interval"]
        if get.get("metric") in METRIC_LABELS:
            state.metric = get["metric"]
        category = get.get("category", "")
        if SLUG_RE.fullmatch(category) and Category.objects.filter(slug=category).exists():
            state.category = category
        if get.get("app_period") in APP_PERIODS:
            state.app_period = get["app_period"]
        offset = get.get("offset", "")
        if offset.isdigit() and int(offset) < 100_000:
            state.offset = int(offset)
        if get.get("lang") in LANGUAGE_KEYS:
            state.lang = get["lang"]
        tag = get.get("tag", "")
        if TAG_RE.fullmatch(tag) and TagKey.objects.filter(key=tag, ranked=True).exists():
            state.tag = tag
        if get.get("turns") in TURN_LABELS:
            state.turns = get["turns"]
        if get.get("sections") == "all":
            state.sections = "all"
        state.tz = page_zone(request)
        return state

    @property
    def zone(self) -> str:
        return self.tz or zones.reporting_zone()

    def period_window(self, period: str) -> Window:
        """``period`` so far in the page's zone (``ingest.rollups.windows.period_window``)."""
        return period_window(period, zone=self.zone)

    def history_window(self, days: int, interval: str) -> Window:
        return history_window(days, interval, zone=self.zone)

    def url(self, path: str, section: str | None = None, **changes: Any) -> str:
        """This state's URL with ``changes``; with ``section``, the htmx fragment URL."""
        values = {**vars(self), "offset": 0, **changes}
        defaults = vars(State())
        query = {k: v for k, v in values.items() if v != defaults[k]}
        if section:
            query["section"] = section
        return path + ("?" + urlencode(query) if query else "")

    @property
    def hidden_fields(self) -> list[tuple[str, Any]]:
        """The switches set away from their defaults but the zone: a form that changes the zone
        keeps them."""
        defaults = vars(State())
        return [(k, v) for k, v in vars(self).items() if k not in ("tz", "offset") and v != defaults[k]]

    @property
    def zone_choices(self) -> list[dict[str, Any]]:
        return zone_choices(self)

    def key(self, *names: str) -> str:
        """A cache-key part: the ``names`` switches and the zone (every section reads in it)."""
        return ":".join(f"{n}={getattr(self, n)}" for n in (*names, "zone"))


def page_zone(request: HttpRequest) -> str:
    """The zone a page's query string asks for, that the page reads in and every link on it
    carries (``with_zone``): one visitors may ask for (``zones.askable``) other than the
    site's own; empty for the site's zone, so default URLs stay clean."""
    tz = request.GET.get("tz", "")
    return tz if len(tz) <= 64 and zones.askable(tz) and tz != zones.reporting_zone() else ""


def zone_warning(request: HttpRequest) -> str:
    """What a page says when the zone asked for cannot be used: pages are lenient (the API
    answers 400), they show the site's zone and say why (never echoing the name: it may be
    anything)."""
    asked = request.GET.get("tz", "")
    if not asked or zones.askable(asked):
        return ""
    problem = "Not a place's time zone" if asked in zones.known() else "Unknown time zone"
    return (
        f"{problem}: showing {zones.reporting_zone()}. Zones are named by place (Region/City, such as "
        "Asia/Kolkata), or UTC."
    )


def window_notice(request: HttpRequest) -> str:
    """What a page that shows calendar periods (every page but growth) says when asked for a
    window from ``start`` to ``end``: it does not read one, and says so rather than ignore it."""
    if "start" not in request.GET and "end" not in request.GET:
        return ""
    return (
        "This page shows calendar periods (its period tabs), not a window from start to end: "
        "the growth page and the API read custom windows."
    )


def notices_key(request: HttpRequest) -> str:
    """A cache-key part for the notices a page shows about its query string beyond its state
    (a page cached per state URL would otherwise show them to every visitor, or to none)."""
    return "".join(f":{name}" for name, say in (("zone", zone_warning), ("window", window_notice)) if say(request))


def with_zone(url: str, tz: str) -> str:
    """``url`` (a path of this site, with or without a query and a fragment) carrying ``tz``."""
    if not tz:
        return url
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "tz"]
    return urlunsplit(parts._replace(query=urlencode([*query, ("tz", tz)])))


def tabs(state: State, path: str, field: str, labels: dict[str, str], section: str) -> list[dict[str, Any]]:
    return [
        {
            "value": value,
            "label": text,
            "active": getattr(state, field) == value,
            "url": state.url(path, **{field: value}),
            "section_url": state.url(path, section, **{field: value}),
        }
        for value, text in labels.items()
    ]


# The zone selector's choices: UTC, the reporting zone, and zones of every offset kind (whole,
# half and quarter hours; DST north and south); any other zone visitors may ask for
# (``zones.askable``: a place's zone or UTC) works in the URL too.
ZONE_CHOICES = (
    "UTC",
    "America/Los_Angeles",
    "America/New_York",
    "America/Sao_Paulo",
    "Europe/London",
    "Europe/Berlin",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Asia/Shanghai",
    "Asia/Tokyo",
    "Australia/Sydney",
    "Pacific/Chatham",
)


def zone_choices(state: State) -> list[dict[str, Any]]:
    """The zone selector's options, the page's zone among them and selected; the site's own
    zone has the value "" (static/js/zone.js then leaves ``tz`` out of the URL)."""
    site = zones.reporting_zone()
    names = dict.fromkeys((site, *ZONE_CHOICES, state.zone))
    return [
        {"value": "" if name == site else name, "label": name, "selected": name == state.zone} for name in names
    ]
