"""Read-API rate limits from settings: per client address (config.network: behind trusted
proxies only), or per ingest key when an active one is sent. A bearer value that is no
active key earns nothing of its own: it is counted as its address, like no header at all."""

from __future__ import annotations

from rest_framework.throttling import SimpleRateThrottle

from config.network import client_ident
from ingest.models import IngestKey, hash_key


def active_key_hash(request) -> str | None:
    """The hash of the active ingest key in ``Authorization: Bearer``, else None; looked up
    once per request (both throttles ask)."""
    if not hasattr(request, "_read_key_hash"):
        scheme, _, token = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
        digest = hash_key(token.strip()) if scheme.lower() == "bearer" and token.strip() else None
        if digest is not None and not IngestKey.objects.filter(key_hash=digest, revoked_at=None).exists():
            digest = None
        request._read_key_hash = digest
    return request._read_key_hash


class AnonReadThrottle(SimpleRateThrottle):
    scope = "anon"

    def get_ident(self, request) -> str:
        return client_ident(request)

    def get_cache_key(self, request, view):
        if active_key_hash(request) is not None:
            return None  # counted by KeyReadThrottle
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class KeyReadThrottle(SimpleRateThrottle):
    scope = "key"

    def get_cache_key(self, request, view):
        digest = active_key_hash(request)
        if digest is None:
            return None
        return self.cache_format % {"scope": self.scope, "ident": digest}
