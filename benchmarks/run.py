"""Tokenrank benchmarks (``make bench``): prints figures, asserts nothing.

Runs against its own database (``tokenrank_bench``, dropped and recreated) on the configured
or embedded PostgreSQL, with real Redis and real Celery worker processes.

    python benchmarks/run.py [--events N] [--only ingest,pages,leaderboard] [--raw-week N]

ingest       import_events rate; HTTP + Celery rate until the rollups are complete, for native
             events, for the same events with tool calls, tags and sessions (against the run
             without them), and for the same usage as OTLP/HTTP protobuf spans; p95 delay from HTTP
             202 to rollups at an offered rate; worker peak RSS; a plain PostgreSQL COPY of
             the same rows; a naive per-event ORM save.
pages        p50/p95 server time of / (its first two sections; the others load as they scroll
             into view), of / with every section, of its slowest section and of a model page,
             uncached and cached, of /api/v1/growth uncached, and of /models/
             search (a new query each time; after a new generation; cold), over rollups
             at OpenRouter-like cardinality (400 models, 60 authors, 60 providers, 5,000
             apps, 12 categories, a year), the narrow rollups of tool calls, context
             length, tags and sessions included (benchmarks/narrow.py).
leaderboard  the weekly leaderboard from rollups vs the same computed from a week of raw
             events; checks the numbers are identical.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

from benchmarks import narrow  # noqa: E402 (imports nothing of Django at the top)

BENCH_DB = "tokenrank_bench"


def setup_database(name: str = BENCH_DB, keep: bool = False) -> None:
    """Point Django at a fresh database ``name`` on the same server (``keep``: reuse the one
    a previous run left), then set Django up."""
    import psycopg

    data_dir = Path(os.environ.get("TOKENRANK_DATA_DIR", ROOT / "var")).resolve()
    if not os.environ.get("DATABASE_URL"):
        from config.embedded import postgres_url, start_postgres

        start_postgres(data_dir)
        os.environ["DATABASE_URL"] = postgres_url(data_dir)
    if not os.environ.get("CELERY_BROKER_URL"):
        from config.embedded import redis_url, start_redis

        start_redis(data_dir)
        os.environ["CELERY_BROKER_URL"] = redis_url(data_dir)
    base = os.environ["DATABASE_URL"]
    with psycopg.connect(base, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not (keep and exists):
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            conn.execute(f"CREATE DATABASE {name}")
    parts = urlsplit(base)
    os.environ["DATABASE_URL"] = urlunsplit(parts._replace(path="/" + name))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def rate(n: int, seconds: float, unit: str = "events") -> str:
    return f"{n / seconds:,.0f} {unit}/s ({n:,} {unit} in {seconds:.1f} s)"


def report(name: str, value: str) -> None:
    print(f"  {name:<52} {value}", flush=True)


# --- Workload -----------------------------------------------------------------------------


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


def reset_usage() -> None:
    from django.db import connection
    from psycopg import sql

    from ingest.rollups.grains import ALL_TABLES

    with connection.cursor() as cursor:
        cursor.execute(
            sql.SQL(
                "TRUNCATE ingest_rawevent, ingest_seenevent, ingest_inboxbatch, ingest_deadletter, {}"
            ).format(ALL_TABLES)
        )


def rollup_requests() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(sum(requests), 0) FROM rankings_usagedaily")
        return int(cursor.fetchone()[0])


# --- Processes ----------------------------------------------------------------------------


def child_env() -> dict:
    from django.conf import settings

    return {
        **os.environ,
        "DATABASE_URL": os.environ["DATABASE_URL"],
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "REDIS_URL": settings.REDIS_URL,
        "LOG_LEVEL": "WARNING",
    }


def start(cmd: list[str], log: str) -> subprocess.Popen:
    handle = open(ROOT / "var" / log, "w")  # noqa: SIM115 (closed with the process)
    return subprocess.Popen(
        cmd, cwd=ROOT, env=child_env(), stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
    )


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and its children (Celery's prefork pool), in MB."""
    total = 0
    pids = [pid]
    try:
        children = subprocess.run(
            ["pgrep", "-g", str(os.getpgid(pid))], capture_output=True, text=True
        ).stdout.split()
        pids = [int(p) for p in children] or pids
    except (ProcessLookupError, ValueError):
        return 0.0
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def free_port() -> int:
    """A loopback port no one listens on now (a fixed one met another bench's server there)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_http(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 (loopback)
                return
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"{url} did not come up")


def post(url: str, key: str, body: bytes, content_type: str = "application/json", status: int = 202) -> float:
    """POST an encoded batch; the time the answer (``status``) arrived."""
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={"Authorization": f"Bearer {key}", "Content-Type": content_type},
    )
    with urllib.request.urlopen(request, timeout=120) as response:  # noqa: S310 (loopback)
        assert response.status == status, response.status
    return time.monotonic()


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


# --- Benchmarks ---------------------------------------------------------------------------


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


def bench_clock(at: datetime | None = None) -> datetime:
    """The page benchmark's fixed clock: the last Wednesday at 14:40 UTC (a weekday that is not
    a Monday, mid-afternoon: this week so far is 2.6 days, today 14.7 hours)."""
    at = at or datetime.now(UTC)
    wednesday = at - timedelta(days=(at.weekday() - 2) % 7)
    clock = wednesday.replace(hour=14, minute=40, second=0, microsecond=0)
    return clock if clock <= at else clock - timedelta(days=7)


def build_openrouter_rollups(clock: datetime, days: int = 365) -> tuple[int, int]:
    """OpenRouter-like cardinality straight into the rollup tables (SQL generate_series):
    400 models by 60 authors, 60 providers, 5,000 apps, 12 categories, ``days`` of days and
    of quarter-hours (the quarter-hour cube is kept forever too) up to ``clock``."""
    from django.db import connection

    from ingest import schema
    from ingest.rollups.grains import GRAINS, NARROW
    from ingest.rollups.maintain import from_full_cube
    from rankings.models import App, AppOrigin, Author, LLMModel, Provider

    Author.objects.bulk_create(
        [Author(slug=f"bench-author-{i}", name=f"Author {i}") for i in range(60)], ignore_conflicts=True
    )
    authors = list(Author.objects.filter(slug__startswith="bench-author-").values_list("pk", flat=True))
    LLMModel.objects.bulk_create(
        [
            LLMModel(slug=f"bench-author-{i % 60}/model-{i}", name=f"Model {i}", author_id=authors[i % 60])
            for i in range(400)
        ],
        ignore_conflicts=True,
    )
    Provider.objects.bulk_create(
        [Provider(slug=f"bench-provider-{i}", name=f"Provider {i}") for i in range(60)], ignore_conflicts=True
    )
    App.objects.bulk_create(
        [
            App(slug=f"bench-app-{i}", name=f"App {i}", origin=f"https://bench-{i}.example")
            for i in range(5000)
        ],
        ignore_conflicts=True,
    )
    AppOrigin.objects.bulk_create(
        [AppOrigin(origin=a.origin, app=a) for a in App.objects.filter(slug__startswith="bench-app-")],
        ignore_conflicts=True,
    )
    measures = ", ".join(m.column for m in schema.MEASURES)
    values = ", ".join(f"{narrow.GENERATED.get(m.column, '0')} AS {m.column}" for m in schema.MEASURES)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT array_agg(id ORDER BY id) FROM rankings_llmmodel WHERE slug LIKE 'bench-author-%%'"
        )
        models = cursor.fetchone()[0]
        cursor.execute("SELECT array_agg(id ORDER BY id) FROM rankings_app WHERE slug LIKE 'bench-app-%%'")
        apps = cursor.fetchone()[0]
        cursor.execute(
            "SELECT array_agg(id ORDER BY id) FROM rankings_provider WHERE slug LIKE 'bench-provider-%%'"
        )
        providers = cursor.fetchone()[0]
        cursor.execute("SELECT array_agg(id ORDER BY position) FROM rankings_category")
        categories = cursor.fetchone()[0][:12]
        # ~26k rows per day: popular models and apps appear more often (power-law picks); an
        # app keeps one category; most traffic is the standard variant.
        common = (
            "SELECT DISTINCT ON (1, 2, 3, 4, 5, 6) {bucket} AS bucket, "
            "(%(models)s::bigint[])[1 + floor(400 * power(random(), 2.2))::int] AS model_id, "
            "CASE WHEN random() < 0.85 THEN '' ELSE "
            "(ARRAY['free', 'nitro', 'floor', 'thinking'])[1 + floor(4 * random())::int] END AS variant, "
            "(%(providers)s::bigint[])[1 + floor(60 * power(random(), 1.5))::int] AS provider_id, "
            "(%(apps)s::bigint[])[pick.app] AS app_id, "
            "(%(categories)s::bigint[])[1 + pick.app %% 12] AS category_id, "
            + values
            + " FROM {series} AS s(b), generate_series(1, {per}) AS g "
            # g in the lateral makes PostgreSQL draw a new app for every row.
            "CROSS JOIN LATERAL (SELECT 1 + floor(5000 * power(random() + 0 * g, 2.5))::int AS app) AS pick "
            "ORDER BY 1, 2, 3, 4, 5, 6"
        )
        params = {"models": models, "providers": providers, "apps": apps, "categories": categories}

        def insert(table: str, bucket: str, per: int, series: str) -> None:
            """About ``per`` rows of the cube ``table`` per bucket of ``series``."""
            columns = f"bucket, model_id, variant, provider_id, app_id, category_id, {measures}"
            query = common.format(bucket=bucket, per=per, series=series)
            cursor.execute(f"INSERT INTO {table} ({columns}) " + query, params)

        today = clock.date()
        for offset in range(0, days, 30):
            first = today - timedelta(days=min(days, offset + 30) - 1)
            last = today - timedelta(days=offset)
            days_series = f"generate_series('{first}'::date, '{last}'::date, '1 day')"
            insert("rankings_usagedaily", "s.b::date", 27_000, days_series)
        end = clock.replace(minute=clock.minute // 15 * 15, second=0, microsecond=0) + timedelta(minutes=15)
        for offset in range(0, days * 24, 24 * 5):  # 300 rows per quarter-hour: the hourly cube's 1,200 an hour
            first = end - timedelta(hours=min(days * 24, offset + 24 * 5))
            last = end - timedelta(hours=offset, minutes=15)
            quarters = f"generate_series('{first.isoformat()}'::timestamptz, '{last.isoformat()}'::timestamptz, '15 minutes')"
            insert("rankings_usagequarterhour", "s.b", 300, quarters)
        for grain in _from_cube():  # the narrower and weekly tables, from the daily cube
            cursor.execute(from_full_cube(grain))
        # Settled tables, as in a running install: measuring while autovacuum works through
        # 10M fresh rows gave a p95 20 ms higher.
        for grain in GRAINS:
            if grain not in NARROW:
                cursor.execute(f"VACUUM ANALYZE {grain.table}")
    # The narrow rollups (tool calls, context length, tags, sessions) the home page reads too.
    for table, count in narrow.build_narrow_rollups(days).items():
        report(f"  {table} rows", f"{count:,}")
    return rollup_counts()


def _from_cube() -> list:
    """The grains the page dataset sums from the daily cube: all but the cube and the narrow
    rollups."""
    from ingest.rollups.grains import DAILY, GRAINS, NARROW, QUARTERLY

    return [g for g in GRAINS if g not in (DAILY, QUARTERLY, *NARROW)]


def fill_new_grains() -> None:
    """Grains declared since the kept dataset was built: summed from the daily cube when
    empty, and settled (VACUUM ANALYZE, as the build does) when never vacuumed (a migration
    filled them), so that a ``--keep-data`` run measures their reads as a fresh build would."""
    from django.db import connection

    from ingest.rollups.maintain import from_full_cube

    with connection.cursor() as cursor:
        for grain in _from_cube():
            started = time.monotonic()
            cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {grain.table})")
            filled = not cursor.fetchone()[0]
            if filled:
                cursor.execute(from_full_cube(grain))
                report(f"  {grain.table} filled from the daily cube", f"{time.monotonic() - started:.0f} s")
            cursor.execute(
                "SELECT last_vacuum IS NULL AND last_autovacuum IS NULL FROM pg_stat_user_tables WHERE relname = %s",
                [grain.table],
            )
            if cursor.fetchone()[0] or filled:
                cursor.execute(f"VACUUM ANALYZE {grain.table}")
                report(f"  {grain.table} settled (VACUUM ANALYZE)", f"{time.monotonic() - started:.0f} s")


def rollup_counts() -> tuple[int, int]:
    """(rows in the full cube, daily + quarter-hour; rows in the model-level daily table)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT (SELECT count(*) FROM rankings_usagedaily) + (SELECT count(*) FROM rankings_usagequarterhour), "
            "(SELECT count(*) FROM rankings_usagemodeldaily)"
        )
        return cursor.fetchone()


