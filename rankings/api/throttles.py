"""Read-API rate limits from settings: per client address, or per ingest key when one is sent."""

from __future__ import annotations

from rest_framework.throttling import SimpleRateThrottle

from ingest.models import hash_key


class AnonReadThrottle(SimpleRateThrottle):
    scope = "anon"

    def get_cache_key(self, request, view):
        if request.META.get("HTTP_AUTHORIZATION", "").lower().startswith("bearer "):
            return None  # counted by KeyReadThrottle
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class KeyReadThrottle(SimpleRateThrottle):
    scope = "key"

    def get_cache_key(self, request, view):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header.lower().startswith("bearer "):
            return None
        # The hash, not the key: an unknown key still gets its own bucket and no lookup.
        return self.cache_format % {"scope": self.scope, "ident": hash_key(header[7:].strip())}
