"""Shared fixtures: real PostgreSQL (embedded or DATABASE_URL), real Redis, and real Celery
worker processes started against the test database."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from urllib.parse import urlsplit, urlunsplit

import pytest
import time_machine
from django.conf import settings
from django.db import connection

from config import embedded, processes
from ingest.models import IngestKey
from rankings.services import load_catalog, load_tag_keys


def assert_absent(client, urls: Iterable[str], *texts: str) -> None:
    """None of ``texts`` is in the answer to any of ``urls``."""
    for url in urls:
        body = client.get(url).content.decode()
        for text in texts:
            assert text not in body, (url, text)


def wait_for(predicate: Callable[[], object], timeout: float = 30, interval: float = 0.05) -> object:
    """Poll ``predicate`` until it returns something truthy; fail the test on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"condition not met within {timeout}s")


@pytest.fixture(scope="session", autouse=True)
def _embedded_servers() -> None:
    """The embedded PostgreSQL and Redis when no URLs are set (importing the settings starts
    nothing): before the test database is made and the first test touches the cache."""
    embedded.ensure_started()


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix) -> None:
    """A second alias on the same test database, so the replica router is tested for real."""
    if "replica" not in settings.DATABASES:
        settings.DATABASES["replica"] = {**settings.DATABASES["default"], "TEST": {"MIRROR": "default"}}


def _test_database_url() -> str:
    """DATABASE_URL of the test database pytest-django created (test_<name>)."""
    parts = urlsplit(settings.DATABASE_URL)
    return urlunsplit(parts._replace(path="/" + connection.settings_dict["NAME"]))


def _service_env() -> dict[str, str]:
    """The environment of a process started by a test: the test database and broker."""
    return {
        **os.environ,
        "DATABASE_URL": _test_database_url(),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "REDIS_URL": settings.REDIS_URL,
        "DB_CONN_MAX_AGE": "0",
    }


class Worker:
    """A real ``celery worker`` process (its own process group) on the test database (or
    as ``env`` says)."""

    def __init__(self, concurrency: int = 1, name: str = "w", env: dict[str, str] | None = None):
        env = env or _service_env()
        self.log_path = settings.DATA_DIR / f"worker-{name}-{os.getpid()}.log"
        self.log = self.log_path.open("w")
        self.proc = subprocess.Popen(
            processes.celery_worker(
                "ingest,maintenance",
                concurrency,
                "--pool",
                "prefork",
                "--loglevel",
                "INFO",
                "-n",
                f"{name}-{os.getpid()}@%h",
                "--without-mingle",
                "--without-gossip",
            ),
            env=env,
            cwd=settings.BASE_DIR,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_for(lambda: "ready." in self.log_path.read_text() or self.proc.poll() is not None, 60)
        if self.proc.poll() is not None:
            pytest.fail(f"worker did not start:\n{self.log_path.read_text()}")

    def kill(self) -> None:
        """SIGKILL the whole worker (main process and pool children), as a crash would."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()
        self.log.close()


@pytest.fixture
def start_worker(transactional_db) -> Iterator[Callable[..., Worker]]:
    """Start real Celery workers on demand; all are stopped at the end of the test."""
    workers: list[Worker] = []

    def start(concurrency: int = 1, name: str = "w") -> Worker:
        worker = Worker(concurrency, name)
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.stop()


@pytest.fixture
def worker(start_worker) -> Worker:
    return start_worker(concurrency=2)


@pytest.fixture
def gunicorn_server(transactional_db, tmp_path) -> Iterator[int]:
    """A real gunicorn (as deployed: it de-chunks request bodies, unlike the test server) on
    the test database, with a 200,000-byte ingest body limit; yields its port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**_service_env(), "TOKENRANK_INGEST_MAX_BYTES": "200000"}
    log = (tmp_path / "gunicorn.log").open("w")
    proc = subprocess.Popen(
        processes.gunicorn(f"127.0.0.1:{port}", 1),
        env=env,
        cwd=settings.BASE_DIR,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )

    def listening() -> bool:
        if proc.poll() is not None:
            pytest.fail(f"gunicorn did not start:\n{(tmp_path / 'gunicorn.log').read_text()}")
        with socket.socket() as client:
            return client.connect_ex(("127.0.0.1", port)) == 0

    wait_for(listening, 60)
    yield port
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(15)
    log.close()


@pytest.fixture
def ingest_key(db) -> tuple[IngestKey, str]:
    return IngestKey.issue("test-gateway")


# Pages and the API read "today / this week / this month so far" from the clock, and the
# tests' data sit around it: a Monday evening on a 30-day month's 30th day, after a month of 31
# days, whatever the day and hour the suite runs (a month's first minutes, a Monday's, or its
# last quarter-hour read otherwise).
KNOWN_MOMENT = datetime(2026, 11, 30, 20, 0, tzinfo=UTC)


@pytest.fixture
def known_clock() -> Iterator[None]:
    """The clock at :data:`KNOWN_MOMENT`, ticking on from there."""
    with time_machine.travel(KNOWN_MOMENT, tick=True):
        yield


@pytest.fixture(autouse=True)
def _committed_data_hygiene(request):
    """Tests whose data is committed are cleaned by a flush, which empties the catalog the
    data migration loaded and skips the unmanaged raw-event table: reload the one before,
    empty the other after."""
    marker = request.node.get_closest_marker("django_db")
    committed = (
        "transactional_db" in request.fixturenames
        or "live_server" in request.fixturenames
        or (marker is not None and marker.kwargs.get("transaction", False))
    )
    if committed:
        request.getfixturevalue("transactional_db")
        load_catalog()
        load_tag_keys()
    yield
    if committed:
        with connection.cursor() as cursor:
            cursor.execute("TRUNCATE ingest_rawevent")


@pytest.fixture(autouse=True)
def _clear_cache():
    """Each test starts with an empty cache (rate-limit windows, section caches) and metrics
    recording on (a test that hangs Redis pauses it)."""
    from django.core.cache import cache

    from config import metrics

    cache.clear()
    metrics._paused_until = 0.0
    yield
