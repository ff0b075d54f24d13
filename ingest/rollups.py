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
GRAINS = {
    "rankings_usagehourly": "date_trunc('hour', created_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'",
    "rankings_usagedaily": "(created_at AT TIME ZONE 'UTC')::date",
}

_INCOMING_DDL = """
CREATE TEMP TABLE IF NOT EXISTS incoming (
    id text, created_at timestamptz, batch_id bigint, model_id bigint, variant text,
    provider_id bigint, app_id bigint, category_id bigint, origin text,
    prompt_tokens bigint, completion_tokens bigint, reasoning_tokens bigint,
    cached_tokens bigint, cost numeric, latency_ms integer, generation_ms integer,
    cancelled boolean, streamed boolean, finish_reason text, is_byok boolean
) ON COMMIT DELETE ROWS
"""


def _aggregate(table: str, source: str) -> str:
    """INSERT ... SELECT grouped ``source`` rows into ``table``, adding to existing rows."""
    columns = ", ".join(DIMENSIONS + tuple(MEASURES))
    measures = ", ".join(MEASURES.values())
    updates = ", ".join(f"{m} = {table}.{m} + EXCLUDED.{m}" for m in MEASURES)
    keys = ", ".join(DIMENSIONS)
    return (
        f"INSERT INTO {table} ({columns}) "
        f"SELECT {GRAINS[table]} AS bucket, model_id, variant, provider_id, app_id, category_id, "
        f"{measures} FROM {source} GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 1, 2, 3, 4, 5, 6 "
        f"ON CONFLICT ({keys}) DO UPDATE SET {updates}"
    )


# One statement: new raw rows, and exactly those rows added to both grains; it answers
# how many raw rows and rollup rows it wrote.
_WRITE_SQL = (
    f"WITH inserted AS (INSERT INTO ingest_rawevent ({', '.join(RAW_COLUMNS)}) "
    f"SELECT {', '.join(RAW_COLUMNS)} FROM incoming ON CONFLICT DO NOTHING "
    f"RETURNING {', '.join(RAW_COLUMNS)}), "
    f"hourly AS ({_aggregate('rankings_usagehourly', 'inserted')} RETURNING 1), "
    f"daily AS ({_aggregate('rankings_usagedaily', 'inserted')} RETURNING 1) "
    "SELECT (SELECT count(*) FROM inserted), (SELECT count(*) FROM hourly), (SELECT count(*) FROM daily)"
)


def write_events(rows: Iterable[Sequence[Any]]) -> tuple[int, int, int]:
    """Insert raw event rows (``RAW_COLUMNS`` order) and add them to the rollups; return the
    numbers of raw, hourly and daily rows written.

    Must run inside the caller's transaction: raw rows and rollup increments commit together.
    """
    with connection.cursor() as cursor:
        cursor.execute(_INCOMING_DDL)
        with cursor.copy(f"COPY incoming ({', '.join(RAW_COLUMNS)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        cursor.execute(_WRITE_SQL)
        written = cursor.fetchone()
        cursor.execute("TRUNCATE incoming")
    return written


def _day_start(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def oldest_complete_day(retention_days: int, today: date | None = None) -> date:
    """The first day whose raw events are all still kept."""
    today = today or datetime.now(UTC).date()
    return today - timedelta(days=retention_days - 1)


def rebuild_day(day: date) -> None:
    """Recompute one UTC day of both rollup grains from its raw events; caller holds a
    transaction. Locks the rollup tables against concurrent ingest (which would otherwise
    add to rows being recomputed): ingest waits for the day to finish, then goes on."""
    start = _day_start(day)
    end = start + timedelta(days=1)
    with connection.cursor() as cursor:
        cursor.execute("LOCK TABLE rankings_usagehourly, rankings_usagedaily IN SHARE ROW EXCLUSIVE MODE")
        cursor.execute("DELETE FROM rankings_usagehourly WHERE bucket >= %s AND bucket < %s", [start, end])
        cursor.execute("DELETE FROM rankings_usagedaily WHERE bucket = %s", [day])
        # Reads one partition (pruned on created_at).
        source = "(SELECT * FROM ingest_rawevent WHERE created_at >= %s AND created_at < %s) AS raw"
        cursor.execute(_aggregate("rankings_usagehourly", source), [start, end])
        cursor.execute(_aggregate("rankings_usagedaily", source), [start, end])


def reassign_apps(source_ids: list[int], target_id: int) -> None:
    """Move the usage of ``source_ids`` to ``target_id`` in both grains and the raw events
    (an app merge); totals are unchanged. Caller holds a transaction."""
    measures = ", ".join(MEASURES)
    for table in GRAINS:
        updates = ", ".join(f"{m} = {table}.{m} + EXCLUDED.{m}" for m in MEASURES)
        sums = ", ".join(f"sum({m})" for m in MEASURES)
        with connection.cursor() as cursor:
            cursor.execute(f"LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE")
            cursor.execute(
                f"INSERT INTO {table} ({', '.join(DIMENSIONS)}, {measures}) "
                f"SELECT bucket, model_id, variant, provider_id, %s, category_id, {sums} FROM {table} "
                "WHERE app_id = ANY(%s) GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 1, 2, 3, 4, 5, 6 "
                f"ON CONFLICT ({', '.join(DIMENSIONS)}) DO UPDATE SET {updates}",
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


def verify(since: date, limit: int = 50) -> list[Mismatch]:
    """Rollup rows for ``[since, ∞)`` that differ from the raw events (up to ``limit``)."""
    mismatches: list[Mismatch] = []
    start = _day_start(since)
    keys = ", ".join(DIMENSIONS)
    measures = ", ".join(MEASURES)
    for table, bucket in GRAINS.items():
        sql = (
            f"WITH r AS (SELECT {keys}, {measures} FROM {table} WHERE bucket >= %s), "
            f"e AS (SELECT {bucket} AS bucket, model_id, variant, provider_id, app_id, category_id, "
            f"{', '.join(f'{expr} AS {name}' for name, expr in MEASURES.items())} "
            f"FROM ingest_rawevent WHERE created_at >= %s GROUP BY 1, 2, 3, 4, 5, 6) "
            f"SELECT {', '.join('r.' + k for k in DIMENSIONS)}, "
            f"{', '.join('e.' + k for k in DIMENSIONS)}, "
            f"ROW({', '.join('r.' + m for m in MEASURES)})::text, "
            f"ROW({', '.join('e.' + m for m in MEASURES)})::text "
            f"FROM r FULL OUTER JOIN e USING ({keys}) "
            f"WHERE ROW({', '.join('r.' + m for m in MEASURES)}) "
            f"IS DISTINCT FROM ROW({', '.join('e.' + m for m in MEASURES)}) "
            f"LIMIT %s"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [since if table.endswith("daily") else start, start, limit])
            for row in cursor.fetchall():
                n = len(DIMENSIONS)
                key = row[:n] if row[0] is not None else row[n : 2 * n]
                mismatches.append(Mismatch(table, tuple(key), row[-2], row[-1]))
    return mismatches
