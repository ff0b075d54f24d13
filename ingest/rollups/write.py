"""Counting events: staged rows become raw events and rollup increments in one statement,
used by the worker and the bulk import.

Increments are ``INSERT ... ON CONFLICT DO UPDATE SET x = x + EXCLUDED.x``: atomic per row,
so any number of workers on any number of hosts can add to the same rows without losing an
increment. Rows are upserted in key order, which keeps concurrent batches from deadlocking.
The conflict target is each table's primary key; the raw events' primary key is
(created_at, id) on every daily partition.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.db import connection

from ingest import schema
from ingest.rollups.grains import GRAINS, Grain

MEASURES = {m.column: m.aggregate for m in schema.MEASURES}


def positions(grain: Grain) -> str:
    return ", ".join(str(n) for n in range(1, len(grain.columns) + 1))


def aggregate(grain: Grain, source: str) -> str:
    """INSERT ... SELECT grouped ``source`` rows into the grain's table, adding to existing
    rows (in key order, so concurrent writers never deadlock)."""
    table, keys = grain.table, ", ".join(grain.columns)
    measures = ", ".join(MEASURES.values())
    updates = ", ".join(f"{m} = {table}.{m} + EXCLUDED.{m}" for m in MEASURES)
    return (
        f"INSERT INTO {table} ({keys}, {', '.join(MEASURES)}) "
        f"SELECT {grain.bucket} AS bucket, {', '.join(grain.columns[1:])}, "
        f"{measures} FROM {source} GROUP BY {positions(grain)} ORDER BY {positions(grain)} "
        f"ON CONFLICT ({keys}) DO UPDATE SET {updates}"
    )


# Rows are staged here before they are counted: by the worker across the transactions of a
# coalesced set (one batch at a time, so a worker holds one batch in memory), by the bulk
# import within its transaction. Session-private, never WAL-logged; emptied after each use.
_STAGED_TYPES = (
    ("batch_id", "bigint"),
    *((d.column, d.sql_type) for d in schema.STORED),
    *((v.column, v.sql_type) for v in schema.VALUES),
)
_INCOMING_DDL = (
    f"CREATE TEMP TABLE IF NOT EXISTS incoming ({', '.join(f'{c} {t}' for c, t in _STAGED_TYPES)})"
)
RAW_COLUMNS = schema.RAW_COLUMNS

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
        + ", ".join(f"g{n} AS ({aggregate(grain, 'inserted')} RETURNING 1)" for n, grain in enumerate(GRAINS))
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
