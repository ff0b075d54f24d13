"""Section caching keyed by a generation number that ingest bumps on every commit, so a new
event shows on the next page view instead of at a cache expiry."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.cache import cache

GENERATION_KEY = "rollups:generation"
SECTION_TTL = 3600


def generation() -> int:
    value = cache.get(GENERATION_KEY)
    if value is None:
        cache.add(GENERATION_KEY, 1, timeout=None)
        value = cache.get(GENERATION_KEY, 1)
    return int(value)


def bump_generation() -> None:
    try:
        cache.incr(GENERATION_KEY)
    except ValueError:  # not set yet (or evicted)
        cache.add(GENERATION_KEY, 2, timeout=None)


def cached(key: str, compute: Callable[[], Any]) -> Any:
    """``compute()`` cached under ``key`` for the current rollup generation."""
    full_key = f"section:{generation()}:{key}"
    value = cache.get(full_key)
    if value is None:
        value = compute()
        cache.set(full_key, value, SECTION_TTL)
    return value
