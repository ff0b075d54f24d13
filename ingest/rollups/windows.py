"""Time windows and buckets: the half-open windows ``[start, end)`` every read sums over (UTC
instants, reported in a zone), the one definition of each period pages, API, growth, CSV
and datasets offer, the previous window a change compares with, and the bucket starts a
series is zero-filled on (quarter-hours, hours, days, weeks from Monday, months, in the
window's zone; DST-correct).

A period is the calendar period so far: today, this week (from Monday), this month, this
year, each from its start in the zone to now (rounded up to the quarter-hour, the finest
grain stored). Its previous window is the same elapsed time from the start of the period
before (this week so far against last week to the same weekday and time), so a steady rate
reads as no change at any hour; a complete period is compared with the complete one before.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta

from psycopg import sql

from ingest.rollups import zones
from ingest.rollups.grains import MODEL_TOTAL, QUARTERLY, read_cursor

PERIODS = {"day": 1, "week": 7, "month": 30, "year": 365, "all": None}
CALENDAR_PERIODS = ("day", "week", "month", "year")
INTERVALS = ("hour", "day", "week", "month")
DATE_INTERVALS = INTERVALS[1:]  # the intervals of the per-day (narrow) rollups
QUARTER = timedelta(minutes=15)


def now() -> datetime:
    return datetime.now(UTC)


def ceil_quarter(moment: datetime) -> datetime:
    """The first quarter-hour boundary at or after ``moment`` (UTC offsets are multiples of
    15 minutes, so this is a quarter-hour boundary in every zone)."""
    floor = moment.replace(minute=moment.minute - moment.minute % 15, second=0, microsecond=0)
    return floor if floor == moment else floor + QUARTER


def local_start(moment: datetime, unit: str, zone: str) -> datetime:
    """The start (a UTC instant) of the ``unit`` (hour, day, week, month, year) holding
    ``moment`` in ``zone``."""
    local = moment.astimezone(zones.info(zone))
    if unit == "hour":
        return local.replace(minute=0, second=0, microsecond=0).astimezone(UTC)
    day = local.date()
    if unit == "week":
        day -= timedelta(days=day.weekday())
    elif unit == "month":
        day = day.replace(day=1)
    elif unit == "year":
        day = day.replace(month=1, day=1)
    return midnight(day, zone)


def midnight(day: date, zone: str) -> datetime:
    """00:00 of ``day`` in ``zone``, as a UTC instant."""
    return datetime.combine(day, time(0), zones.info(zone)).astimezone(UTC)


def shift(start: datetime, unit: str, count: int, zone: str) -> datetime:
    """The start of the ``unit`` ``count`` units after the one starting at ``start`` (wall-clock
    steps in ``zone``: a day after a DST change is 23 or 25 hours)."""
    if unit in ("quarter", "hour"):
        return start + count * (QUARTER if unit == "quarter" else timedelta(hours=1))
    day = start.astimezone(zones.info(zone)).date()
    if unit in ("day", "week"):
        day += timedelta(days=count * (7 if unit == "week" else 1))
    else:
        months = day.year * 12 + day.month - 1 + count * (12 if unit == "year" else 1)
        day = date(months // 12, months % 12 + 1, 1)
    return midnight(day, zone)


@dataclass(frozen=True)
class Window:
    """``[start, end)`` in UTC, reported in ``zone``; ``period`` when it is a calendar period
    (so far); ``note`` when the window read differs from the one asked for."""

    start: datetime
    end: datetime
    zone: str = "UTC"
    period: str | None = None
    note: str = ""

    @property
    def length(self) -> timedelta:
        return self.end - self.start

    @property
    def open(self) -> bool:
        """It reaches now: no event counted yet lies after its end (events up to the accepted
        clock skew aside), so its last day may be read whole."""
        return self.end >= now()

    @property
    def ahead(self) -> bool:
        """It ends after the current quarter-hour: part of it is still to come (a window from
        start to end into the future, so far)."""
        return self.end > ceil_quarter(now())

    @property
    def complete(self) -> bool:
        """A calendar period wholly gone by. One so far reaches its end a quarter-hour early
        (its end is now rounded up): until the period is over, it is still compared over the
        same elapsed time, so a flat series shows no change in a month's last minutes."""
        end = shift(self.start, self.period, 1, self.zone)
        return self.end >= end and now() >= end

    def previous(self) -> Window:
        """The window a change compares with: for a calendar period, the period before over the
        same elapsed time (the whole period before when this one is complete); otherwise the
        equal window just before (over the same elapsed time when this one ends in the future)."""
        return self.earlier(1)

    def earlier(self, count: int) -> Window:
        """The window ``count`` periods before, like for like: for a calendar period, that
        period over the same elapsed time (whole when this one is complete); otherwise the
        ``count``-th equal window before, back to back (over the same elapsed time when this one
        is :attr:`ahead`)."""
        if self.period in CALENDAR_PERIODS:
            start = shift(self.start, self.period, -count, self.zone)
            end = shift(start, self.period, 1, self.zone)
            if self.complete:
                return Window(start, end, self.zone)
            return Window(start, min(start + self.length, end), self.zone)
        start = self.start - count * self.length
        if self.ahead:  # so far, like a period: the same elapsed time of the window before
            return Window(start, start + max(ceil_quarter(now()) - self.start, timedelta(0)), self.zone)
        return Window(start, start + self.length, self.zone)

    def in_zone(self, zone: str) -> Window:
        return replace(self, zone=zone)

    def whole_days(self) -> Window:
        """The smallest window of whole days in its zone that covers this one, for the narrow
        rollups: they are kept per day in the zone the date rollups are built in, and a day's
        row is read as the day of the same date here (never shifted a day). The note says so
        when the zones differ, or when the window is wider than asked; the period is kept."""
        built = zones.built_zone()
        start = local_start(self.start, "day", self.zone)
        end = local_start(self.end, "day", self.zone)
        # A window so far keeps its end: its last day is read whole, and nothing lies after now.
        end = end if end == self.end else self.end if self.open else shift(end, "day", 1, self.zone)
        note = self.note
        if built != self.zone:
            note = f"read as whole days: each day holds that date's usage in {built} (this section is kept per day)"
        elif start != self.start or (end != self.end and not self.open):
            note = f"read as whole days in {built} (this section is kept per day)"
        return replace(self, start=start, end=end, note=note)

    def comparison(self) -> str:
        """What :meth:`previous` is, in words ("vs the same time last week", "day over day",
        "vs the previous day", "vs the previous 45 minutes", "vs the previous 23 hours 30
        minutes", "vs the same elapsed time of the previous 7 days")."""
        if self.period in CALENDAR_PERIODS:
            if self.complete:
                return f"{self.period} over {self.period}"
            return {"day": "vs the same time yesterday"}.get(self.period, f"vs the same time last {self.period}")
        minutes, seconds = divmod(int(self.length.total_seconds()), 60)
        so_far = "the same elapsed time of " if self.ahead else ""
        if seconds or not minutes:
            return f"vs {so_far}the window before"
        days, hours, minutes = minutes // 1440, minutes // 60 % 24, minutes % 60
        parts = [
            f"{n} {unit}{'s' if n != 1 else ''}"
            for n, unit in ((days, "day"), (hours, "hour"), (minutes, "minute"))
            if n
        ]
        if len(parts) == 1:
            parts = [parts[0].removeprefix("1 ")]  # "the previous day", not "the previous 1 day"
        return f"vs {so_far}the previous {' '.join(parts)}"

    def label(self, named: bool = False) -> str:
        """The window for a page, with its note when it has one (pages say what the API's
        ``window.note`` says); a window within a day names its zone (one whole day is its date),
        a longer one when ``named``."""
        zone = zones.info(self.zone)
        start, last = self.start.astimezone(zone), (self.end - timedelta(seconds=1)).astimezone(zone)
        if self.start == local_start(self.start, "day", self.zone) and self.end == shift(
            self.start, "day", 1, self.zone
        ):
            text = f"{start:%b %-d, %Y} {self.zone}"  # one whole day: its date, not 00:00 – 00:00
        elif self.length <= timedelta(days=1):
            # Within a day: its date with the year once, the end's time ("24:00" at midnight).
            end = self.end.astimezone(zone)
            if last.date() == start.date():
                until = f"{end:%H:%M}" if end.date() == start.date() else "24:00"
            else:
                until = f"{end:%b %-d %H:%M}"
            text = f"{start:%b %-d, %Y %H:%M} – {until} {self.zone}"
        else:
            # Days, with the time of an edge within a day (a rolling window, a start time asked
            # for, a period so far): an end at midnight names the last day, inclusive.
            first = f"{start:%b %-d, %Y}"
            if timed_start := self.start != local_start(self.start, "day", self.zone):
                first += f" {start:%H:%M}"
            timed_end = self.end != local_start(self.end, "day", self.zone)
            until = f"{self.end.astimezone(zone):%b %-d, %Y %H:%M}" if timed_end else f"{last:%b %-d, %Y}"
            text = f"{first} – {until}" + (f" {self.zone}" if named or timed_start or timed_end else "")
        return f"{text} · {self.note}" if self.note else text


