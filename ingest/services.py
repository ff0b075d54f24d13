"""Ingest's writes on the accept side: events validated and durably stored as pending batches
(the worker counts them, :mod:`ingest.processing`), the bulk import, and the operator's
actions on batches, dead letters and maintenance jobs."""

from __future__ import annotations

import json
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import partial
from typing import Any

from django.db import connections, transaction
from django.db.models import F
from django.utils import timezone

from config import metrics
from ingest.events import Rejection, Validated, as_record, attribute_titles, validate_batch
from ingest.maintenance import rollup_days
from ingest.models import DeadLetter, InboxBatch, IngestKey, MaintenanceJob
from ingest.processing import (
    TRANSIENT,
    claim_ids,
    count_rollup_rows,
    insert_batch,
    prepare_pending,
    release_ids,
    write_pending,
)
from ingest.tasks import enqueue_batch, maintenance_run_job
from ingest.values import categories_known_as, known_categories
from rankings.cache import bump_generation

log = logging.getLogger(__name__)
Status = InboxBatch.Status


@dataclass
class Accepted:
    accepted: int = 0
    duplicates: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    batch_id: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "rejected": [r.as_dict() for r in self.rejected],
        }


def accept_events(
    items: list[Any],
    key: IngestKey | None,
    *,
    rejected: list[Rejection] | None = None,
    source: str = "http",
    titles_are_apps: bool = False,
) -> Accepted:
    """Validate ``items`` and durably store the new ones as a pending batch.

    Returns once the batch is committed; the worker task is enqueued on commit (if the
    broker is down, the beat sweep enqueues it later). ``titles_are_apps``: sources whose
    app is a name the operator configured (an OTLP ``service.name``, a LiteLLM key alias),
    not a URL (:func:`ingest.events.attribute_titles`).
    """
    now = timezone.now()
    validated = validate_batch(items, now, rejected)
    if titles_are_apps:
        attribute_titles(validated.events)
    result = _store(validated.events, key, source, now)
    result.duplicates += validated.duplicates_in_batch
    result.rejected = validated.rejected
    if key is not None:
        IngestKey.objects.filter(pk=key.pk).update(
            last_used_at=now, events_accepted=F("events_accepted") + result.accepted
        )
    name = key.name if key is not None else source
    for outcome, count in (
        ("accepted", result.accepted),
        ("duplicate", result.duplicates),
        ("rejected", len(result.rejected)),
    ):
        if count:
            metrics.inc("tokenrank_ingest_events_total", (name, outcome), count)
    log.info(
        "ingest %s: %s accepted, %s duplicates, %s rejected",
        name,
        result.accepted,
        result.duplicates,
        len(result.rejected),
        extra={"key": name, "batch_id": result.batch_id},
    )
    return result


def _store(events: list[dict[str, Any]], key: IngestKey | None, source: str, now: datetime) -> Accepted:
    """Claim the ids of normalized ``events`` and store the first-seen ones as a pending
    batch, in one transaction; the worker is enqueued once it commits."""
    result = Accepted()
    if not events:
        return result
    with transaction.atomic():
        new_ids = claim_ids([e["id"] for e in events])
        fresh = [e for e in events if e["id"] in new_ids]
        result.accepted = len(fresh)
        result.duplicates = len(events) - len(fresh)
        if fresh:
            result.batch_id = insert_batch(key.pk if key is not None else None, source, fresh, now)
            transaction.on_commit(partial(enqueue_batch, result.batch_id))
    return result


def requeue_dead_letters(dead_letters: Iterable[DeadLetter]) -> Accepted:
    """Try dead letters again (after a fix was deployed) through the accept path: an id that
    a corrected resend has claimed meanwhile counts as a duplicate, never twice."""
    letters = [d for d in dead_letters if d.requeued_at is None]
    now = timezone.now()
    # Validated again like any event (an operator may have edited it): a letter that is
    # still invalid stays a dead letter, listed in ``rejected``.
    validated = validate_batch([as_record(json.loads(d.event)) for d in letters], now)
    valid = set(validated.indexes)
    with transaction.atomic():
        result = _store(validated.events, key=None, source="requeue", now=now)
        DeadLetter.objects.filter(pk__in=[d.pk for n, d in enumerate(letters) if n in valid]).update(
            requeued_at=now
        )
    result.rejected = validated.rejected
    for rejection in result.rejected:
        rejection.id = letters[rejection.index].event_id
    return result


