"""Production settings refuse a default secret and pass Django's deploy checks; importing
the settings starts nothing (the entry points start the embedded servers); a value that does
not parse stops the start, naming its variable."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from django.conf import settings

from config import embedded
from config.envvars import env
from tests.conftest import Worker

SERVICE_URLS = ("DATABASE_URL", "CELERY_BROKER_URL", "REDIS_URL")


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    inherited = {
        k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"
    }  # a test-only switch
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=settings.BASE_DIR,
        env={
            **inherited,
            "DATABASE_URL": settings.DATABASE_URL,
            "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
            **env,
        },
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_refuses_the_default_secret_key():
    env = {k: v for k, v in os.environ.items() if k != "SECRET_KEY"}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=settings.BASE_DIR,
        env={
            **env,
            "DJANGO_ENV": "production",
            "DATABASE_URL": settings.DATABASE_URL,
            "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_check_deploy_is_clean_in_production():
    result = _manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DJANGO_ENV="production",
        SECRET_KEY="x" * 30 + "-production-secret-0123456789abcdef",
        ALLOWED_HOSTS="tokenrank.example.com",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


# --- No side effects; the entry points start the embedded servers -------------------------


def _without_services(data_dir: Path) -> dict[str, str]:
    """An environment with no service URLs (embedded servers) and its own data folder."""
    env = {k: v for k, v in os.environ.items() if k not in SERVICE_URLS and k != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    return {**env, "TOKENRANK_DATA_DIR": str(data_dir)}


def _python_without_services(data_dir: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args],
        cwd=settings.BASE_DIR,
        env=_without_services(data_dir),
        capture_output=True,
        text=True,
        timeout=120,
    )


def _processes_using(folder: Path) -> list[str]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if str(folder) in cmdline:
            found.append(cmdline)
    return found


@pytest.fixture
def fresh_data_dir() -> Iterator[Path]:
    """A data folder of its own, short enough for Unix socket paths; whatever was started
    in it is stopped at the end."""
    folder = Path(tempfile.mkdtemp(prefix="tr-", dir="/tmp")) / "data"
    yield folder
    embedded.stop_all(folder)
    shutil.rmtree(folder.parent)


def test_importing_the_settings_starts_nothing(fresh_data_dir):
    code = (
        "import json, config.settings as s; "
        "print(json.dumps([s.DATABASE_URL, s.CELERY_BROKER_URL, s.REDIS_URL, s.EMBEDDED_POSTGRES, s.EMBEDDED_REDIS]))"
    )
    result = _python_without_services(fresh_data_dir, "-W", "error", "-c", code)
    assert result.returncode == 0, result.stderr
    # The URLs are known without a server: sockets in the data folder.
    assert json.loads(result.stdout) == [
        f"postgresql://postgres:@/postgres?host={fresh_data_dir / 'postgres'}",
        f"redis+socket://{fresh_data_dir / 'redis' / 'redis.sock'}",
        f"unix://{fresh_data_dir / 'redis' / 'redis.sock'}?db=1",
        True,
        True,
    ]
    assert not fresh_data_dir.exists()  # no server, no socket, no folder
    assert _processes_using(fresh_data_dir) == []


@pytest.mark.worker
def test_manage_py_and_a_celery_worker_start_the_embedded_servers(fresh_data_dir):
    check = (
        "from django.db import connection; from django.core.cache import cache; "
        "connection.ensure_connection(); cache.set('k', 'v'); print(cache.get('k'))"
    )
    shell = _python_without_services(fresh_data_dir, "manage.py", "shell", "-c", check)
    assert shell.returncode == 0 and shell.stdout.strip().endswith("v"), shell.stderr[-2000:]
    assert (fresh_data_dir / "postgres" / "postmaster.pid").exists()
    embedded.stop_all(fresh_data_dir)
    assert _processes_using(fresh_data_dir) == []

    # A worker started alone (no manage.py before it) starts them too.
    worker = Worker(1, "alone", env=_without_services(fresh_data_dir))  # fails unless ready
    try:
        assert (fresh_data_dir / "postgres" / "postmaster.pid").exists()
        assert (fresh_data_dir / "redis" / "redis.sock").is_socket()
    finally:
        worker.stop()


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("TOKENRANK_INGEST_MAX_EVENTS", "ten", "TOKENRANK_INGEST_MAX_EVENTS='ten': must be a whole number"),
        ("DEBUG", "maybe", "DEBUG='maybe': must be true or false"),
        ("METRICS_ALLOWED_NETWORKS", "10.0.0.0/8,nowhere", "METRICS_ALLOWED_NETWORKS: 'nowhere'"),
    ],
)
def test_a_value_that_does_not_parse_stops_the_start_naming_its_variable(name, value, expected):
    result = _manage("check", **{name: value})
    assert result.returncode != 0
    assert expected in result.stderr, result.stderr[-1000:]


def test_empty_numbers_and_switches_mean_their_default_and_lists_drop_blanks(monkeypatch):
    monkeypatch.setenv("TOKENRANK_TEST_NUMBER", " ")
    monkeypatch.setenv("TOKENRANK_TEST_SWITCH", "")
    monkeypatch.setenv("TOKENRANK_TEST_LIST", " a.example , ,b.example,")
    assert env.int("TOKENRANK_TEST_NUMBER", default=7) == 7
    assert env.bool("TOKENRANK_TEST_SWITCH", default=True) is True
    assert env.list("TOKENRANK_TEST_LIST", default=[]) == ["a.example", "b.example"]
    monkeypatch.setenv("TOKENRANK_TEST_SWITCH", " Off")
    assert env.bool("TOKENRANK_TEST_SWITCH", default=True) is False
