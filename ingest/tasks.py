"""Celery tasks: thin, idempotent wrappers around :mod:`ingest.services`."""

from __future__ import annotations

from celery import shared_task

from ingest import partitions, services
from ingest.services import TRANSIENT


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=5)
def process_batch(self, batch_id: int) -> str:
    try:
        return services.process_batch(batch_id)
    except TRANSIENT as exc:
        if self.request.retries >= self.max_retries:
            services.mark_failed(batch_id, f"{exc.__class__.__name__}: {exc}")
            return "failed"
        raise self.retry(exc=exc, countdown=min(60, 2**self.request.retries)) from exc
    except Exception as exc:
        # Not transient: retrying cannot help. Dead-letter it for a human to look at.
        services.mark_failed(batch_id, f"{exc.__class__.__name__}: {exc}")
        return "failed"


@shared_task(acks_late=True)
def maintenance_sweep_pending() -> int:
    return services.sweep_pending()


@shared_task(acks_late=True)
def maintenance_partitions() -> dict[str, int]:
    return partitions.maintain()


@shared_task(acks_late=True)
def maintenance_run_job(job_id: int) -> str:
    """A rebuild or verification for the admin, reporting progress on its job row."""
    return services.run_job(job_id)
