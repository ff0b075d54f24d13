"""The worker's side of ingest: a pending batch (with others waiting, under a backlog) moved
into raw events and rollups exactly once, bad events isolated into dead letters.

Exactly once rests on two facts. (1) An event id is claimed in ``ingest_seenevent`` in the
same transaction that stores its batch (:mod:`ingest.services`), so a resent id is a
duplicate whoever sends it and whenever (within retention). (2) A batch moves into raw
events and rollups in one transaction that also marks it done, under a row lock, so a
redelivered or re-swept task finds it done and does nothing.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import date, datetime
from functools import partial
from operator import call, itemgetter
from typing import Any

import orjson
import psycopg
from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import F
from django.utils import timezone
from psycopg import sql
from psycopg.types.json import Json

from config import metrics
from ingest import partitions, schema
from ingest.events import printable
from ingest.models import DeadLetter, InboxBatch
from ingest.resolve import CatalogIds, new_apps_private, resolve
from ingest.rollups import write
from ingest.rollups.grains import GRAINS
from rankings.cache import bump_generation

log = logging.getLogger(__name__)
Status = InboxBatch.Status


def claim_ids(ids: list[str]) -> set[str]:
    """Register event ids; return those never seen before. Sorted inserts keep two
    overlapping concurrent batches from deadlocking on the unique index.

    The ids travel as one text, a line each (validated ids hold no control character): a
    text[] parameter costs a Python call per id to encode."""
    if not ids:
        return set()
    lines = "\n".join(ids)
    if lines.count("\n") != len(ids) - 1:
        raise ValueError("an event id holds a line break")
    with connection.cursor() as cursor:
        # The primary key (id) is the conflict target.
        cursor.execute(
            "INSERT INTO ingest_seenevent (id, seen_at) "
            "SELECT id, now() FROM unnest(string_to_array(%(ids)s, E'\\n')) AS t(id) ORDER BY id "
            "ON CONFLICT (id) DO NOTHING RETURNING id",
            {"ids": lines},
        )
        return {row[0] for row in cursor.fetchall()}


def insert_batch(key_id: int | None, source: str, events: list[dict[str, Any]], now: datetime) -> int:
    """Store normalized ``events`` as a pending inbox batch in the caller's transaction;
    return its id. Bound on the server: Django's cursors quote parameters into the statement
    text, so a batch's JSON (~2 MB for 5,000 events) was escaped in Python and scanned as a
    literal by PostgreSQL, ~1.5 µs per event of both (0.3 and 1.0 µs sent as a parameter).
    Every other column is the model's own value (its default, when the batch says nothing)."""
    batch = InboxBatch(key_id=key_id, source=source, received_at=now, enqueued_at=now, event_count=len(events))
    values = [
        Json(events, dumps=orjson.dumps) if f.name == "events" else f.get_db_prep_save(getattr(batch, f.attname), connection)
        for f in _INBOX_FIELDS
    ]
    connection.ensure_connection()
    with psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(_INSERT_BATCH, values)
        return cursor.fetchone()[0]


_INBOX_FIELDS = [f for f in InboxBatch._meta.concrete_fields if not f.primary_key]
_INSERT_BATCH = sql.SQL("INSERT INTO {} ({}) VALUES ({}) RETURNING id").format(
    sql.Identifier(InboxBatch._meta.db_table),
    sql.SQL(", ").join(sql.Identifier(f.column) for f in _INBOX_FIELDS),
    sql.SQL(", ").join(sql.Placeholder() * len(_INBOX_FIELDS)),
)


# Errors worth retrying the whole batch for (deadlocks, lost connections): the same
# tuple the task retries on. Anything else is about the data, and is isolated instead.
TRANSIENT = (OperationalError, InterfaceError)

Pending = tuple[int | None, dict[str, Any]]  # (batch id, normalized event)
Failure = tuple[int | None, dict[str, Any], str]  # (batch id, event, error)


# Each value's key and default: a normalized event leaves out the values at their defaults
# (read as ``ingest.events.with_defaults`` does, without making that dict per event).
_VALUE_KEYS = tuple(v.key for v in schema.VALUES)
_VALUE_DEFAULTS = tuple(v.default for v in schema.VALUES)
_DIMENSIONS = itemgetter(*(d.event_key for d in schema.STORED))


def raw_rows(pending: Iterable[Pending], ids: CatalogIds) -> Iterator[tuple]:
    """Raw-event rows (``schema.RAW_COLUMNS`` order) of normalized events: the batch, each
    stored dimension (its catalog id, or the value itself), then the values."""
    stored = tuple(ids.of(d.name).__getitem__ if d.catalog else str for d in schema.STORED)
    for batch_id, e in pending:
        yield (batch_id, *map(call, stored, _DIMENSIONS(e)), *map(e.get, _VALUE_KEYS, _VALUE_DEFAULTS))


