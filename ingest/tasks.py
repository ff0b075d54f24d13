"""Celery tasks: thin, idempotent wrappers around :mod:`ingest.processing` and
:mod:`ingest.maintenance`; and how batches are handed to them (also again, by the sweep)."""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from celery import Task, shared_task
from django.conf import settings
from django.utils import timezone

from ingest import maintenance, partitions, processing
from ingest.models import InboxBatch
from ingest.processing import TRANSIENT

log = logging.getLogger(__name__)


class BatchTask(Task):
    """A batch's task: when it gives up on a batch (at once for an error about the data, after
    its retries for a transient one), the batch is dead-lettered with the reason, for a human
    to retry or discard. A worker killed mid-batch never gets here: its message is requeued
    (``reject_on_worker_lost``) and ``BATCH_MAX_ATTEMPTS`` bounds that loop."""

    def on_failure(self, exc, task_id, args, kwargs, einfo) -> None:
        processing.mark_failed(args[0], f"{exc.__class__.__name__}: {exc}")


@shared_task(
    base=BatchTask,
    acks_late=True,
    reject_on_worker_lost=True,
    # Deadlocks and lost connections are retried within 1, 2, 4… seconds (at most 60; a
    # random part of it, so workers that deadlocked on each other do not meet again). Any
    # other error is about the data: retrying cannot help.
    autoretry_for=TRANSIENT,
    retry_backoff=True,
    retry_backoff_max=60,
    retry_jitter=True,
    max_retries=settings.TOKENRANK["BATCH_MAX_ATTEMPTS"],
)
def process_batch(batch_id: int) -> str:
    with collector_paused():
        outcome = processing.process_batch(batch_id)
    if outcome == "done":
        trim_heap()
    return outcome


@contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cycle collector off while a batch is counted. A part's thousands of event
    dicts and row tuples all live until the part is written, so each young-generation run
    (every 700 allocations) walked them again, and older ones the parts before: a fifth of
    the worker's Python CPU (0.9 -> 0.7 s per 100,000 events). Events make no reference
    cycles; whatever cycles a task leaves are collected once the collector is back on."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _malloc_trim():
    """glibc's ``malloc_trim``, or None (another C library, another system)."""
    if sys.platform != "linux":
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c")).malloc_trim
    except (OSError, AttributeError):  # no libc found, or one without malloc_trim (musl)
        return None


_MALLOC_TRIM = _malloc_trim()


def trim_heap() -> None:
    """Give the memory a coalesced set freed back to the system. glibc keeps freed heap pages
    for reuse, so each pool process stayed at its peak (~11 MB above its idle size after a set
    of 40,000 events); trimming takes 1-3 ms a set (docs/operations.md, worker memory)."""
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)


@shared_task(acks_late=True)
def maintenance_sweep_pending() -> int:
    return sweep_pending()


@shared_task(acks_late=True)
def maintenance_partitions() -> dict[str, int]:
    return partitions.maintain()


@shared_task(acks_late=True)
def maintenance_run_job(job_id: int) -> str:
    """A rebuild or verification for the admin, reporting progress on its job row."""
    return maintenance.run_job(job_id)


def enqueue_batch(batch_id: int) -> bool:
    """Hand a batch to a worker; False (logged) when the broker is unreachable."""
    try:
        # One quick reconnect covers a pooled connection the broker dropped while restarting.
        process_batch.apply_async(
            (batch_id,), retry=True, retry_policy={"max_retries": 1, "interval_start": 0.2}
        )
        return True
    except Exception:  # any broker failure: the batch is safe in PostgreSQL
        log.warning("broker unavailable; batch %s waits for the sweep", batch_id, exc_info=True)
        return False


def sweep_pending() -> int:
    """Re-enqueue batches pending longer than the sweep delay (broker was down, worker
    died, message lost). Safe to over-enqueue: processing is idempotent."""
    cutoff = timezone.now() - timedelta(seconds=settings.TOKENRANK["SWEEP_AFTER_SECONDS"])
    stale = list(
        InboxBatch.objects.filter(status=InboxBatch.Status.PENDING, enqueued_at__lt=cutoff)
        .order_by("received_at")
        .values_list("pk", flat=True)[:1000]
    )
    for batch_id in stale:
        if not enqueue_batch(batch_id):
            break
        InboxBatch.objects.filter(pk=batch_id).update(enqueued_at=timezone.now())
    return len(stale)
