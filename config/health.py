"""Liveness and readiness probes."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.db.models import Min
from django.db.utils import DatabaseError
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from config.celery import app as celery_app
from ingest.models import DeadLetter, InboxBatch
from ingest.rollups import zones


def check_database() -> str | None:
    """None when the database answers, else the reason."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return None
    except DatabaseError as exc:
        connection.close_if_unusable_or_obsolete()
        return f"database: {exc.__class__.__name__}: {str(exc).strip()[:200]}"


def check_broker() -> str | None:
    """None when the Celery broker answers, else the reason."""
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        return None
    except Exception as exc:  # kombu raises transport-specific errors
        return f"broker: {exc.__class__.__name__}: {str(exc).strip()[:200]}"


@never_cache
@require_safe
def healthz(request):
    """200 when the database and the broker answer, 503 with the reasons otherwise."""
    problems = [p for p in (check_database(), check_broker()) if p]
    if problems:
        return JsonResponse({"status": "unavailable", "reasons": problems}, status=503)
    return JsonResponse({"status": "ok"})


def check_migrations() -> str | None:
    from django.db.migrations.executor import MigrationExecutor

    try:
        executor = MigrationExecutor(connection)
        unapplied = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except DatabaseError:
        return None  # already reported by the database check
    return f"migrations: {len(unapplied)} not applied" if unapplied else None


def check_inbox_lag() -> str | None:
    try:
        oldest = InboxBatch.objects.filter(status="pending").aggregate(oldest=Min("received_at"))["oldest"]
    except DatabaseError:
        return None
    limit = settings.TOKENRANK["READY_MAX_LAG_SECONDS"]
    if oldest is not None and (lag := (timezone.now() - oldest).total_seconds()) > limit:
        return f"inbox: oldest pending batch is {lag:.0f} s old (limit {limit} s)"
    return None


def check_failed_batches() -> str | None:
    """A warning when batches failed or events were dead-lettered in the last hour (not
    counted until an operator retries them or the gateway resends), else None."""
    since = timezone.now() - timedelta(hours=1)
    try:
        failed = InboxBatch.objects.filter(status=InboxBatch.Status.FAILED, processed_at__gte=since).count()
        letters = DeadLetter.objects.filter(created_at__gte=since, requeued_at__isnull=True).count()
    except DatabaseError:
        return None
    found = [
        f"{failed} batch{'es' if failed > 1 else ''} failed" if failed else "",
        f"{letters} event{'s' if letters > 1 else ''} dead-lettered" if letters else "",
    ]
    if failed or letters:
        return f"ingest: {' and '.join(f for f in found if f)} in the last hour (Admin → Ingest health)"
    return None


def check_time_zone() -> str | None:
    """A warning when TOKENRANK_TIME_ZONE differs from the zone the date rollups are built in
    (reads in it are answered from the quarter-hour cube meanwhile: exact, slower)."""
    try:
        built = zones.built_zone(fresh=True)
    except DatabaseError:
        return None
    if built != zones.reporting_zone():
        return (
            f"time zone: TOKENRANK_TIME_ZONE is {zones.reporting_zone()} but the date rollups are in {built}: "
            "run manage.py change_time_zone"
        )
    return None


@never_cache
@require_safe
def readyz(request):
    """200 "ready" when this instance can serve: database, broker, migrations applied, inbox
    lag low; 503 "not ready" otherwise. 200 "degraded" when it can serve but batches failed
    in the last hour: a load balancer keeps sending traffic, monitoring reads the reason."""
    database = check_database()
    problems = [p for p in (database, check_broker()) if p]
    warnings = []
    if database is None:  # the rest reads the database: no second connect timeout when it is down
        problems += [p for p in (check_migrations(), check_inbox_lag()) if p]
        warnings += [w for w in (check_failed_batches(), check_time_zone()) if w]
    if problems:
        return JsonResponse({"status": "not ready", "reasons": problems + warnings}, status=503)
    if warnings:
        return JsonResponse({"status": "degraded", "reasons": warnings})
    return JsonResponse({"status": "ready"})


class ProbeMiddleware:
    """``/healthz`` and ``/readyz`` answer whatever the Host header says: container
    healthchecks and load balancers probe by address (``127.0.0.1:8000``), which
    ``ALLOWED_HOSTS`` rightly refuses for every other page (400)."""

    PROBES = {"/healthz": healthz, "/readyz": readyz}

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        probe = self.PROBES.get(request.path_info)
        return probe(request) if probe is not None else self.get_response(request)
