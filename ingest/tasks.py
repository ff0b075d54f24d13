"""Celery tasks: thin, idempotent wrappers around :mod:`ingest.processing` and
:mod:`ingest.maintenance`; and how batches are handed to them (also again, by the sweep)."""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import Task, shared_task
from django.conf import settings
from django.utils import timezone

from config.memory import collector_paused, trim_heap
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
