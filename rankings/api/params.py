"""Query parameters of the read API: validated by serializers (which also document them in
the OpenAPI schema), then resolved into selector arguments. Any invalid value is a 400 that
names the parameter."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from rest_framework import serializers

from config.api_errors import ApiError
from ingest import schema
from ingest.rollups import zones
from ingest.rollups.windows import QUARTER, ceil_quarter
from rankings import selectors
from rankings.selectors import Filters, Window

MAX_YEARS = 10  # the longest window, in calendar years


def years_after(moment: datetime, years: int) -> datetime:
    """The same wall-clock time ``years`` later (29 February: the 28th)."""
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:
        return moment.replace(year=moment.year + years, day=28)


# Windows fall within these (the first of 2000 to the first of 2100, UTC).
FIRST_START = datetime(2000, 1, 1, tzinfo=UTC)
LAST_END = datetime(2100, 1, 1, tzinfo=UTC)
# Timeseries: buckets per interval, and values per answer (buckets x series incl. others).
MAX_BUCKETS = {"hour": 24 * 92, "day": 3660, "week": 600, "month": 240}
MAX_POINTS = 20_000


def zone_of(attrs: dict) -> str:
    """The zone asked for (``tz``: 400 when unknown or no place's zone), else the reporting zone."""
    if "tz" not in attrs:
        return zones.reporting_zone()
    try:
        return zones.asked(attrs["tz"])
    except ValueError as exc:
        raise ApiError(400, "invalid", str(exc), "tz") from exc


class LocalDateTimeField(serializers.DateTimeField):
    """A date-time without an offset is left naive here: it is read in the window's zone."""

    def enforce_timezone(self, value):
        return value if value.tzinfo is None else super().enforce_timezone(value)


class WindowParams(serializers.Serializer):
    period = serializers.ChoiceField(
        choices=list(selectors.PERIODS),
        required=False,
        help_text="day/week/month/year = today, this week (from Monday), this month, this year so far "
        "in the time zone (tz), to now rounded up to the quarter-hour, compared with the same elapsed "
        "time of the period before; all = since the first event. Give period, or start and end, not both.",
    )
    start = LocalDateTimeField(
        required=False,
        help_text="Window start (inclusive), ISO 8601 (without an offset: in tz; a time the clocks skip there "
        "is a 400, a repeated one reads its first occurrence); give end too. Rounded down to the quarter-hour.",
    )
    end = LocalDateTimeField(
        required=False,
        help_text="Window end (exclusive), ISO 8601 (without an offset: in tz, as start); give start too. "
        "Rounded up to the quarter-hour.",
    )
    tz = serializers.CharField(
        required=False,
        max_length=64,
        trim_whitespace=False,  # " UTC" is no zone's name
        help_text="Time zone of days, weeks (from Monday) and months: a place's IANA zone (Region/City, e.g. "
        "Asia/Kolkata) or UTC (default: the site's reporting zone); another name (EST5EDT, Etc/GMT+5) is a 400.",
    )

    default_period = "week"

    def validate(self, attrs):
        start, end = attrs.get("start"), attrs.get("end")
        zone = zone_of(attrs)
        if (start is None) != (end is None):
            raise ApiError(
                400, "invalid", "Give both start and end, or neither.", "start" if start is None else "end"
            )
        if start is not None and "period" in attrs:
            raise ApiError(400, "invalid", "Give period, or start and end, not both.", "period")
        if start is not None:
            start, end = within_bounds(start, zone, "start"), within_bounds(end, zone, "end")
            if end <= start:
                raise ApiError(400, "invalid", "end must be after start.", "end")
            if end > years_after(start, MAX_YEARS):
                raise ApiError(400, "invalid", "The window may span at most 10 years.", "end")
            attrs["window"] = exact_window(start, end, zone)
        else:
            attrs["window"] = selectors.period_window(attrs.get("period", self.default_period), zone=zone)
        return attrs


def within_bounds(moment: datetime, zone: str, field: str) -> datetime:
    """``moment`` in UTC (:func:`instant`), or a 400 when it falls outside the years windows may
    cover (checked first: a year near 9999 has no room for the ten-year check, nor for a zone's
    offset)."""
    try:
        moment = instant(moment, zone, field)
    except OverflowError:
        moment = None
    if moment is None or not FIRST_START <= moment <= LAST_END:
        raise ApiError(400, "invalid", "start and end must fall between 2000-01-01 and 2100-01-01.", field)
    return moment


def instant(moment: datetime, zone: str, field: str) -> datetime:
    """``moment`` in UTC; without an offset it is a wall-clock time in ``zone``: a time the
    clocks skip there (a daylight-saving gap) is a 400 naming it, never shifted silently; a time
    they repeat reads its first occurrence."""
    if moment.tzinfo is not None:
        return moment.astimezone(UTC)
    local = moment.replace(tzinfo=zones.info(zone))
    if local.astimezone(UTC).astimezone(local.tzinfo).replace(tzinfo=None) != moment:
        raise ApiError(
            400,
            "invalid",
            f"{field}: {moment.isoformat()} does not exist in {zone}: the clocks skip it (a daylight-saving "
            "change). Give a time before or after the gap, or an offset.",
            field,
        )
    return local.astimezone(UTC)


def exact_window(start: datetime, end: datetime, zone: str) -> Window:
    """The window read for ``[start, end)``: exact on quarter-hours (the finest grain kept),
    else widened to them with a note saying so; one that ends after now is read so far, and
    its note says so too."""
    read_start = start - (start - start.replace(minute=0, second=0, microsecond=0)) % QUARTER
    read_end = ceil_quarter(end)
    notes = []
    if (read_start, read_end) != (start, end):
        notes.append("start and end were widened to quarter-hours, the finest grain kept")
    window = Window(read_start, read_end, zone)
    if window.ahead:
        notes.append("the window ends after now: read so far")  # the comparison says what it is set against
    return replace(window, note="; ".join(notes))


def _filter_field(dimension: schema.Dimension) -> serializers.Field:
    """The query parameter that scopes a read to one entry of ``dimension``."""
    kwargs = {"required": False, "help_text": dimension.help}
    if dimension.max_length is not None:
        kwargs["max_length"] = dimension.max_length
    if dimension.pattern is None:
        return serializers.SlugField(**kwargs)
    return serializers.RegexField(dimension.pattern, **kwargs)


class FilterParams(serializers.Serializer):
    """One filter parameter per dimension of ``ingest.schema`` (of ``filters``, when a read
    takes only some): a catalog entry's slug, or the value itself."""

    filters: tuple[str, ...] | None = None

    def _dimensions(self) -> list[schema.Dimension]:
        return [d for d in schema.DIMENSIONS if self.filters is None or d.name in self.filters]

    def get_fields(self):
        return {**super().get_fields(), **{d.name: _filter_field(d) for d in self._dimensions()}}

    def validate(self, attrs):
        filters = Filters()
        for dimension in self._dimensions():
            name = dimension.name
            if name not in attrs:
                continue
            if dimension.catalog is None:  # the value itself (a variant), kept in lower case
                setattr(filters, name, attrs[name].lower())
                continue
            pk = selectors.entries(dimension).filter(slug=attrs[name]).values_list("pk", flat=True).first()
            if pk is None:
                if moved := selectors.current_slug(dimension, attrs[name]):
                    raise selectors.SlugMoved(attrs[name], moved, name)  # an old slug: a redirect
                raise ApiError(400, "unknown", f"No {name} with slug {attrs[name]!r}.", name)
            setattr(filters, name, pk)
        attrs["filters"] = filters
        return attrs


class MetricParam(serializers.Serializer):
    metric = serializers.ChoiceField(
        choices=list(selectors.METRICS),
        default="tokens",
        help_text="; ".join(f"{m.name}: {m.description}" for m in schema.METRICS) + ".",
    )


class FilteredParams(WindowParams, FilterParams, MetricParam):
    def validate(self, attrs):
        attrs = WindowParams.validate(self, attrs)
        return FilterParams.validate(self, attrs)


class RankingParams(FilteredParams):
    """A ranking's parameters; its pages: rankings.api.pagination."""


class TimeseriesParams(FilteredParams):
    group_by = serializers.ChoiceField(choices=list(selectors.ENTITIES), required=False, allow_null=True)
    interval = serializers.ChoiceField(choices=list(selectors.INTERVALS), default="day")
    top = serializers.IntegerField(min_value=1, max_value=50, default=10)
    default_period = "month"

    def validate(self, attrs):
        attrs = super().validate(attrs)
        series = attrs["top"] + 1 if attrs.get("group_by") else 1  # the top N plus others
        check_buckets(attrs["window"], attrs["interval"], series)
        return attrs


def check_buckets(window: Window, interval: str, series: int) -> None:
    """A series answer's bounds: at most ``MAX_BUCKETS`` buckets of ``interval`` and
    ``MAX_POINTS`` values (buckets x ``series``), else a 400 naming the limit."""
    limit = MAX_BUCKETS[interval]
    too_long = window.length > timedelta(days=3700)  # period=all: don't list a million hours
    count = 10**6 if too_long else len(selectors.bucket_starts(window, interval))
    if count > limit:
        raise ApiError(400, "too_many_buckets", f"At most {limit:,} {interval} buckets per request.", "interval")
    if count * series > MAX_POINTS:
        raise ApiError(
            400,
            "too_many_points",
            f"At most {MAX_POINTS:,} values per request: {count:,} {interval} buckets x {series} series "
            f"= {count * series:,}; ask for fewer series (top), a coarser interval or a shorter window.",
            "top",
        )


class PeriodParams(WindowParams):
    pass


class DatasetParams(WindowParams):
    top = serializers.IntegerField(
        min_value=1,
        max_value=100,
        default=50,
        help_text="Entries ranked per day; the rest is the `other` row.",
    )
    default_period = "month"

    def validate(self, attrs):
        attrs = super().validate(attrs)
        window = attrs["window"].whole_days()
        if window.length > timedelta(days=400):
            raise ApiError(400, "invalid", "The dataset covers at most 400 days per request.", "start")
        attrs["window"] = window
        return attrs


def refuse_repeated(query, names: Iterable[str]) -> None:
    """A 400 for a parameter of ``names`` given more than once: every one takes one value, and
    reading the last would answer a question the client may not have asked. (Names a read does
    not take are ignored, however often they come.)"""
    if not hasattr(query, "getlist"):
        return  # a plain mapping (a page's own parameters) holds one value per name
    for name in names:
        if len(query.getlist(name)) > 1:
            raise ApiError(400, "invalid", f"{name}: given more than once.", name)


def parse(serializer_class: type[serializers.Serializer], query) -> dict:
    """Validated parameters or a 400 naming the first bad one."""
    serializer = serializer_class(data={k: v for k, v in query.items() if k != "format"})
    refuse_repeated(query, [*serializer.fields, "format"])
    if not serializer.is_valid():
        field, messages = next(iter(serializer.errors.items()))
        message = messages[0] if isinstance(messages, list) else str(messages)
        raise ApiError(400, "invalid", f"{field}: {message}", field)
    return serializer.validated_data
