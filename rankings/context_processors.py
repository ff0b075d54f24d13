"""Template context every page shares."""

from __future__ import annotations

from django.http import HttpRequest

from ingest.rollups import zones


def zone_warning(request: HttpRequest) -> dict[str, str]:
    """Pages are lenient with an unknown ``tz`` (the API answers 400): they show the site's
    zone and say so (the name asked for is never echoed: it may be anything)."""
    asked = request.GET.get("tz", "")
    if not asked or asked in zones.known():
        return {}
    return {"tz_warning": f"Unknown time zone: showing {zones.reporting_zone()}. Pick one in the list."}
