"""Ingest's writes: accept events, move batches into raw events and rollups, exactly once.

Exactly once rests on two facts. (1) An event id is claimed in ``ingest_seenevent`` in the
same transaction that stores its batch, so a resent id is a duplicate whoever sends it and
whenever (within retention). (2) A batch moves into raw events and rollups in one
transaction that also marks it done, under a row lock, so a redelivered or re-swept task
finds it done and does nothing.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import F
from django.utils import timezone

from config import metrics
from ingest import partitions, rollups
from ingest.events import Rejection, as_record, attribute_titles, printable, validate_batch
from ingest.models import DeadLetter, InboxBatch, IngestKey, MaintenanceJob
from ingest.resolve import CatalogIds, resolve
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


def claim_ids(ids: list[str]) -> set[str]:
    """Register event ids; return those never seen before. Sorted inserts keep two
    overlapping concurrent batches from deadlocking on the unique index."""
    if not ids:
        return set()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO ingest_seenevent (id, seen_at) "
            "SELECT id, now() FROM unnest(%s::text[]) AS t(id) ORDER BY id "
            "ON CONFLICT (id) DO NOTHING RETURNING id",
            [sorted(ids)],
        )
        return {row[0] for row in cursor.fetchall()}


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
            batch = InboxBatch.objects.create(
                key=key, source=source, events=fresh, event_count=len(fresh), received_at=now
            )
            result.batch_id = batch.pk
            transaction.on_commit(partial(enqueue_batch, batch.pk))
    return result


def enqueue_batch(batch_id: int) -> bool:
    """Hand a batch to a worker; False (logged) when the broker is unreachable."""
    from ingest.tasks import process_batch

    try:
        # One quick reconnect covers a pooled connection the broker dropped while restarting.
        process_batch.apply_async(
            (batch_id,), retry=True, retry_policy={"max_retries": 1, "interval_start": 0.2}
        )
        return True
    except Exception:  # any broker failure: the batch is safe in PostgreSQL
        log.warning("broker unavailable; batch %s waits for the sweep", batch_id, exc_info=True)
        return False


# Errors worth retrying the whole batch for (deadlocks, lost connections): the same
# tuple the task retries on. Anything else is about the data, and is isolated instead.
TRANSIENT = (OperationalError, InterfaceError)

Pending = tuple[int | None, dict[str, Any]]  # (batch id, normalized event)
Failure = tuple[int | None, dict[str, Any], str]  # (batch id, event, error)


def _rows(pending: Iterable[Pending], ids: CatalogIds) -> Iterator[tuple]:
    for batch_id, e in pending:
        yield (
            e["id"],
            e["created_at"],
            batch_id,
            ids.models[e["model"]],
            e["variant"],
            ids.providers[e["provider"]],
            ids.apps[e["origin"]],
            ids.categories[e["category"]],
            e["origin"],
            e["prompt"],
            e["completion"],
            e["reasoning"],
            e["cached"],
            e["cost"],
            e["latency"],
            e["generation"],
            e["cancelled"],
            e["streamed"],
            e["finish_reason"],
            e["byok"],
        )


def _prepare(events: list[dict[str, Any]]) -> CatalogIds:
    """Catalog ids and raw partitions, each committed on its own before the batch writes."""
    ids = resolve(events)
    partitions.ensure_partitions({date.fromisoformat(e["created_at"][:10]) for e in events})
    return ids


def _count_rollup_rows(per_grain: list[int]) -> None:
    for grain, rows in zip(rollups.GRAINS, per_grain, strict=True):
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


def _prepare_pending(groups: list[list[Pending]]) -> tuple[CatalogIds, list[Failure], list[list[Pending]]]:
    """Catalog ids and partitions for ``groups`` (committed on their own, before the write
    transaction); returns the ids, the events that could not be prepared, and the rest."""
    ids = CatalogIds()
    failures = _isolating(groups, lambda chunk: ids.update(_prepare([e for _, e in chunk])))
    return ids, failures, _without(groups, failures)


def _write_pending(groups: list[list[Pending]], ids: CatalogIds) -> tuple[list[Failure], list[int]]:
    """Write prepared ``groups`` to raw events and rollups in the caller's transaction;
    returns the events that could not be written and the rollup rows written per grain."""
    written = [0] * len(rollups.GRAINS)

    def write(chunk: list[Pending]) -> None:
        _, *per_grain = rollups.write_events(_rows(chunk, ids))
        for n, rows in enumerate(per_grain):
            written[n] += rows

    return _isolating(groups, write), written


def _release_ids(ids: list[str]) -> None:
    """Forget claimed ids of events that were not counted, so that a resend counts."""
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM ingest_seenevent WHERE id = ANY(%s)", [ids])


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
    _release_ids([event["id"] for _, event, _ in failures])
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
            "WHERE status = 'pending' AND attempts = 0 AND id <> %s ORDER BY received_at, id LIMIT 100 "
            "FOR UPDATE SKIP LOCKED), "
            "chosen AS (SELECT id, sum(event_count) OVER (ORDER BY received_at, id) AS running FROM waiting) "
            "UPDATE ingest_inboxbatch b SET attempts = b.attempts + 1 FROM chosen c "
            "WHERE b.id = c.id AND c.running <= %s RETURNING b.id",
            [batch_id, room],
        )
        return sorted(row[0] for row in cursor.fetchall())


def process_batch(batch_id: int) -> str:
    """Move one pending batch into raw events and rollups, with other waiting batches when
    there is a backlog (``BATCH_COALESCE_EVENTS``). Idempotent: returns ``"done"``,
    ``"skipped"`` (already done, or another worker holds it) or ``"failed"``.

    The batches are staged one at a time (catalog resolved and committed, rows copied to the
    session's staging table), so a worker holds one batch in memory whatever it coalesces;
    then one transaction counts them all and marks them done. An event that cannot be
    staged or written never takes others down: it is isolated (:func:`_isolating`) and
    dead-lettered on its own batch; the rest is counted."""
    with transaction.atomic():
        claimed = InboxBatch.objects.filter(pk=batch_id, status=Status.PENDING).update(
            attempts=F("attempts") + 1
        )
    if not claimed:
        return "skipped"
    batch = InboxBatch.objects.values("attempts", "event_count").get(pk=batch_id)
    if batch["attempts"] > settings.TOKENRANK["BATCH_MAX_ATTEMPTS"]:
        mark_failed(batch_id, f"gave up after {batch['attempts'] - 1} attempts (worker lost?)")
        return "failed"
    started = time.perf_counter()
    alone = batch["attempts"] > 1  # it failed before: no company
    room = 0 if alone else settings.TOKENRANK["BATCH_COALESCE_EVENTS"] - batch["event_count"]
    rollups.clear_staged()  # whatever an interrupted run of this connection left
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
            rollups.clear_staged()
            return "skipped"
        if len(locked) < len(staged):
            rollups.unstage_batches_except(locked)
        unwritten, per_grain = _write_staged([[(pk, {"id": i}) for i in staged[pk]] for pk in locked])
        failures = [f for f in failures if f[0] in locked] + _with_events(unwritten)
        _set_aside(failures)
        InboxBatch.objects.filter(pk__in=locked).update(status=Status.DONE, processed_at=timezone.now())
        rollups.clear_staged()
        transaction.on_commit(bump_generation)
    seconds = time.perf_counter() - started
    metrics.observe("tokenrank_batch_processing_seconds", (), seconds)
    metrics.inc("tokenrank_batches_total", ("done",), len(locked))
    _count_rollup_rows(per_grain)
    log.info(
        "batch %s done (with %s more) in %.3f s, %s dead letters",
        batch_id,
        len(locked) - 1,
        seconds,
        len(failures),
        extra={"batch_id": batch_id, "batches": locked, "seconds": round(seconds, 4)},
    )
    return "done"


def _stage(pks: list[int]) -> tuple[dict[int, list[str]], list[Failure]]:
    """Resolve and stage each pending batch of ``pks`` in turn, each step committed on its
    own; return the ids staged per batch and the events that could not be prepared or
    staged (with their batch)."""
    staged: dict[int, list[str]] = {}
    failures: list[Failure] = []
    for pk in pks:
        events = (
            InboxBatch.objects.filter(pk=pk, status=Status.PENDING).values_list("events", flat=True).first()
        )
        if events is None:
            continue  # done by another worker meanwhile
        ids, unprepared, groups = _prepare_pending([[(pk, e) for e in events]])
        unstaged = _isolating(groups, lambda chunk, ids=ids: rollups.stage_events(_rows(chunk, ids)))
        failures += unprepared + unstaged
        staged[pk] = [e["id"] for _, e in _without(groups, unstaged)[0]]
    return staged, failures


def _write_staged(groups: list[list[Pending]]) -> tuple[list[Failure], list[int]]:
    """Count the staged rows of ``groups`` (events known by id) in the caller's transaction;
    returns the events that could not be written and the rollup rows written per grain."""
    everything = sum(len(group) for group in groups)
    written = [0] * len(rollups.GRAINS)

    def write(chunk: list[Pending]) -> None:
        ids = None if len(chunk) == everything else [e["id"] for _, e in chunk]
        _, *per_grain = rollups.write_staged(ids)
        for n, rows in enumerate(per_grain):
            written[n] += rows

    return _isolating(groups, write), written


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


def mark_failed(batch_id: int, reason: str) -> None:
    """Dead-letter a batch: kept with its reason, replayable with :func:`retry_batch`."""
    InboxBatch.objects.filter(pk=batch_id, status=Status.PENDING).update(
        status=Status.FAILED, last_error=reason[:2000], processed_at=timezone.now()
    )
    metrics.inc("tokenrank_batches_total", ("failed",))
    log.error("batch %s failed: %s", batch_id, reason, extra={"batch_id": batch_id})


def retry_batch(batch_id: int) -> bool:
    """Put a failed batch back in line (its events were never counted)."""
    updated = InboxBatch.objects.filter(pk=batch_id, status=Status.FAILED).update(
        status=Status.PENDING, attempts=0, processed_at=None, enqueued_at=timezone.now()
    )
    if updated:
        transaction.on_commit(partial(enqueue_batch, batch_id))
    return bool(updated)


def sweep_pending() -> int:
    """Re-enqueue batches pending longer than the sweep delay (broker was down, worker
    died, message lost). Safe to over-enqueue: processing is idempotent."""
    cutoff = timezone.now() - timedelta(seconds=settings.TOKENRANK["SWEEP_AFTER_SECONDS"])
    stale = list(
        InboxBatch.objects.filter(status=Status.PENDING, enqueued_at__lt=cutoff)
        .order_by("received_at")
        .values_list("pk", flat=True)[:1000]
    )
    for batch_id in stale:
        if not enqueue_batch(batch_id):
            break
        InboxBatch.objects.filter(pk=batch_id).update(enqueued_at=timezone.now())
    return len(stale)


# Events per import transaction: larger chunks aggregate into fewer rollup rows per event
# (40,000: +6 % over 20,000 on the ingest benchmark's workload) at ~1 KB of memory each.
IMPORT_CHUNK_EVENTS = 40_000


@dataclass
class ImportTotals:
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    errors: list[Rejection] = field(default_factory=list)


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
    (:func:`ingest.events.attribute_titles`)."""
    totals = ImportTotals()
    chunk: list[Any] = []
    offset = 0

    def flush() -> None:
        nonlocal offset
        validated = validate_batch(chunk, timezone.now())
        for r in validated.rejected:
            r.index += offset
        _reject(totals, validated.rejected)
        totals.duplicates += validated.duplicates_in_batch
        if titles_are_apps:
            attribute_titles(validated.events)
        if validated.events:
            ids, failures, (events,) = _prepare_pending([[(None, e) for e in validated.events]])
            with transaction.atomic():
                new_ids = claim_ids([e["id"] for _, e in events])
                fresh = [p for p in events if p[1]["id"] in new_ids]
                unwritten, per_grain = _write_pending([fresh], ids)
                _release_ids([e["id"] for _, e, _ in unwritten])
                transaction.on_commit(bump_generation)
            _count_rollup_rows(per_grain)
            failures += unwritten
            index = {id(e): n for n, e in zip(validated.indexes, validated.events, strict=True)}
            _reject(
                totals, [Rejection(index[id(e)] + offset, e["id"], {"event": err}) for _, e, err in failures]
            )
            totals.accepted += len(fresh) - len(unwritten)
            totals.duplicates += len(events) - len(fresh)
        if progress:
            progress(len(chunk))
        offset += len(chunk)
        chunk.clear()

    for item in items:
        chunk.append(item)
        if len(chunk) >= chunk_size:
            flush()
    if chunk:
        flush()
    return totals


class RangeError(ValueError):
    """A rebuild or verification range that cannot be honoured (the message says why)."""


def rollup_days(since: date | None = None, until: date | None = None) -> tuple[date, date]:
    """The days ``[since, until]`` a rebuild or verification covers: by default from the
    oldest day whose raw events are all kept to today (UTC). ``until`` may not be before
    ``since`` nor after today; a range wholly before the oldest kept day is refused (its raw
    events are gone, its rollups are all that is left), one that starts before it is cut to it."""
    today = timezone.now().date()
    retention = settings.TOKENRANK["RAW_RETENTION_DAYS"]
    oldest = rollups.oldest_complete_day(retention, today)
    since, until = since or oldest, until or today
    if until < since:
        raise RangeError(f"until ({until}) is before since ({since})")
    if until > today:
        raise RangeError(f"until ({until}) is after today ({today}, UTC)")
    if until < oldest:
        raise RangeError(
            f"{since} to {until} is before {oldest}, the oldest day whose raw events are kept "
            f"(TOKENRANK_RAW_RETENTION_DAYS={retention}): its rollups cannot be rebuilt or checked"
        )
    return max(since, oldest), until


def rebuild_rollups(
    since: date | None = None, until: date | None = None, progress: Callable[[int, int], None] | None = None
) -> tuple[date, date]:
    """Recompute rollups from raw events for the days :func:`rollup_days` makes of
    ``[since, until]``, one transaction per day; returns the days rebuilt. Never reaches
    before the oldest fully kept day, so no rollup history is wiped for lack of raw events."""
    since, until = rollup_days(since, until)
    days = [since + timedelta(days=n) for n in range((until - since).days + 1)]
    for done, day in enumerate(days, start=1):
        with transaction.atomic():
            rollups.rebuild_day(day)
        if day.weekday() == 6 or day == until:  # the week's last rebuilt day: its weeklies
            with transaction.atomic():
                rollups.rebuild_week(day - timedelta(days=day.weekday()))
        if progress:
            progress(done, len(days))
    bump_generation()
    return since, until


def verify_rollups(
    since: date | None = None, until: date | None = None
) -> tuple[date, list[rollups.Mismatch]]:
    """Rollup rows of the days :func:`rollup_days` makes of ``[since, until]`` that differ
    from the raw events; returns the first day checked and the differences."""
    since, until = rollup_days(since, until)
    return since, rollups.verify(since, until)


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
    from ingest.tasks import maintenance_run_job

    job = MaintenanceJob.objects.create(
        kind=kind, since=since, until=until, requested_by=requested_by, target=target
    )
    transaction.on_commit(lambda: maintenance_run_job.delay(job.pk))
    return job


def run_job(job_id: int) -> str:
    """Run a queued job, recording progress; idempotent for a job already finished."""
    job = MaintenanceJob.objects.get(pk=job_id)
    if job.status in (MaintenanceJob.Status.DONE, MaintenanceJob.Status.FAILED):
        return job.status
    MaintenanceJob.objects.filter(pk=job_id).update(status=MaintenanceJob.Status.RUNNING)

    def progress(done: int, total: int) -> None:
        MaintenanceJob.objects.filter(pk=job_id).update(progress_done=done, progress_total=total)

    try:
        if job.kind == MaintenanceJob.Kind.REBUILD:
            first, last = rebuild_rollups(job.since, job.until, progress=progress)
            result = f"Rebuilt {first} to {last}."
        elif job.kind == MaintenanceJob.Kind.RECOST:
            changed, first, last = recompute_derived_costs(
                job.target, job.since, job.until, progress=progress
            )
            result = f"Re-priced {changed} events of {job.target} without a reported cost; rebuilt {first} to {last}."
        else:
            progress(0, 1)
            first, mismatches = verify_rollups(job.since, job.until)
            progress(1, 1)
            lines = [f"{m.table} {m.key}: rollup={m.rollup} raw={m.raw}" for m in mismatches]
            result = (
                (f"{len(mismatches)} mismatching rows from {first} to {job.until}:\n" + "\n".join(lines))
                if lines
                else (f"Rollups match raw events from {first} to {job.until}.")
            )
        status = MaintenanceJob.Status.DONE
    except Exception as exc:  # recorded for the operator, not swallowed silently
        log.exception("maintenance job %s failed", job_id)
        result, status = f"{exc.__class__.__name__}: {exc}", MaintenanceJob.Status.FAILED
    MaintenanceJob.objects.filter(pk=job_id).update(status=status, result=result, finished_at=timezone.now())
    return status


def recompute_derived_costs(
    model_slug: str, since: date, until: date, progress: Callable[[int, int], None] | None = None
) -> tuple[int, date, date]:
    """After a price change: re-price the model's events that reported no cost, for the raw
    events still kept in ``[since, until]``, and rebuild those days' rollups."""
    from rankings.models import LLMModel

    model = LLMModel.objects.get(slug=model_slug)
    oldest = rollups.oldest_complete_day(settings.TOKENRANK["RAW_RETENTION_DAYS"])
    since = max(since, oldest)
    start = datetime(since.year, since.month, since.day, tzinfo=UTC)
    end = datetime(until.year, until.month, until.day, tzinfo=UTC) + timedelta(days=1)
    with transaction.atomic():
        changed = rollups.rederive_costs(model.pk, start, end)
    first, last = rebuild_rollups(since, until, progress=progress)
    return changed, first, last
