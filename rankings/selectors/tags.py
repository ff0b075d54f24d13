"""Tags: the values of a ranked key (programming and natural languages, tasks, any key the
operator ranks) ranked by a metric, and per interval bucket, over whole UTC days.

Private apps' tags never show: their share, kept per app (``TAG_APP_DAILY``), is taken out
of every reading of all apps; a model's values are those that public apps use too in the
window (its numbers include private apps' use, as a model's totals do); an app's own values
are read for public apps only (pages and the API 404 a private one).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from psycopg import sql

from ingest.rollups import read
from ingest.rollups.grains import TAG_APP_DAILY, TAG_DAILY, TAG_TOTAL, read_cursor
from ingest.rollups.read import Filters
from ingest.rollups.windows import Window, bucket_starts, partial_buckets
from rankings.models import TagKey
from rankings.selectors.entities import attach_entities
from rankings.selectors.ranks import Ranking, ranked
from rankings.selectors.series import Series

Sums = dict[tuple[datetime | None, int], float]

# A key's values (a hashed semi-join on its few catalog rows), per bucket of ``interval``
# when one is given; the source brings the grain and its index ((model, bucket) or
# (app, bucket) when scoped, else a range of the per-tag table's primary key).
_BY_VALUE = sql.SQL(
    "SELECT {bucket}, u.tag_id, sum({metric}){source} "
    "AND u.tag_id IN (SELECT id FROM rankings_tagvalue WHERE key_id = %(tag_key)s) GROUP BY 1, 2"
)
# What private apps added to a key's values: the per-app grain's (app, bucket) index, probed
# for each private app.
_PRIVATE = sql.SQL(
    "SELECT {bucket}, u.tag_id, sum({metric}){source} "
    "AND u.app_id IN (SELECT id FROM rankings_app WHERE NOT is_public) "
    "AND u.tag_id IN (SELECT id FROM rankings_tagvalue WHERE key_id = %(tag_key)s) GROUP BY 1, 2"
)


def ranked_keys() -> list[TagKey]:
    """The keys shown, in the operator's order."""
    return list(TagKey.objects.filter(ranked=True))


def _bucket(source: read.Source, interval: str | None) -> sql.Composable:
    return source.position if interval else sql.SQL("NULL::int")


def _fetch(query: sql.Composable, source: read.Source, params: dict[str, Any]) -> Sums:
    """Sums per (bucket start or None, tag value)."""
    with read_cursor() as cursor:
        cursor.execute(query, {**source.params, **params})
        return {
            (source.starts[position - 1] if position else None, tag): float(v)
            for position, tag, v in cursor.fetchall()
            if position is None or 1 <= position <= len(source.starts)
        }


def _scoped(key: TagKey, window: Window, metric: str, filters: Filters, interval: str | None) -> Sums:
    grain = (
        TAG_APP_DAILY if filters.app is not None else TAG_DAILY if filters.model is not None else TAG_TOTAL
    )
    source = read.source(window, filters, interval=interval, grain=grain)
    query = _BY_VALUE.format(
        bucket=_bucket(source, interval), metric=read.metric_sum(metric), source=source.sql
    )
    return _fetch(query, source, {"tag_key": key.pk})


def _private(key: TagKey, window: Window, metric: str, interval: str | None) -> Sums:
    source = read.source(window, Filters(), interval=interval, grain=TAG_APP_DAILY)
    query = _PRIVATE.format(
        bucket=_bucket(source, interval), metric=read.metric_sum(metric), source=source.sql
    )
    return _fetch(query, source, {"tag_key": key.pk})


def _public(key: TagKey, window: Window, metric: str, interval: str | None) -> Sums:
    """Every app's use of the key's values minus private apps' use."""
    sums = _scoped(key, window, metric, Filters(), interval)
    for k, v in _private(key, window, metric, interval).items():
        sums[k] = sums.get(k, 0.0) - v
    return sums


def tag_sums(
    key: TagKey, window: Window, *, metric: str = "tokens", filters: Filters | None = None, interval: str | None = None
) -> Sums:
    """``metric`` per (bucket of ``interval``, or None for the window; tag value id) of the
    key's values in the whole UTC days of ``window``, scoped by ``filters`` (a model or an
    app), private apps' use left out."""
    filters = filters or Filters()
    window = window.whole_days()
    if filters.app is not None:
        return _scoped(key, window, metric, filters, interval)
    if filters.model is None:
        return _public(key, window, metric, interval)
    shown = {tag for (_, tag), v in _public(key, window, metric, None).items() if v > 0}
    return {k: v for k, v in _scoped(key, window, metric, filters, interval).items() if k[1] in shown}


def _totals(sums: Sums) -> dict[int, float]:
    totals: dict[int, float] = defaultdict(float)
    for (_, tag), v in sums.items():
        totals[tag] += v
    return totals


def tag_ranking(
    key: TagKey,
    window: Window,
    *,
    metric: str = "tokens",
    filters: Filters | None = None,
    limit: int | None = 20,
    offset: int = 0,
    compare: bool = True,
) -> Ranking:
    """The key's values ranked by ``metric`` in the whole UTC days of ``window``, with share
    and change against the previous equal window (values are few: ``TagKey.max_values`` plus
    "other")."""
    window = window.whole_days()
    current = _totals(tag_sums(key, window, metric=metric, filters=filters))
    previous = _totals(tag_sums(key, window.previous(), metric=metric, filters=filters)) if compare else None
    ranking = ranked(current, previous, window, metric, limit=limit, offset=offset)
    attach_entities("tag", ranking.rows)
    return ranking


def tag_series(
    key: TagKey, window: Window, *, interval: str = "week", metric: str = "tokens", top: int = 8, filters: Filters | None = None
) -> Series:
    """``metric`` per ``interval`` bucket for the key's top ``top`` values of the window plus
    "others" (zeros in gaps)."""
    window = window.whole_days()
    sums = tag_sums(key, window, metric=metric, filters=filters, interval=interval)
    top_rows = ranked(_totals(sums), None, window, metric, limit=top).rows
    attach_entities("tag", top_rows)
    starts = bucket_starts(window, interval)
    index = {b: i for i, b in enumerate(starts)}
    values = {row.key: [0.0] * len(starts) for row in top_rows}
    others = [0.0] * len(starts)
    for (bucket, tag), v in sums.items():
        position = index.get(bucket)
        if position is not None:
            values.get(tag, others)[position] += v
    series = [(row.entity, values[row.key]) for row in top_rows]
    return Series(starts, series, others, metric, partial_buckets(window, interval, starts), window.zone)
