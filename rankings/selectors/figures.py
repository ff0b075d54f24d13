"""Totals and figures: every measure summed over a window, performance, providers of a
model, each app's top model, and the daily rankings dataset."""

from __future__ import annotations

from dataclasses import dataclass, field, make_dataclass
from decimal import Decimal
from typing import Any

from psycopg import sql

from ingest import schema
from ingest.rollups import read
from ingest.rollups.grains import APP_DAILY, MODEL_TOTAL, read_cursor
from ingest.rollups.read import Filters
from ingest.rollups.windows import Window
from rankings.models import LLMModel, Provider
from rankings.selectors.entities import ENTITY_MODEL, entities_of


class _Derived:
    """Figures derived from the measures of :class:`Totals`."""

    @property
    def tokens(self) -> int:
        return sum(getattr(self, column) for column in read.METRICS["tokens"].columns)

    @property
    def tokens_per_request(self) -> float | None:
        return self.tokens / self.requests if self.requests else None

    @property
    def price_per_million(self) -> float | None:
        return float(self.cost) * 1e6 / self.tokens if self.tokens else None

    @property
    def avg_latency_ms(self) -> float | None:
        return self.latency_ms_sum / self.latency_count if self.latency_count else None

    @property
    def throughput(self) -> float | None:
        """Completion tokens per second of generation time."""
        if not self.generation_ms_sum:
            return None
        return self.generation_completion_tokens * 1000 / self.generation_ms_sum

    @property
    def reasoning_share(self) -> float | None:
        return self.reasoning_tokens / self.completion_tokens if self.completion_tokens else None

    @property
    def cached_share(self) -> float | None:
        return self.cached_tokens / self.prompt_tokens if self.prompt_tokens else None


Totals = make_dataclass(
    "Totals",
    [
        (m.column, Decimal if m.money else int, field(default=Decimal(0) if m.money else 0))
        for m in schema.MEASURES
    ],
    bases=(_Derived,),
    module=__name__,
)
Totals.__doc__ = "Every measure of ``ingest.schema`` summed over a window."


# Every measure summed (sum(bigint) is numeric in PostgreSQL: counts are cast back to bigint).
_TOTALS = sql.SQL("SELECT {sums}{source}")
_SUMS = sql.SQL(", ").join(
    sql.SQL("coalesce(sum({0}), 0){1} AS {2}").format(
        sql.Identifier("u", m.column), sql.SQL("" if m.money else "::bigint"), sql.Identifier(m.column)
    )
    for m in schema.MEASURES
)


def totals(window: Window, filters: Filters | None = None) -> Totals:
    source = read.source(window, filters or Filters())
    with read_cursor() as cursor:
        cursor.execute(_TOTALS.format(sums=_SUMS, source=source.sql), source.params)
        names = [column.name for column in cursor.description]
        return Totals(**dict(zip(names, cursor.fetchone(), strict=True)))


# Every measure summed per entry (the source brings the grain and its index).
_TOTALS_BY = sql.SQL("SELECT {key} AS key, {sums}{source} GROUP BY 1")


def totals_by(
    entity: str, window: Window, filters: Filters | None = None, *, public_apps_only: bool = False
) -> dict[Any, Totals]:
    """Every measure summed per ``entity`` in ``window``, by entry key."""
    source = read.source(window, filters or Filters(), public_apps_only=public_apps_only, entity=entity)
    with read_cursor() as cursor:
        cursor.execute(_TOTALS_BY.format(key=read.key(entity), sums=_SUMS, source=source.sql), source.params)
        names = [column.name for column in cursor.description][1:]
        return {key: Totals(**dict(zip(names, values, strict=True))) for key, *values in cursor.fetchall()}


