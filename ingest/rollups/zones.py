"""Reporting time zones: the zone the date rollups are bucketed in (recorded in
``ingest_calendar``, changed only by ``manage.py change_time_zone``), the zone the settings
ask for (``TOKENRANK_TIME_ZONE``), and checking zone names: any IANA name for operators, a
place's zone (Region/City) or UTC for visitors.

Every real UTC offset is a multiple of 15 minutes, so the quarter-hour cube answers any zone
exactly; the date rollups answer only reads in the zone they were built in (docs/decisions.md,
"Time zones")."""

from __future__ import annotations

import time
from functools import cache
from zoneinfo import ZoneInfo, available_timezones

from django.conf import settings
from django.db import connections, router

from ingest.models import Calendar

_BUILT_TTL = 5.0  # seconds a process trusts the zone it last read (a rezone is rare)
_built: tuple[float, str] | None = None


# Files of the zone database that are no zone's name: the host's own zone, and POSIX rules.
_NOT_ZONES = frozenset({"localtime", "posixrules"})


@cache
def known() -> frozenset[str]:
    """Every IANA zone name (exactly as listed: no spaces, no other case)."""
    return frozenset(available_timezones()) - _NOT_ZONES


def checked(name: str) -> str:
    """``name`` if it is an IANA zone name, else ValueError (never a path or a made-up name)."""
    if not isinstance(name, str) or name not in known():
        raise ValueError(f"unknown time zone {name!r}: give an IANA name such as Europe/Berlin")
    return name


# The areas of the tz database's geographic names (Area/Location, such as Asia/Kolkata).
# Other names are no place's zone: Factory, POSIX-style rules (EST5EDT), fixed offsets
# (Etc/GMT+5), and old country aliases (US/Eastern, Japan) of names that are listed.
_AREAS = frozenset(
    {"Africa", "America", "Antarctica", "Arctic", "Asia", "Atlantic", "Australia", "Europe", "Indian", "Pacific"}
)


@cache
def places() -> frozenset[str]:
    """The zones visitors may ask for (pages and API ``tz``): every geographic IANA name, and UTC."""
    return frozenset(n for n in known() if "/" in n and n.split("/", 1)[0] in _AREAS) | {"UTC"}


def askable(name: str) -> bool:
    """Whether visitors may ask for ``name``: a place's zone, UTC, or the site's own zone."""
    return name in places() or name == reporting_zone()


def asked(name: str) -> str:
    """``name`` if visitors may ask for it (:func:`askable`), else ValueError naming the problem."""
    if askable(name):
        return name
    hint = "give a Region/City IANA name such as Europe/Berlin, or UTC"
    if name in known():
        raise ValueError(f"{name!r} is no place's time zone: {hint}")
    raise ValueError(f"unknown time zone {name[:64]!r}: {hint}")


@cache
def info(name: str) -> ZoneInfo:
    return ZoneInfo(checked(name))


def reporting_zone() -> str:
    """The zone pages and the API report in unless asked for another (``TOKENRANK_TIME_ZONE``)."""
    return settings.TOKENRANK["TIME_ZONE"]


def built_zone(*, fresh: bool = False) -> str:
    """The zone the date rollups are bucketed in (``ingest_calendar``), read at most every
    few seconds per process unless ``fresh``."""
    global _built
    if not fresh and _built is not None and time.monotonic() - _built[0] < _BUILT_TTL:
        return _built[1]
    with connections[router.db_for_read(Calendar)].cursor() as cursor:
        # One row (primary key 1).
        cursor.execute("SELECT zone FROM ingest_calendar WHERE id = 1")
        row = cursor.fetchone()
    zone = row[0] if row else "UTC"
    _built = (time.monotonic(), zone)
    return zone


def forget_built_zone() -> None:
    """Read the built zone again on next use (after a rezone in this process)."""
    global _built
    _built = None
