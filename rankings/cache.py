"""Section caching keyed by a generation number that ingest bumps on every commit, so a new
event shows on the next page view instead of at a cache expiry."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.core.cache import cache

log = logging.getLogger(__name__)

GENERATION_KEY = "rollups:generation"
SECTION_TTL = 3600


def generation() -> int:
    value = cache.get(GENERATION_KEY)
    if value is None:
        cache.add(GENERATION_KEY, 1, timeout=None)
        value = cache.get(GENERATION_KEY, 1)
    return int(value)


def bump_generation() -> None:
    """Called after every rollup commit. A cache outage must not fail the ingest."""
    try:
        cache.incr(GENERATION_KEY)
    except ValueError:  # not set yet (or evicted)
        cache.add(GENERATION_KEY, 2, timeout=None)
    except Exception:
        log.warning("cache unavailable: generation not bumped", exc_info=True)


def cached(key: str, compute: Callable[[], Any]) -> Any:
    """``compute()`` cached under ``key`` for the current rollup generation; computed
    directly when the cache is down (slower pages beat failing pages)."""
    try:
        full_key = f"section:{generation()}:{key}"
        value = cache.get(full_key)
    except Exception:
        log.warning("cache unavailable: computing %s uncached", key, exc_info=True)
        return compute()
    if value is None:
        value = compute()
        try:
            cache.set(full_key, value, SECTION_TTL)
        except Exception:
            log.warning("cache unavailable: %s not stored", key, exc_info=True)
    return value
