"""What the benchmarks share: the bench database, the report lines, the server and worker
processes they start and measure, and timing."""

from __future__ import annotations

import os
import signal
import socket
import statistics
import subprocess
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
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


def timed(fn, runs: int) -> tuple[float, float]:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[max(0, int(len(samples) * 0.95) - 1)]
