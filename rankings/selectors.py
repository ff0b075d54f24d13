"""Reads for the rankings: the one source of numbers for pages and the REST API.

Everything here reads only the rollup tables (``rankings_usagehourly`` / ``rankings_usagedaily``)
plus the catalog. Windows are half-open ``[start, end)`` in UTC. A window aligned on UTC days
reads the daily table (its primary key leads with the bucket); any other window reads the
hourly one. Private apps are never listed, but their usage still counts for models,
authors, providers and categories, as on OpenRouter.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.db import connections, router

from rankings.models import App, Author, Category, LLMModel, Provider, UsageDaily

METRICS = {
    "tokens": "prompt_tokens + completion_tokens",
    "requests": "requests",
    "cost": "cost",
    "prompt_tokens": "prompt_tokens",
    "completion_tokens": "completion_tokens",
    "reasoning_tokens": "reasoning_tokens",
    "cached_tokens": "cached_tokens",
}
PERIODS = {"day": 1, "week": 7, "month": 30, "year": 365, "all": None}
INTERVALS = ("hour", "day", "week", "month")
ENTITIES = ("model", "author", "app", "category", "provider", "variant")
# SQL key of each entity in a rollup row ``u`` joined to its model ``m`` and app ``a``.
ENTITY_KEY = {
    "model": "u.model_id",
    "author": "m.author_id",
    "app": "u.app_id",
    "category": "u.category_id",
    "provider": "u.provider_id",
    "variant": "u.variant",
}
ENTITY_MODEL = {"model": LLMModel, "author": Author, "app": App, "category": Category, "provider": Provider}


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime

    @property
    def days_aligned(self) -> bool:
        return self.start.time() == time(0) and self.end.time() == time(0)

    @property
    def length(self) -> timedelta:
        return self.end - self.start

    def previous(self) -> Window:
        return Window(self.start - self.length, self.start)

    def label(self) -> str:
        last = self.end - timedelta(seconds=1)
        if self.length <= timedelta(days=1):
            return f"{self.start:%b %-d %H:%M} – {self.end:%b %-d %H:%M} UTC"
        return f"{self.start:%b %-d, %Y} – {last:%b %-d, %Y}"


@dataclass
class Filters:
    """Optional scopes; ids already resolved (views resolve slugs and 404 on unknown ones)."""

    model: int | None = None
    author: int | None = None
    app: int | None = None
    category: int | None = None
    provider: int | None = None
    variant: str | None = None

    def sql(self) -> tuple[str, list[Any]]:
        clauses, params = [], []
        for name, column in ENTITY_KEY.items():
            value = getattr(self, name)
            if value is not None:
                clauses.append(f"{column} = %s")
                params.append(value)
        return "".join(f" AND {c}" for c in clauses), params


def _cursor():
    """A cursor on the database the router picks for rollup reads (a replica when one is
    configured with DATABASE_REPLICA_URL, else the primary)."""
    return connections[router.db_for_read(UsageDaily)].cursor()


def now() -> datetime:
    return datetime.now(UTC)


def _day(moment: datetime) -> datetime:
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def period_window(period: str, at: datetime | None = None) -> Window:
    """``day``: the last 24 hours to the end of the current hour; ``week``/``month``/``year``:
    the last 7/30/365 UTC days including today; ``all``: since the first rollup."""
    at = at or now()
    if period == "day":
        end = at.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        return Window(end - timedelta(days=1), end)
    end = _day(at) + timedelta(days=1)
    days = PERIODS[period]
    if days is None:
        first = first_day()
        return Window(first or end - timedelta(days=1), end)
    return Window(end - timedelta(days=days), end)


def history_window(days: int, interval: str, at: datetime | None = None) -> Window:
    """The last ``days`` UTC days to the end of today, for a chart per ``interval``; weekly
    and monthly charts start at their first bucket's start, so no bar is cut short (and
    weekly ones read the weekly rollups)."""
    end = period_window("week", at).end
    start = end - timedelta(days=days)
    if interval == "week":
        start -= timedelta(days=start.weekday())
    elif interval == "month":
        start = start.replace(day=1)
    return Window(start, end)


def first_day() -> datetime | None:
    with _cursor() as cursor:
        cursor.execute("SELECT min(bucket) FROM rankings_usagemodeltotal")  # the PK's leading column
        (first,) = cursor.fetchone()
    return datetime(first.year, first.month, first.day, tzinfo=UTC) if first else None


# Date-bucketed rollup tables from the smallest to the full cube: bucket width and the
# columns each can group or filter by (ingest.rollups.GRAINS writes them all from the same
# events).
DATE_TABLES = (
    ("rankings_usagemodelweekly", "week", {"model_id"}),
    ("rankings_usagemodeltotal", "day", {"model_id"}),
    ("rankings_usageappdaily", "day", {"app_id"}),
    ("rankings_usagecategoryweekly", "week", {"model_id", "category_id"}),
    ("rankings_usagemodeldaily", "day", {"model_id", "variant", "category_id"}),
    ("rankings_usagedaily", "day", {"model_id", "variant", "provider_id", "app_id", "category_id"}),
)
ENTITY_COLUMN = {
    None: None,
    "model": "model_id",
    "author": "model_id",
    "app": "app_id",
    "category": "category_id",
    "provider": "provider_id",
    "variant": "variant",
}


def _needed_columns(entity: str | None, filters: Filters) -> set[str]:
    """The rollup columns a read groups by (``entity``) or filters on."""
    scopes = [name for name in ENTITIES if getattr(filters, name) is not None]
    return {ENTITY_COLUMN[name] for name in [entity, *scopes] if name is not None}


def _whole_weeks(window: Window) -> bool:
    """True when weekly buckets cover exactly ``window``: it starts on a Monday and ends on
    one, or ends in the future (the current week's bucket holds nothing later than now)."""
    monday = window.start.weekday() == 0 and window.start.time() == time(0)
    end_on_monday = window.end.weekday() == 0 and window.end.time() == time(0)
    return monday and (end_on_monday or window.end > now())


def _table(
    window: Window, interval: str | None = None, needed: set[str] | None = None
) -> tuple[str, Any, Any]:
    """The smallest rollup table that answers: hourly for windows not on day boundaries
    (and hour buckets), else the first date table having every column the read needs, weekly
    ones only for whole weeks read as a total or per week."""
    if window.days_aligned and interval != "hour":
        needed = needed if needed is not None else set(DATE_TABLES[-1][2])
        weeks = interval in (None, "week") and _whole_weeks(window)
        table = next(
            name for name, width, columns in DATE_TABLES if needed <= columns and (width == "day" or weeks)
        )
        return table, window.start.date(), window.end.date()
    return "rankings_usagehourly", window.start, window.end


def _from(
    window: Window,
    filters: Filters,
    *,
    public_apps_only: bool = False,
    interval: str | None = None,
    entity: str | None = None,
    columns: frozenset[str] = frozenset(),
) -> tuple[str, list[Any]]:
    """FROM + WHERE over the right grain (see :func:`_table`). Range scans use each rollup's
    primary key (bucket first); scoped reads use the (model, bucket) / (app, bucket) /
    (category, bucket) indexes."""
    table, start, end = _table(window, interval, _needed_columns(entity, filters) | columns)
    where, params = filters.sql()
    # Authors come from the model row; join it only when they are read.
    reads_author = entity == "author" or filters.author is not None
    join = " JOIN rankings_llmmodel m ON m.id = u.model_id" if reads_author else ""
    if public_apps_only:
        # Private apps are few: a hashed anti-join on their ids beats joining every app.
        where += " AND u.app_id NOT IN (SELECT id FROM rankings_app WHERE NOT is_public)"
    sql = f" FROM {table} u{join} WHERE u.bucket >= %s AND u.bucket < %s{where}"
    return sql, [start, end, *params]


# --- Totals -------------------------------------------------------------------------------

TOTAL_COLUMNS = (
    "requests",
    "prompt_tokens",
    "completion_tokens",
    "reasoning_tokens",
    "cached_tokens",
    "cost",
    "latency_ms_sum",
    "latency_count",
    "generation_ms_sum",
    "generation_count",
    "generation_completion_tokens",
    "cancelled",
)


@dataclass
class Totals:
    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    reasoning_tokens: int = 0
    cached_tokens: int = 0
    cost: Decimal = Decimal(0)
    latency_ms_sum: int = 0
    latency_count: int = 0
    generation_ms_sum: int = 0
    generation_count: int = 0
    generation_completion_tokens: int = 0
    cancelled: int = 0

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

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


def totals(window: Window, filters: Filters | None = None) -> Totals:
    source, params = _from(window, filters or Filters())
    # sum(bigint) is numeric in PostgreSQL: cast the counts back to bigint (Python int).
    columns = ", ".join(
        f"coalesce(sum(u.{c}), 0)" + ("" if c == "cost" else "::bigint") for c in TOTAL_COLUMNS
    )
    with _cursor() as cursor:
        cursor.execute(f"SELECT {columns}{source}", params)
        return Totals(*cursor.fetchone())


# --- Rankings -----------------------------------------------------------------------------


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
    source, params = _from(window, filters, public_apps_only=public, entity=entity)
    sql = (
        f"WITH cur AS (SELECT {key} AS k, {measure} AS v{source} GROUP BY 1), "
        "ranked AS (SELECT k, v, rank() OVER (ORDER BY v DESC) AS r, sum(v) OVER () AS total, "
        "count(*) OVER () AS n FROM cur WHERE v > 0)"
    )
    page = " ORDER BY 3 DESC, 2 LIMIT %s OFFSET %s"
    if compare and window.start > datetime(2000, 1, 1, tzinfo=UTC):
        prev_source, prev_params = _from(window.previous(), filters, public_apps_only=public, entity=entity)
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
    with _cursor() as cursor:
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


def attach_entities(entity: str, rows: Iterable[RankRow]) -> None:
    rows = list(rows)
    if entity == "variant":
        for row in rows:
            row.entity = row.key
        return
    model = ENTITY_MODEL[entity]
    queryset = model.objects.filter(pk__in=[r.key for r in rows])
    if entity == "model":
        queryset = queryset.select_related("author")
    found = {obj.pk: obj for obj in queryset}
    for row in rows:
        row.entity = found.get(row.key)


# --- Time series --------------------------------------------------------------------------


@dataclass
class Series:
    buckets: list[datetime]
    series: list[tuple[Any, list[float]]]  # (entity, values) for the top N
    others: list[float]
    metric: str


def bucket_starts(window: Window, interval: str) -> list[datetime]:
    """Every bucket start of ``interval`` that overlaps ``window`` (for zero-filling)."""
    step = {"hour": timedelta(hours=1), "day": timedelta(days=1), "week": timedelta(days=7)}
    current = _truncate(window.start, interval)
    starts = []
    while current < window.end:
        starts.append(current)
        if interval == "month":
            current = (current.replace(day=28) + timedelta(days=4)).replace(day=1)
        else:
            current += step[interval]
    return starts


def _truncate(moment: datetime, interval: str) -> datetime:
    if interval == "hour":
        return moment.replace(minute=0, second=0, microsecond=0)
    day = _day(moment)
    if interval == "week":
        return day - timedelta(days=day.weekday())
    if interval == "month":
        return day.replace(day=1)
    return day


def timeseries(
    group_by: str | None,
    window: Window,
    *,
    interval: str = "day",
    metric: str = "tokens",
    top: int = 10,
    filters: Filters | None = None,
) -> Series:
    """``metric`` per ``interval`` bucket for the top ``top`` entities of the window plus
    "others" (all of it under ``others`` when ``group_by`` is None); gaps are zeros."""
    filters = filters or Filters()
    starts = bucket_starts(window, interval)
    if not group_by:
        return Series(starts, [], measure_series(window, interval=interval, filters=filters)[metric], metric)
    expression = "u." + METRICS[metric].replace(" + ", " + u.")
    source, params = _from(
        window, filters, public_apps_only=group_by == "app", interval=interval, entity=group_by
    )
    index = {b: i for i, b in enumerate(starts)}
    top_rows = ranking(group_by, window, metric=metric, filters=filters, limit=top, compare=False).rows
    top_keys = [r.key for r in top_rows]
    key = ENTITY_KEY[group_by]
    array = "%s::text[]" if group_by == "variant" else "%s"
    sql = (
        f"SELECT date_trunc('{interval}', u.bucket::timestamp), CASE WHEN {key} = ANY({array}) THEN {key} END, "
        f"sum({expression}){source} GROUP BY 1, 2"
    )
    values: dict[Any, list[float]] = {k: [0.0] * len(starts) for k in top_keys}
    others = [0.0] * len(starts)
    with _cursor() as cursor:
        cursor.execute(sql, [top_keys, *params])
        for bucket, k, v in cursor.fetchall():
            position = index.get(bucket.replace(tzinfo=UTC))
            if position is None:
                continue
            (values[k] if k is not None else others)[position] += float(v)
    return Series(starts, [(r.entity, values[r.key]) for r in top_rows], others, metric)


# The columns behind every metric in METRICS ("tokens" is prompt + completion).
SERIES_COLUMNS = tuple(metric for metric in METRICS if metric != "tokens")


def measure_series(
    window: Window, *, interval: str = "day", filters: Filters | None = None
) -> dict[str, list[float]]:
    """Every metric of METRICS per ``interval`` bucket of ``window`` (zeros in gaps), summed
    in one pass over the rollups, for charts and trends that need several at once."""
    source, params = _from(window, filters or Filters(), interval=interval)
    starts = bucket_starts(window, interval)
    index = {b: i for i, b in enumerate(starts)}
    values = {column: [0.0] * len(starts) for column in SERIES_COLUMNS}
    sums = ", ".join(f"sum(u.{column})" for column in SERIES_COLUMNS)
    with _cursor() as cursor:
        cursor.execute(
            f"SELECT date_trunc('{interval}', u.bucket::timestamp), {sums}{source} GROUP BY 1", params
        )
        for bucket, *row in cursor.fetchall():
            position = index.get(bucket.replace(tzinfo=UTC))
            if position is None:
                continue
            for column, value in zip(SERIES_COLUMNS, row, strict=True):
                values[column][position] += float(value)
    values["tokens"] = [
        p + c for p, c in zip(values["prompt_tokens"], values["completion_tokens"], strict=True)
    ]
    return values


# --- Trending and performance -------------------------------------------------------------


def trending(entity: str, window: Window, *, limit: int = 10, min_volume: float = 0) -> list[RankRow]:
    """Growth score = tokens in ``window`` minus the mean of the three preceding equal
    windows (OpenRouter's definition); entries under ``min_volume`` tokens are left out."""
    key = ENTITY_KEY[entity]
    public = entity == "app"
    lookback = Window(window.start - 3 * window.length, window.end)
    source, params = _from(lookback, Filters(), public_apps_only=public, entity=entity)
    _, bucket_start, _ = _table(window)
    sql = (
        f"SELECT {key}, sum(u.prompt_tokens + u.completion_tokens) FILTER (WHERE u.bucket >= %s) AS cur, "
        f"sum(u.prompt_tokens + u.completion_tokens) FILTER (WHERE u.bucket < %s) / 3.0 AS base"
        f"{source} GROUP BY 1 "
        "HAVING coalesce(sum(u.prompt_tokens + u.completion_tokens) FILTER (WHERE u.bucket >= %s), 0) >= %s "
        "ORDER BY coalesce(sum(u.prompt_tokens + u.completion_tokens) FILTER (WHERE u.bucket >= %s), 0) "
        "- coalesce(sum(u.prompt_tokens + u.completion_tokens) FILTER (WHERE u.bucket < %s), 0) / 3.0 DESC "
        "LIMIT %s"
    )
    with _cursor() as cursor:
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
    with _cursor() as cursor:
        cursor.execute(sql, [window.start.date(), window.start.date(), window.end.date(), limit])
        raw = cursor.fetchall()
    rows = [RankRow(n, k, float(v), 0.0, None, None) for n, (k, v) in enumerate(raw, start=1)]
    attach_entities("model", rows)
    return rows


def performance(window: Window, *, min_requests: int = 5, limit: int = 10) -> dict[str, list[dict[str, Any]]]:
    """Fastest models by throughput and lowest average latency in ``window``: both top
    lists ranked in one query, so only their models are loaded."""
    source, params = _from(window, Filters())
    sql = (
        "WITH s AS (SELECT u.model_id, sum(u.requests)::bigint AS n, "
        "sum(u.latency_ms_sum)::float / nullif(sum(u.latency_count), 0) AS lat, "
        "sum(u.generation_completion_tokens)::float * 1000 / nullif(sum(u.generation_ms_sum), 0) AS tps"
        f"{source} GROUP BY 1 HAVING sum(u.requests) >= %s), "
        "r AS (SELECT s.*, row_number() OVER (ORDER BY tps DESC NULLS LAST, model_id) AS by_tps, "
        "row_number() OVER (ORDER BY lat NULLS LAST, model_id) AS by_lat FROM s) "
        "SELECT model_id, n, lat, tps, by_tps, by_lat FROM r WHERE by_tps <= %s OR by_lat <= %s"
    )
    with _cursor() as cursor:
        cursor.execute(sql, [*params, min_requests, limit, limit])
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


def top_model_per_app(window: Window, app_ids: list[int]) -> dict[int, LLMModel]:
    """Each app's most used model (by tokens) in ``window``, in one query (uses the
    (app, bucket) indexes of the rollups)."""
    if not app_ids:
        return {}
    source, params = _from(window, Filters(), entity="app", columns=frozenset({"model_id"}))
    sql = (
        f"SELECT DISTINCT ON (u.app_id) u.app_id, u.model_id{source} AND u.app_id = ANY(%s) "
        "GROUP BY 1, 2 ORDER BY 1, sum(u.prompt_tokens + u.completion_tokens) DESC, 2"
    )
    with _cursor() as cursor:
        cursor.execute(sql, [*params, list(app_ids)])
        pairs = cursor.fetchall()
    models = LLMModel.objects.select_related("author").in_bulk([m for _, m in pairs])
    return {app: models[model] for app, model in pairs if model in models}


def provider_stats(window: Window, filters: Filters) -> list[dict[str, Any]]:
    """Per provider: share of requests, average latency and throughput (for a model page)."""
    source, params = _from(window, filters, entity="provider")
    sql = (
        "SELECT u.provider_id, sum(u.requests)::bigint, sum(u.prompt_tokens + u.completion_tokens)::bigint, "
        "sum(u.latency_ms_sum)::float / nullif(sum(u.latency_count), 0), "
        "sum(u.generation_completion_tokens)::float * 1000 / nullif(sum(u.generation_ms_sum), 0)"
        f"{source} GROUP BY 1 ORDER BY 3 DESC"
    )
    with _cursor() as cursor:
        cursor.execute(sql, params)
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


# Per dataset: the per-day rollup read, the catalog table joined for names, the expression
# that keeps an entity out of the ranks (private apps go to `other`), and the name column.
_DATASETS = {
    "model": (
        "rankings_usagemodeltotal",
        "model_id",
        "rankings_llmmodel",
        "true",
        "coalesce(nullif(e.permaslug, ''), e.slug)",
    ),
    "app": ("rankings_usageappdaily", "app_id", "rankings_app", "e.is_public", "e.name"),
}


def daily_dataset(
    entity: str, window: Window, *, top: int = 50, limit: int | None = None, offset: int = 0
) -> DatasetPage:
    """Per UTC day, the top ``top`` models (or public apps) by tokens plus one ``other`` row
    for the rest: the shape of OpenRouter's public daily datasets. One pass over a per-day
    rollup (its primary key range on bucket), ranked per day with a window function; pages
    of ``limit`` rows from ``offset``, in (date, rank) order with `other` last in its day."""
    table, column, catalog, ranked, name = _DATASETS[entity]
    sql = (
        f"WITH d AS (SELECT u.bucket AS day, u.{column} AS k, sum(u.prompt_tokens + u.completion_tokens) AS t, "
        f"sum(u.requests) AS r FROM {table} u WHERE u.bucket >= %s AND u.bucket < %s GROUP BY 1, 2), "
        f"n AS (SELECT d.*, {name} AS label, CASE WHEN {ranked} THEN row_number() OVER "
        f"(PARTITION BY d.day, {ranked} ORDER BY d.t DESC, d.k) END AS n FROM d JOIN {catalog} e ON e.id = d.k), "
        "rows AS (SELECT day, CASE WHEN n <= %s THEN n END AS rank, CASE WHEN n <= %s THEN k END AS k, "
        "CASE WHEN n <= %s THEN label ELSE 'other' END AS label, sum(t) AS t, sum(r) AS r FROM n GROUP BY 1, 2, 3, 4) "
        "SELECT day, rank, k, label, t, r, count(*) OVER () FROM rows ORDER BY day, rank NULLS LAST LIMIT %s OFFSET %s"
    )
    with _cursor() as cursor:
        cursor.execute(sql, [window.start.date(), window.end.date(), top, top, top, limit, offset])
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
        rows = [
            {
                "date": day.isoformat(),
                "app_id": k,
                "app_name": label,
                "rank": rank,
                "total_requests": int(r),
                "total_tokens": int(t),
            }
            for day, rank, k, label, t, r, _ in raw
        ]
    return DatasetPage(rows, count)
