"""Template context every page shares."""

from __future__ import annotations

from django.http import HttpRequest

from ingest.rollups import zones
from rankings.page_state import page_zone


def zone(request: HttpRequest) -> dict[str, str]:
    """The page's zone: ``zone_tz``, carried by every link of the page (``with_zone``; empty
    for the site's zone), ``zone_name``, the zone its figures are in, and ``tz_warning`` when
    the zone asked for cannot be used. Pages are lenient (the API answers 400): they show the
    site's zone and say why (the name asked for is never echoed: it may be anything)."""
    tz = page_zone(request)
    context = {"zone_tz": tz, "zone_name": tz or zones.reporting_zone()}
    asked = request.GET.get("tz", "")
    if asked and not zones.askable(asked):
        problem = "Not a place's time zone" if asked in zones.known() else "Unknown time zone"
        context["tz_warning"] = (
            f"{problem}: showing {zones.reporting_zone()}. Zones are named by place (Region/City, such as "
            "Asia/Kolkata), or UTC."
        )
    return context
