"""The ingest benchmark: the bulk import, plain COPY, a naive ORM save, and HTTP + Celery
until the rollups are complete (native events, with tool calls, tags and sessions, as OTLP
spans), with the worker's peak memory and freshness at an offered rate."""

from __future__ import annotations

import json
import random
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from benchmarks import narrow
from benchmarks.common import (
    free_port,
    post,
    rate,
    report,
    reset_usage,
    rollup_requests,
    start,
    stop,
    tree_rss_mb,
    wait_http,
)


def workload(n: int, seed: int = 7, spread_hours: int = 24) -> list[dict]:
    """Gateway-like events with realistic key repetition: Zipf-ish popularity of 60 models,
    300 apps and 12 categories over ``spread_hours`` ending now. Providers follow the model,
    as gateways route and as the demo simulator does: a third of the models (closed ones)
    have one provider, the others are spread evenly over 3 to 6 of the 12."""
    from rankings.catalog import CATEGORIES, OTHER_CATEGORY

    rng = random.Random(seed)
    now = datetime.now(UTC) - timedelta(minutes=1)
    models = [f"lab{i % 15}/model-{i}" for i in range(60)]
    apps = [f"https://app-{i}.example" for i in range(300)]
    providers = [f"Provider {i}" for i in range(12)]
    categories = sorted(slug for slug, _ in CATEGORIES if slug != OTHER_CATEGORY)
    mw = [1 / (i + 1) for i in range(len(models))]
    aw = [1 / (i + 1) ** 1.1 for i in range(len(apps))]
    hosts = {
        model: [providers[i % 12]] if i % 3 == 0 else rng.sample(providers, rng.randint(3, 6))
        for i, model in enumerate(models)
    }
    pm = rng.choices(models, mw, k=n)
    pa = rng.choices(apps, aw, k=n)
    events = []
    for i in range(n):
        prompt = rng.randint(200, 30_000)
        completion = rng.randint(20, 2_000)
        events.append(
            {
                "id": f"bench-{seed}-{i:09d}",
                "created_at": (now - timedelta(seconds=rng.random() * spread_hours * 3600)).isoformat(),
                "model": pm[i],
                "provider_name": rng.choice(hosts[pm[i]]),
                "origin": pa[i],
                "app_name": pa[i][8:],
                "categories": categories[hash(pa[i]) % 12],
                "tokens_prompt": prompt,
                "tokens_completion": completion,
                "native_tokens_reasoning": completion // 5,
                "native_tokens_cached": prompt // 3,
                "total_cost": round(prompt * 3e-6 + completion * 1.5e-5, 8),
                "latency": rng.randint(100, 3000),
                "generation_time": rng.randint(200, 20_000),
            }
        )
    return events