def _prepare(events: list[dict[str, Any]]) -> CatalogIds:
    """Catalog ids and raw partitions, each committed on its own before the batch writes."""
    ids = resolve(events)
    partitions.ensure_partitions({date.fromisoformat(day) for day in {e["created_at"][:10] for e in events}})
    return ids


def count_rollup_rows(per_grain: list[int]) -> None:
    for grain, rows in zip(GRAINS, per_grain, strict=True):
        metrics.inc(
            "tokenrank_rollup_rows_written_total", (grain.table.removeprefix("rankings_usage"),), rows
        )


def _isolating(groups: list[list[Pending]], attempt: Callable[[list[Pending]], None]) -> list[Failure]:
    """Run ``attempt`` over all ``groups`` in a savepoint. If it fails for a reason other
    than a transient one, try each group alone, and split a failing group in halves until
    the events that fail are single: those are returned with their error, everything else
    is done. On the happy path this is one call; a bad event costs about two writes of its
    batch (log2 of its size in halvings)."""
    events = [p for group in groups for p in group]
    if not events:
        return []
    try:
        with transaction.atomic():
            attempt(events)
        return []
    except TRANSIENT:
        raise
    except Exception as exc:
        if len(events) == 1:
            batch_id, event = events[0]
            return [(batch_id, event, printable(f"{exc.__class__.__name__}: {exc}")[:2000])]
        if len(groups) > 1:  # coalesced batches: one by one, never failing a neighbour
            return [f for group in groups for f in _isolating([group], attempt)]
        half = len(events) // 2
        return _isolating([events[:half]], attempt) + _isolating([events[half:]], attempt)


def _without(groups: list[list[Pending]], failures: list[Failure]) -> list[list[Pending]]:
    failed = {id(event) for _, event, _ in failures}
    return [[p for p in group if id(p[1]) not in failed] for group in groups]


def prepare_pending(groups: list[list[Pending]]) -> tuple[CatalogIds, list[Failure], list[list[Pending]]]:
    """Catalog ids and partitions for ``groups`` (committed on their own, before the write
    transaction); returns the ids, the events that could not be prepared, and the rest."""
    ids = CatalogIds()
    failures = _isolating(groups, lambda chunk: ids.update(_prepare([e for _, e in chunk])))
    return ids, failures, _without(groups, failures)


def _counted(
    groups: list[list[Pending]], write_chunk: Callable[[list[Pending]], tuple[int, ...]]
) -> tuple[list[Failure], list[int]]:
    """``write_chunk`` (answering raw rows, then rollup rows per grain) over ``groups`` in the
    caller's transaction, failures isolated; returns them and the rollup rows per grain."""
    written = [0] * len(GRAINS)

    def count(chunk: list[Pending]) -> None:
        _, *per_grain = write_chunk(chunk)
        for n, rows in enumerate(per_grain):
            written[n] += rows

    return _isolating(groups, count), written


def write_pending(groups: list[list[Pending]], ids: CatalogIds) -> tuple[list[Failure], list[int]]:
    """Write prepared ``groups`` to raw events and rollups in the caller's transaction."""
    return _counted(groups, lambda chunk: write.write_events(raw_rows(chunk, ids)))


def release_ids(ids: list[str]) -> None:
    """Forget claimed ids of events that were not counted, so that a resend counts."""
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM ingest_seenevent WHERE id = ANY(%(ids)s)", {"ids": ids})  # by primary key


def _set_aside(failures: list[Failure]) -> None:
    """Dead-letter events that cannot be written: kept with their error on their own batch,
    their ids released so that a corrected resend counts. Caller holds the transaction."""
    if not failures:
        return
    DeadLetter.objects.bulk_create(
        DeadLetter(
            batch_id=batch_id,
            event_id=printable(event["id"])[:200],
            event=json.dumps(event, ensure_ascii=True),
            error=error,
        )
        for batch_id, event, error in failures
    )
    release_ids([event["id"] for _, event, _ in failures])
    by_batch: dict[int, list[str]] = {}
    for batch_id, _, error in failures:
        by_batch.setdefault(batch_id, []).append(error)
    for batch_id, errors in by_batch.items():
        if batch_id is None:
            continue
        InboxBatch.objects.filter(pk=batch_id).update(
            dead_letter_count=F("dead_letter_count") + len(errors),
            last_error=f"{len(errors)} event(s) set aside as dead letters; first: {errors[0]}"[:2000],
        )
    metrics.inc("tokenrank_ingest_events_total", ("worker", "dead_letter"), len(failures))
    log.error(
        "%s event(s) set aside as dead letters: %s",
        len(failures),
        failures[0][2],
        extra={"batches": sorted({b for b, _, _ in failures if b is not None})},
    )