# Requests, latency and throughput per model, both top lists ranked in one read (the source
# brings the grain: the per-model daily one for day-aligned windows).
_PERFORMANCE = sql.SQL(
    "WITH s AS (SELECT u.model_id, sum(u.requests)::bigint AS n, "
    "sum(u.latency_ms_sum)::float / nullif(sum(u.latency_count), 0) AS lat, "
    "sum(u.generation_completion_tokens)::float * 1000 / nullif(sum(u.generation_ms_sum), 0) AS tps"
    "{source} GROUP BY 1 HAVING sum(u.requests) >= %(min_requests)s), "
    "r AS (SELECT s.*, row_number() OVER (ORDER BY tps DESC NULLS LAST, model_id) AS by_tps, "
    "row_number() OVER (ORDER BY lat NULLS LAST, model_id) AS by_lat FROM s) "
    "SELECT model_id, n, lat, tps, by_tps, by_lat FROM r WHERE by_tps <= %(limit)s OR by_lat <= %(limit)s"
)


def performance(window: Window, *, min_requests: int = 5, limit: int = 10) -> dict[str, list[dict[str, Any]]]:
    """Fastest models by throughput and lowest average latency in ``window``: both top
    lists ranked in one query, so only their models are loaded."""
    source = read.source(window, Filters(), entity="model")
    with read_cursor() as cursor:
        cursor.execute(
            _PERFORMANCE.format(source=source.sql),
            {**source.params, "min_requests": min_requests, "limit": limit},
        )
        raw = cursor.fetchall()
    models = LLMModel.objects.select_related("author").in_bulk([r[0] for r in raw])

    def top(value: int, position: int) -> list[dict[str, Any]]:
        chosen = sorted(
            (r for r in raw if r[value] is not None and r[position] <= limit), key=lambda r: r[position]
        )
        return [
            {"model": models[k], "requests": n, "latency_ms": lat, "throughput": tps}
            for k, n, lat, tps, *_ in chosen
            if k in models
        ]

    return {"throughput": top(3, 4), "latency": top(2, 5)}


# Each listed app's most used model: the grain's (app, bucket) index for those apps.
_TOP_MODEL_PER_APP = sql.SQL(
    "SELECT DISTINCT ON (u.app_id) u.app_id, u.model_id{source} AND u.app_id = ANY(%(apps)s) "
    "GROUP BY 1, 2 ORDER BY 1, sum({tokens}) DESC, 2"
)


def top_model_per_app(window: Window, app_ids: list[int]) -> dict[int, LLMModel]:
    """Each app's most used model (by tokens) in ``window``, in one query."""
    if not app_ids:
        return {}
    source = read.source(window, Filters(), entity="app", columns=frozenset({"model_id"}))
    query = _TOP_MODEL_PER_APP.format(source=source.sql, tokens=read.metric_sum("tokens"))
    with read_cursor() as cursor:
        cursor.execute(query, {**source.params, "apps": list(app_ids)})
        pairs = cursor.fetchall()
    models = LLMModel.objects.select_related("author").in_bulk([m for _, m in pairs])
    return {app: models[model] for app, model in pairs if model in models}


# Per provider of a scoped read (a model's: the grain's (model, bucket) index).
_PROVIDER_STATS = sql.SQL(
    "SELECT u.provider_id, sum(u.requests)::bigint, sum({tokens})::bigint, "
    "sum(u.latency_ms_sum)::float / nullif(sum(u.latency_count), 0), "
    "sum(u.generation_completion_tokens)::float * 1000 / nullif(sum(u.generation_ms_sum), 0)"
    "{source} GROUP BY 1 ORDER BY 3 DESC"
)


def provider_stats(window: Window, filters: Filters) -> list[dict[str, Any]]:
    """Per provider: share of requests, average latency and throughput (for a model page)."""
    source = read.source(window, filters, entity="provider")
    with read_cursor() as cursor:
        cursor.execute(
            _PROVIDER_STATS.format(source=source.sql, tokens=read.metric_sum("tokens")), source.params
        )
        raw = cursor.fetchall()
    providers = Provider.objects.in_bulk([r[0] for r in raw])
    total = sum(r[2] for r in raw) or 1
    return [
        {
            "provider": providers.get(k),
            "requests": n,
            "tokens": t,
            "share": t / total,
            "latency_ms": lat,
            "throughput": tps,
        }
        for k, n, t, lat, tps in raw
    ]