def otlp_bodies(events: list[dict], per_body: int = 5000) -> list[bytes]:
    """The same usage as an OpenTelemetry-instrumented gateway reports it: one GenAI span per
    event (v1.41 attribute names), grouped per app into resources, ``per_body`` spans per
    ExportTraceServiceRequest, encoded as protobuf."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue

    def attribute(key: str, value) -> KeyValue:
        if isinstance(value, list):
            return KeyValue(
                key=key,
                value=AnyValue(array_value=ArrayValue(values=[AnyValue(string_value=v) for v in value])),
            )
        kind = {str: "string_value", int: "int_value", float: "double_value"}[type(value)]
        return KeyValue(key=key, value=AnyValue(**{kind: value}))

    bodies = []
    for offset in range(0, len(events), per_body):
        request = ExportTraceServiceRequest()
        by_app: dict[str, list[dict]] = {}
        for event in events[offset : offset + per_body]:
            by_app.setdefault(event["origin"], []).append(event)
        for origin, app_events in by_app.items():
            resource_spans = request.resource_spans.add()
            resource_spans.resource.attributes.append(attribute("service.name", app_events[0]["app_name"]))
            spans = resource_spans.scope_spans.add().spans
            for event in app_events:
                start = int(datetime.fromisoformat(event["created_at"]).timestamp() * 1e9)
                span = spans.add(
                    trace_id=random.randbytes(16),
                    span_id=random.randbytes(8),
                    name=f"chat {event['model']}",
                    kind=3,
                    start_time_unix_nano=start,
                    end_time_unix_nano=start + (event["latency"] + event["generation_time"]) * 1_000_000,
                )
                span.attributes.extend(
                    [
                        attribute("gen_ai.operation.name", "chat"),
                        attribute("gen_ai.provider.name", event["provider_name"]),
                        attribute("gen_ai.request.model", event["model"]),
                        attribute("gen_ai.response.model", event["model"]),
                        attribute("gen_ai.response.id", event["id"]),
                        attribute("gen_ai.usage.input_tokens", event["tokens_prompt"]),
                        attribute("gen_ai.usage.output_tokens", event["tokens_completion"]),
                        attribute("gen_ai.usage.cache_read.input_tokens", event["native_tokens_cached"]),
                        attribute("gen_ai.usage.reasoning.output_tokens", event["native_tokens_reasoning"]),
                        attribute("gen_ai.usage.cost", float(event["total_cost"])),
                        attribute("gen_ai.response.time_to_first_chunk", event["latency"] / 1000),
                        attribute("gen_ai.response.finish_reasons", ["stop"]),
                        attribute("http.request.header.referer", [origin]),
                    ]
                )
        bodies.append(request.SerializeToString())
    return bodies


def bench_ingest(n: int, offered_rate: int, freshness_seconds: int, workers: int = 2) -> None:
    from django.db import connection

    from config import processes
    from ingest.models import IngestKey
    from ingest.schema import CUBE, DIMENSION, RAW_COLUMNS
    from ingest.services import import_events

    print(f"\nIngest ({n:,} events, 60 models on 1-6 of 12 providers x 300 apps over 24 h)", flush=True)
    events = workload(n)
    narrow_events = narrow.with_fields(events)

    reset_usage()
    started = time.monotonic()
    totals = import_events(events)
    seconds = time.monotonic() - started
    assert totals.accepted == n and rollup_requests() == n
    report("import_events (bulk path, COPY)", rate(n, seconds))
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM rankings_usagequarterhour")
        quarters = cursor.fetchone()[0]
    report("  rollup rows (quarter-hour) for those events", f"{quarters:,}")

    # The physical limit: COPY of the same rows into an unindexed table.
    from ingest.events import validate_batch
    from ingest.processing import raw_rows
    from ingest.resolve import resolve

    sample = validate_batch(events, datetime.now(UTC)).events
    ids = resolve(sample)
    rows = list(raw_rows(((None, e) for e in sample), ids))
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMP TABLE copy_limit (LIKE ingest_rawevent INCLUDING DEFAULTS)")
        started = time.monotonic()
        with cursor.copy(f"COPY copy_limit ({', '.join(RAW_COLUMNS)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        seconds = time.monotonic() - started
        cursor.execute("DROP TABLE copy_limit")
    report("plain PostgreSQL COPY of the same rows", rate(len(rows), seconds))

    # The naive path: one ORM save per event plus per-event rollup upserts.
    naive_n = min(5_000, n)
    reset_usage()
    from django.db import transaction
    from django.db.models import F

    from ingest.models import RawEvent, UsageDaily, UsageQuarterHour

    cube = [DIMENSION[d].column for d in CUBE]
    started = time.monotonic()
    for e, row in zip(sample[:naive_n], rows, strict=False):
        with transaction.atomic():
            created = datetime.fromisoformat(e["created_at"])
            raw = dict(zip(RAW_COLUMNS, row, strict=True))  # the row the bulk path writes
            dims = {column: raw[column] for column in cube}
            RawEvent.objects.create(**{**raw, "id": e["id"] + "-naive"})
            for model, bucket in (
                (UsageQuarterHour, created.replace(minute=created.minute // 15 * 15, second=0, microsecond=0)),
                (UsageDaily, created.date()),
            ):
                row, made = model.objects.get_or_create(bucket=bucket, **dims)
                model.objects.filter(pk=row.pk).update(
                    requests=F("requests") + 1,
                    prompt_tokens=F("prompt_tokens") + e["prompt"],
                    completion_tokens=F("completion_tokens") + e["completion"],
                )
    naive_seconds = time.monotonic() - started
    report(f"naive per-event ORM save ({naive_n:,} events)", rate(naive_n, naive_seconds))

    # HTTP + Celery until rollups complete: gunicorn + the Celery worker processes on this machine.
    reset_usage()
    _, key = IngestKey.issue(f"bench-{time.time():.0f}")
    IngestKey.objects.filter(name__startswith="bench-").update(rate_limit_per_minute=1_000_000)
    port = free_port()
    web = start(processes.gunicorn(f"127.0.0.1:{port}", 2, "--log-level", "warning"), "bench-web.log")
    worker = start(
        processes.celery_worker(
            "ingest", workers, "--loglevel", "WARNING", "--without-mingle", "--without-gossip"
        ),
        "bench-worker.log",
    )
    peak_rss = 0.0
    sampling = True

    def sample_rss():
        nonlocal peak_rss
        while sampling:
            peak_rss = max(peak_rss, tree_rss_mb(worker.pid))
            time.sleep(0.2)

    sampler = threading.Thread(target=sample_rss, daemon=True)
    sampler.start()
    try:
        url = f"http://127.0.0.1:{port}/api/v1/events"
        wait_http(f"http://127.0.0.1:{port}/healthz")
        time.sleep(3)  # the worker's startup
        # Bodies are encoded before the clock starts: that is the gateway's work, on its machine.
        bodies = [json.dumps(events[i : i + 5000]).encode() for i in range(0, n, 5000)]
        started = time.monotonic()
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda body: post(url, key, body), bodies))
        accepted_at = time.monotonic()
        while rollup_requests() < n:
            time.sleep(0.2)
        seconds = time.monotonic() - started
        report(f"HTTP + Celery ({workers} worker processes) until rollups complete", rate(n, seconds))
        report("  of which HTTP accept (202s)", rate(n, accepted_at - started))
        report(f"  worker peak RSS during it (main + {workers} pool processes)", f"{peak_rss:,.0f} MB")
        native_rate = n / seconds

        # The same events with tool calls, tags and sessions (issue 16: within 15 % of the above).
        reset_usage()
        bodies = [json.dumps(narrow_events[i : i + 5000]).encode() for i in range(0, n, 5000)]
        started = time.monotonic()
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda body: post(url, key, body), bodies))
        while rollup_requests() < n:
            time.sleep(0.2)
        seconds = time.monotonic() - started
        report("HTTP + Celery, the same events with tool calls, tags and sessions", rate(n, seconds))
        report("  as a share of the run without them", f"{n / seconds / native_rate:.0%}")
        peak_rss = 0.0  # the OTLP and freshness runs' own peak, reported at the end

        # The same usage as OTLP/HTTP protobuf spans, through /otlp/v1/traces to the rollups.
        reset_usage()
        bodies = otlp_bodies(events)
        started = time.monotonic()
        otlp_url = f"http://127.0.0.1:{port}/otlp/v1/traces"
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda body: post(otlp_url, key, body, "application/x-protobuf", 200), bodies))
        accepted_at = time.monotonic()
        while rollup_requests() < n:
            time.sleep(0.2)
        seconds = time.monotonic() - started
        report("OTLP/HTTP protobuf spans until rollups complete", rate(n, seconds, "spans"))
        report("  of which HTTP accept (200s)", rate(n, accepted_at - started, "spans"))
        report("  OTLP spans/s as a share of native events/s", f"{n / seconds / native_rate:.0%}")

        # Freshness: offered load at a fixed rate, time from 202 to visible in rollups.
        reset_usage()
        per_batch = max(1, offered_rate // 10)  # ten requests per second
        fresh_events = workload(offered_rate * freshness_seconds, seed=99, spread_hours=1)
        delays: list[float] = []
        visible_lock = threading.Lock()
        accepted: list[tuple[float, int]] = []

        def offer():
            for i in range(0, len(fresh_events), per_batch):
                tick = time.monotonic()
                accepted_time = post(url, key, json.dumps(fresh_events[i : i + per_batch]).encode())
                with visible_lock:
                    accepted.append((accepted_time, i + per_batch))
                time.sleep(max(0.0, 0.1 - (time.monotonic() - tick)))

        sender = threading.Thread(target=offer)
        offered_started = time.monotonic()
        sender.start()
        seen = 0
        while sender.is_alive() or seen < len(fresh_events):
            seen = rollup_requests()
            now = time.monotonic()
            with visible_lock:
                while accepted and accepted[0][1] <= seen:
                    delays.append(now - accepted.pop(0)[0])
            time.sleep(0.05)
        offered_seconds = time.monotonic() - offered_started
        delays.sort()
        p95 = delays[int(len(delays) * 0.95) - 1] if delays else float("nan")
        report(
            f"freshness at {offered_rate:,} events/s offered ({freshness_seconds} s)",
            f"p50 {statistics.median(delays):.2f} s, p95 {p95:.2f} s (achieved {len(fresh_events) / offered_seconds:,.0f} events/s)",
        )
    finally:
        sampling = False
        stop(web)
        stop(worker)
    report(
        f"worker peak RSS in the OTLP and freshness runs (main + {workers} pool processes)",
        f"{peak_rss:,.0f} MB",
    )