def _claim_waiting(batch_id: int, room: int) -> list[int]:
    """Mark other waiting batches as attempted by this worker, oldest first, up to ``room``
    events; return their ids. Only batches never tried before. A batch claimed here and then
    not processed (this worker dies) is left pending for its own task or the sweep."""
    if room <= 0:
        return []
    with transaction.atomic(), connection.cursor() as cursor:
        # Walks the partial index inbox_pending_received (unfinished batches by received_at),
        # never the done ones: the inbox keeps every batch.
        cursor.execute(
            "WITH waiting AS (SELECT id, received_at, event_count FROM ingest_inboxbatch "
            "WHERE status = 'pending' AND attempts = 0 AND id <> %(batch)s ORDER BY received_at, id LIMIT 100 "
            "FOR UPDATE SKIP LOCKED), "
            "chosen AS (SELECT id, sum(event_count) OVER (ORDER BY received_at, id) AS running FROM waiting) "
            "UPDATE ingest_inboxbatch b SET attempts = b.attempts + 1 FROM chosen c "
            "WHERE b.id = c.id AND c.running <= %(room)s RETURNING b.id",
            {"batch": batch_id, "room": room},
        )
        return sorted(row[0] for row in cursor.fetchall())


def process_batch(batch_id: int) -> str:
    """Move one pending batch into raw events and rollups, with other waiting batches when
    there is a backlog (``BATCH_COALESCE_EVENTS``). Idempotent: returns ``"done"``,
    ``"skipped"`` (already done, or another worker holds it) or ``"failed"``.

    The batches are staged one at a time, a part of each at a time (catalog resolved and
    committed, rows copied to the session's staging table), so a worker holds a part of one
    batch in memory whatever it coalesces; then one transaction counts them all and marks
    them done. An event that cannot be staged or written never takes others down: it is
    isolated (:func:`_isolating`) and dead-lettered on its own batch; the rest is counted."""
    with transaction.atomic():
        # SKIP LOCKED: a batch whose row another worker holds is being written in that
        # worker's set (taken along under a backlog). Waiting for it would idle this worker
        # for a whole write; if that write does not commit, the sweep hands the batch out again.
        batch = (
            InboxBatch.objects.select_for_update(skip_locked=True)
            .filter(pk=batch_id)
            .values("status", "attempts", "event_count")
            .first()
        )
        if batch is None or batch["status"] != Status.PENDING:
            return "skipped"
        batch["attempts"] += 1
        InboxBatch.objects.filter(pk=batch_id).update(attempts=batch["attempts"])
    if batch["attempts"] > settings.TOKENRANK["BATCH_MAX_ATTEMPTS"]:
        mark_failed(batch_id, f"gave up after {batch['attempts'] - 1} attempts (worker lost?)")
        return "failed"
    started = time.perf_counter()
    alone = batch["attempts"] > 1  # it failed before: no company
    room = 0 if alone else settings.TOKENRANK["BATCH_COALESCE_EVENTS"] - batch["event_count"]
    write.clear_staged()  # whatever an interrupted run of this connection left
    staged, failures = _stage([batch_id, *_claim_waiting(batch_id, room)])
    if batch_id not in staged:
        return "skipped"
    with transaction.atomic():
        # Under the row locks a batch is done or not, never half: whatever another worker
        # took meanwhile is skipped here.
        locked = sorted(
            InboxBatch.objects.select_for_update(skip_locked=True)
            .filter(pk__in=list(staged), status=Status.PENDING)
            .values_list("pk", flat=True)
        )
        if batch_id not in locked:
            write.clear_staged()
            return "skipped"
        if len(locked) < len(staged):
            write.unstage_batches_except(locked)
        write.flag_test_batches(locked)
        unwritten, per_grain = _write_staged(locked)
        failures = [f for f in failures if f[0] in locked] + _with_events(unwritten)
        _set_aside(failures)
        InboxBatch.objects.filter(pk__in=locked).update(status=Status.DONE, processed_at=timezone.now())
        write.clear_staged()
        transaction.on_commit(bump_generation)
    seconds = time.perf_counter() - started
    metrics.observe("tokenrank_batch_processing_seconds", (), seconds)
    metrics.inc("tokenrank_batches_total", ("done",), len(locked))
    count_rollup_rows(per_grain)
    log.info(
        "batch %s done (with %s more) in %.3f s, %s dead letters",
        batch_id,
        len(locked) - 1,
        seconds,
        len(failures),
        extra={"batch_id": batch_id, "batches": locked, "seconds": round(seconds, 4)},
    )
    return "done"


