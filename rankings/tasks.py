"""Celery tasks of the rankings app (thin)."""

from __future__ import annotations

from celery import shared_task

from rankings import snapshots


@shared_task(acks_late=True)
def maintenance_snapshots() -> list[str]:
    """Publish the snapshot of every closed day that has none (see rankings.snapshots)."""
    return snapshots.write_due()
