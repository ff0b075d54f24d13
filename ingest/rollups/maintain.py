"""Keeping rollups right: rebuilding days and weeks from raw events (and weekly grains from
daily ones), re-pricing events that reported no cost, moving an app's usage on a merge, and
checking every grain against what it should hold."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from django.db import connection

from ingest.rollups.grains import ALL_TABLES, DAILY, GRAINS, Grain
from ingest.rollups.write import DERIVED_COST, MEASURES, aggregate, positions


def _from_daily(grain: Grain, daily: str, where: str = "") -> str:
    """INSERT a date-bucketed grain summed from a daily rollup table (``where`` filters it),
    in key order: rows land in bucket order, as ingest writes them, so a range of days stays
    on few pages (hash-aggregate order would scatter a week of rows over the whole table)."""
    keys = ", ".join(grain.columns)
    bucket = "date_trunc('week', bucket)::date" if grain.weekly else "bucket"
    return (
        f"INSERT INTO {grain.table} ({keys}, {', '.join(MEASURES)}) "
        f"SELECT {bucket}, {', '.join(grain.columns[1:])}, {', '.join(f'sum({m})' for m in MEASURES)} "
        f"FROM {daily}{where} GROUP BY {positions(grain)} ORDER BY {positions(grain)}"
    )


def from_full_cube(grain: Grain) -> str:
    """A narrower or weekly table summed from the full daily cube (for benchmark data
    written straight into the cube)."""
    return _from_daily(grain, DAILY.table)


def _day_start(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def oldest_complete_day(retention_days: int, today: date | None = None) -> date:
    """The first day whose raw events are all still kept."""
    today = today or datetime.now(UTC).date()
    return today - timedelta(days=retention_days - 1)


def rebuild_day(day: date) -> None:
    """Recompute one UTC day of every hourly and daily grain from its raw events; caller
    holds a transaction, and rebuilds the day's week with :func:`rebuild_week` once its days
    are done. Locks the rollup tables against concurrent ingest (which would otherwise add
    to rows being recomputed): ingest waits for the day to finish, then goes on."""
    start = _day_start(day)
    end = start + timedelta(days=1)
    with connection.cursor() as cursor:
        cursor.execute(f"LOCK TABLE {ALL_TABLES} IN SHARE ROW EXCLUSIVE MODE")
        # Reads one partition (pruned on created_at).
        source = "(SELECT * FROM ingest_rawevent WHERE created_at >= %s AND created_at < %s) AS raw"
        for grain in GRAINS:
            if grain.weekly:
                continue
            bounds = [day, end.date()] if grain.date_bucketed else [start, end]
            cursor.execute(f"DELETE FROM {grain.table} WHERE bucket >= %s AND bucket < %s", bounds)
            cursor.execute(aggregate(grain, source), [start, end])


def rebuild_week(monday: date) -> None:
    """Recompute the weekly grains of the week starting ``monday`` from their daily grains;
    caller holds a transaction."""
    with connection.cursor() as cursor:
        cursor.execute(f"LOCK TABLE {ALL_TABLES} IN SHARE ROW EXCLUSIVE MODE")
        for grain in GRAINS:
            if grain.weekly:
                cursor.execute(f"DELETE FROM {grain.table} WHERE bucket = %s", [monday])
                where = " WHERE bucket >= %s AND bucket < %s"
                cursor.execute(_from_daily(grain, grain.daily.table, where), [monday, monday + timedelta(days=7)])


def rederive_costs(model_id: int, start: datetime, end: datetime) -> int:
    """Recompute the derived costs of one model's raw events in ``[start, end)`` from its
    current list prices; the caller rebuilds the rollups of those days."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE ingest_rawevent r SET cost = {DERIVED_COST.format(t='r')} FROM rankings_llmmodel m "
            "WHERE m.id = r.model_id AND r.model_id = %s AND r.cost_derived AND r.created_at >= %s AND r.created_at < %s",
            [model_id, start, end],
        )
        return cursor.rowcount