def timed(fn, runs: int) -> tuple[float, float]:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[max(0, int(len(samples) * 0.95) - 1)]


def _has_raw_week() -> bool:
    """True when the rollups hold the leaderboard run's raw week, not the page dataset."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT EXISTS (SELECT 1 FROM ingest_rawevent WHERE id LIKE 'raw-%%')")
        return cursor.fetchone()[0]


def bench_pages(runs: int, keep: bool = False, days: int = 365) -> None:
    from django.conf import settings
    from django.core.cache import cache
    from django.test import Client

    from ingest.maintenance import change_time_zone
    from ingest.rollups import windows, zones
    from rankings.models import LLMModel

    clock = bench_clock()
    print(f"\nPages (OpenRouter-like cardinality, {days} days); clock fixed at {clock:%A %Y-%m-%d %H:%M} UTC", flush=True)
    windows.now = lambda: clock  # every period, window and partial bucket reads this clock
    started = time.monotonic()
    if keep and not _has_raw_week():
        if zones.built_zone(fresh=True) != "UTC":  # the last run ended in Kolkata
            change_time_zone("UTC")
        fill_new_grains()
        rows, model_daily = rollup_counts()
        report("rollup rows (daily + quarter-hour cube), kept from the last run", f"{rows:,}")
    else:
        reset_usage()
        if zones.built_zone(fresh=True) != "UTC":
            change_time_zone("UTC")  # empty tables: only the calendar changes
        rows, model_daily = build_openrouter_rollups(clock, days)
        report("rollup rows built (daily + quarter-hour cube)", f"{rows:,} in {time.monotonic() - started:.0f} s")
    report("  model-level daily rows", f"{model_daily:,}")
    client = Client()
    model = LLMModel.objects.filter(slug__startswith="bench-author-").order_by("pk").first()
    # Another zone than the date rollups': every day the weekly chart and leaderboard cannot take
    # whole (two per week) from the quarter-hour cube.
    _bench_urls(client, runs, (("home / with ?tz=Asia/Kolkata (rollups in UTC)", "/?tz=Asia/Kolkata"),))
    pages = (
        ("home /", "/"),
        # What a visitor who scrolls to the bottom waits for in all: every section at once.
        ("home, every section (/?sections=all)", "/?sections=all"),
        ("home, slowest section (cost per session)", "/?section=sessions"),
        ("model page", model.get_absolute_url()),
    )
    _bench_urls(client, runs, pages)
    # The growth report (its seven drivers included) for the default rolling 7 x 24 hours.
    assert client.get("/api/v1/growth").status_code == 200
    growth = timed(lambda: (cache.clear(), client.get("/api/v1/growth")), runs)
    report("/api/v1/growth uncached p50 / p95 (goal p95 <= 300 ms)", f"{growth[0]:.0f} ms / {growth[1]:.0f} ms")
    bench_models_search(client, runs)
    # An operator in India: TOKENRANK_TIME_ZONE=Asia/Kolkata and the date rollups rebuilt in it.
    started = time.monotonic()
    change_time_zone("Asia/Kolkata")
    report("change_time_zone Asia/Kolkata (date rollups from the quarter-hour cube)", f"{time.monotonic() - started:.0f} s")
    narrow.build_narrow_rollups(days)  # rezoning rebuilds them from raw events, which this dataset has none of
    settings.TOKENRANK = {**settings.TOKENRANK, "TIME_ZONE": "Asia/Kolkata"}
    _bench_urls(client, runs, (("home / in Asia/Kolkata (rollups in Asia/Kolkata)", "/"),))


def _bench_urls(client, runs: int, pages) -> None:
    """p50 / p95 of each page uncached (cache cleared before each request) and cached."""
    from django.core.cache import cache

    for name, url in pages:
        assert client.get(url).status_code == 200
        uncached = timed(lambda u=url: (cache.clear(), client.get(u)), runs)
        cached = timed(lambda u=url: client.get(u), runs * 3)
        report(f"{name} uncached p50 / p95", f"{uncached[0]:.0f} ms / {uncached[1]:.0f} ms")
        report(f"{name} cached   p50 / p95", f"{cached[0]:.1f} ms / {cached[1]:.1f} ms")


def bench_models_search(client, runs: int) -> None:
    """/models/ as the search box asks for it (the htmx results fragment), each request a
    different query: entries cached as in steady use; then the cost of a new rollup
    generation (entries rebuilt, the 10-minute facts kept) and of a cold cache."""
    from django.core.cache import cache

    from rankings.cache import bump_generation, generation

    queries = iter(f"{word} {n}" for n in range(10_000) for word in ("model", "author", "mod"))

    def search() -> None:
        response = client.get(
            "/models/", {"q": next(queries)}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="index-results"
        )
        assert response.status_code == 200

    client.get("/models/")  # entries built once, as by the first visitor of a generation
    warm = timed(search, runs * 3)
    report("/models/ search p50 / p95 (a new query each time)", f"{warm[0]:.1f} ms / {warm[1]:.1f} ms")

    def new_generation() -> None:
        bump_generation()
        time.sleep(2.1)  # rankings.cache starts at most one generation per 2 s
        generation()

    samples = []
    for _ in range(max(3, runs // 4)):
        new_generation()
        started = time.perf_counter()
        search()
        samples.append((time.perf_counter() - started) * 1000)
    report("/models/ search after a new rollup generation (max)", f"{max(samples):.0f} ms")
    cold = timed(lambda: (cache.clear(), search()), max(3, runs // 4))
    report("/models/ search, cold cache p50 / p95", f"{cold[0]:.0f} ms / {cold[1]:.0f} ms")


def bench_leaderboard(raw_events: int, keep: bool = False) -> None:
    from django.db import connection

    from ingest.maintenance import rebuild_rollups

    print(f"\nWeekly leaderboard: rollups vs {raw_events:,} raw events", flush=True)
    today = datetime.now(UTC).date()
    days = [today - timedelta(days=d) for d in range(7)]
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM ingest_rawevent WHERE id LIKE 'raw-%%'")
        kept = cursor.fetchone()[0] == raw_events
    if keep and kept:
        report("raw events and their rollups", "kept from the last run")
    else:
        _generate_raw_week(raw_events, days)
        started = time.monotonic()
        rebuild_rollups(days[-1], today)
        report("rebuild_rollups for the week", rate(raw_events, time.monotonic() - started))
    _compare_leaderboards()


def _generate_raw_week(raw_events: int, days: list) -> None:
    from django.db import connection

    from ingest import partitions

    reset_usage()
    partitions.ensure_partitions(days)
    with connection.cursor() as cursor:
        cursor.execute("SELECT array_agg(id) FROM rankings_llmmodel")
        models = cursor.fetchone()[0]
        cursor.execute("SELECT array_agg(id) FROM rankings_app")
        apps = cursor.fetchone()[0]
        cursor.execute("SELECT array_agg(id) FROM rankings_provider")
        providers = cursor.fetchone()[0]
        cursor.execute("SELECT array_agg(id) FROM rankings_category")
        categories = cursor.fetchone()[0]
        started = time.monotonic()
        per_chunk = 1_000_000
        for chunk in range(0, raw_events, per_chunk):
            size = min(per_chunk, raw_events - chunk)
            cursor.execute(
                "INSERT INTO ingest_rawevent (id, created_at, batch_id, model_id, variant, provider_id, app_id, "
                "category_id, origin, prompt_tokens, completion_tokens, reasoning_tokens, cached_tokens, cost, "
                "latency_ms, generation_ms, cancelled, streamed, finish_reason, is_byok) "
                "SELECT 'raw-' || (%(chunk)s + g), %(start)s::timestamptz + random() * interval '6 days 23 hours', NULL, "
                "(%(models)s::bigint[])[1 + floor(cardinality(%(models)s::bigint[]) * power(random(), 2))::int], '', "
                "(%(providers)s::bigint[])[1 + floor(cardinality(%(providers)s::bigint[]) * random())::int], "
                "(%(apps)s::bigint[])[1 + floor(cardinality(%(apps)s::bigint[]) * power(random(), 2))::int], "
                "(%(categories)s::bigint[])[1 + floor(cardinality(%(categories)s::bigint[]) * random())::int], '', "
                "(random() * 20000)::bigint, (random() * 2000)::bigint, 0, 0, (random() / 100)::numeric(24, 10), "
                "(random() * 2000)::int, (random() * 10000)::int, false, true, 'stop', false "
                "FROM generate_series(1, %(size)s) AS g",
                {
                    "chunk": chunk,
                    "size": size,
                    "start": datetime(days[-1].year, days[-1].month, days[-1].day, tzinfo=UTC),
                    "models": models,
                    "providers": providers,
                    "apps": apps,
                    "categories": categories,
                },
            )
        cursor.execute("ANALYZE ingest_rawevent")
        drawn_from = f"{len(models)} models, {len(apps)} apps, {len(providers)} providers, {len(categories)} categories"
        report("raw events generated", f"{raw_events:,} ({drawn_from}) in {time.monotonic() - started:.0f} s")


def _compare_leaderboards() -> None:
    from ingest.rollups.maintain import raw_model_tokens
    from rankings import selectors

    window = selectors.period_window("week")
    rollup_ms = timed(lambda: selectors.ranking("model", window, limit=20, compare=False), 20)
    from_rollups = {r.key: r.value for r in selectors.ranking("model", window, limit=20, compare=False).rows}

    def raw_leaderboard():
        return raw_model_tokens(window.start, window.end, limit=20)

    raw_ms = timed(raw_leaderboard, 3)
    same = raw_leaderboard() == from_rollups
    report("weekly leaderboard from rollups p50", f"{rollup_ms[0]:.1f} ms")
    report("weekly leaderboard from raw events p50", f"{raw_ms[0]:.0f} ms")
    report("speed-up; identical numbers", f"{raw_ms[0] / rollup_ms[0]:,.0f}x; {same}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="ingest benchmark size")
    parser.add_argument("--rate", type=int, default=5_000, help="offered events/s for the freshness run")
    parser.add_argument("--freshness-seconds", type=int, default=20)
    parser.add_argument("--worker-processes", type=int, default=2, help="Celery ingest pool size")
    parser.add_argument("--raw-week", type=int, default=10_000_000, help="raw events for the leaderboard run")
    parser.add_argument("--page-runs", type=int, default=20)
    parser.add_argument("--page-days", type=int, default=365, help="days of the page dataset (smoke runs: a few)")
    parser.add_argument("--only", default="ingest,pages,leaderboard")
    parser.add_argument("--keep-data", action="store_true", help="reuse the page dataset of the last run")
    args = parser.parse_args()
    embedded_dir = (
        None if os.environ.get("DATABASE_URL") else Path(os.environ.get("TOKENRANK_DATA_DIR", ROOT / "var"))
    )
    try:
        setup_database(keep=args.keep_data)
        run(args)
    finally:
        if embedded_dir is not None:  # started (or reused) for this run: stop it, as make run does on exit
            from config.embedded import stop_all

            stop_all(embedded_dir.resolve())


def run(args: argparse.Namespace) -> None:
    print(
        f"Tokenrank benchmarks — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores", flush=True
    )
    only = set(args.only.split(","))
    if "ingest" in only:
        bench_ingest(args.events, args.rate, args.freshness_seconds, args.worker_processes)
    # The leaderboard run first: it can reuse the raw week a previous run left (--keep-data),
    # which the page dataset would replace.
    if "leaderboard" in only:
        bench_leaderboard(args.raw_week, keep=args.keep_data)
    if "pages" in only:
        bench_pages(args.page_runs, keep=args.keep_data, days=args.page_days)


if __name__ == "__main__":
    main()
