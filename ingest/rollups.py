"""The SQL that turns events into rollups: written once here, used by the worker, the bulk
import, ``rebuild_rollups`` and ``verify_rollups``.

Increments are ``INSERT ... ON CONFLICT DO UPDATE SET x = x + EXCLUDED.x``: atomic per row,
so any number of workers on any number of hosts can add to the same rows without losing an
increment. Rows are upserted in key order, which keeps concurrent batches from deadlocking.
The conflict target is each table's primary key (bucket, model, variant, provider, app,
category); the raw events' primary key is (created_at, id) on every daily partition.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.db import connection

RAW_COLUMNS = (
    "id",
    "created_at",
    "batch_id",
    "model_id",
    "variant",
    "provider_id",
    "app_id",
    "category_id",
    "origin",
    "prompt_tokens",
    "completion_tokens",
    "reasoning_tokens",
    "cached_tokens",
    "cost",
    "latency_ms",
    "generation_ms",
    "cancelled",
    "streamed",
    "finish_reason",
    "is_byok",
)
DIMENSIONS = ("bucket", "model_id", "variant", "provider_id", "app_id", "category_id")
MEASURES = {
    "requests": "count(*)",
    "prompt_tokens": "sum(prompt_tokens)",
    "completion_tokens": "sum(completion_tokens)",
    "reasoning_tokens": "sum(reasoning_tokens)",
    "cached_tokens": "sum(cached_tokens)",
    "cost": "sum(cost)",
    "latency_ms_sum": "coalesce(sum(latency_ms), 0)",
    "latency_count": "count(latency_ms)",
    "generation_ms_sum": "coalesce(sum(generation_ms), 0)",
    "generation_count": "count(generation_ms)",
    "generation_completion_tokens": (
        "coalesce(sum(completion_tokens) FILTER (WHERE generation_ms IS NOT NULL), 0)"
    ),
    "cancelled": "count(*) FILTER (WHERE cancelled)",
}
HOUR = "date_trunc('hour', created_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'"
DAY = "(created_at AT TIME ZONE 'UTC')::date"
WEEK = "date_trunc('week', created_at AT TIME ZONE 'UTC')::date"  # ISO weeks: Monday
MODEL_DIMENSIONS = ("bucket", "model_id", "variant", "category_id")


@dataclass(frozen=True)
class Grain:
    """A rollup table: its bucket expression over raw rows and its key (primary key).

    A weekly grain also names the daily grain it sums up (``daily``): rebuilds and checks
    derive it from that table, because raw events are kept only for the retention window
    while daily rollups are kept forever.
    """

    table: str
    bucket: str
    dimensions: tuple[str, ...]
    daily: str | None = None

    @property
    def date_bucketed(self) -> bool:
        """Buckets are dates (day or week), not timestamps."""
        return self.bucket != HOUR

    @property
    def weekly(self) -> bool:
        return self.bucket == WEEK


GRAINS = (
    Grain("rankings_usagehourly", HOUR, DIMENSIONS),
    Grain("rankings_usagedaily", DAY, DIMENSIONS),
    # Narrower daily tables (see rankings.selectors): per model, variant and category; and
    # per model alone (the home page's charts).
    Grain("rankings_usagemodeldaily", DAY, MODEL_DIMENSIONS),
    Grain("rankings_usagemodeltotal", DAY, ("bucket", "model_id")),
    # Per app alone: app rankings and app trending without scanning the full cube.
    Grain("rankings_usageappdaily", DAY, ("bucket", "app_id")),
    # Per ISO week: the year-long weekly charts (per model; per category and model).
    Grain("rankings_usagemodelweekly", WEEK, ("bucket", "model_id"), daily="rankings_usagemodeltotal"),
    Grain(
        "rankings_usagecategoryweekly",
        WEEK,
        ("bucket", "model_id", "category_id"),
        daily="rankings_usagemodeldaily",
    ),
)
ALL_TABLES = ", ".join(g.table for g in GRAINS)
GRAIN_BY_TABLE = {g.table: g for g in GRAINS}


def _positions(grain: Grain) -> str:
    return ", ".join(str(n) for n in range(1, len(grain.dimensions) + 1))


def _from_daily(grain: Grain, daily: str, where: str = "") -> str:
    """INSERT a date-bucketed grain summed from a daily rollup table (``where`` filters it),
    in key order: rows land in bucket order, as ingest writes them, so a range of days stays
    on few pages (hash-aggregate order would scatter a week of rows over the whole table)."""
    keys = ", ".join(grain.dimensions)
    bucket = "date_trunc('week', bucket)::date" if grain.weekly else "bucket"
    return (
        f"INSERT INTO {grain.table} ({keys}, {', '.join(MEASURES)}) "
        f"SELECT {bucket}, {', '.join(grain.dimensions[1:])}, {', '.join(f'sum({m})' for m in MEASURES)} "
        f"FROM {daily}{where} GROUP BY {_positions(grain)} ORDER BY {_positions(grain)}"
    )


def from_full_cube(grain: Grain) -> str:
    """A narrower or weekly table summed from the full daily cube (for benchmark data
    written straight into the cube)."""
    return _from_daily(grain, "rankings_usagedaily")


# Rows are staged here before they are counted: by the worker across the transactions of a
# coalesced set (one batch at a time, so a worker holds one batch in memory), by the bulk
# import within its transaction. Session-private, never WAL-logged; emptied after each use.
_INCOMING_DDL = """
CREATE TEMP TABLE IF NOT EXISTS incoming (
    id text, created_at timestamptz, batch_id bigint, model_id bigint, variant text,
    provider_id bigint, app_id bigint, category_id bigint, origin text,
    prompt_tokens bigint, completion_tokens bigint, reasoning_tokens bigint,
    cached_tokens bigint, cost numeric, latency_ms integer, generation_ms integer,
    cancelled boolean, streamed boolean, finish_reason text, is_byok boolean
)
"""


def _aggregate(grain: Grain, source: str) -> str:
    """INSERT ... SELECT grouped ``source`` rows into the grain's table, adding to existing
    rows (in key order, so concurrent writers never deadlock)."""
    table, keys = grain.table, ", ".join(grain.dimensions)
    positions = _positions(grain)
    measures = ", ".join(MEASURES.values())
    updates = ", ".join(f"{m} = {table}.{m} + EXCLUDED.{m}" for m in MEASURES)
    return (
        f"INSERT INTO {table} ({keys}, {', '.join(MEASURES)}) "
        f"SELECT {grain.bucket} AS bucket, {', '.join(grain.dimensions[1:])}, "
        f"{measures} FROM {source} GROUP BY {positions} ORDER BY {positions} "
        f"ON CONFLICT ({keys}) DO UPDATE SET {updates}"
    )


# The cost of an event that reported none, from its model's list prices ($ per 1M tokens);
# ``t`` is the event row and ``m`` its rankings_llmmodel row.
DERIVED_COST = (
    "round(({t}.prompt_tokens * coalesce(m.prompt_price, 0) "
    "+ {t}.completion_tokens * coalesce(m.completion_price, 0)) / 1000000, 10)"
)
_RAW_SELECT = ", ".join(
    f"coalesce(i.cost, {DERIVED_COST.format(t='i')})" if column == "cost" else f"i.{column}"
    for column in RAW_COLUMNS
)


def _write_sql(where: str = "") -> str:
    """One statement: staged rows (``where`` filters them) become raw rows, and exactly the
    raw rows inserted are added to every grain; it answers how many raw rows and rows per
    grain it wrote."""
    return (
        f"WITH inserted AS (INSERT INTO ingest_rawevent ({', '.join(RAW_COLUMNS)}, cost_derived) "
        f"SELECT {_RAW_SELECT}, i.cost IS NULL FROM incoming i JOIN rankings_llmmodel m ON m.id = i.model_id{where} "
        f"ON CONFLICT DO NOTHING RETURNING {', '.join(RAW_COLUMNS)}), "
        + ", ".join(
            f"g{n} AS ({_aggregate(grain, 'inserted')} RETURNING 1)" for n, grain in enumerate(GRAINS)
        )
        + " SELECT (SELECT count(*) FROM inserted), "
        + ", ".join(f"(SELECT count(*) FROM g{n})" for n in range(len(GRAINS)))
    )


_WRITE_ALL = _write_sql()
_WRITE_SOME = _write_sql(" WHERE i.id = ANY(%s)")


def stage_events(rows: Iterable[Sequence[Any]]) -> None:
    """COPY event rows (``RAW_COLUMNS`` order) into this session's staging table."""
    with connection.cursor() as cursor:
        cursor.execute(_INCOMING_DDL)
        with cursor.copy(f"COPY incoming ({', '.join(RAW_COLUMNS)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)


def write_staged(ids: list[str] | None = None) -> tuple[int, ...]:
    """Count the staged rows (those with ``ids`` only, when given) into raw events and
    rollups; return the raw rows written, then the rows upserted per grain (``GRAINS``
    order). Runs in the caller's transaction: raw rows and increments commit together."""
    with connection.cursor() as cursor:
        cursor.execute(_WRITE_ALL if ids is None else _WRITE_SOME, None if ids is None else [ids])
        return cursor.fetchone()


def clear_staged() -> None:
    with connection.cursor() as cursor:
        cursor.execute(_INCOMING_DDL)
        cursor.execute("TRUNCATE incoming")


def unstage_batches_except(batch_ids: list[int]) -> None:
    """Drop staged rows of batches other than ``batch_ids`` (taken by another worker)."""
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM incoming WHERE batch_id <> ALL(%s)", [batch_ids])


def write_events(rows: Iterable[Sequence[Any]]) -> tuple[int, ...]:
    """Stage ``rows`` and count them, in the caller's transaction (the bulk import's path)."""
    clear_staged()
    stage_events(rows)
    written = write_staged()
    clear_staged()
    return written


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
            cursor.execute(_aggregate(grain, source), [start, end])


def rebuild_week(monday: date) -> None:
    """Recompute the weekly grains of the week starting ``monday`` from their daily grains;
    caller holds a transaction."""
    with connection.cursor() as cursor:
        cursor.execute(f"LOCK TABLE {ALL_TABLES} IN SHARE ROW EXCLUSIVE MODE")
        for grain in GRAINS:
            if grain.weekly:
                cursor.execute(f"DELETE FROM {grain.table} WHERE bucket = %s", [monday])
                where = " WHERE bucket >= %s AND bucket < %s"
                cursor.execute(_from_daily(grain, grain.daily, where), [monday, monday + timedelta(days=7)])


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


class MergeMismatch(RuntimeError):
    """A merge would change totals; the caller's transaction rolls it back."""


def _usage_of(dimension: str, ids: list[int]) -> dict[str, tuple]:
    """Every measure summed over the rows of ``ids`` in each table keyed by ``dimension``."""
    sums = ", ".join(f"coalesce(sum({m}), 0)" for m in MEASURES)
    totals = {}
    with connection.cursor() as cursor:
        for table in [g.table for g in GRAINS if dimension in g.dimensions] + ["ingest_rawevent"]:
            select = (
                sums
                if table != "ingest_rawevent"
                else "count(*), coalesce(sum(prompt_tokens + completion_tokens), 0)"
            )
            cursor.execute(f"SELECT {select} FROM {table} WHERE {dimension} = ANY(%s)", [ids])
            totals[table] = cursor.fetchone()
    return totals


def reassign(dimension: str, source_ids: list[int], target_id: int) -> None:
    """Move the usage of ``source_ids`` to ``target_id`` along ``dimension`` (``app_id`` for an
    app merge, ``model_id`` for a model merge) in every table keyed by it and in the raw
    events, then check that the target now holds exactly what all of them held: otherwise
    :class:`MergeMismatch` (the caller's transaction undoes the merge)."""
    before = _usage_of(dimension, [*source_ids, target_id])
    measures = ", ".join(MEASURES)
    sums = ", ".join(f"sum({m})" for m in MEASURES)
    for grain in GRAINS:
        if dimension not in grain.dimensions:
            continue
        table, keys = grain.table, ", ".join(grain.dimensions)
        updates = ", ".join(f"{m} = {table}.{m} + EXCLUDED.{m}" for m in MEASURES)
        selected = ", ".join("%s" if d == dimension else d for d in grain.dimensions)
        positions = _positions(grain)
        with connection.cursor() as cursor:
            cursor.execute(f"LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE")
            cursor.execute(
                f"INSERT INTO {table} ({keys}, {measures}) SELECT {selected}, {sums} FROM {table} "
                f"WHERE {dimension} = ANY(%s) GROUP BY {positions} ORDER BY {positions} "
                f"ON CONFLICT ({keys}) DO UPDATE SET {updates}",
                [target_id, source_ids],
            )
            cursor.execute(f"DELETE FROM {table} WHERE {dimension} = ANY(%s)", [source_ids])
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE ingest_rawevent SET {dimension} = %s WHERE {dimension} = ANY(%s)",
            [target_id, source_ids],
        )
    after = _usage_of(dimension, [target_id])
    if after != before:
        changed = [table for table in before if before[table] != after[table]]
        raise MergeMismatch(f"merge would change totals in {', '.join(changed)}; nothing was merged")


