"""Prometheus metrics shared by every web and worker process.

Counters and histograms live in Redis (one hash per metric), so the numbers add up across
gunicorn workers, Celery workers and hosts; gauges are read from PostgreSQL at scrape time.
Recording never raises: metrics must not break ingest or pages.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import time
from collections.abc import Iterable

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.db.models import Min
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden, HttpResponseNotFound
from django.utils import timezone
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

from config.network import in_networks
from ingest.models import InboxBatch

log = logging.getLogger(__name__)

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
PREFIX = "metrics:"
COUNTERS = {
    "tokenrank_ingest_events_total": ("Events received by ingest key and outcome.", ("key", "outcome")),
    "tokenrank_rollup_rows_written_total": ("Rollup row upserts by grain.", ("grain",)),
    "tokenrank_batches_total": ("Inbox batches processed by result.", ("result",)),
}
HISTOGRAMS = {
    "tokenrank_batch_processing_seconds": ("Time to move one batch into raw events and rollups.", ()),
    "tokenrank_http_request_seconds": ("Server time per view.", ("view", "method")),
}


# After a failed write, metrics are not recorded for this long in this process: a Redis that
# hangs would otherwise cost its socket timeout on every one of a request's metric calls.
PAUSE_AFTER_FAILURE_SECONDS = 10
_paused_until = 0.0


def _redis():
    """The raw Redis client behind Django's cache (None with a non-Redis cache, or while
    recording is paused after a failure)."""
    if time.monotonic() < _paused_until:
        return None
    backend = caches["default"]
    return backend._cache.get_client(write=True) if isinstance(backend, RedisCache) else None


def _failed() -> None:
    global _paused_until
    _paused_until = time.monotonic() + PAUSE_AFTER_FAILURE_SECONDS
    log.debug("metrics unavailable; paused", exc_info=True)


def _labels(values: Iterable[str]) -> str:
    return "\x1f".join(str(v) for v in values)


def inc(name: str, labels: tuple = (), amount: float = 1) -> None:
    client = _redis()
    if client is None:
        return
    try:
        client.hincrbyfloat(PREFIX + name, _labels(labels), amount)
    except Exception:
        _failed()


def observe(name: str, labels: tuple, seconds: float) -> None:
    client = _redis()
    if client is None:
        return
    key = _labels(labels)
    try:
        pipe = client.pipeline(transaction=False)
        for bound in LATENCY_BUCKETS:
            if seconds <= bound:
                pipe.hincrbyfloat(f"{PREFIX}{name}:bucket:{bound}", key, 1)
        pipe.hincrbyfloat(f"{PREFIX}{name}:count", key, 1)
        pipe.hincrbyfloat(f"{PREFIX}{name}:sum", key, seconds)
        pipe.execute()
    except Exception:
        _failed()


class TokenrankCollector:
    def collect(self):
        client = _redis()
        if client is not None:
            yield from self._from_redis(client)
        pending = InboxBatch.objects.filter(status="pending")
        oldest = pending.aggregate(oldest=Min("received_at"))["oldest"]
        gauge = GaugeMetricFamily("tokenrank_inbox_pending_batches", "Batches accepted and not yet counted.")
        gauge.add_metric([], pending.count())
        yield gauge
        lag = GaugeMetricFamily("tokenrank_inbox_oldest_pending_seconds", "Age of the oldest pending batch.")
        lag.add_metric([], (timezone.now() - oldest).total_seconds() if oldest else 0)
        yield lag
        failed = GaugeMetricFamily(
            "tokenrank_inbox_failed_batches", "Dead-lettered batches awaiting retry or discard."
        )
        failed.add_metric([], InboxBatch.objects.filter(status="failed").count())
        yield failed

    def _from_redis(self, client):
        def read(key: str) -> dict[str, float]:
            try:
                return {k.decode(): float(v) for k, v in client.hgetall(key).items()}
            except Exception:
                return {}

        for name, (doc, label_names) in COUNTERS.items():
            family = CounterMetricFamily(name, doc, labels=list(label_names))
            for labels, value in read(PREFIX + name).items():
                family.add_metric(labels.split("\x1f") if label_names else [], value)
            yield family
        for name, (doc, label_names) in HISTOGRAMS.items():
            family = HistogramMetricFamily(name, doc, labels=list(label_names))
            counts, sums = read(f"{PREFIX}{name}:count"), read(f"{PREFIX}{name}:sum")
            buckets = {bound: read(f"{PREFIX}{name}:bucket:{bound}") for bound in LATENCY_BUCKETS}
            for labels, count in counts.items():
                cumulative = [(str(bound), buckets[bound].get(labels, 0.0)) for bound in LATENCY_BUCKETS]
                cumulative.append(("+Inf", count))
                family.add_metric(
                    labels.split("\x1f") if label_names else [], cumulative, sums.get(labels, 0.0)
                )
            yield family


def _allowed(request: HttpRequest) -> bool:
    token = settings.TOKENRANK["METRICS_TOKEN"]
    sent = request.META.get("HTTP_AUTHORIZATION", "")
    if token and hmac.compare_digest(sent.encode(), f"Bearer {token}".encode()):
        return True
    if settings.PRODUCTION:
        return False  # behind a same-host proxy every request comes from loopback
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return in_networks(address, settings.TOKENRANK["METRICS_ALLOWED_NETWORKS"])


def metrics_view(request: HttpRequest) -> HttpResponse:
    """``/metrics``: for the bearer token, or outside production for an allowed network
    (default: loopback). In production with no token set there are no metrics: 404."""
    if settings.PRODUCTION and not settings.TOKENRANK["METRICS_TOKEN"]:
        return HttpResponseNotFound("metrics are off: set METRICS_TOKEN to serve them\n")
    if not _allowed(request):
        return HttpResponseForbidden("metrics are not public; see METRICS_TOKEN / METRICS_ALLOWED_NETWORKS\n")
    registry = CollectorRegistry()
    registry.register(TokenrankCollector())
    return HttpResponse(generate_latest(registry), content_type="text/plain; version=0.0.4; charset=utf-8")


class RequestMetricsMiddleware:
    """Server time per view, as a histogram (labels: URL name, method)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        view = (match.view_name or "unnamed") if match else "unresolved"
        observe("tokenrank_http_request_seconds", (view, request.method), time.perf_counter() - started)
        return response