def _stage(pks: list[int]) -> tuple[list[int], list[Failure]]:
    """Resolve and stage each pending batch of ``pks`` in turn, each step committed on its
    own; return the batches staged and the events that could not be prepared or staged
    (with their batch). The staged events' ids stay in the staging table, not in memory
    (up to ``BATCH_COALESCE_EVENTS`` of them): the rare failed write reads them back."""
    staged: list[int] = []
    failures: list[Failure] = []
    for pk in pks:
        unstaged = _stage_one(pk)
        if unstaged is not None:
            staged.append(pk)
            failures += unstaged
    return staged, failures


# Events of a batch parsed, resolved and staged at a time: a worker holds this many events
# in memory, not a whole batch (up to 10,000 events of about 1.4 KB each once parsed).
STAGE_PART_EVENTS = 2_500


def _stage_one(pk: int) -> list[Failure] | None:
    """Stage one pending batch, a part at a time; return the events that failed, or None if
    another worker did it meanwhile."""
    batch = InboxBatch.objects.filter(pk=pk, status=Status.PENDING).values_list("pk", "key__is_test").first()
    if batch is None:
        return None
    failures: list[Failure] = []
    for events in _events_in_parts(pk, STAGE_PART_EVENTS):
        with new_apps_private(bool(batch[1])):
            ids, unprepared, groups = prepare_pending([[(pk, e) for e in events]])
        failures += unprepared + _isolating(groups, partial(_stage_rows, ids=ids))
    return failures


def _stage_rows(pending: list[Pending], ids: CatalogIds) -> None:
    write.stage_events(raw_rows(pending, ids))


def _events_in_parts(pk: int, size: int) -> Iterator[list[dict[str, Any]]]:
    """The events of batch ``pk``, ``size`` at a time. PostgreSQL splits the stored array,
    and an event is parsed only when its part is fetched: the batch's text stays in the
    query's result, never whole in Python objects. As text, parsed here: psycopg's json
    loader costs a Python call per event."""
    with connection.cursor() as cursor:
        # The batch by primary key; its array's elements in their order.
        cursor.execute(
            "SELECT e::text FROM ingest_inboxbatch b, json_array_elements(b.events) AS e WHERE b.id = %(pk)s",
            {"pk": pk},
        )
        while rows := cursor.fetchmany(size):
            yield [orjson.loads(text) for (text,) in rows]


def _write_staged(batches: list[int]) -> tuple[list[Failure], list[int]]:
    """Count the staged rows of ``batches`` in the caller's transaction: all at once; if that
    fails, the events (known by id, read back from the staging table) are isolated, a chunk
    of ids at a time."""
    try:
        with transaction.atomic():
            _, *per_grain = write.write_staged()
        return [], per_grain
    except TRANSIENT:
        raise
    except Exception:
        log.warning("writing %s staged batches failed; isolating the events that fail", len(batches))
    staged = write.staged_ids(batches)
    groups = [[(pk, {"id": i}) for i in staged.get(pk, [])] for pk in batches]
    return _counted(groups, lambda chunk: write.write_staged([e["id"] for _, e in chunk]))


def _with_events(failures: list[Failure]) -> list[Failure]:
    """Failures known by event id only, with their whole events read back from their batch
    (rare: only events that failed the write)."""
    wanted: dict[int, set[str]] = {}
    for pk, event, _ in failures:
        wanted.setdefault(pk, set()).add(event["id"])
    events = {
        (pk, e["id"]): e
        for pk, ids in wanted.items()
        for e in InboxBatch.objects.values_list("events", flat=True).get(pk=pk)
        if e["id"] in ids
    }
    return [(pk, events[pk, event["id"]], error) for pk, event, error in failures]


def mark_failed(batch_id: int, reason: str) -> None:
    """Dead-letter a batch: kept with its reason, replayable with :func:`retry_batch`."""
    InboxBatch.objects.filter(pk=batch_id, status=Status.PENDING).update(
        status=Status.FAILED, last_error=reason[:2000], processed_at=timezone.now()
    )
    metrics.inc("tokenrank_batches_total", ("failed",))
    log.error("batch %s failed: %s", batch_id, reason, extra={"batch_id": batch_id})
