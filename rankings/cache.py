"""Page and section caching keyed by a generation number that moves when ingest commits, so
new events show within seconds instead of at a cache expiry, while continuous ingest costs
at most one recomputation every MIN_SECONDS_BETWEEN_GENERATIONS."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from django.core.cache import cache

log = logging.getLogger(__name__)

GENERATION_KEY = "rollups:generation"
DIRTY_KEY = "rollups:dirty"
BUMP_LOCK_KEY = "rollups:bump-lock"
# Under continuous ingest, recompute pages at most this often (new data shows within it).
MIN_SECONDS_BETWEEN_GENERATIONS = 2
SECTION_TTL = 3600


def generation() -> int:
    """The current rollup generation. Writers only mark the rollups dirty; the first reader
    after that (at most once per MIN_SECONDS_BETWEEN_GENERATIONS) starts a new generation.
    The increment happens after the dirty mark is cleared, so every commit made before the
    clear is covered by the new generation."""
    value = cache.get(GENERATION_KEY)
    if value is None:
        cache.add(GENERATION_KEY, 1, timeout=None)
        value = cache.get(GENERATION_KEY, 1)
    if cache.get(DIRTY_KEY) and cache.add(BUMP_LOCK_KEY, 1, timeout=MIN_SECONDS_BETWEEN_GENERATIONS):
        cache.delete(DIRTY_KEY)
        try:
            value = cache.incr(GENERATION_KEY)
        except ValueError:  # evicted meanwhile
            cache.add(GENERATION_KEY, 1, timeout=None)
            value = 1
    return int(value)


def bump_generation() -> None:
    """Called after every rollup commit. A cache outage must not fail the ingest."""
    try:
        cache.set(DIRTY_KEY, 1, timeout=None)
    except Exception:
        log.warning("cache unavailable: rollups not marked changed", exc_info=True)


def new_generation() -> None:
    """Start a new generation now, skipping the MIN_SECONDS_BETWEEN_GENERATIONS wait, for a
    change that must show on the very next view (an app made private). Call it after the
    change commits; it raises when the cache cannot be reached."""
    try:
        cache.incr(GENERATION_KEY)
    except ValueError:  # never set, or evicted: start far from any small number used before
        cache.set(GENERATION_KEY, time.time_ns() // 1_000_000, timeout=None)


def cached(key: str, compute: Callable[[], Any], *, ttl: int | None = None) -> Any:
    """``compute()`` cached under ``key`` for the current rollup generation, or with ``ttl``
    for that many seconds whatever the generation (slow-moving lists, images); computed
    directly when the cache is down (slower pages beat failing pages)."""
    try:
        full_key = f"slow:{key}" if ttl else f"section:{generation()}:{key}"
        value = cache.get(full_key)
    except Exception:
        log.warning("cache unavailable: computing %s uncached", key, exc_info=True)
        return compute()
    if value is None:
        value = compute()
        try:
            cache.set(full_key, value, ttl or SECTION_TTL)
        except Exception:
            log.warning("cache unavailable: %s not stored", key, exc_info=True)
    return value
