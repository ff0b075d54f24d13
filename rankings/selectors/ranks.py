"""Rankings: entries ordered by a metric with share, change and rank movement; trending
entries; new models."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ingest.rollups import read
from ingest.rollups.grains import read_cursor
from ingest.rollups.read import ENTITY_KEY, METRICS, Filters
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
    key = ENTITY_KEY[entity]
    measure = f"sum(u.{METRICS[metric].replace(' + ', ' + u.')})"
    public = entity == "app" and not include_private  # growth folds private apps itself
    source, params = read.source(window, filters, public_apps_only=public, entity=entity)
    sql = (
        f"WITH cur AS (SELECT {key} AS k, {measure} AS v{source} GROUP BY 1), "
        "ranked AS (SELECT k, v, rank() OVER (ORDER BY v DESC) AS r, sum(v) OVER () AS total, "
        "count(*) OVER () AS n FROM cur WHERE v > 0)"
    )
    page = " ORDER BY 3 DESC, 2 LIMIT %s OFFSET %s"
    if compare and window.start > datetime(2000, 1, 1, tzinfo=UTC):
        prev_source, prev_params = read.source(window.previous(), filters, public_apps_only=public, entity=entity)
        if previous_ranks:
            sql += (
                f", prev AS (SELECT {key} AS k, {measure} AS v{prev_source} GROUP BY 1), "
                "prev_ranked AS (SELECT k, v, rank() OVER (ORDER BY v DESC) AS r FROM prev WHERE v > 0) "
                "SELECT ranked.r, ranked.k, ranked.v, ranked.total, ranked.n, p.v, p.r "
                f"FROM ranked LEFT JOIN prev_ranked p USING (k){page}"
            )
            params = [*params, *prev_params, limit, offset]
        else:
            sql += (
                f", listed AS MATERIALIZED (SELECT r, k, v, total, n FROM ranked{page}), "
                f"prev AS (SELECT {key} AS k, {measure} AS v{prev_source} AND {key} IN (SELECT k FROM listed) "
                "GROUP BY 1) SELECT l.r, l.k, l.v, l.total, l.n, NULLIF(p.v, 0), NULL "
                "FROM listed l LEFT JOIN prev p USING (k) ORDER BY 3 DESC, 2"
            )
            params = [*params, limit, offset, *prev_params]
    else:
        sql += f" SELECT r, k, v, total, n, NULL, NULL FROM ranked{page}"
        params = [*params, limit, offset]
    with read_cursor() as cursor:
        cursor.execute(sql, params)
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


def trending(entity: str, window: Window, *, limit: int = 10, min_volume: float = 0) -> list[RankRow]:
    """Growth score = tokens in ``window`` minus the mean of the three preceding equal
    windows (OpenRouter's definition); entries under ``min_volume`` tokens are left out."""
    key = ENTITY_KEY[entity]
    public = entity == "app"
    lookback = Window(window.start - 3 * window.length, window.end)
    source, params = read.source(lookback, Filters(), public_apps_only=public, entity=entity)
    _, bucket_start, _ = read.table(window)
    sql = (
        f"SELECT {key}, sum(u.prompt_tokens + u.completion_tokens) FILTER (WHERE u.bucket >= %s) AS cur, "
        f"sum(u.prompt_tokens + u.completion_tokens) FILTER (WHERE u.bucket < %s) / 3.0 AS base"
        f"{source} GROUP BY 1 "
        "HAVING coalesce(sum(u.prompt_tokens + u.completion_tokens) FILTER (WHERE u.bucket >= %s), 0) >= %s "
        "ORDER BY coalesce(sum(u.prompt_tokens + u.completion_tokens) FILTER (WHERE u.bucket >= %s), 0) "
        "- coalesce(sum(u.prompt_tokens + u.completion_tokens) FILTER (WHERE u.bucket < %s), 0) / 3.0 DESC "
        "LIMIT %s"
    )
    with read_cursor() as cursor:
        cursor.execute(
            sql,
            [
                bucket_start,
                bucket_start,
                *params,
                bucket_start,
                max(min_volume, 1),
                bucket_start,
                bucket_start,
                limit,
            ],
        )
        raw = cursor.fetchall()
    rows = []
    for position, (k, cur, base) in enumerate(raw, start=1):
        cur, base = float(cur or 0), float(base or 0)
        rows.append(RankRow(position, k, cur, 0.0, base if base else None, None, extra={"score": cur - base}))
    attach_entities(entity, rows)
    return [r for r in rows if r.extra["score"] > 0]


def new_models(window: Window, limit: int = 10) -> list[RankRow]:
    """Models first used in ``window`` (UTC days; no usage on any earlier day), by tokens.
    One probe of the per-model daily table's (model, bucket) index per catalog model finds
    the new ones; only their rows are summed."""
    sql = (
        "WITH new AS MATERIALIZED (SELECT m.id FROM rankings_llmmodel m WHERE "
        "(SELECT min(p.bucket) FROM rankings_usagemodeltotal p WHERE p.model_id = m.id) >= %s) "
        "SELECT u.model_id, sum(u.prompt_tokens + u.completion_tokens) FROM rankings_usagemodeltotal u "
        "WHERE u.model_id IN (SELECT id FROM new) AND u.bucket >= %s AND u.bucket < %s "
        "GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT %s"
    )
    with read_cursor() as cursor:
        cursor.execute(sql, [window.start.date(), window.start.date(), window.end.date(), limit])
        raw = cursor.fetchall()
    rows = [RankRow(n, k, float(v), 0.0, None, None) for n, (k, v) in enumerate(raw, start=1)]
    attach_entities("model", rows)
    return rows
