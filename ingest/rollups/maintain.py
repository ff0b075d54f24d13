"""Keeping rollups right: rebuilding days and weeks from raw events (and weekly grains from
daily ones), re-pricing events that reported no cost, moving an app's usage on a merge, and
checking every grain against what it should hold."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from django.db import connection
from psycopg import sql

from ingest import schema
from ingest.rollups.grains import ALL_TABLES, DAILY, GRAINS, MEASURES, Grain, names
from ingest.rollups.write import derived_cost, insert_grouped, upsert

_LOCK = sql.SQL("LOCK TABLE {} IN SHARE ROW EXCLUSIVE MODE")
_SUMS = sql.SQL(", ").join(sql.SQL("sum({})").format(sql.Identifier(m)) for m in MEASURES)
_NAMED_SUMS = sql.SQL(", ").join(sql.SQL("sum({0}) AS {0}").format(sql.Identifier(m)) for m in MEASURES)


def _from_daily(grain: Grain, daily: Grain, where: sql.Composable) -> sql.Composed:
    """INSERT a date-bucketed grain summed from a daily grain (``where`` filters it), in key
    order: rows land in bucket order, as ingest writes them, so a range of days stays on few
    pages (hash-aggregate order would scatter a week of rows over the whole table)."""
    bucket = sql.SQL("date_trunc('week', bucket)::date" if grain.weekly else "bucket")
    keys = sql.SQL("{}, {}").format(bucket, names(grain.columns[1:]))
    return insert_grouped(grain, keys, _SUMS, sql.SQL("{}{}").format(daily.name, where), add=False)


def from_full_cube(grain: Grain) -> sql.Composed:
    """A narrower or weekly table summed from the full daily cube (for benchmark data
    written straight into the cube)."""
    return _from_daily(grain, DAILY, sql.SQL(""))


def _day_start(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def oldest_complete_day(retention_days: int, today: date | None = None) -> date:
    """The first day whose raw events are all still kept."""
    today = today or datetime.now(UTC).date()
    return today - timedelta(days=retention_days - 1)


# One day of raw events: the partition of that day only (pruned on created_at).
_RAW_DAY = sql.SQL(
    "(SELECT * FROM ingest_rawevent WHERE created_at >= %(start)s AND created_at < %(end)s) AS raw"
)
# Rows of one grain in a range of buckets: a range scan of its primary key (bucket first).
_DELETE_BUCKETS = sql.SQL("DELETE FROM {} WHERE bucket >= %(first)s AND bucket < %(last)s")
# One week of a weekly grain (the category one's key leads with the category: a scan).
_DELETE_WEEK = sql.SQL("DELETE FROM {} WHERE bucket = %(first)s")


def rebuild_day(day: date) -> None:
    """Recompute one UTC day of every hourly and daily grain from its raw events; caller
    holds a transaction, and rebuilds the day's week with :func:`rebuild_week` once its days
    are done. Locks the rollup tables against concurrent ingest (which would otherwise add
    to rows being recomputed): ingest waits for the day to finish, then goes on."""
    start = _day_start(day)
    end = start + timedelta(days=1)
    with connection.cursor() as cursor:
        cursor.execute(_LOCK.format(ALL_TABLES))
        for grain in GRAINS:
            if grain.weekly:
                continue
            first, last = (day, end.date()) if grain.date_bucketed else (start, end)
            cursor.execute(_DELETE_BUCKETS.format(grain.name), {"first": first, "last": last})
            cursor.execute(upsert(grain, _RAW_DAY), {"start": start, "end": end})


def rebuild_week(monday: date) -> None:
    """Recompute the weekly grains of the week starting ``monday`` from their daily grains;
    caller holds a transaction."""
    week = {"first": monday, "last": monday + timedelta(days=7)}
    with connection.cursor() as cursor:
        cursor.execute(_LOCK.format(ALL_TABLES))
        for grain in GRAINS:
            if grain.weekly:
                cursor.execute(_DELETE_WEEK.format(grain.name), week)
                where = sql.SQL(" WHERE bucket >= %(first)s AND bucket < %(last)s")
                cursor.execute(_from_daily(grain, grain.daily, where), week)


# One model's priced events of a time range: the raw partitions of the range (pruned on
# created_at), scanned for the model.
_REDERIVE = sql.SQL(
    "UPDATE ingest_rawevent r SET cost = {cost} FROM rankings_llmmodel m "
    "WHERE m.id = r.model_id AND r.model_id = %(model)s AND r.cost_derived "
    "AND r.created_at >= %(start)s AND r.created_at < %(end)s"
).format(cost=derived_cost("r"))


def rederive_costs(model_id: int, start: datetime, end: datetime) -> int:
    """Recompute the derived costs of one model's raw events in ``[start, end)`` from its
    current list prices; the caller rebuilds the rollups of those days."""
    with connection.cursor() as cursor:
        cursor.execute(_REDERIVE, {"model": model_id, "start": start, "end": end})
        return cursor.rowcount


def _merge_app_rows(grain: Grain) -> sql.Composed:
    """Add the rows of the merged apps to the target app's rows of the same key (the merged
    apps' rows found through the grain's (app, bucket) index)."""
    keys = sql.SQL(", ").join(
        sql.SQL("%(target)s") if column == "app_id" else sql.Identifier(column) for column in grain.columns
    )
    source = sql.SQL("{} WHERE app_id = ANY(%(sources)s)").format(grain.name)
    return insert_grouped(grain, keys, _SUMS, source, add=True)


def reassign_apps(source_ids: list[int], target_id: int) -> None:
    """Move the usage of ``source_ids`` to ``target_id`` in the grains keyed by app and in
    the raw events (an app merge); totals are unchanged. Caller holds a transaction."""
    apps = {"sources": source_ids, "target": target_id}
    for grain in GRAINS:
        if "app" not in grain.dimensions:
            continue
        with connection.cursor() as cursor:
            cursor.execute(_LOCK.format(grain.name))
            cursor.execute(_merge_app_rows(grain), apps)
            cursor.execute(sql.SQL("DELETE FROM {} WHERE app_id = ANY(%(sources)s)").format(grain.name), apps)
    with connection.cursor() as cursor:
        # Every raw partition, scanned: merges are rare.
        cursor.execute("UPDATE ingest_rawevent SET app_id = %(target)s WHERE app_id = ANY(%(sources)s)", apps)


@dataclass
class Mismatch:
    table: str
    key: tuple
    rollup: tuple | None
    raw: tuple | None


def _expected(grain: Grain) -> sql.Composed:
    """What a grain's rows should hold from ``%(since)s`` on: raw events summed for hourly and
    daily grains (their partitions from then on), the daily grain summed for weekly ones (a
    range scan of its primary key)."""
    if grain.weekly:
        return sql.SQL(
            "SELECT date_trunc('week', bucket)::date AS bucket, {dimensions}, {sums} "
            "FROM {daily} WHERE bucket >= %(since)s GROUP BY {positions}"
        ).format(
            dimensions=names(grain.columns[1:]),
            sums=_NAMED_SUMS,
            daily=grain.daily.name,
            positions=grain.positions,
        )
    return sql.SQL(
        "SELECT {bucket} AS bucket, {dimensions}, {aggregates} "
        "FROM ingest_rawevent WHERE created_at >= %(since)s GROUP BY {positions}"
    ).format(
        bucket=grain.bucket,
        dimensions=names(grain.columns[1:]),
        aggregates=sql.SQL(", ").join(
            sql.SQL("{} AS {}").format(sql.SQL(m.aggregate), sql.Identifier(m.column))
            for m in schema.MEASURES
        ),
        positions=grain.positions,
    )


def _differences(grain: Grain) -> sql.Composed:
    """The grain's rows from ``%(first)s`` on that differ from what they should hold, keys of
    both sides first, then both sides' measures as text."""
    return sql.SQL(
        "WITH r AS (SELECT {keys}, {measures} FROM {table} WHERE bucket >= %(first)s), e AS ({expected}) "
        "SELECT {r_keys}, {e_keys}, ROW({r_measures})::text, ROW({e_measures})::text "
        "FROM r FULL OUTER JOIN e USING ({keys}) "
        "WHERE ROW({r_measures}) IS DISTINCT FROM ROW({e_measures}) LIMIT %(limit)s"
    ).format(
        keys=names(grain.columns),
        measures=names(MEASURES),
        table=grain.name,
        expected=_expected(grain),
        r_keys=names(grain.columns, "r"),
        e_keys=names(grain.columns, "e"),
        r_measures=names(MEASURES, "r"),
        e_measures=names(MEASURES, "e"),
    )


def verify(since: date, limit: int = 50) -> list[Mismatch]:
    """Rollup rows for ``[since, ∞)`` that differ from the raw events (up to ``limit`` per
    grain); weekly grains are checked against their daily grain from the week of ``since``."""
    mismatches: list[Mismatch] = []
    start = _day_start(since)
    monday = since - timedelta(days=since.weekday())
    for grain in GRAINS:
        first = monday if grain.weekly else since if grain.date_bucketed else start
        params = {"first": first, "since": monday if grain.weekly else start, "limit": limit}
        with connection.cursor() as cursor:
            cursor.execute(_differences(grain), params)
            n = len(grain.columns)
            for row in cursor.fetchall():
                key = row[:n] if row[0] is not None else row[n : 2 * n]
                mismatches.append(Mismatch(grain.table, tuple(key), row[-2], row[-1]))
    return mismatches
