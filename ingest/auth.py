"""Ingest keys on requests: who is sending, and whether they may send now."""

from __future__ import annotations

import logging
import time

from django.core.cache import cache
from django.utils import timezone
from rest_framework.exceptions import Throttled

from config.api_errors import ApiError
from ingest.models import IngestKey, hash_key

log = logging.getLogger(__name__)


def authenticate(authorization: str) -> IngestKey:
    """The active key named by an ``Authorization: Bearer ...`` header, or a 401/403."""
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        error = ApiError(401, "not_authenticated", "Send an ingest key: Authorization: Bearer <key>.")
        error.auth_header = 'Bearer realm="tokenrank-ingest"'
        raise error
    key = IngestKey.objects.filter(key_hash=hash_key(token.strip())).first()
    if key is None:
        error = ApiError(401, "invalid_key", "Unknown ingest key.")
        error.auth_header = 'Bearer realm="tokenrank-ingest", error="invalid_token"'
        raise error
    if key.revoked_at is not None:
        raise ApiError(
            403, "key_revoked", f"This ingest key was revoked at {key.revoked_at:%Y-%m-%d %H:%M} UTC."
        )
    return key


def check_rate(key: IngestKey) -> None:
    """A fixed one-minute window per key in Redis; fails open if the cache is down, because
    refusing usage data for a cache outage would lose it."""
    window = int(time.time() // 60)
    counter = f"ingest-rate:{key.pk}:{window}"
    try:
        cache.add(counter, 0, timeout=120)
        used = cache.incr(counter)
    except Exception:
        log.warning("rate limit unavailable (cache down); allowing", exc_info=True)
        return
    if used > key.rate_limit:
        raise Throttled(
            wait=60 - int(time.time() % 60),
            detail=f"Over this key's limit of {key.rate_limit} requests per minute.",
        )


def revoke(key: IngestKey) -> None:
    IngestKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
