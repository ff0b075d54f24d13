"""Rankings: entries ordered by a metric with share, change and rank movement; trending
entries; new models."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from psycopg import sql

from ingest.rollups import read
from ingest.rollups.grains import MODEL_TOTAL, read_cursor
from ingest.rollups.read import Filters
from ingest.rollups.windows import Window
from rankings.selectors.entities import attach_entities


@dataclass
class RankRow:
    rank: int
    key: Any
    value: float
    share: float
    previous_value: float | None
    previous_rank: int | None
    entity: Any = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def change(self) -> float | None:
        """Change vs the previous equal period, in percent (None when new)."""
        if not self.previous_value:
            return None
        return (self.value - self.previous_value) * 100 / self.previous_value

    @property
    def rank_change(self) -> int | None:
        """Places gained (positive) or lost; None when the entry is new."""
        return None if self.previous_rank is None else self.previous_rank - self.rank

    @property
    def is_new(self) -> bool:
        return self.previous_value is None


@dataclass
class Ranking:
    window: Window
    metric: str
    rows: list[RankRow]
    total: float
    count: int


# Entries of the window by value (``cur``), ranked with their share of the total and their
# count; the grain and its index come with the source (see ingest.rollups.read.source).
_RANKED = (
    "WITH cur AS (SELECT {key} AS k, sum({metric}) AS v{source} GROUP BY 1), "
    "ranked AS (SELECT k, v, rank() OVER (ORDER BY v DESC) AS r, sum(v) OVER () AS total, "
    "count(*) OVER () AS n FROM cur WHERE v > 0)"
)
_PAGE = " ORDER BY 3 DESC, 2 LIMIT %(limit)s OFFSET %(offset)s"
# The previous window ranked whole too: rank movement for every row.
_WITH_PREVIOUS_RANKS = sql.SQL(
    _RANKED + ", prev AS (SELECT {key} AS k, sum({metric}) AS v{previous} GROUP BY 1), "
    "prev_ranked AS (SELECT k, v, rank() OVER (ORDER BY v DESC) AS r FROM prev WHERE v > 0) "
    "SELECT ranked.r, ranked.k, ranked.v, ranked.total, ranked.n, p.v, p.r "
    "FROM ranked LEFT JOIN prev_ranked p USING (k)" + _PAGE
)
# The previous window summed for the listed rows only: probes of the grain's (entity,
# bucket) index instead of a second scan of the whole window.
_WITH_PREVIOUS_VALUES = sql.SQL(
    _RANKED + ", listed AS MATERIALIZED (SELECT r, k, v, total, n FROM ranked" + _PAGE + "), "
    "prev AS (SELECT {key} AS k, sum({metric}) AS v{previous} AND {key} IN (SELECT k FROM listed) "
    "GROUP BY 1) SELECT l.r, l.k, l.v, l.total, l.n, NULLIF(p.v, 0), NULL "
    "FROM listed l LEFT JOIN prev p USING (k) ORDER BY 3 DESC, 2"
)
_ALONE = sql.SQL(_RANKED + " SELECT r, k, v, total, n, NULL, NULL FROM ranked" + _PAGE)


def ranking(
    entity: str,
    window: Window,
    *,
    metric: str = "tokens",
    filters: Filters | None = None,
    limit: int = 20,
    offset: int = 0,
    compare: bool = True,
    previous_ranks: bool = True,
    include_private: bool = False,
) -> Ranking:
    """Entities ranked by ``metric`` in ``window``, with share, change and rank movement
    against the previous equal window. Without ``previous_ranks`` (for tables that show no
    rank movement) the previous window is summed for the returned rows only, through the
    rollups' (entity, bucket) indexes, instead of ranked whole."""
    filters = filters or Filters()
    public = entity == "app" and not include_private  # growth folds private apps itself
    current = read.source(window, filters, public_apps_only=public, entity=entity)
    parts = {"key": read.key(entity), "metric": read.metric_sum(metric), "source": current.sql}
    params = {**current.params, "limit": limit, "offset": offset}
    if compare and window.start > datetime(2000, 1, 1, tzinfo=UTC):
        previous = read.source(
            window.previous(), filters, public_apps_only=public, entity=entity, prefix="prev_"
        )
        query = (_WITH_PREVIOUS_RANKS if previous_ranks else _WITH_PREVIOUS_VALUES).format(
            previous=previous.sql, **parts
        )
        params.update(previous.params)
    else:
        query = _ALONE.format(**parts)
    with read_cursor() as cursor:
        cursor.execute(query, params)
        raw = cursor.fetchall()
    total = float(raw[0][3]) if raw else 0.0
    count = raw[0][4] if raw else 0
    rows = [
        RankRow(
            rank=r,
            key=k,
            value=float(v),
            share=float(v) / total if total else 0.0,
            previous_value=float(pv) if pv is not None else None,
            previous_rank=pr,
        )
        for r, k, v, _, _, pv, pr in raw
    ]
    attach_entities(entity, rows)
    return Ranking(window, metric, rows, total, count)


