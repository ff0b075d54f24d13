"""Time series: a metric per bucket for the top entries plus the rest, and every metric per
bucket at once."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from psycopg import sql

from ingest import schema
from ingest.rollups import read, zones
from ingest.rollups.grains import read_cursor
from ingest.rollups.read import Filters
from ingest.rollups.windows import Window, bucket_starts, partial_buckets, wall_clock
from rankings.selectors.ranks import ranking


@dataclass
class Series:
    buckets: list[datetime]
    series: list[tuple[Any, list[float]]]  # (entity, values) for the top N
    others: list[float]
    metric: str
    partial: list[bool] = field(default_factory=list)  # buckets cut short ("so far")
    zone: str = "UTC"  # the zone of its buckets

    def labels(self) -> list[str]:
        return wall_clock(self.buckets, self.zone)

    def local_starts(self) -> list[str]:
        """Bucket starts as local times in its zone, with their offset (ISO 8601)."""
        info = zones.info(self.zone)
        return [b.astimezone(info).isoformat() for b in self.buckets]


# A metric per bucket, the top entries' own and the rest together (key NULL); the source
# brings the grain and its index. Variants are text: their list is cast to text[].
_PER_BUCKET_TOP = sql.SQL(
    "SELECT {position}, CASE WHEN {key} = ANY({top}) THEN {key} END, sum({metric}){source} GROUP BY 1, 2"
)


def timeseries(
    group_by: str | None,
    window: Window,
    *,
    interval: str = "day",
    metric: str = "tokens",
    top: int = 10,
    filters: Filters | None = None,
) -> Series:
    """``metric`` per ``interval`` bucket for the top ``top`` entities of the window plus
    "others" (all of it under ``others`` when ``group_by`` is None); gaps are zeros."""
    filters = filters or Filters()
    if not group_by:
        starts = bucket_starts(window, interval)
        values = measure_series(window, interval=interval, filters=filters)[metric]
        return Series(starts, [], values, metric, partial_buckets(window, interval, starts), window.zone)
    source = read.source(
        window, filters, public_apps_only=group_by == "app", interval=interval, entity=group_by
    )
    starts = source.starts
    top_rows = ranking(group_by, window, metric=metric, filters=filters, limit=top, compare=False).rows
    top_keys = [r.key for r in top_rows]
    top_list = sql.SQL("%(top)s::text[]" if schema.DIMENSION[group_by].catalog is None else "%(top)s")
    query = _PER_BUCKET_TOP.format(
        position=source.position,
        key=read.key(group_by),
        top=top_list,
        metric=read.metric_sum(metric),
        source=source.sql,
    )
    values: dict[Any, list[float]] = {k: [0.0] * len(starts) for k in top_keys}
    others = [0.0] * len(starts)
    with read_cursor() as cursor:
        cursor.execute(query, {**source.params, "top": top_keys})
        for position, k, v in cursor.fetchall():
            if 1 <= position <= len(starts):
                (values[k] if k is not None else others)[position - 1] += float(v)
    series = [(r.entity, values[r.key]) for r in top_rows]
    return Series(starts, series, others, metric, partial_buckets(window, interval, starts), window.zone)


# The measure behind each metric of one measure; the others (tokens) are sums of these.
SERIES_COLUMNS = tuple(metric.name for metric in schema.METRICS if metric.columns == (metric.name,))
# Every such measure per bucket (and per entry of an entity, among the given ones) in one read;
# the source brings the grain and its index.
_PER_BUCKET = sql.SQL("SELECT {position}, {key}, {sums}{source}{among} GROUP BY 1, 2")


def measure_series(
    window: Window, *, interval: str = "day", filters: Filters | None = None
) -> dict[str, list[float]]:
    """Every metric per ``interval`` bucket of ``window`` (zeros in gaps), summed in one pass
    over the rollups, for charts and trends that need several at once."""
    return _measure_series(window, interval, filters or Filters())[None]


def measure_series_of(
    entity: str, keys: list[Any], window: Window, *, interval: str = "day"
) -> dict[Any, dict[str, list[float]]]:
    """:func:`measure_series` of each of ``keys`` (entries of ``entity``), all in one pass: the
    rows of several entries share the rollups' pages, which one read visits once."""
    return _measure_series(window, interval, Filters(), entity, keys)


def _measure_series(
    window: Window, interval: str, filters: Filters, entity: str | None = None, keys: list[Any] = ()
) -> dict[Any, dict[str, list[float]]]:
    source = read.source(window, filters, interval=interval, entity=entity)
    starts = source.starts
    found = [None] if entity is None else keys
    values = {k: {column: [0.0] * len(starts) for column in SERIES_COLUMNS} for k in found}
    query = _PER_BUCKET.format(
        position=source.position,
        key=sql.SQL("NULL") if entity is None else read.key(entity),
        sums=sql.SQL(", ").join(sql.SQL("sum({})").format(sql.Identifier("u", c)) for c in SERIES_COLUMNS),
        source=source.sql,
        among=sql.SQL("") if entity is None else sql.SQL(" AND {} = ANY(%(among)s)").format(read.key(entity)),
    )
    with read_cursor() as cursor:
        cursor.execute(query, {**source.params, "among": list(keys)})
        for position, k, *row in cursor.fetchall():
            if not 1 <= position <= len(starts):
                continue
            for column, value in zip(SERIES_COLUMNS, row, strict=True):
                values[k][column][position - 1] += float(value)
    for series in values.values():
        for metric in schema.METRICS:
            if metric.name not in series:
                series[metric.name] = [
                    sum(parts) for parts in zip(*(series[c] for c in metric.columns), strict=True)
                ]
    return values