def retry_batch(batch_id: int) -> bool:
    """Put a failed batch back in line (its events were never counted)."""
    updated = InboxBatch.objects.filter(pk=batch_id, status=Status.FAILED).update(
        status=Status.PENDING, attempts=0, processed_at=None, enqueued_at=timezone.now()
    )
    if updated:
        transaction.on_commit(partial(enqueue_batch, batch_id))
    return bool(updated)


def discard_batch(batch_id: int) -> bool:
    """Give up on a failed batch: it stays in the inbox, marked discarded, for the record."""
    return bool(
        InboxBatch.objects.filter(pk=batch_id, status=Status.FAILED).update(
            status=Status.DISCARDED, processed_at=timezone.now()
        )
    )


def start_job(
    kind: str, since: date, until: date, requested_by: str = "", target: str = ""
) -> MaintenanceJob:
    """Queue a rebuild, verification or cost recomputation of ``[since, until]`` for a worker."""
    job = MaintenanceJob.objects.create(
        kind=kind, since=since, until=until, requested_by=requested_by, target=target
    )
    transaction.on_commit(lambda: maintenance_run_job.delay(job.pk))
    return job


def set_test_key(key: IngestKey, test: bool, requested_by: str = "") -> MaintenanceJob | None:
    """Mark ``key`` as a test key (or not): its events stay out of (or count in) every rollup,
    hence every public number. The flag changes under the key's row lock, which the worker
    holds (``FOR KEY SHARE``) while it counts a batch, so no batch is counted with the old
    flag after this commits; a job then gives the key's raw events still kept the new flag
    and rebuilds their days. Returns that job (None when the flag was already so)."""
    with transaction.atomic():
        locked = IngestKey.objects.select_for_update().get(pk=key.pk)
        if locked.is_test == test:
            return None
        locked.is_test = key.is_test = test
        locked.save(update_fields=["is_test"])
        since, until = rollup_days()
        return start_job(MaintenanceJob.Kind.TESTKEY, since, until, requested_by, target=key.name)


# Events per import transaction: larger chunks aggregate into fewer rollup rows per event
# (40,000: +6 % over 20,000 on the ingest benchmark's workload) at ~1 KB of memory each.
IMPORT_CHUNK_EVENTS = 40_000
# Chunks written at once, each on its own connection (a PostgreSQL backend each).
IMPORT_WRITERS = 2


@dataclass
class ImportTotals:
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    errors: list[Rejection] = field(default_factory=list)


class ImportStopped(Exception):
    """Reading the input failed part way (a truncated or corrupt file): every whole chunk read
    before it is written and counted in ``totals``; the cause is the exception's ``__cause__``."""

    def __init__(self, totals: ImportTotals):
        super().__init__(f"stopped after {totals.accepted:,} imported, {totals.duplicates:,} duplicates")
        self.totals = totals


def _reject(totals: ImportTotals, rejected: list[Rejection]) -> None:
    totals.rejected += len(rejected)
    totals.errors.extend(rejected[: max(0, 100 - len(totals.errors))])


def import_events(
    items: Iterable[Any],
    *,
    chunk_size: int = IMPORT_CHUNK_EVENTS,
    progress: Callable[[int], object] | None = None,
    titles_are_apps: bool = False,
) -> ImportTotals:
    """The bulk path (files, simulator): validate, dedup and write in chunks, each chunk one
    transaction with no inbox and no broker; same exactly-once rules as the HTTP path.
    ``titles_are_apps``: export files, whose rows name their app without a URL
    (:func:`ingest.events.attribute_titles`).

    Chunks are written on ``IMPORT_WRITERS`` connections of their own, as that many workers
    would (their claims, raw rows and rollup upserts overlap; PostgreSQL does most of the
    work), while the next chunk is prepared (its catalog ids) and the one after is read and
    validated. Inside a caller's transaction (tests, a command run atomically) the writes keep
    to the caller's connection, in turn. If reading ``items`` fails part way, every whole chunk
    read before is still written, then :class:`ImportStopped` is raised with the totals."""
    totals = ImportTotals()
    chunks = _chunked(items, chunk_size)
    try:
        first = next(chunks, None)
    except Exception as error:
        raise ImportStopped(totals) from error
    if first is None:
        return totals
    in_turn = transaction.get_connection().in_atomic_block
    current, offset = _validated(first, titles_are_apps, known_categories()), 0
    writing: deque[Future[_Written]] = deque()
    with (
        ThreadPoolExecutor(1, thread_name_prefix="import-validation") as validation,
        ThreadPoolExecutor(IMPORT_WRITERS, thread_name_prefix="import-write") as writers,
    ):
        stopped: Exception | None = None
        while current is not None:
            try:
                chunk = next(chunks, None)
            except Exception as error:  # the input is unreadable from here: write what was read
                chunk, stopped = None, error
            upcoming = (
                validation.submit(_validated, chunk, titles_are_apps, known_categories()) if chunk else None
            )
            prepared = _prepare_chunk(totals, *current, offset)
            offset += prepared.size
            if len(writing) == IMPORT_WRITERS:
                _add_written(totals, writing.popleft().result(), progress)
            writing.append(
                _done(_write_chunk(prepared)) if in_turn else writers.submit(_write_apart, prepared)
            )
            current = upcoming.result() if upcoming else None
        while writing:
            _add_written(totals, writing.popleft().result(), progress)
    if stopped is not None:
        raise ImportStopped(totals) from stopped
    return totals


