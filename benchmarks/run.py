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
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

# None of these imports anything of Django at the top.
from benchmarks.common import setup_database  # noqa: E402
from benchmarks.ingest_bench import bench_ingest  # noqa: E402
from benchmarks.pages_bench import bench_leaderboard, bench_pages  # noqa: E402


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
