"""``make loadtest``: ingest and page views together against a local stack, bounded in time.

Loopback only. Starts gunicorn and a Celery worker on a fresh database (``tokenrank_load``),
loads a month of demo traffic, then for LOADTEST_SECONDS drives 2 ingest clients (batches
of 500 events) and 4 page clients (home, a model page, an API ranking) at full speed, and
prints throughput, p95 latency and errors per kind.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.run import post, start, stop, wait_http, workload  # noqa: E402

PORT = 8766


def main() -> None:
    from benchmarks import run

    run.setup_database("tokenrank_load")
    from django.core.management import call_command

    from config import processes
    from ingest.models import IngestKey

    seconds = int(os.environ.get("LOADTEST_SECONDS", "30"))
    call_command("simulate", "--days", "30", "--quiet")
    _, key = IngestKey.issue("loadtest")
    IngestKey.objects.filter(name="loadtest").update(rate_limit_per_minute=1_000_000)
    base = f"http://127.0.0.1:{PORT}"
    web = start(processes.gunicorn(f"127.0.0.1:{PORT}", 2, "--log-level", "warning"), "loadtest-web.log")
    worker = start(
        processes.celery_worker("ingest", 1, "--loglevel", "WARNING", "--without-mingle", "--without-gossip"),
        "loadtest-worker.log",
    )
    results: dict[str, list[float]] = {"ingest": [], "pages": []}
    errors = {"ingest": 0, "pages": 0}
    counts = {"events": 0, "throttled": 0}
    lock = threading.Lock()
    deadline = 0.0

    def ingest_client(n: int) -> None:
        events = workload(200_000, seed=1000 + n, spread_hours=2)
        for i in range(0, len(events), 500):
            if time.monotonic() > deadline:
                return
            started = time.monotonic()
            try:
                post(base + "/api/v1/events", key, json.dumps(events[i : i + 500]).encode())
                with lock:
                    results["ingest"].append(time.monotonic() - started)
                    counts["events"] += 500
            except (urllib.error.URLError, AssertionError):
                with lock:
                    errors["ingest"] += 1

    def page_client(n: int) -> None:
        rng = random.Random(n)
        urls = [
            "/",
            "/models/anthropic/claude-sonnet-4/",
            "/api/v1/rankings/models?period=week",
            "/?period=month",
        ]
        while time.monotonic() < deadline:
            started = time.monotonic()
            try:
                with urllib.request.urlopen(base + rng.choice(urls), timeout=30) as response:  # noqa: S310
                    response.read()
                with lock:
                    results["pages"].append(time.monotonic() - started)
            except urllib.error.HTTPError as error:
                with lock:
                    # 429 is the read API's throttle doing its job, not a failure.
                    counts["throttled"] += error.code == 429
                    errors["pages"] += error.code != 429
            except urllib.error.URLError:
                with lock:
                    errors["pages"] += 1

    try:
        wait_http(base + "/healthz")
        time.sleep(3)
        deadline = time.monotonic() + seconds
        threads = [threading.Thread(target=ingest_client, args=(n,)) for n in range(2)]
        threads += [threading.Thread(target=page_client, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        stop(web)
        stop(worker)
    print(f"Load test: {seconds} s on loopback, 2 ingest clients + 4 page clients")
    for kind, latencies in results.items():
        latencies.sort()
        p95 = latencies[int(len(latencies) * 0.95) - 1] * 1000 if latencies else float("nan")
        extra = f", {counts['events'] / seconds:,.0f} events/s accepted" if kind == "ingest" else ""
        print(
            f"  {kind:<7} {len(latencies) / seconds:7.1f} requests/s{extra}, p50 "
            f"{statistics.median(latencies) * 1000 if latencies else float('nan'):.0f} ms, p95 {p95:.0f} ms, "
            f"errors {errors[kind]}" + (f", throttled (429) {counts['throttled']}" if kind == "pages" else "")
        )


if __name__ == "__main__":
    main()
