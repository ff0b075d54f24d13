"""Command lines of Tokenrank's processes, shared by ``make run``, tests and benchmarks."""

from __future__ import annotations

import sys


def _module(name: str, *args: str) -> list[str]:
    """``python -m name args`` with this interpreter."""
    return [sys.executable, "-m", name, *args]


def celery_worker(queues: str, concurrency: int, *extra: str) -> list[str]:
    return _module(
        "celery", "-A", "config", "worker", "-Q", queues, "--concurrency", str(concurrency), *extra
    )


def gunicorn(bind: str, workers: int, *extra: str) -> list[str]:
    return _module(
        "gunicorn",
        *("-c", "python:config.gunicorn"),  # the access log's redaction
        "config.wsgi",
        *("--bind", bind, "--workers", str(workers), "--threads", "4"),
        *extra,
    )