def _write_apart(prepared: _Prepared, attempts: int = 3) -> _Written:
    """:func:`_write_chunk` on a writer thread, whose connection is closed after it (a new one
    per chunk of 40,000 events costs nothing that shows). A transient error (a deadlock with
    the other writer or a worker, a lost connection) rolled the chunk back whole: it is
    written again, as the worker's task would be."""
    try:
        for attempt in range(1, attempts):
            try:
                return _write_chunk(prepared)
            except TRANSIENT:
                connections.close_all()
                time.sleep(0.1 * attempt)
        return _write_chunk(prepared)
    finally:
        connections.close_all()  # this thread's connections only


def _done(value: _Written) -> Future[_Written]:
    """A write done in the caller's transaction, read like one done on the writer thread."""
    future: Future[_Written] = Future()
    future.set_result(value)
    return future


@dataclass
class _Prepared:
    """A validated chunk with its catalog ids: what its write needs."""

    validated: Validated
    size: int
    offset: int  # the index of its first item
    ids: Any = None
    events: list[Any] = field(default_factory=list)
    failures: list[Any] = field(default_factory=list)


@dataclass
class _Written:
    prepared: _Prepared
    fresh: int = 0
    unwritten: list[Any] = field(default_factory=list)


def _prepare_chunk(totals: ImportTotals, validated: Validated, size: int, offset: int) -> _Prepared:
    """Count a validated chunk's rejections and in-batch duplicates, and resolve its catalog
    ids (committed on their own, before any write reads them)."""
    for r in validated.rejected:
        r.index += offset
    _reject(totals, validated.rejected)
    totals.duplicates += validated.duplicates_in_batch
    prepared = _Prepared(validated, size, offset)
    if validated.events:
        prepared.ids, prepared.failures, (prepared.events,) = prepare_pending(
            [[(None, e) for e in validated.events]]
        )
    return prepared


def _write_chunk(prepared: _Prepared) -> _Written:
    """Claim, write and count one prepared chunk in one transaction, on this thread's
    connection."""
    written = _Written(prepared)
    if not prepared.events:
        return written
    with transaction.atomic():
        new_ids = claim_ids([e["id"] for _, e in prepared.events])
        fresh = [p for p in prepared.events if p[1]["id"] in new_ids]
        unwritten, per_grain = write_pending([fresh], prepared.ids)
        release_ids([e["id"] for _, e, _ in unwritten])
        transaction.on_commit(bump_generation)
    count_rollup_rows(per_grain)
    written.fresh, written.unwritten = len(fresh), unwritten
    return written


def _add_written(totals: ImportTotals, written: _Written, progress: Callable[[int], object] | None) -> None:
    """Add a written chunk to the totals (on the caller's thread, which alone changes them)."""
    prepared = written.prepared
    failures = prepared.failures + written.unwritten
    if failures:  # rare: no map of 40,000 events to their items otherwise
        validated = prepared.validated
        index = {id(e): n for n, e in zip(validated.indexes, validated.events, strict=True)}
        _reject(
            totals,
            [Rejection(index[id(e)] + prepared.offset, e["id"], {"event": err}) for _, e, err in failures],
        )
    totals.accepted += written.fresh - len(written.unwritten)
    totals.duplicates += len(prepared.events) - written.fresh
    if progress:
        progress(prepared.size)


def _chunked(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _validated(chunk: list[Any], titles_are_apps: bool, categories: frozenset[str]) -> tuple[Validated, int]:
    """Validate a chunk with the known categories as the caller read them (this may run on
    another thread: it reads no database)."""
    with categories_known_as(categories):
        validated = validate_batch(chunk, timezone.now())
    if titles_are_apps:
        attribute_titles(validated.events)
    return validated, len(chunk)
