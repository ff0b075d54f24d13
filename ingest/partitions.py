"""Daily partitions of ``ingest_rawevent``: created ahead by beat, on demand for late events,
and dropped after the retention window (dropping a partition is instant, unlike DELETE)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from psycopg import sql

log = logging.getLogger(__name__)

PARENT = "ingest_rawevent"
_known: set[date] = set()  # partitions this process has already made sure of


def partition_name(day: date) -> str:
    return f"{PARENT}_{day:%Y%m%d}"


def ensure_partitions(days: Iterable[date]) -> None:
    """Create the partitions for ``days`` that do not exist yet, each in its own transaction,
    so the brief lock on the parent table is never held by a long ingest transaction."""
    # Inside an outer transaction the partition could still be rolled back: don't remember it.
    remember = not connection.in_atomic_block
    for day in sorted(set(days) - _known):
        name = partition_name(day)
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        for attempt in range(3):
            try:
                with transaction.atomic(), connection.cursor() as cursor:
                    cursor.execute("SELECT to_regclass(%(name)s)", {"name": name})
                    if cursor.fetchone()[0] is None:
                        cursor.execute(
                            sql.SQL(
                                "CREATE TABLE IF NOT EXISTS {} PARTITION OF {} FOR VALUES FROM (%(start)s) TO (%(end)s)"
                            ).format(sql.Identifier(name), sql.Identifier(PARENT)),
                            {"start": start, "end": start + timedelta(days=1)},
                        )
                break
            except DatabaseError:
                # Another worker created it at the same moment (catalog unique violation).
                if attempt == 2:
                    raise
        if remember:
            _known.add(day)


def existing_partitions() -> list[date]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = %(parent)s::regclass ORDER BY 1",
            {"parent": PARENT},
        )
        return [datetime.strptime(name[-8:], "%Y%m%d").date() for (name,) in cursor.fetchall()]


def maintain(today: date | None = None) -> dict[str, int]:
    """Create partitions ahead and drop those past retention (with their dedup ids and the
    inbox batches counted before then)."""
    today = today or datetime.now(UTC).date()
    ahead = settings.TOKENRANK["PARTITIONS_AHEAD_DAYS"]
    ensure_partitions(today + timedelta(days=n) for n in range(ahead + 1))
    cutoff = today - timedelta(days=settings.TOKENRANK["RAW_RETENTION_DAYS"])
    dropped = 0
    for day in existing_partitions():
        if day < cutoff:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(partition_name(day))))
            _known.discard(day)
            dropped += 1
    with connection.cursor() as cursor:
        # Uses seen_event_seen_at_brin. Ids older than the window may be counted again if re-sent.
        cursor.execute(
            "DELETE FROM ingest_seenevent WHERE seen_at < %(cutoff)s",
            {"cutoff": datetime(cutoff.year, cutoff.month, cutoff.day, tzinfo=UTC)},
        )
        pruned = cursor.rowcount
        # Counted batches keep a copy of their events only as long as the raw events are
        # kept (a test-key flag finds a key's raw events through them); one with dead letters
        # stays until staff settle those. Uses inbox_status_processed.
        cursor.execute(
            "DELETE FROM ingest_inboxbatch WHERE status = 'done' AND processed_at < %(cutoff)s "
            "AND dead_letter_count = 0",
            {"cutoff": datetime(cutoff.year, cutoff.month, cutoff.day, tzinfo=UTC)},
        )
        batches = cursor.rowcount
    if dropped or pruned or batches:
        log.info(
            "retention: dropped %d partitions, pruned %d dedup ids and %d counted inbox batches",
            dropped,
            pruned,
            batches,
        )
    return {"dropped_partitions": dropped, "pruned_ids": pruned, "pruned_batches": batches}
