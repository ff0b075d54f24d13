"""Time series: a metric per bucket for the top entries plus the rest, and every metric per
bucket at once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from psycopg import sql

from ingest import schema
from ingest.rollups import read
from ingest.rollups.grains import read_cursor
from ingest.rollups.read import Filters
from ingest.rollups.windows import Window, bucket_starts
from rankings.selectors.ranks import ranking


@dataclass
class Series:
    buckets: list[datetime]
    series: list[tuple[Any, list[float]]]  # (entity, values) for the top N
    others: list[float]
    metric: str


# A metric per bucket, the top entries' own and the rest together (key NULL); the source
# brings the grain and its index. Variants are text: their list is cast to text[].
_PER_BUCKET_TOP = sql.SQL(
    "SELECT date_trunc({interval}, u.bucket::timestamp), CASE WHEN {key} = ANY({top}) THEN {key} END, "
    "sum({metric}){source} GROUP BY 1, 2"
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
    starts = bucket_starts(window, interval)
    if not group_by:
        return Series(starts, [], measure_series(window, interval=interval, filters=filters)[metric], metric)
    source = read.source(
        window, filters, public_apps_only=group_by == "app", interval=interval, entity=group_by
    )
    index = {b: i for i, b in enumerate(starts)}
    top_rows = ranking(group_by, window, metric=metric, filters=filters, limit=top, compare=False).rows
    top_keys = [r.key for r in top_rows]
    top_list = sql.SQL("%(top)s::text[]" if schema.DIMENSION[group_by].catalog is None else "%(top)s")
    query = _PER_BUCKET_TOP.format(
        interval=sql.Literal(interval),
        key=read.key(group_by),
        top=top_list,
        metric=read.metric_sum(metric),
        source=source.sql,
    )
    values: dict[Any, list[float]] = {k: [0.0] * len(starts) for k in top_keys}
    others = [0.0] * len(starts)
    with read_cursor() as cursor:
        cursor.execute(query, {**source.params, "top": top_keys})
        for bucket, k, v in cursor.fetchall():
            position = index.get(bucket.replace(tzinfo=UTC))
            if position is None:
                continue
            (values[k] if k is not None else others)[position] += float(v)
    return Series(starts, [(r.entity, values[r.key]) for r in top_rows], others, metric)


# The measure behind each metric of one measure; the others (tokens) are sums of these.
SERIES_COLUMNS = tuple(metric.name for metric in schema.METRICS if metric.columns == (metric.name,))
# Every such measure per bucket in one read; the source brings the grain and its index.
_PER_BUCKET = sql.SQL("SELECT date_trunc({interval}, u.bucket::timestamp), {sums}{source} GROUP BY 1")


def measure_series(
    window: Window, *, interval: str = "day", filters: Filters | None = None
) -> dict[str, list[float]]:
    """Every metric per ``interval`` bucket of ``window`` (zeros in gaps), summed in one pass
    over the rollups, for charts and trends that need several at once."""
    source = read.source(window, filters or Filters(), interval=interval)
    starts = bucket_starts(window, interval)
    index = {b: i for i, b in enumerate(starts)}
    values = {column: [0.0] * len(starts) for column in SERIES_COLUMNS}
    query = _PER_BUCKET.format(
        interval=sql.Literal(interval),
        sums=sql.SQL(", ").join(sql.SQL("sum({})").format(sql.Identifier("u", c)) for c in SERIES_COLUMNS),
        source=source.sql,
    )
    with read_cursor() as cursor:
        cursor.execute(query, source.params)
        for bucket, *row in cursor.fetchall():
            position = index.get(bucket.replace(tzinfo=UTC))
            if position is None:
                continue
            for column, value in zip(SERIES_COLUMNS, row, strict=True):
                values[column][position] += float(value)
    for metric in schema.METRICS:
        if metric.name not in values:
            values[metric.name] = [
                sum(parts) for parts in zip(*(values[c] for c in metric.columns), strict=True)
            ]
    return values