def period_window(period: str, at: datetime | None = None, zone: str | None = None) -> Window:
    """The calendar ``period`` so far in ``zone`` (default: the reporting zone): from its start
    to ``at`` (now) rounded up to the quarter-hour; ``all``: from the start of the day (in ``zone``) holding the first event."""
    at = at or now()
    zone = zone or zones.reporting_zone()
    end = ceil_quarter(at)
    if period == "all":
        # From the start of the day (in ``zone``) holding the first event: every zone's total
        # is the same.
        start = local_start(first_quarter() or at, "day", zone)
        return Window(min(start, local_start(at, "day", zone)), end, zone, "all")
    return Window(local_start(at, period, zone), end, zone, period)


def history_window(days: int, interval: str, at: datetime | None = None, zone: str | None = None) -> Window:
    """The last ``days`` days in ``zone`` including today so far, for a chart per ``interval``;
    weekly and monthly charts start at their first bucket's start, so no bar but the current
    one is partial."""
    at = at or now()
    zone = zone or zones.reporting_zone()
    start = shift(local_start(at, "day", zone), "day", 1 - days, zone)
    if interval in ("week", "month"):
        start = local_start(start, interval, zone)
    return Window(start, ceil_quarter(at), zone)


def rolling_window(days: int = 7, at: datetime | None = None, zone: str | None = None) -> Window:
    """The last ``days`` x 24 hours up to now rounded up to the quarter-hour: compared with
    the equal window just before it (both complete spans of time)."""
    end = ceil_quarter(at or now())
    return Window(end - timedelta(days=days), end, zone or zones.reporting_zone())


