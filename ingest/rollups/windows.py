"""Time windows and buckets: the half-open UTC windows ``[start, end)`` every read sums
over, the periods and intervals pages and the API offer, and the bucket starts a series is
zero-filled on (hours, UTC days, ISO weeks from Monday, months: the buckets of the grains)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from psycopg import sql

from ingest.rollups.grains import MODEL_TOTAL, read_cursor

PERIODS = {"day": 1, "week": 7, "month": 30, "year": 365, "all": None}
INTERVALS = ("hour", "day", "week", "month")


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime

    @property
    def days_aligned(self) -> bool:
        return self.start.time() == time(0) and self.end.time() == time(0)

    @property
    def length(self) -> timedelta:
        return self.end - self.start

    @property
    def whole_weeks(self) -> bool:
        """Weekly buckets cover exactly this window: it starts on a Monday and ends on one,
        or ends in the future (the current week's bucket holds nothing later than now)."""
        monday = self.start.weekday() == 0 and self.start.time() == time(0)
        end_on_monday = self.end.weekday() == 0 and self.end.time() == time(0)
        return monday and (end_on_monday or self.end > now())

    def whole_days(self) -> Window:
        """The smallest window of whole UTC days that covers this one."""
        end = day_start(self.end)
        return Window(day_start(self.start), end if end == self.end else end + timedelta(days=1))

    def previous(self) -> Window:
        return Window(self.start - self.length, self.start)

    def label(self) -> str:
        last = self.end - timedelta(seconds=1)
        if self.length <= timedelta(days=1):
            return f"{self.start:%b %-d %H:%M} – {self.end:%b %-d %H:%M} UTC"
        return f"{self.start:%b %-d, %Y} – {last:%b %-d, %Y}"


def now() -> datetime:
    return datetime.now(UTC)


def day_start(moment: datetime) -> datetime:
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def period_window(period: str, at: datetime | None = None) -> Window:
    """``day``: the last 24 hours to the end of the current hour; ``week``/``month``/``year``:
    the last 7/30/365 UTC days including today; ``all``: since the first rollup."""
    at = at or now()
    if period == "day":
        end = at.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        return Window(end - timedelta(days=1), end)
    end = day_start(at) + timedelta(days=1)
    days = PERIODS[period]
    if days is None:
        first = first_day()
        return Window(first or end - timedelta(days=1), end)
    return Window(end - timedelta(days=days), end)


def history_window(days: int, interval: str, at: datetime | None = None) -> Window:
    """The last ``days`` UTC days to the end of today, for a chart per ``interval``; weekly
    and monthly charts start at their first bucket's start, so no bar is cut short (and
    weekly ones read the weekly rollups)."""
    end = period_window("week", at).end
    start = end - timedelta(days=days)
    if interval == "week":
        start -= timedelta(days=start.weekday())
    elif interval == "month":
        start = start.replace(day=1)
    return Window(start, end)


def rolling_window(days: int = 7, at: datetime | None = None) -> Window:
    """The last ``days`` x 24 hours up to the end of the current hour: a fair comparison
    with the equal window before it (no partial day)."""
    end = (at or now()).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    return Window(end - timedelta(days=days), end)


def first_day() -> datetime | None:
    with read_cursor() as cursor:
        # The first entry of the smallest grain's primary key (bucket first).
        cursor.execute(sql.SQL("SELECT min(bucket) FROM {}").format(MODEL_TOTAL.name))
        (first,) = cursor.fetchone()
    return datetime(first.year, first.month, first.day, tzinfo=UTC) if first else None


def truncate(moment: datetime, interval: str) -> datetime:
    """The start of the ``interval`` bucket holding ``moment``."""
    if interval == "hour":
        return moment.replace(minute=0, second=0, microsecond=0)
    day = day_start(moment)
    if interval == "week":
        return day - timedelta(days=day.weekday())
    if interval == "month":
        return day.replace(day=1)
    return day


def bucket_starts(window: Window, interval: str) -> list[datetime]:
    """Every bucket start of ``interval`` that overlaps ``window`` (for zero-filling)."""
    step = {"hour": timedelta(hours=1), "day": timedelta(days=1), "week": timedelta(days=7)}
    current = truncate(window.start, interval)
    starts = []
    while current < window.end:
        starts.append(current)
        if interval == "month":
            current = (current.replace(day=28) + timedelta(days=4)).replace(day=1)
        else:
            current += step[interval]
    return starts
