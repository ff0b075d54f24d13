"""Keeping rollups right: rebuilding days and weeks from raw events (and weekly grains from
daily ones), re-pricing events that reported no cost, moving an app's usage on a merge, and
checking every grain against what it should hold."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from django.db import connection
from psycopg import sql

from ingest import schema
from ingest.rollups.grains import ALL_TABLES, DAILY, GRAINS, NARROW, QUARTERLY, Grain, names
from ingest.rollups.windows import midnight
from ingest.rollups.write import derived_cost, from_raw, insert_grouped, insert_rows, summed, sums, upsert

_LOCK = sql.SQL("LOCK TABLE {} IN SHARE ROW EXCLUSIVE MODE")


def _from_daily(grain: Grain, daily: Grain, where: sql.Composable) -> sql.Composed:
    """INSERT a date-bucketed grain summed from a daily grain (``where`` filters it), in key
    order: rows land in bucket order, as ingest writes them, so a range of days stays on few
    pages (hash-aggregate order would scatter a week of rows over the whole table)."""
    return insert_rows(grain, summed(grain, sql.SQL("{}{}").format(daily.name, where)), add=False)


def from_full_cube(grain: Grain) -> sql.Composed:
    """A narrower or weekly table summed from the full daily cube (for benchmark data
    written straight into the cube)."""
    return _from_daily(grain, DAILY, sql.SQL(""))


def oldest_complete_day(retention_days: int, today: date | None = None) -> date:
    """The first day whose raw events are all still kept (a day earlier than the UTC count
    says: a day in any zone overlaps at most two UTC days)."""
    today = today or datetime.now(UTC).date()
    return today - timedelta(days=retention_days - 2)


# Raw events from %(start)s to %(end)s: the partitions of that range only (pruned on
# created_at); a day for a rebuild.
_RAW_RANGE = sql.SQL(
    "(SELECT * FROM ingest_rawevent WHERE created_at >= %(start)s AND created_at < %(end)s) AS raw"
)
# Rows of one grain in a range of buckets: a range scan of its primary key (bucket first).
_DELETE_BUCKETS = sql.SQL("DELETE FROM {} WHERE bucket >= %(first)s AND bucket < %(last)s")
# One week of a weekly grain (the category one's key leads with the category: a scan).
_DELETE_WEEK = sql.SQL("DELETE FROM {} WHERE bucket = %(first)s")


def rebuild_day(day: date, zone: str) -> None:
    """Recompute one day (in ``zone``, the zone the date rollups are built in) of every
    quarter-hour and daily grain from its raw events; caller holds a transaction, and
    rebuilds the day's week with :func:`rebuild_week` once its days are done. Locks the
    rollup tables against concurrent ingest (which would otherwise add to rows being
    recomputed): ingest waits for the day to finish, then goes on."""
    start, end = midnight(day, zone), midnight(day + timedelta(days=1), zone)
    with connection.cursor() as cursor:
        cursor.execute(_LOCK.format(ALL_TABLES))
        for grain in GRAINS:
            if grain.weekly:
                continue
            first, last = (day, day + timedelta(days=1)) if grain.date_bucketed else (start, end)
            cursor.execute(_DELETE_BUCKETS.format(grain.name), {"first": first, "last": last})
            cursor.execute(upsert(grain, _RAW_RANGE, zone), {"start": start, "end": end})


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


# A key's raw events in a time range: the partitions of the range, scanned for the key's
# batches (their ids from the inbox's key index); rare: a key marked or unmarked as a test key.
_FLAG_KEY_EVENTS = sql.SQL(
    "WITH changed AS (UPDATE ingest_rawevent r SET is_test = %(test)s "
    "WHERE r.batch_id IN (SELECT id FROM ingest_inboxbatch WHERE key_id = %(key)s) AND r.is_test <> %(test)s "
    "AND r.created_at >= %(start)s AND r.created_at < %(end)s RETURNING r.created_at) "
    "SELECT count(*), min(created_at), max(created_at) FROM changed"
)


def flag_key_events(
    key_id: int, test: bool, start: datetime, end: datetime
) -> tuple[int, datetime | None, datetime | None]:
    """Give one key's raw events in ``[start, end)`` its test flag; returns how many changed
    and the first and last of their times (the caller rebuilds those days)."""
    with connection.cursor() as cursor:
        cursor.execute(_FLAG_KEY_EVENTS, {"key": key_id, "test": test, "start": start, "end": end})
        return cursor.fetchone()


# Tokens per model straight from the raw events of a time range: the partitions of the
# range, scanned (no index: a reference for checks and benchmarks, not a page's read).
_RAW_MODEL_TOKENS = sql.SQL(
    "SELECT model_id, sum(prompt_tokens + completion_tokens) FROM ingest_rawevent "
    "WHERE created_at >= %(start)s AND created_at < %(end)s GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT %(limit)s"
)


def raw_model_tokens(start: datetime, end: datetime, limit: int | None = None) -> dict[int, float]:
    """Tokens per model id of every raw event (test keys' too) in ``[start, end)``, most first
    (the ``limit`` most; None: all): the model leaderboard recomputed bypassing the rollups."""
    with connection.cursor() as cursor:
        cursor.execute(_RAW_MODEL_TOKENS, {"start": start, "end": end, "limit": limit})
        return {model: float(tokens) for model, tokens in cursor.fetchall()}


class MergeMismatch(RuntimeError):
    """A merge would change totals; the caller's transaction rolls it back."""


def _usage_of(column: str, ids: list[int]) -> dict[str, tuple]:
    """Every measure summed over the rows of ``ids`` in each grain keyed by ``column`` (by its
    (column, bucket) index, or a scan where there is none), and the raw events' count and
    tokens (every partition, scanned: merges are rare)."""
    totals = {}
    with connection.cursor() as cursor:
        for grain in GRAINS:
            if column in grain.columns:
                cursor.execute(
                    sql.SQL("SELECT {} FROM {} WHERE {} = ANY(%(ids)s)").format(
                        sums(grain, "coalesce(sum({0}), 0)"), grain.name, sql.Identifier(column)
                    ),
                    {"ids": ids},
                )
                totals[grain.table] = cursor.fetchone()
        cursor.execute(
            sql.SQL(
                "SELECT count(*), coalesce(sum(prompt_tokens + completion_tokens), 0) "
                "FROM ingest_rawevent WHERE {} = ANY(%(ids)s)"
            ).format(sql.Identifier(column)),
            {"ids": ids},
        )
        totals["ingest_rawevent"] = cursor.fetchone()
    return totals


def _merge_rows(grain: Grain, column: str) -> sql.Composed:
    """Add the rows of the merged entries to the target's rows of the same key (the merged
    entries' rows found through the grain's (column, bucket) index)."""
    keys = sql.SQL(", ").join(
        sql.SQL("%(target)s") if key == column else sql.Identifier(key) for key in grain.columns
    )
    source = sql.SQL("{} WHERE {} = ANY(%(sources)s)").format(grain.name, sql.Identifier(column))
    return insert_grouped(grain, keys, sums(grain), source, add=True)


def reassign(dimension: str, source_ids: list[int], target_id: int) -> None:
    """Move the usage of ``source_ids`` to ``target_id`` along a stored catalog ``dimension``
    (``app`` for an app merge, ``model`` for a model merge) in every grain keyed by it and in
    the raw events, then check that the target now holds exactly what all of them held:
    otherwise :class:`MergeMismatch` (the caller's transaction undoes the merge)."""
    column = schema.DIMENSION[dimension].column
    before = _usage_of(column, [*source_ids, target_id])
    entries = {"sources": source_ids, "target": target_id}
    for grain in GRAINS:
        if dimension not in grain.dimensions:
            continue
        with connection.cursor() as cursor:
            cursor.execute(_LOCK.format(grain.name))
            cursor.execute(_merge_rows(grain, column), entries)
            cursor.execute(
                sql.SQL("DELETE FROM {} WHERE {} = ANY(%(sources)s)").format(
                    grain.name, sql.Identifier(column)
                ),
                entries,
            )
    with connection.cursor() as cursor:
        # Every raw partition, scanned: merges are rare.
        cursor.execute(
            sql.SQL("UPDATE ingest_rawevent SET {0} = %(target)s WHERE {0} = ANY(%(sources)s)").format(
                sql.Identifier(column)
            ),
            entries,
        )
    after = _usage_of(column, [target_id])
    if after != before:
        changed = [table for table in before if before[table] != after[table]]
        raise MergeMismatch(f"merge would change totals in {', '.join(changed)}; nothing was merged")


@dataclass
class Mismatch:
    table: str
    key: tuple
    rollup: tuple | None
    raw: tuple | None


def _expected(grain: Grain, zone: str) -> sql.Composed:
    """What a grain's rows should hold from ``%(start)s`` to ``%(end)s``: raw events summed for
    hourly and daily grains (their partitions in that range), the daily grain summed for weekly
    ones (a range of its primary key)."""
    if grain.weekly:
        return summed(grain, sql.SQL("{} WHERE bucket >= %(start)s AND bucket < %(end)s").format(grain.daily.name))
    return from_raw(grain, _RAW_RANGE, zone)


def _differences(grain: Grain, zone: str) -> sql.Composed:
    """The grain's rows from ``%(first)s`` to ``%(last)s`` (a range of its primary key) that
    differ from what they should hold, keys of both sides first, then both sides' measures as
    text."""
    return sql.SQL(
        "WITH r AS (SELECT {keys}, {measures} FROM {table} WHERE bucket >= %(first)s AND bucket < %(last)s), "
        "e AS ({expected}) "
        "SELECT {r_keys}, {e_keys}, ROW({r_measures})::text, ROW({e_measures})::text "
        "FROM r FULL OUTER JOIN e USING ({keys}) "
        "WHERE ROW({r_measures}) IS DISTINCT FROM ROW({e_measures}) LIMIT %(limit)s"
    ).format(
        keys=names(grain.columns),
        measures=names(grain.measure_columns),
        table=grain.name,
        expected=_expected(grain, zone),
        r_keys=names(grain.columns, "r"),
        e_keys=names(grain.columns, "e"),
        r_measures=names(grain.measure_columns, "r"),
        e_measures=names(grain.measure_columns, "e"),
    )


def verify(
    since: date,
    until: date,
    zone: str,
    limit: int = 50,
    narrow_from: date | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[Mismatch]:
    """Rollup rows of the days ``[since, until]`` (in ``zone``, the zone the date rollups are
    built in) that differ from the raw events (up to ``limit`` per grain); the narrow ones
    from ``narrow_from`` on when later (the first day they hold whole in ``zone``, see
    :func:`rezone`); weekly grains are checked against their daily grain for the weeks those
    days fall in. ``progress`` is told the tables checked after each one."""
    mismatches: list[Mismatch] = []
    start, end = midnight(since, zone), midnight(until + timedelta(days=1), zone)
    monday = since - timedelta(days=since.weekday())
    next_monday = until - timedelta(days=until.weekday()) + timedelta(days=7)
    for checked, grain in enumerate(GRAINS, start=1):
        if grain in NARROW and narrow_from and narrow_from > since:
            first = min(narrow_from, until + timedelta(days=1))
            first, last, source_start, source_end = first, until + timedelta(days=1), midnight(first, zone), end
        elif grain.weekly:
            first, last, source_start, source_end = monday, next_monday, monday, next_monday
        elif grain.date_bucketed:
            first, last, source_start, source_end = since, until + timedelta(days=1), start, end
        else:
            first, last, source_start, source_end = start, end, start, end
        params = {"first": first, "last": last, "start": source_start, "end": source_end, "limit": limit}
        with connection.cursor() as cursor:
            cursor.execute(_differences(grain, zone), params)
            n = len(grain.columns)
            for row in cursor.fetchall():
                key = row[:n] if row[0] is not None else row[n : 2 * n]
                mismatches.append(Mismatch(grain.table, tuple(key), row[-2], row[-1]))
        if progress:
            progress(checked, len(GRAINS))
    return mismatches


# The date grains summed from the quarter-hour cube (every one is keyed by a subset of the
# cube's dimensions), a day in ``%(zone)s`` per row.
_DATE_CUBE = tuple(g for g in GRAINS if g.date_bucketed and not g.weekly and g not in NARROW)


def rezone(zone: str, raw_since: date, ends_in: str, older: str) -> date:
    """Rebuild every date grain in ``zone`` and record it as the calendar's zone; caller holds
    a transaction. The cube's date grains are summed from the quarter-hour cube (kept forever,
    exact in every zone), the weekly ones from them, the narrow rollups from raw events from
    ``raw_since`` on. Older narrow rows cannot be re-bucketed (their events are gone): they
    stay as they were (in the ``older`` zone), and the new rows take every event from where
    the last of them ends (at a day's end in ``ends_in``): each event once, the day before the
    first whole day in ``zone`` has one bound of each zone. Returns that first whole day,
    recorded with ``older`` (``verify`` checks the narrow rollups from it). Takes the calendar's row
    exclusively first: ingest (which reads it in its write) waits."""
    with connection.cursor() as cursor:
        cursor.execute("LOCK TABLE ingest_calendar IN ACCESS EXCLUSIVE MODE")
        cursor.execute(_LOCK.format(ALL_TABLES))
        for grain in _DATE_CUBE:
            cursor.execute(sql.SQL("TRUNCATE {}").format(grain.name))
            keys = sql.SQL("(bucket AT TIME ZONE %(zone)s)::date, {}").format(names(grain.columns[1:]))
            cursor.execute(
                insert_grouped(grain, keys, sums(grain), QUARTERLY.name, add=False), {"zone": zone}
            )
        for grain in GRAINS:
            if grain.weekly:
                cursor.execute(sql.SQL("TRUNCATE {}").format(grain.name))
                cursor.execute(_from_daily(grain, grain.daily, sql.SQL("")))
        start = midnight(raw_since, ends_in)  # where the kept older rows end
        for grain in NARROW:
            cursor.execute(_DELETE_BUCKETS.format(grain.name), {"first": raw_since, "last": date.max})
            cursor.execute(
                upsert(grain, _RAW_RANGE, zone), {"start": start, "end": datetime.max.replace(tzinfo=UTC)}
            )
        whole = raw_since if midnight(raw_since, zone) >= start else raw_since + timedelta(days=1)
        cursor.execute(
            "INSERT INTO ingest_calendar (id, zone, changed_at, narrow_from, narrow_before_zone) "
            "VALUES (1, %(zone)s, now(), %(whole)s, %(older)s) "
            "ON CONFLICT (id) DO UPDATE SET zone = EXCLUDED.zone, changed_at = EXCLUDED.changed_at, "
            "narrow_from = EXCLUDED.narrow_from, narrow_before_zone = EXCLUDED.narrow_before_zone",
            {"zone": zone, "whole": whole, "older": older},
        )
    return whole
