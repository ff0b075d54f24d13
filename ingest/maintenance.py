"""Rollup maintenance: rebuilds, verifications and cost recomputations, run from the
command line or as jobs the admin queues (a worker runs them, reporting progress)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ingest.models import Calendar, IngestKey, MaintenanceJob
from ingest.rollups import maintain, zones
from ingest.rollups.windows import midnight
from rankings.cache import bump_generation
from rankings.models import LLMModel

log = logging.getLogger(__name__)


class RangeError(ValueError):
    """A rebuild or verification range that cannot be honoured (the message says why)."""


def rollup_days(since: date | None = None, until: date | None = None) -> tuple[date, date]:
    """The days ``[since, until]`` a rebuild or verification covers: by default from the
    oldest day whose raw events are all kept to today. ``until`` may not be before
    ``since`` nor after today (days in the zone the date rollups are built in); a range wholly
    before the oldest kept day is refused (its raw events are gone, its rollups are all that
    is left), one that starts before it is cut to it."""
    today = timezone.now().astimezone(zones.info(zones.built_zone(fresh=True))).date()
    retention = settings.TOKENRANK["RAW_RETENTION_DAYS"]
    oldest = maintain.oldest_complete_day(retention, today)
    since, until = since or oldest, until or today
    if until < since:
        raise RangeError(f"until ({until}) is before since ({since})")
    if until > today:
        raise RangeError(f"until ({until}) is after today ({today}, {zones.built_zone()})")
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
            maintain.rebuild_day(day, zones.built_zone(fresh=True))
        if day.weekday() == 6 or day == until:  # the week's last rebuilt day: its weeklies
            with transaction.atomic():
                maintain.rebuild_week(day - timedelta(days=day.weekday()))
        if progress:
            progress(done, len(days))
    bump_generation()
    return since, until


def verify_rollups(
    since: date | None = None, until: date | None = None, progress: Callable[[int, int], None] | None = None
) -> tuple[date, list[maintain.Mismatch]]:
    """Rollup rows of the days :func:`rollup_days` makes of ``[since, until]`` that differ
    from the raw events; returns the first day checked and the differences. ``progress``
    counts the rollup tables checked."""
    since, until = rollup_days(since, until)
    calendar = Calendar.objects.filter(pk=1).first()
    narrow_from = calendar.narrow_from if calendar else None
    zone = zones.built_zone(fresh=True)
    return since, maintain.verify(since, until, zone, narrow_from=narrow_from, progress=progress)


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
        elif job.kind == MaintenanceJob.Kind.TESTKEY:
            changed, first, last = apply_test_flag(job.target, job.since, job.until, progress=progress)
            state = "test" if IngestKey.objects.get(name=job.target).is_test else "counted"
            result = f"{changed} events of key {job.target} now {state}" + (
                f"; rebuilt {first} to {last}." if changed else "; nothing to rebuild."
            )
        elif job.kind == MaintenanceJob.Kind.RECOST:
            changed, first, last = recompute_derived_costs(
                job.target, job.since, job.until, progress=progress
            )
            result = f"Re-priced {changed} events of {job.target} without a reported cost; rebuilt {first} to {last}."
        else:
            first, mismatches = verify_rollups(job.since, job.until, progress=progress)
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


def _day_range(since: date, until: date) -> tuple[datetime, datetime]:
    """The days ``[since, until]`` as instants: their midnights in the zone the date rollups
    are built in."""
    zone = zones.built_zone(fresh=True)
    return midnight(since, zone), midnight(until + timedelta(days=1), zone)


def apply_test_flag(
    key_name: str, since: date, until: date, progress: Callable[[int, int], None] | None = None
) -> tuple[int, date | None, date | None]:
    """After a key was marked as a test key (or unmarked): give its raw events still kept in
    ``[since, until]`` its flag, and rebuild the days they fall on, so that its events leave
    (or join) every rollup. Returns the events changed and the days rebuilt."""
    key = IngestKey.objects.get(name=key_name)
    since = max(since, maintain.oldest_complete_day(settings.TOKENRANK["RAW_RETENTION_DAYS"]))
    with transaction.atomic():
        changed, first, last = maintain.flag_key_events(key.pk, key.is_test, *_day_range(since, until))
    if not changed:
        return 0, None, None
    built = zones.info(zones.built_zone())
    first_day, last_day = rebuild_rollups(first.astimezone(built).date(), last.astimezone(built).date(), progress)
    return changed, first_day, last_day


def recompute_derived_costs(
    model_slug: str, since: date, until: date, progress: Callable[[int, int], None] | None = None
) -> tuple[int, date, date]:
    """After a price change: re-price the model's events that reported no cost, for the raw
    events still kept in ``[since, until]``, and rebuild those days' maintain."""
    model = LLMModel.objects.get(slug=model_slug)
    oldest = maintain.oldest_complete_day(settings.TOKENRANK["RAW_RETENTION_DAYS"])
    since = max(since, oldest)
    with transaction.atomic():
        changed = maintain.rederive_costs(model.pk, *_day_range(since, until))
    first, last = rebuild_rollups(since, until, progress=progress)
    return changed, first, last


@dataclass(frozen=True)
class Rezoned:
    former: str  # the zone the date rollups were in
    narrow_from: date  # the first day the narrow rollups hold whole in the new zone
    older: str  # the zone of the narrow rows before it (their raw events are gone)


def change_time_zone(zone: str) -> Rezoned:
    """Rebuild the date rollups in ``zone`` (an IANA name) and record it: see
    ``maintain.rezone``."""
    zone = zones.checked(zone)
    former = zones.built_zone(fresh=True)
    raw_since = maintain.oldest_complete_day(settings.TOKENRANK["RAW_RETENTION_DAYS"])
    # The narrow rows kept (before raw_since) are in the former zone, and the last of them
    # ends at a day's end there, unless the change before this one was less than a retention
    # period ago: then they (and their end, when raw_since is not after its first whole day)
    # are in the zone before that.
    calendar = Calendar.objects.filter(pk=1).first()
    last_from = calendar.narrow_from if calendar else None
    before = (calendar.narrow_before_zone if calendar else "") or former
    ends_in = before if last_from and raw_since < last_from else former
    older = before if last_from and raw_since <= last_from else former
    with transaction.atomic():
        narrow_from = maintain.rezone(zone, raw_since, ends_in, older)
    zones.forget_built_zone()
    bump_generation()
    return Rezoned(former, narrow_from, older)
