"""Context length: usage per prompt-size bucket (< 1K, 1K–10K, 10K–100K, 100K–1M, ≥ 1M prompt
tokens), over the window, per interval bucket and per model."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from psycopg import sql

from ingest import schema
from ingest.rollups import read
from ingest.rollups.grains import CONTEXT_DAILY, CONTEXT_TOTAL, read_cursor
from ingest.rollups.read import Filters
from ingest.rollups.windows import Window, bucket_starts, partial_buckets
from rankings.selectors.entities import attach_entities
from rankings.selectors.ranks import RankRow, ranked
from rankings.selectors.series import Series


@dataclass(frozen=True)
class ContextBucket:
    code: str
    label: str

    def __str__(self) -> str:
        return self.label


BUCKETS = tuple(ContextBucket(code, label) for code, label, _ in schema.CONTEXT_BUCKETS)

# ``metric`` per context bucket (and per model, or per interval bucket, when asked): the
# source brings the grain (per context bucket alone unless models are read), a range of its
# primary key or its (model, bucket) index.
_SUMS = sql.SQL("SELECT {first}, u.context, sum({metric}){source} GROUP BY 1, 2")


def context_sums(
    window: Window,
    *,
    metric: str = "tokens",
    filters: Filters | None = None,
    interval: str | None = None,
    per_model: bool = False,
) -> dict[tuple[Any, str], float]:
    """``metric`` per (interval bucket, model or None; context code) over the whole UTC days
    of ``window``."""
    filters = filters or Filters()
    grain = CONTEXT_DAILY if per_model or filters.model is not None else CONTEXT_TOTAL
    source = read.source(window.whole_days(), filters, interval=interval, grain=grain)
    if per_model:
        first = sql.SQL("u.model_id")
    elif interval:
        first = source.position
    else:
        first = sql.SQL("NULL::bigint")
    query = _SUMS.format(first=first, metric=read.metric_sum(metric), source=source.sql)
    with read_cursor() as cursor:
        cursor.execute(query, source.params)
        rows = cursor.fetchall()
    if interval and not per_model:  # bucket positions: their starts
        return {(source.starts[k - 1], code): float(v) for k, code, v in rows if 1 <= k <= len(source.starts)}
    return {(k, code): float(v) for k, code, v in rows}


def context_shares(
    window: Window, *, metric: str = "tokens", filters: Filters | None = None
) -> list[RankRow]:
    """Every bucket in order with its value, share and change vs the previous window (whole
    UTC days)."""
    window = window.whole_days()

    def totals(w: Window) -> dict[str, float]:
        return {code: v for (_, code), v in context_sums(w, metric=metric, filters=filters).items()}

    current = totals(window)
    by_code = {
        row.key: row for row in ranked(current, totals(window.previous()), window, metric, limit=None).rows
    }
    total = sum(current.values())
    rows = []
    for bucket in BUCKETS:
        row = by_code.get(bucket.code) or RankRow(0, bucket.code, 0.0, 0.0, None, None)
        row.entity, row.share = bucket, (row.value / total if total else 0.0)
        rows.append(row)
    return rows


def context_series(
    window: Window, *, interval: str = "week", metric: str = "tokens", filters: Filters | None = None
) -> Series:
    """``metric`` per interval bucket for every context bucket (zeros in gaps)."""
    starts = bucket_starts(window.whole_days(), interval)
    index = {b: i for i, b in enumerate(starts)}
    values = {bucket.code: [0.0] * len(starts) for bucket in BUCKETS}
    for (start, code), v in context_sums(window, metric=metric, filters=filters, interval=interval).items():
        if start in index:
            values[code][index[start]] += v
    series = [(bucket, values[bucket.code]) for bucket in BUCKETS]
    partial = partial_buckets(window.whole_days(), interval, starts)
    return Series(starts, series, [0.0] * len(starts), metric, partial, window.zone)


def context_by_model(window: Window, *, metric: str = "tokens", limit: int = 10) -> list[RankRow]:
    """The top models by ``metric``, each with its share per context bucket (``extra``)."""
    per_model: dict[int, dict[str, float]] = defaultdict(dict)
    for (model, code), v in context_sums(window, metric=metric, per_model=True).items():
        per_model[model][code] = v
    rows = ranked({m: sum(c.values()) for m, c in per_model.items()}, None, window, metric, limit=limit).rows
    for row in rows:
        row.extra = {b.code: per_model[row.key].get(b.code, 0.0) / row.value for b in BUCKETS}
    attach_entities("model", rows)
    return rows