def _ranks(values: dict[Any, float]) -> list[tuple[int, Any, float]]:
    """(rank, key, value) of the positive values, largest first; ties share a rank."""
    ordered = sorted(((k, v) for k, v in values.items() if v > 0), key=lambda kv: (-kv[1], str(kv[0])))
    ranked, rank = [], 0
    for position, (k, v) in enumerate(ordered, start=1):
        if not ranked or v != ranked[-1][2]:
            rank = position
        ranked.append((rank, k, v))
    return ranked


def ranked(
    values: dict[Any, float],
    previous: dict[Any, float] | None,
    window: Window,
    metric: str,
    *,
    limit: int | None = 20,
    offset: int = 0,
) -> Ranking:
    """A ranking of values summed elsewhere (the few values of a tag key or context
    buckets), with share and change against ``previous`` (None: no comparison)."""
    rows = _ranks(values)
    total = sum(v for _, _, v in rows)
    before = {k: (r, v) for r, k, v in _ranks(previous or {})}
    page = rows[offset : None if limit is None else offset + limit]
    return Ranking(
        window,
        metric,
        [
            RankRow(r, k, v, v / total if total else 0.0, *before.get(k, (None, None))[::-1])
            for r, k, v in page
        ],
        total,
        len(rows),
    )


# Tokens in the window (the last bucket) and the mean of the three windows before (the
# buckets in %(baseline)s; the others are the gaps between them), per entry, over one read
# of the span they cover; the best growth first.
_TRENDING = sql.SQL(
    "SELECT {key}, sum({tokens}) FILTER (WHERE {position} = %(current)s) AS cur, "
    "sum({tokens}) FILTER (WHERE {position} = ANY(%(baseline)s)) / 3.0 AS base{source} GROUP BY 1 "
    "HAVING coalesce(sum({tokens}) FILTER (WHERE {position} = %(current)s), 0) >= %(min_volume)s "
    "ORDER BY coalesce(sum({tokens}) FILTER (WHERE {position} = %(current)s), 0) "
    "- coalesce(sum({tokens}) FILTER (WHERE {position} = ANY(%(baseline)s)), 0) / 3.0 DESC "
    "LIMIT %(limit)s"
)


def trending_words(window: Window) -> str:
    """What :func:`trending` compares, in words."""
    if window.period in ("day", "week", "month", "year") and window.comparison().startswith("vs the same time"):
        return f"tokens this {window.period} so far minus the mean of the same time of the three {window.period}s before"
    return "tokens in the window minus the mean of the three equal windows before"


def trending(entity: str, window: Window, *, limit: int = 10, min_volume: float = 0) -> list[RankRow]:
    """Growth score = tokens in ``window`` minus the mean of the three windows before, like
    for like (``Window.earlier``: for a period so far, the same elapsed time of each of the
    three periods before); entries under ``min_volume`` tokens are left out."""
    before = [window.earlier(n) for n in (3, 2, 1)]
    bounds = sorted({b for w in before for b in (w.start, w.end)} | {window.start})
    baseline = [n + 1 for n, start in enumerate(bounds) if any(w.start == start for w in before)]
    lookback = Window(bounds[0], window.end, window.zone)
    source = read.source(
        lookback, Filters(), public_apps_only=entity == "app", entity=entity, starts=bounds
    )
    query = _TRENDING.format(
        key=read.key(entity), tokens=read.metric_sum("tokens"), source=source.sql, position=source.position
    )
    with read_cursor() as cursor:
        cursor.execute(
            query,
            {
                **source.params,
                "current": len(bounds),
                "baseline": baseline,
                "min_volume": max(min_volume, 1),
                "limit": limit,
            },
        )
        raw = cursor.fetchall()
    rows = []
    for position, (k, cur, base) in enumerate(raw, start=1):
        cur, base = float(cur or 0), float(base or 0)
        rows.append(RankRow(position, k, cur, 0.0, base if base else None, None, extra={"score": cur - base}))
    attach_entities(entity, rows)
    return [r for r in rows if r.extra["score"] > 0]


# Models first used in a window: one probe of the per-model daily grain's (model, bucket)
# index per catalog model finds the new ones (their first bucket); only their rows are summed.
_NEW_MODELS = sql.SQL(
    "WITH new AS MATERIALIZED (SELECT m.id FROM rankings_llmmodel m WHERE "
    "(SELECT min(p.bucket) FROM {table} p WHERE p.model_id = m.id) >= %(start)s) "
    "SELECT u.model_id, sum({tokens}) FROM {table} u "
    "WHERE u.model_id IN (SELECT id FROM new) AND u.bucket >= %(start)s AND u.bucket < %(end)s "
    "GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT %(limit)s"
)


def new_models(window: Window, limit: int = 10) -> list[RankRow]:
    """Models first used in ``window`` (its days; no usage on any earlier day), by tokens."""
    query = _NEW_MODELS.format(table=MODEL_TOTAL.name, tokens=read.metric_sum("tokens"))
    start, end = read.day_bounds(window)
    with read_cursor() as cursor:
        cursor.execute(query, {"start": start, "end": end, "limit": limit})
        raw = cursor.fetchall()
    rows = [RankRow(n, k, float(v), 0.0, None, None) for n, (k, v) in enumerate(raw, start=1)]
    attach_entities("model", rows)
    return rows
