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
from ingest.rollups.grains import GRAINS, TEST_FLAG, Grain, names, read_columns


def grouped(
    grain: Grain, keys: sql.Composable, measures: sql.Composable, source: sql.Composable
) -> sql.Composed:
    """The rows of ``source`` grouped by the grain's key: each row's ``keys`` (the key columns,
    in order) then its ``measures`` (one per measure of the grain)."""
    return sql.SQL("SELECT {keys}, {measures} FROM {source} GROUP BY {positions}").format(
        keys=keys, measures=measures, source=source, positions=grain.positions
    )


def insert_rows(grain: Grain, rows: sql.Composable, *, add: bool) -> sql.Composed:
    """INSERT ``rows`` (a SELECT of the grain's key columns, then its measures) into the grain's
    table in key order, so that concurrent writers never deadlock. With ``add``, a row already
    there (its primary key is the conflict target) is added to."""
    insert = sql.SQL("INSERT INTO {table} ({columns}, {measure_columns}) {rows} ORDER BY {positions}").format(
        table=grain.name,
        columns=names(grain.columns),
        measure_columns=names(grain.measure_columns),
        rows=rows,
        positions=grain.positions,
    )
    if not add:
        return insert
    increments = sql.SQL(", ").join(
        sql.SQL("{m} = {table}.{m} + EXCLUDED.{m}").format(m=sql.Identifier(m), table=grain.name)
        for m in grain.measure_columns
    )
    return insert + sql.SQL(" ON CONFLICT ({}) DO UPDATE SET {}").format(names(grain.columns), increments)


def insert_grouped(
    grain: Grain, keys: sql.Composable, measures: sql.Composable, source: sql.Composable, *, add: bool
) -> sql.Composed:
    """INSERT into the grain's table the rows of ``source`` grouped by its key (see
    :func:`grouped` and :func:`insert_rows`)."""
    return insert_rows(grain, grouped(grain, keys, measures, source), add=add)


def sums(grain: Grain, template: str = "sum({0})") -> sql.Composed:
    """Each of the grain's measure columns in ``template`` (summed, by default)."""
    return sql.SQL(", ").join(sql.SQL(template).format(sql.Identifier(m)) for m in grain.measure_columns)


def summed(grain: Grain, daily_rows: sql.Composable) -> sql.Composed:
    """The grain's rows summed from rows of a daily grain (``daily_rows``: its table, or the
    batch's rows of it), which has every column of this one: same days, or their ISO weeks."""
    bucket = sql.SQL("date_trunc('week', bucket)::date AS bucket" if grain.weekly else "bucket")
    keys = sql.SQL("{}, {}").format(bucket, names(grain.columns[1:]))
    return grouped(grain, keys, sums(grain, "sum({0}) AS {0}"), daily_rows)


def _aggregates(grain: Grain) -> sql.Composed:
    """The grain's measures over raw-event rows, each named as its column."""
    return sql.SQL(", ").join(
        sql.SQL("{} AS {}").format(sql.SQL(m.aggregate), sql.Identifier(m.column)) for m in grain.measures
    )


def from_raw(grain: Grain, source: sql.Composable, zone: str) -> sql.Composed:
    """The raw-event rows of ``source`` bucketed (dates in ``zone``), grouped and aggregated for
    the grain. A grain keyed by a dimension read through a join (a row per tag) groups the
    rows by the raw column that join reads first, and joins the groups: events share their
    tags (100,000 bench events expand to 240,000 tag rows, their groups to 20,000-30,000)."""
    if not grain.joined:
        return grouped(grain, grain.keys(zone), _aggregates(grain), grain.rows(source))
    groups = grouped(
        grain, grain.keys(zone, unjoined=True), _aggregates(grain), grain.rows(source, unjoined=True)
    )
    keys = sql.SQL(", ").join(
        sql.SQL("{} AS {}").format(sql.SQL(grain.joined.select), sql.Identifier(c))
        if c == grain.joined.column
        else sql.Identifier(c)
        for c in grain.columns
    )
    joined = sql.SQL(grain.joined.join).format(rows=sql.SQL("({}) AS groups").format(groups))
    return grouped(grain, keys, sums(grain, "sum({0}) AS {0}"), joined)


def upsert(grain: Grain, source: sql.Composable, zone: str) -> sql.Composed:
    """Add the raw-event rows of ``source`` to the grain, dates in ``zone``."""
    return insert_rows(grain, from_raw(grain, source, zone), add=True)