@dataclass
class DatasetPage:
    rows: list[dict[str, Any]]
    count: int  # rows of the whole dataset for the window


# Per dataset: the per-day grain it reads, and the SQL of an entry's name in it (``e``: the
# catalog row; a model is listed by its dated permaslug when it has one).
_DATASETS = {
    "model": (MODEL_TOTAL, sql.SQL("coalesce(nullif(e.permaslug, ''), e.slug)")),
    "app": (APP_DAILY, sql.SQL("e.name")),
}
# One pass over a per-day grain (a range of its primary key, bucket first): entries ranked per
# day with a window function (entries that may not be listed, private apps, go to `other`),
# then a page of the (date, rank) rows with `other` last in its day.
_DAILY_DATASET = sql.SQL(
    "WITH d AS (SELECT u.bucket AS day, {key} AS k, sum({tokens}) AS t, sum(u.requests) AS r "
    "FROM {table} u WHERE u.bucket >= %(start)s AND u.bucket < %(end)s GROUP BY 1, 2), "
    "n AS (SELECT d.*, {name} AS label, CASE WHEN {listed} THEN row_number() OVER "
    "(PARTITION BY d.day, {listed} ORDER BY d.t DESC, d.k) END AS n FROM d JOIN {catalog} e ON e.id = d.k), "
    "rows AS (SELECT day, CASE WHEN n <= %(top)s THEN n END AS rank, CASE WHEN n <= %(top)s THEN k END AS k, "
    "CASE WHEN n <= %(top)s THEN label ELSE 'other' END AS label, sum(t) AS t, sum(r) AS r FROM n GROUP BY 1, 2, 3, 4) "
    "SELECT day, rank, k, label, t, r, count(*) OVER () FROM rows ORDER BY day, rank NULLS LAST "
    "LIMIT %(limit)s OFFSET %(offset)s"
)


def daily_dataset(
    entity: str, window: Window, *, top: int = 50, limit: int | None = None, offset: int = 0
) -> DatasetPage:
    """Per day (of the date rollups' zone: the rows of the dates ``window`` covers in its own
    zone, as the narrow sections read them), the top ``top`` models (or public apps) by tokens
    plus one ``other`` row for the rest: the shape of OpenRouter's public daily datasets, in
    pages of ``limit`` rows from ``offset``."""
    grain, name = _DATASETS[entity]
    dimension = schema.DIMENSION[entity]
    listed = (
        sql.SQL("e.{}").format(sql.Identifier(dimension.public_field))
        if dimension.public_field
        else sql.SQL("true")
    )
    query = _DAILY_DATASET.format(
        key=read.key(entity),
        tokens=read.metric_sum("tokens"),
        table=grain.name,
        name=name,
        listed=listed,
        catalog=sql.Identifier(ENTITY_MODEL[entity]._meta.db_table),
    )
    start, end = read.day_bounds(window, window.zone)
    with read_cursor() as cursor:
        cursor.execute(query, {"start": start, "end": end, "top": top, "limit": limit, "offset": offset})
        raw = cursor.fetchall()
    count = raw[0][-1] if raw else 0
    if entity == "model":
        rows = [
            {
                "date": day.isoformat(),
                "rank": rank,
                "model_permaslug": label,
                "total_tokens": int(t),
                "total_requests": int(r),
            }
            for day, rank, _, label, t, r, _ in raw
        ]
    else:
        apps = entities_of("app", {k for _, _, k, *_ in raw if k is not None})  # one title: with hosts
        rows = [
            {
                "date": day.isoformat(),
                "app_id": k,
                "app_name": apps[k].name if k in apps else label,
                "rank": rank,
                "total_requests": int(r),
                "total_tokens": int(t),
            }
            for day, rank, k, label, t, r, _ in raw
        ]
    return DatasetPage(rows, count)