@dataclass
class Mismatch:
    table: str
    key: tuple
    rollup: tuple | None
    raw: tuple | None


def _expected(grain: Grain) -> str:
    """What a grain's rows should hold between the two ``%s`` bounds: raw events summed for
    hourly and daily grains, the daily grain summed for weekly ones."""
    others = ", ".join(grain.dimensions[1:])
    if grain.weekly:
        sums = ", ".join(f"sum({m}) AS {m}" for m in MEASURES)
        return (
            f"SELECT date_trunc('week', bucket)::date AS bucket, {others}, {sums} "
            f"FROM {grain.daily} WHERE bucket >= %s AND bucket < %s GROUP BY {_positions(grain)}"
        )
    measures = ", ".join(f"{expr} AS {name}" for name, expr in MEASURES.items())
    return (
        f"SELECT {grain.bucket} AS bucket, {others}, {measures} "
        f"FROM ingest_rawevent WHERE created_at >= %s AND created_at < %s GROUP BY {_positions(grain)}"
    )


def verify(since: date, until: date, limit: int = 50) -> list[Mismatch]:
    """Rollup rows of the days ``[since, until]`` that differ from the raw events (up to
    ``limit`` per grain); weekly grains are checked against their daily grain for the weeks
    those days fall in."""
    mismatches: list[Mismatch] = []
    start, end = _day_start(since), _day_start(until) + timedelta(days=1)
    monday = since - timedelta(days=since.weekday())
    next_monday = until - timedelta(days=until.weekday()) + timedelta(days=7)
    measures = ", ".join(MEASURES)
    for grain in GRAINS:
        keys = ", ".join(grain.dimensions)
        sql = (
            f"WITH r AS (SELECT {keys}, {measures} FROM {grain.table} WHERE bucket >= %s AND bucket < %s), "
            f"e AS ({_expected(grain)}) "
            f"SELECT {', '.join('r.' + k for k in grain.dimensions)}, "
            f"{', '.join('e.' + k for k in grain.dimensions)}, "
            f"ROW({', '.join('r.' + m for m in MEASURES)})::text, "
            f"ROW({', '.join('e.' + m for m in MEASURES)})::text "
            f"FROM r FULL OUTER JOIN e USING ({keys}) "
            f"WHERE ROW({', '.join('r.' + m for m in MEASURES)}) "
            f"IS DISTINCT FROM ROW({', '.join('e.' + m for m in MEASURES)}) "
            f"LIMIT %s"
        )
        if grain.weekly:
            bounds = [monday, next_monday, monday, next_monday]
        elif grain.date_bucketed:
            bounds = [since, until + timedelta(days=1), start, end]
        else:
            bounds = [start, end, start, end]
        with connection.cursor() as cursor:
            cursor.execute(sql, [*bounds, limit])
            n = len(grain.dimensions)
            for row in cursor.fetchall():
                key = row[:n] if row[0] is not None else row[n : 2 * n]
                mismatches.append(Mismatch(grain.table, tuple(key), row[-2], row[-1]))
    return mismatches