# Rows are staged here before they are counted: by the worker across the transactions of a
# coalesced set (a part of one batch at a time: all it holds in memory), by the bulk import
# within its transaction. Session-private, never WAL-logged; emptied after each use.
_STAGED_TYPES = (
    ("batch_id", "bigint"),
    *((d.column, d.sql_type) for d in schema.STORED),
    *((v.column, v.sql_type) for v in schema.VALUES),
    (TEST_FLAG, "boolean NOT NULL DEFAULT false"),  # not copied: set by flag_test_batches
)
_CREATE_STAGING = sql.SQL("CREATE TEMP TABLE IF NOT EXISTS incoming ({})").format(
    sql.SQL(", ").join(sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(t)) for c, t in _STAGED_TYPES)
)
# As text: Django's query log keeps a COPY statement as it is given.
_COPY = sql.SQL("COPY incoming ({}) FROM STDIN").format(names(schema.RAW_COLUMNS)).as_string()
# The Python type each copied column's values have (or None), as psycopg's dumper for it:
# told once, it formats a row without looking up a dumper per value (about half the CPU of
# a row). A text COPY has PostgreSQL parse every column's text by the column's own type,
# so timestamps (ISO texts) and amounts (decimal texts) go as text.
_COPY_TYPES = [
    {"bigint": "int8", "integer": "int8", "boolean": "bool"}.get(dict(_STAGED_TYPES)[c], "text")
    for c in schema.RAW_COLUMNS
]


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
    exactly the raw rows inserted (with the columns the grains read) are added to every grain,
    dates in ``zone`` (an id already counted conflicts on the raw primary key and adds
    nothing); it answers the raw rows and the rows per grain written."""
    where = sql.SQL(" WHERE i.id = ANY(%(ids)s)" if some else "")
    staged = sql.SQL(", ").join(
        sql.SQL("coalesce(i.cost, {})").format(derived_cost("i")) if c == "cost" else sql.Identifier("i", c)
        for c in schema.RAW_COLUMNS
    )
    inserted = sql.SQL(
        "INSERT INTO ingest_rawevent ({raw}, cost_derived, {test}) "
        "SELECT {staged}, i.cost IS NULL, i.{test} FROM incoming i JOIN rankings_llmmodel m ON m.id = i.model_id{where} "
        "ON CONFLICT DO NOTHING RETURNING {read}"
    ).format(
        raw=names(schema.RAW_COLUMNS),
        staged=staged,
        where=where,
        test=sql.Identifier(TEST_FLAG),
        read=names(read_columns()),
    )
    rows = sql.Identifier("inserted")
    # Each grain's rows of the batch (r<n>), then their upsert (g<n>). A grain with a daily
    # grain is summed from that grain's rows of the batch, which are fewer than the events.
    batch_rows: dict[str, sql.Identifier] = {}
    steps = []
    for n, grain in enumerate(GRAINS):
        if grain.daily is not None:
            select = summed(grain, batch_rows[grain.daily.table])  # GRAINS lists dailies first
        else:
            select = from_raw(grain, rows, zone)
        batch_rows[grain.table] = sql.Identifier(f"r{n}")
        upserted = insert_rows(grain, sql.SQL("SELECT * FROM {}").format(batch_rows[grain.table]), add=True)
        steps.append(
            sql.SQL("{} AS ({}), {} AS ({} RETURNING 1)").format(
                batch_rows[grain.table], select, sql.Identifier(f"g{n}"), upserted
            )
        )
    return sql.SQL(
        "WITH inserted AS ({inserted}), {steps} SELECT (SELECT count(*) FROM inserted), {counts}"
    ).format(
        inserted=inserted,
        steps=sql.SQL(", ").join(steps),
        counts=sql.SQL(", ").join(sql.SQL(f"(SELECT count(*) FROM g{n})") for n in range(len(GRAINS))),
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
            copy.set_types(_COPY_TYPES)
            for row in rows:
                copy.write_row(row)


def flag_test_batches(batch_ids: list[int]) -> None:
    """Mark the staged rows of those of ``batch_ids`` sent with a test key: written to raw
    events flagged, never counted in the rollups. Their keys stay locked (``FOR KEY SHARE``)
    until the caller's transaction ends, so no key's flag changes between this read and the
    commit (``ingest.services.set_test_key`` locks the key ``FOR UPDATE``)."""
    with connection.cursor() as cursor:
        # The batches by primary key, their keys by primary key.
        cursor.execute(
            "SELECT b.id, k.is_test FROM ingest_inboxbatch b JOIN ingest_ingestkey k ON k.id = b.key_id "
            "WHERE b.id = ANY(%(batches)s) FOR KEY SHARE OF k",
            {"batches": batch_ids},
        )
        test = [batch for batch, is_test in cursor.fetchall() if is_test]
        if test:
            cursor.execute(
                "UPDATE incoming SET is_test = true WHERE batch_id = ANY(%(test)s)", {"test": test}
            )


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


def staged_ids(batch_ids: list[int]) -> dict[int, list[str]]:
    """The ids of the staged events of ``batch_ids``, per batch, in staging order (a scan of
    the session's small staging table; only when a write failed and its events are isolated)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT batch_id, id FROM incoming WHERE batch_id = ANY(%(batches)s) ORDER BY ctid",
            {"batches": batch_ids},
        )
        staged: dict[int, list[str]] = {}
        for batch, event_id in cursor.fetchall():
            staged.setdefault(batch, []).append(event_id)
        return staged


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
