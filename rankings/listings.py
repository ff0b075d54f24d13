"""Reads for the index pages (/models/, /apps/, /authors/, /providers/, /categories/), the
search box, badges and daily snapshots: every catalog entry with its measures in a window.

Entries are plain dicts (cheap to cache and unpickle: /apps/ lists thousands), built once
per rollup generation and period; search, filters, sort and pages are applied to them in
:mod:`rankings.indexes`. Private apps are never entries.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any

from django.db.models import Count
from psycopg import sql

from ingest import schema
from ingest.rollups import read, zones
from ingest.rollups.grains import APP_DAILY, MODEL_TOTAL, read_cursor
from rankings import selectors
from rankings.cache import cached
from rankings.models import App, Author, Category, LLMModel, Provider
from rankings.selectors import Filters, Totals, Window
from rankings.selectors.entities import tell_apart

# URL and file names of each kind: the catalog dimensions' plurals (ingest.schema).
PLURALS = {d.plural: d.name for d in schema.DIMENSIONS if d.catalog}
PLURAL_OF = {kind: plural for plural, kind in PLURALS.items()}
# Slow-moving facts (who serves a model, when an entry was first used) are refreshed this
# often instead of at every rollup generation: they scan far more rows than a ranking.
SLOW_TTL = 600
OFFER_DAYS = 30  # a model's providers and variants: those seen in the last 30 days


def measures_by(entity: str, window: Window, filters: Filters | None = None) -> dict[Any, Totals]:
    """Every measure summed per ``entity`` in ``window`` (private apps left out of app
    reads), from the smallest rollup table that has the columns."""
    return selectors.totals_by(entity, window, filters, public_apps_only=entity == "app")


def metric_of(totals: Totals | None, metric: str) -> float:
    if totals is None:
        return 0.0
    return float(totals.cost) if metric == "cost" else float(getattr(totals, metric))


# Per catalog row (all, or those of %(ids)s), the first bucket of its per-day grain: one probe
# of its (entity, bucket) index.
_FIRST_SEEN = sql.SQL(
    "SELECT c.id, (SELECT min(u.bucket) FROM {table} u WHERE u.{column} = c.id) FROM {catalog} c{some}"
)


def first_seen(entity: str, used: Iterable[int] = ()) -> dict[int, date]:
    """The first day each model or app was used: one probe of the (entity, bucket) index per
    catalog row (cheaper than grouping the whole table), kept ``SLOW_TTL``. Of ``used`` (rows
    known to have usage), those the kept answer lacks (new, or first used since it was read)
    are probed now: a listed row with usage always has its day."""
    grain = {"model": MODEL_TOTAL, "app": APP_DAILY}[entity]

    def probe(ids: list[int] | None = None) -> dict[int, date]:
        query = _FIRST_SEEN.format(
            table=grain.name,
            column=sql.Identifier(schema.DIMENSION[entity].column),
            catalog=sql.Identifier(selectors.ENTITY_MODEL[entity]._meta.db_table),
            some=sql.SQL("" if ids is None else " WHERE c.id = ANY(%(ids)s)"),
        )
        with read_cursor() as cursor:
            cursor.execute(query, {"ids": ids})
            return {pk: day for pk, day in cursor.fetchall() if day is not None}

    seen = cached(f"first-seen:{entity}", probe, ttl=SLOW_TTL)
    if missing := [pk for pk in used if pk not in seen]:
        seen = {**seen, **probe(missing)}
    return seen


# Per model, its providers and variants: the full daily cube over the window (bucket range).
_OFFERS = sql.SQL(
    "SELECT u.model_id, array_agg(DISTINCT u.provider_id), array_agg(DISTINCT u.variant){source} GROUP BY 1"
)


def model_offers() -> dict[int, dict[str, list]]:
    """Per model, the providers (slug, name) and variants seen in the last OFFER_DAYS days."""

    def compute() -> dict[int, dict[str, list]]:
        window = selectors.period_window("month")
        window = Window(window.end - timedelta(days=OFFER_DAYS), window.end)
        source = read.source(window, Filters(), columns=frozenset({"provider_id", "variant"}))
        with read_cursor() as cursor:
            cursor.execute(_OFFERS.format(source=source.sql), source.params)
            raw = cursor.fetchall()
        providers = {p.pk: (p.slug, p.name) for p in Provider.objects.only("slug", "name")}
        return {
            model: {
                "providers": sorted((providers[p] for p in ids if p in providers), key=lambda p: p[1]),
                "variants": sorted(v for v in variants if v),
            }
            for model, ids, variants in raw
        }

    return cached("model-offers", compute, ttl=SLOW_TTL)


def _ranked(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rank (1 = largest value; ties share a rank) and share of the total, in place."""
    total = sum(r["value"] for r in rows) or 0.0
    ordered = sorted((r for r in rows if r["value"] > 0), key=lambda r: -r["value"])
    rank, last = 0, None
    for position, row in enumerate(ordered, start=1):
        if row["value"] != last:
            rank, last = position, row["value"]
        row["rank"] = rank
    for row in rows:
        row.setdefault("rank", None)
        row["search"] = f"{row['name']} {row['slug']} {row.get('author_name', '')}".casefold()
        row["share"] = row["value"] / total if total else 0.0
        previous = row["previous"]
        row["change"] = (row["value"] - previous) * 100 / previous if previous else None
    return rows


def _base(pk: int, current: dict, previous: dict, metric: str) -> dict[str, Any]:
    totals = current.get(pk)
    return {
        "id": pk,
        "value": metric_of(totals, metric),
        "previous": metric_of(previous.get(pk), metric) or None,
        "tokens": totals.tokens if totals else 0,
        "requests": totals.requests if totals else 0,
    }


