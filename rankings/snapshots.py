"""Daily snapshots: once a UTC day has closed (plus EXPORTS_DELAY_MINUTES for late events),
beat writes that day's rankings of models, authors, apps, categories and providers as CSV
and JSON, and a manifest with each file's SHA-256, to the ``exports`` storage.

A snapshot is published when its manifest exists, and is never written again: a later
rollup rebuild, a late event or a renamed app leaves it as it was. Files are written
read-only; the manifest is written last, so a crash leaves an unpublished day that the
next run writes afresh. Private apps are never in a snapshot.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.core.files.storage import storages

from ingest.rollups import zones
from ingest.rollups.windows import midnight
from rankings import listings, selectors
from rankings.models import App, Author, Category, LLMModel, Provider
from rankings.selectors import Window
from rankings.spreadsheet import spreadsheet_safe

log = logging.getLogger(__name__)

ENTITIES = listings.PLURALS
FORMATS = ("csv", "json")
MEASURES = (
    "tokens",
    "prompt_tokens",
    "completion_tokens",
    "reasoning_tokens",
    "cached_tokens",
    "requests",
    "cost",
)
COLUMNS = ("date", "rank", "slug", "name", *MEASURES, "share")
MANIFEST = "manifest.json"
FILE_NAMES = tuple(f"{name}.{fmt}" for name in ENTITIES for fmt in FORMATS)


def storage():
    return storages["exports"]


def is_published(day: date) -> bool:
    return storage().exists(f"{day.isoformat()}/{MANIFEST}")


def published_days() -> list[date]:
    """Every published day, newest first."""
    folders, _ = storage().listdir("") if storage().exists("") else ([], [])
    days = []
    for folder in folders:
        try:
            day = date.fromisoformat(folder)
        except ValueError:
            continue
        if is_published(day):
            days.append(day)
    return sorted(days, reverse=True)


def rows(entity: str, day: date) -> list[dict[str, Any]]:
    """The day's ranking of ``entity`` by tokens, every measure per row."""
    zone = zones.reporting_zone()
    window = Window(midnight(day, zone), midnight(day + timedelta(days=1), zone), zone)
    measures = listings.measures_by(entity, window)
    catalog = {"model": LLMModel, "author": Author, "app": App, "category": Category, "provider": Provider}[
        entity
    ]
    found = catalog.objects.filter(pk__in=list(measures)).values_list("pk", "slug", "name")
    names, titles = {}, {}
    for pk, slug, name in found:
        names[pk], titles[pk] = slug, name
    total = sum(t.tokens for t in measures.values())
    ordered = sorted(
        ((pk, t) for pk, t in measures.items() if pk in names and t.requests),
        key=lambda i: (-i[1].tokens, names[i[0]]),
    )
    out, rank, last = [], 0, None
    for position, (pk, totals) in enumerate(ordered, start=1):
        if totals.tokens != last:
            rank, last = position, totals.tokens
        row = {"date": day.isoformat(), "rank": rank, "slug": names[pk], "name": titles[pk]}
        row.update({m: (str(totals.cost) if m == "cost" else getattr(totals, m)) for m in MEASURES})
        row["share"] = round(totals.tokens / total, 6) if total else 0.0
        out.append(row)
    return out


def _csv(data: list[dict[str, Any]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in data:
        writer.writerow(spreadsheet_safe(row))  # as the API's CSV
    return buffer.getvalue().encode()


def _json(day: date, entity: str, data: list[dict[str, Any]]) -> bytes:
    return json.dumps(
        {"date": day.isoformat(), "entity": entity, "rows": data}, ensure_ascii=False, indent=1
    ).encode()


def write(day: date) -> dict[str, Any] | None:
    """Publish ``day``'s snapshot and return its manifest; None when it was published
    already (it is never rewritten) or another process is writing it."""
    if is_published(day):
        return None
    lock = f"snapshot-lock:{day.isoformat()}"
    if not cache.add(lock, 1, timeout=600):
        return None
    try:
        folder = day.isoformat()
        store = storage()
        for name in FILE_NAMES:  # leftovers of a run that died before its manifest
            if store.exists(f"{folder}/{name}"):
                store.delete(f"{folder}/{name}")
        files = []
        for plural, entity in ENTITIES.items():
            data = rows(entity, day)
            for fmt, content in (("csv", _csv(data)), ("json", _json(day, plural, data))):
                name = f"{plural}.{fmt}"
                saved = store.save(f"{folder}/{name}", ContentFile(content))
                if saved != f"{folder}/{name}":
                    raise RuntimeError(f"snapshot file {saved} was not written under its own name")
                files.append(
                    {
                        "name": name,
                        "rows": len(data),
                        "bytes": len(content),
                        "sha256": hashlib.sha256(content).hexdigest(),
                    }
                )
        manifest = {
            "date": folder,
            "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "license": settings.EXPORTS_LICENSE or None,
            "description": f"Token usage rankings of one day ({zones.reporting_zone()}); tokens = prompt + completion. Immutable.",
            "files": files,
        }
        store.save(f"{folder}/{MANIFEST}", ContentFile(json.dumps(manifest, indent=1).encode()))
        log.info("snapshot %s published (%d files)", folder, len(files))
        return manifest
    finally:
        cache.delete(lock)


def due_days(at: datetime | None = None) -> list[date]:
    """Closed days (EXPORTS_DELAY_MINUTES past their end) of the last EXPORTS_BACKFILL_DAYS
    that have usage data and no published snapshot, oldest first."""
    at = at or datetime.now(UTC)
    local = (at - timedelta(minutes=settings.EXPORTS_DELAY_MINUTES)).astimezone(zones.info(zones.reporting_zone()))
    last_closed = local.date() - timedelta(days=1)  # days of the reporting zone
    first = selectors.first_day()
    if first is None:
        return []
    days = [last_closed - timedelta(days=n) for n in range(settings.EXPORTS_BACKFILL_DAYS)]
    return sorted(d for d in days if d >= first and not is_published(d))


def write_due(at: datetime | None = None) -> list[str]:
    """What beat runs: every due day written; the days published."""
    return [day.isoformat() for day in due_days(at) if write(day) is not None]


def readme() -> str:
    """The README served beside the snapshots."""
    license_text = settings.EXPORTS_LICENSE or "not set by this instance's operator (ask them before reuse)"
    columns = ", ".join(f"`{c}`" for c in COLUMNS)
    return f"""# Tokenrank daily snapshots

One folder per UTC day, published after the day closes ({settings.EXPORTS_DELAY_MINUTES} minutes
later, so late events are in). A published snapshot is immutable: it is never rewritten,
not even when the rollups are rebuilt or late events arrive afterwards.

Per day: `models`, `authors`, `apps`, `categories` and `providers`, each as CSV and JSON
(`{{"date", "entity", "rows": [...]}}`), and `manifest.json` listing every file with its
row count, size and SHA-256.

Columns: {columns}. Tokens = prompt + completion tokens; reasoning tokens are part of
completion, cached tokens part of prompt; cost in USD; share = share of the day's tokens;
rank 1 = most tokens (ties share a rank). Private apps are never included (their usage
still counts for models, authors, categories and providers).

Endpoints: `/api/v1/datasets/exports/` (the list of days), `/api/v1/datasets/exports/DAY/`
(the manifest), `/api/v1/datasets/exports/DAY/FILE` (a file).

License: {license_text}.
"""
