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
from functools import cache
from typing import Any

from django.db import connection
from psycopg import sql

from ingest import schema
from ingest.rollups.grains import GRAINS, Grain, expand, names


def insert_grouped(
    grain: Grain, keys: sql.Composable, measures: sql.Composable, source: sql.Composable, *, add: bool
) -> sql.Composed:
    """INSERT into the grain's table the rows of ``source`` grouped by its key: each row's
    ``keys`` (the key columns, in order) then its ``measures`` (one per measure of the grain),
    in key order so that concurrent writers never deadlock. With ``add``, a row already there
    (its primary key is the conflict target) is added to."""
    insert = sql.SQL(
        "INSERT INTO {table} ({columns}, {measure_columns}) SELECT {keys}, {measures} FROM {source} "
        "GROUP BY {positions} ORDER BY {positions}"
    ).format(
        table=grain.name,
        columns=names(grain.columns),
        measure_columns=names(grain.measure_columns),
        keys=keys,
        measures=measures,
        source=source,
        positions=grain.positions,
    )
    if not add:
        return insert
    increments = sql.SQL(", ").join(
        sql.SQL("{m} = {table}.{m} + EXCLUDED.{m}").format(m=sql.Identifier(m), table=grain.name)
        for m in grain.measure_columns
    )
    return insert + sql.SQL(" ON CONFLICT ({}) DO UPDATE SET {}").format(names(grain.columns), increments)


def _aggregates(grain: Grain) -> sql.Composed:
    """The grain's measures over raw-event rows."""
    return sql.SQL(", ").join(sql.SQL(m.aggregate) for m in grain.measures)


def upsert(grain: Grain, source: sql.Composable, zone: str, *, expanded: bool = False) -> sql.Composed:
    """Add the raw-event rows of ``source`` to the grain: bucketed (dates in ``zone``), grouped
    and aggregated (``expanded``: rows already joined for its dimension, see ``grains.expand``)."""
    keys = grain.keys(zone, expanded=expanded)
    return insert_grouped(grain, keys, _aggregates(grain), grain.rows(source, expanded=expanded), add=True)


# Rows are staged here before they are counted: by the worker across the transactions of a
# coalesced set (one batch at a time, so a worker holds one batch in memory), by the bulk
# import within its transaction. Session-private, never WAL-logged; emptied after each use.
_STAGED_TYPES = (
    ("batch_id", "bigint"),
    *((d.column, d.sql_type) for d in schema.STORED),
    *((v.column, v.sql_type) for v in schema.VALUES),
)
_CREATE_STAGING = sql.SQL("CREATE TEMP TABLE IF NOT EXISTS incoming ({})").format(
    sql.SQL(", ").join(sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(t)) for c, t in _STAGED_TYPES)
)
# As text: Django's query log keeps a COPY statement as it is given.
_COPY = sql.SQL("COPY incoming ({}) FROM STDIN").format(names(schema.RAW_COLUMNS)).as_string()


def derived_cost(row: str) -> sql.Composed:
    """The cost of an event that reported none, from its model's list prices ($ per 1M
    tokens); ``row`` is the alias of the event row, ``m`` its rankings_llmmodel row."""
    return sql.SQL(
        "round(({row}.prompt_tokens * coalesce(m.prompt_price, 0) "
        "+ {row}.completion_tokens * coalesce(m.completion_price, 0)) / 1000000, 10)"
    ).format(row=sql.Identifier(row))


@cache
def _count(some: bool, zone: str) -> sql.Composed:
    """One statement: the staged rows (``some``: those of ``%(ids)s``) become raw events, and
    exactly the raw rows inserted are added to every grain, dates in ``zone`` (an id already
    counted conflicts on the raw primary key and adds nothing); it answers the raw rows and
    the rows per grain written."""
    where = sql.SQL(" WHERE i.id = ANY(%(ids)s)" if some else "")
    staged = sql.SQL(", ").join(
        sql.SQL("coalesce(i.cost, {})").format(derived_cost("i")) if c == "cost" else sql.Identifier("i", c)
        for c in schema.RAW_COLUMNS
    )
    inserted = sql.SQL(
        "INSERT INTO ingest_rawevent ({raw}, cost_derived) "
        "SELECT {staged}, i.cost IS NULL FROM incoming i JOIN rankings_llmmodel m ON m.id = i.model_id{where} "
        "ON CONFLICT DO NOTHING RETURNING {raw}"
    ).format(raw=names(schema.RAW_COLUMNS), staged=staged, where=where)
    grains = [sql.Identifier(f"g{n}") for n in range(len(GRAINS))]
    rows = sql.Identifier("inserted")
    # A dimension read through a join (tags) is joined once, for every grain keyed by it.
    joined = {g.joined.name: g.joined for g in GRAINS if g.joined}
    expanded = {name: sql.Identifier(f"{name}_rows") for name in joined}
    return sql.SQL(
        "WITH inserted AS ({inserted}), {expansions}{upserts} SELECT (SELECT count(*) FROM inserted), {counts}"
    ).format(
        inserted=inserted,
        expansions=sql.SQL("").join(
            sql.SQL("{} AS ({}), ").format(expanded[name], expand(dimension, "inserted"))
            for name, dimension in joined.items()
        ),
        upserts=sql.SQL(", ").join(
            sql.SQL("{} AS ({} RETURNING 1)").format(
                name,
                upsert(grain, expanded[grain.joined.name], zone, expanded=True)
                if grain.joined
                else upsert(grain, rows, zone),
            )
            for name, grain in zip(grains, GRAINS, strict=True)
        ),
        counts=sql.SQL(", ").join(sql.SQL("(SELECT count(*) FROM {})").format(name) for name in grains),
    )


# The zone the date rollups are built in, read in the write's transaction: its ACCESS SHARE
# lock on the one-row table holds ``manage.py change_time_zone`` (which locks it exclusively)
# off until the write commits, so no write lands in the zone being replaced.
_ZONE = "SELECT zone FROM ingest_calendar WHERE id = 1"


def stage_events(rows: Iterable[Sequence[Any]]) -> None:
    """COPY event rows (``schema.RAW_COLUMNS`` order) into this session's staging table."""
    with connection.cursor() as cursor:
        cursor.execute(_CREATE_STAGING)
        with cursor.copy(_COPY) as copy:
            for row in rows:
                copy.write_row(row)


def write_staged(ids: list[str] | None = None) -> tuple[int, ...]:
    """Count the staged rows (those with ``ids`` only, when given) into raw events and
    rollups; return the raw rows written, then the rows upserted per grain (``GRAINS``
    order). Runs in the caller's transaction: raw rows and increments commit together."""
    with connection.cursor() as cursor:
        cursor.execute(_ZONE)
        row = cursor.fetchone()
        statement = _count(ids is not None, row[0] if row else "UTC")
        cursor.execute(statement, None if ids is None else {"ids": ids})
        return cursor.fetchone()


def clear_staged() -> None:
    with connection.cursor() as cursor:
        cursor.execute(_CREATE_STAGING)
        cursor.execute("TRUNCATE incoming")


def unstage_batches_except(batch_ids: list[int]) -> None:
    """Drop staged rows of batches other than ``batch_ids`` (taken by another worker)."""
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM incoming WHERE batch_id <> ALL(%(kept)s)", {"kept": batch_ids})


def write_events(rows: Iterable[Sequence[Any]]) -> tuple[int, ...]:
    """Stage ``rows`` and count them, in the caller's transaction (the bulk import's path)."""
    clear_staged()
    stage_events(rows)
    written = write_staged()
    clear_staged()
    return written
