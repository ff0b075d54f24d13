"""Celery tasks: thin, idempotent wrappers around :mod:`ingest.processing` and
:mod:`ingest.maintenance`; and how batches are handed to them (also again, by the sweep)."""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from ingest import maintenance, partitions, processing
from ingest.models import InboxBatch
from ingest.processing import TRANSIENT

log = logging.getLogger(__name__)


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=5)
def process_batch(self, batch_id: int) -> str:
    try:
        return processing.process_batch(batch_id)
    except TRANSIENT as exc:
        if self.request.retries >= self.max_retries:
            processing.mark_failed(batch_id, f"{exc.__class__.__name__}: {exc}")
            return "failed"
        raise self.retry(exc=exc, countdown=min(60, 2**self.request.retries)) from exc
    except Exception as exc:
        # Not transient: retrying cannot help. Dead-letter it for a human to look at.
        processing.mark_failed(batch_id, f"{exc.__class__.__name__}: {exc}")
        return "failed"


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
