"""Time series: a metric per bucket for the top entries plus the rest, and every metric per
bucket at once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ingest.rollups import read
from ingest.rollups.grains import read_cursor
from ingest.rollups.read import ENTITY_KEY, METRICS, Filters
from ingest.rollups.windows import Window, bucket_starts
from rankings.selectors.ranks import ranking


@dataclass
class Series:
    buckets: list[datetime]
    series: list[tuple[Any, list[float]]]  # (entity, values) for the top N
    others: list[float]
    metric: str


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
    expression = "u." + METRICS[metric].replace(" + ", " + u.")
    source, params = read.source(
        window, filters, public_apps_only=group_by == "app", interval=interval, entity=group_by
    )
    index = {b: i for i, b in enumerate(starts)}
    top_rows = ranking(group_by, window, metric=metric, filters=filters, limit=top, compare=False).rows
    top_keys = [r.key for r in top_rows]
    key = ENTITY_KEY[group_by]
    array = "%s::text[]" if group_by == "variant" else "%s"
    sql = (
        f"SELECT date_trunc('{interval}', u.bucket::timestamp), CASE WHEN {key} = ANY({array}) THEN {key} END, "
        f"sum({expression}){source} GROUP BY 1, 2"
    )
    values: dict[Any, list[float]] = {k: [0.0] * len(starts) for k in top_keys}
    others = [0.0] * len(starts)
    with read_cursor() as cursor:
        cursor.execute(sql, [top_keys, *params])
        for bucket, k, v in cursor.fetchall():
            position = index.get(bucket.replace(tzinfo=UTC))
            if position is None:
                continue
            (values[k] if k is not None else others)[position] += float(v)
    return Series(starts, [(r.entity, values[r.key]) for r in top_rows], others, metric)


# The columns behind every metric in METRICS ("tokens" is prompt + completion).
SERIES_COLUMNS = tuple(metric for metric in METRICS if metric != "tokens")


def measure_series(
    window: Window, *, interval: str = "day", filters: Filters | None = None
) -> dict[str, list[float]]:
    """Every metric of METRICS per ``interval`` bucket of ``window`` (zeros in gaps), summed
    in one pass over the rollups, for charts and trends that need several at once."""
    source, params = read.source(window, filters or Filters(), interval=interval)
    starts = bucket_starts(window, interval)
    index = {b: i for i, b in enumerate(starts)}
    values = {column: [0.0] * len(starts) for column in SERIES_COLUMNS}
    sums = ", ".join(f"sum(u.{column})" for column in SERIES_COLUMNS)
    with read_cursor() as cursor:
        cursor.execute(
            f"SELECT date_trunc('{interval}', u.bucket::timestamp), {sums}{source} GROUP BY 1", params
        )
        for bucket, *row in cursor.fetchall():
            position = index.get(bucket.replace(tzinfo=UTC))
            if position is None:
                continue
            for column, value in zip(SERIES_COLUMNS, row, strict=True):
                values[column][position] += float(value)
    values["tokens"] = [
        p + c for p, c in zip(values["prompt_tokens"], values["completion_tokens"], strict=True)
    ]
    return values
