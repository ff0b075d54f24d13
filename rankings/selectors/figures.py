"""Totals and figures: every measure summed over a window, performance, providers of a
model, each app's top model, and the daily rankings dataset."""

from __future__ import annotations

from dataclasses import field, make_dataclass
from decimal import Decimal
from typing import Any

from psycopg import sql

from ingest import schema
from ingest.rollups import read
from ingest.rollups.grains import MODEL_TOTAL, read_cursor
from ingest.rollups.read import Filters
from ingest.rollups.windows import Window
from rankings.models import LLMModel, Provider


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


# One pass over the per-model daily grain (a range of its primary key, bucket first), models
# ranked per day with a window function.
_DAILY_DATASET = sql.SQL(
    "WITH d AS (SELECT u.bucket AS day, u.model_id, sum({tokens}) AS t, "
    "sum(u.requests) AS r FROM {table} u WHERE u.bucket >= %(start)s AND u.bucket < %(end)s GROUP BY 1, 2), "
    "ranked AS (SELECT d.*, row_number() OVER (PARTITION BY day ORDER BY t DESC, model_id) AS n FROM d) "
    "SELECT day, CASE WHEN n <= %(top)s THEN n END, CASE WHEN n <= %(top)s THEN m.slug ELSE 'other' END, "
    "sum(t), sum(r) FROM ranked JOIN rankings_llmmodel m ON m.id = ranked.model_id "
    "GROUP BY 1, 2, 3 ORDER BY 1, 2 NULLS LAST"
)


def daily_dataset(window: Window, top: int = 50) -> list[dict[str, Any]]:
    """Per UTC day, the top ``top`` models by tokens plus one ``other`` row: the shape of
    OpenRouter's public daily rankings dataset."""
    start, end = read.bounds(window, MODEL_TOTAL)
    query = _DAILY_DATASET.format(tokens=read.metric_sum("tokens"), table=MODEL_TOTAL.name)
    with read_cursor() as cursor:
        cursor.execute(query, {"start": start, "end": end, "top": top})
        return [
            {
                "date": day.isoformat(),
                "rank": rank,
                "model_permaslug": slug,
                "total_tokens": int(tokens),
                "total_requests": int(requests),
            }
            for day, rank, slug, tokens, requests in cursor.fetchall()
        ]