def _windows(entity: str, period: str, zone: str, filters: Filters | None = None) -> tuple[dict, dict]:
    window = selectors.period_window(period, zone=zone)
    current = measures_by(entity, window, filters)
    compare = period != "all"
    return current, measures_by(entity, window.previous(), filters) if compare else {}


def model_entries(period: str, metric: str, zone: str) -> list[dict[str, Any]]:
    def compute() -> list[dict[str, Any]]:
        current, previous = _windows("model", period, zone)
        offers, seen = model_offers(), first_seen("model", current.keys() | previous.keys())
        rows = []
        for m in LLMModel.objects.select_related("author").order_by("slug"):
            offer = offers.get(m.pk, {"providers": [], "variants": []})
            rows.append(
                {
                    **_base(m.pk, current, previous, metric),
                    "slug": m.slug,
                    "name": m.name,
                    "author_slug": m.author.slug,
                    "author_name": m.author.name,
                    "context": m.context_length,
                    "prompt_price": float(m.prompt_price) if m.prompt_price is not None else None,
                    "completion_price": float(m.completion_price) if m.completion_price is not None else None,
                    "reasoning": m.supports_reasoning,
                    "providers": offer["providers"],
                    "variants": offer["variants"],
                    "first_seen": seen.get(m.pk),
                    "release_date": m.release_date,
                }
            )
        return _ranked(rows)

    return cached(f"index:model:{period}:{metric}:{zone}", compute)


def app_entries(period: str, metric: str, zone: str, category: int | None = None) -> list[dict[str, Any]]:
    """Every public app; with ``category``, the apps used in it, measured in it."""

    def compute() -> list[dict[str, Any]]:
        current, previous = _windows("app", period, zone, Filters(category=category))
        seen = first_seen("app", current.keys() | previous.keys())
        apps = App.objects.filter(is_public=True).only("slug", "name", "url", "description", "origin")
        if category is not None:
            apps = apps.filter(pk__in=list(current))
        apps = list(apps.order_by("name"))
        tell_apart(apps)
        rows = [
            {
                **_base(a.pk, current, previous, metric),
                "slug": a.slug,
                "name": a.name,
                "url": a.url,
                "description": a.description[:200],
                "first_seen": seen.get(a.pk),
            }
            for a in apps
        ]
        return _ranked(rows)

    return cached(f"index:app:{period}:{metric}:{category}:{zone}", compute)


def _models_per(column: str) -> dict[int, int]:
    if column == "author":
        return dict(LLMModel.objects.values("author_id").annotate(n=Count("pk")).values_list("author_id", "n"))
    counts: dict[int, int] = {}
    slug_to_id = dict(Provider.objects.values_list("slug", "pk"))
    for offer in model_offers().values():
        for slug, _ in offer["providers"]:
            if slug in slug_to_id:  # a provider renamed since the offers were read is skipped
                counts[slug_to_id[slug]] = counts.get(slug_to_id[slug], 0) + 1
    return counts


def catalog_entries(kind: str, period: str, metric: str, zone: str) -> list[dict[str, Any]]:
    """Every author, provider or category, with its number of models (authors: in the
    catalog; providers: served in the last OFFER_DAYS days)."""
    model = {"author": Author, "provider": Provider, "category": Category}[kind]

    def compute() -> list[dict[str, Any]]:
        current, previous = _windows(kind, period, zone)
        counts = _models_per(kind) if kind != "category" else {}
        rows = [
            {
                **_base(obj.pk, current, previous, metric),
                "slug": obj.slug,
                "name": obj.name,
                "models": counts.get(obj.pk, 0),
            }
            for obj in model.objects.all()
        ]
        return _ranked(rows)

    return cached(f"index:{kind}:{period}:{metric}:{zone}", compute)


def entries(
    kind: str, period: str, metric: str, category: int | None = None, zone: str | None = None
) -> list[dict[str, Any]]:
    """Every entry of ``kind`` with its measures in ``period`` so far in ``zone`` (default: the
    reporting zone)."""
    zone = zone or zones.reporting_zone()
    if kind == "model":
        return model_entries(period, metric, zone)
    if kind == "app":
        return app_entries(period, metric, zone, category)
    return catalog_entries(kind, period, metric, zone)


# One entry's tokens and rank among its kind (the source brings the grain and its index).
_RANK_OF = sql.SQL(
    "WITH cur AS (SELECT {key} AS k, sum({tokens}) AS v{source} GROUP BY 1) "
    "SELECT (SELECT count(*) FROM cur WHERE cur.v > c.v) + 1, c.v FROM cur c WHERE c.k = %(entry)s AND c.v > 0"
)


def rank_of(entity: str, pk: int, window: Window, filters: Filters | None = None) -> tuple[int, float] | None:
    """``(rank, tokens)`` of one model or app among its kind in ``window`` (within
    ``filters``), or None when it has no usage there. Private apps are not ranked."""
    source = read.source(window, filters or Filters(), public_apps_only=entity == "app", entity=entity)
    query = _RANK_OF.format(key=read.key(entity), tokens=read.metric_sum("tokens"), source=source.sql)
    with read_cursor() as cursor:
        cursor.execute(query, {**source.params, "entry": pk})
        row = cursor.fetchone()
    return (int(row[0]), float(row[1])) if row else None


def top_category(entity: str, pk: int, window: Window) -> Category | None:
    """The category where a model or app used the most tokens in ``window``."""
    ranking = selectors.ranking("category", window, filters=Filters(**{entity: pk}), limit=1, compare=False)
    return ranking.rows[0].entity if ranking.rows else None
