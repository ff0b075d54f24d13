"""Template context every page shares."""

from __future__ import annotations

from django.http import HttpRequest

from ingest.rollups import zones
from rankings.page_state import page_zone, zone_warning


def zone(request: HttpRequest) -> dict[str, str]:
    """The page's zone: ``zone_tz``, carried by every link of the page (``with_zone``; empty
    for the site's zone), ``zone_name``, the zone its figures are in, and ``tz_warning`` when
    the zone asked for cannot be used."""
    tz = page_zone(request)
    return {"zone_tz": tz, "zone_name": tz or zones.reporting_zone(), "tz_warning": zone_warning(request)}