def reassign_apps(source_ids: list[int], target_id: int) -> None:
    """Move the usage of ``source_ids`` to ``target_id`` in the grains keyed by app and in
    the raw events (an app merge); totals are unchanged. Caller holds a transaction."""
    measures = ", ".join(MEASURES)
    sums = ", ".join(f"sum({m})" for m in MEASURES)
    for grain in GRAINS:
        if "app" not in grain.dimensions:
            continue
        table, keys = grain.table, ", ".join(grain.columns)
        updates = ", ".join(f"{m} = {table}.{m} + EXCLUDED.{m}" for m in MEASURES)
        selected = ", ".join("%s" if d == "app_id" else d for d in grain.columns)
        with connection.cursor() as cursor:
            cursor.execute(f"LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE")
            cursor.execute(
                f"INSERT INTO {table} ({keys}, {measures}) SELECT {selected}, {sums} FROM {table} "
                f"WHERE app_id = ANY(%s) GROUP BY {positions(grain)} ORDER BY {positions(grain)} "
                f"ON CONFLICT ({keys}) DO UPDATE SET {updates}",
                [target_id, source_ids],
            )
            cursor.execute(f"DELETE FROM {table} WHERE app_id = ANY(%s)", [source_ids])
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE ingest_rawevent SET app_id = %s WHERE app_id = ANY(%s)", [target_id, source_ids]
        )


@dataclass
class Mismatch:
    table: str
    key: tuple
    rollup: tuple | None
    raw: tuple | None


def _expected(grain: Grain) -> str:
    """What a grain's rows should hold from the ``%s`` bound on: raw events summed for
    hourly and daily grains, the daily grain summed for weekly ones."""
    others = ", ".join(grain.columns[1:])
    if grain.weekly:
        sums = ", ".join(f"sum({m}) AS {m}" for m in MEASURES)
        return (
            f"SELECT date_trunc('week', bucket)::date AS bucket, {others}, {sums} "
            f"FROM {grain.daily.table} WHERE bucket >= %s GROUP BY {positions(grain)}"
        )
    measures = ", ".join(f"{expr} AS {name}" for name, expr in MEASURES.items())
    return (
        f"SELECT {grain.bucket} AS bucket, {others}, {measures} "
        f"FROM ingest_rawevent WHERE created_at >= %s GROUP BY {positions(grain)}"
    )


def verify(since: date, limit: int = 50) -> list[Mismatch]:
    """Rollup rows for ``[since, ∞)`` that differ from the raw events (up to ``limit`` per
    grain); weekly grains are checked against their daily grain from the week of ``since``."""
    mismatches: list[Mismatch] = []
    start = _day_start(since)
    monday = since - timedelta(days=since.weekday())
    measures = ", ".join(MEASURES)
    for grain in GRAINS:
        keys = ", ".join(grain.columns)
        sql = (
            f"WITH r AS (SELECT {keys}, {measures} FROM {grain.table} WHERE bucket >= %s), "
            f"e AS ({_expected(grain)}) "
            f"SELECT {', '.join('r.' + k for k in grain.columns)}, "
            f"{', '.join('e.' + k for k in grain.columns)}, "
            f"ROW({', '.join('r.' + m for m in MEASURES)})::text, "
            f"ROW({', '.join('e.' + m for m in MEASURES)})::text "
            f"FROM r FULL OUTER JOIN e USING ({keys}) "
            f"WHERE ROW({', '.join('r.' + m for m in MEASURES)}) "
            f"IS DISTINCT FROM ROW({', '.join('e.' + m for m in MEASURES)}) "
            f"LIMIT %s"
        )
        with connection.cursor() as cursor:
            first = monday if grain.weekly else since if grain.date_bucketed else start
            cursor.execute(sql, [first, monday if grain.weekly else start, limit])
            n = len(grain.columns)
            for row in cursor.fetchall():
                key = row[:n] if row[0] is not None else row[n : 2 * n]
                mismatches.append(Mismatch(grain.table, tuple(key), row[-2], row[-1]))
    return mismatches