def first_day() -> date | None:
    """The first day counted (in the zone the date rollups are built in)."""
    with read_cursor() as cursor:
        # The first entry of the smallest grain's primary key (bucket first).
        cursor.execute(sql.SQL("SELECT min(bucket) FROM {}").format(MODEL_TOTAL.name))
        (first,) = cursor.fetchone()
    return first


def first_quarter() -> datetime | None:
    """The first quarter-hour counted (the quarter-hour cube is kept forever)."""
    with read_cursor() as cursor:
        # The first entry of the cube's primary key (bucket first).
        cursor.execute(sql.SQL("SELECT min(bucket) FROM {}").format(QUARTERLY.name))
        (first,) = cursor.fetchone()
    return first


def truncate(moment: datetime, interval: str, zone: str = "UTC") -> datetime:
    """The start of the ``interval`` bucket holding ``moment`` in ``zone``."""
    return local_start(moment, interval, zone)


def bucket_starts(window: Window, interval: str) -> list[datetime]:
    """Every bucket start of ``interval`` in the window's zone that overlaps ``window`` (for
    zero-filling), as UTC instants."""
    current = truncate(window.start, interval, window.zone)
    starts = []
    while current < window.end:
        starts.append(current)
        current = shift(current, interval, 1, window.zone)
    return starts


def wall_clock(starts: list[datetime], zone: str) -> list[str]:
    """Bucket starts as wall-clock times in ``zone`` (ISO, no offset: a chart's x axis)."""
    info = zones.info(zone)
    return [start.astimezone(info).replace(tzinfo=None).isoformat() for start in starts]


def partial_buckets(window: Window, interval: str, starts: list[datetime]) -> list[bool]:
    """Which buckets the window (or the present) cuts short: a first bucket starting before
    the window, a last one ending after it or after now ("so far")."""
    limit = min(window.end, now())  # a bucket ending after now is still filling, whatever the window
    return [start < window.start or shift(start, interval, 1, window.zone) > limit for start in starts]
