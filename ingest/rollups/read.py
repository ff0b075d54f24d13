"""Reading the rollups: which grain answers a read, and the FROM and WHERE over it, with the
column maps of ``ingest.schema``. Every query of ``rankings.selectors`` starts here; a rollup
row is ``u``, its model row ``m``.

A window aligned on UTC days reads a daily (or weekly) grain; any other window, or hour
buckets, read the hourly one. Private apps can be left out of app listings here; their usage
still counts for models, authors, providers and categories, as on OpenRouter.
"""

from __future__ import annotations

from dataclasses import dataclass, field, make_dataclass
from typing import Any

from psycopg import sql

from ingest import schema
from ingest.models import UsageDaily
from ingest.rollups.grains import BY_SIZE, DAILY, HOURLY, Grain
from ingest.rollups.windows import Window

METRICS = {metric.name: metric for metric in schema.METRICS}
ENTITIES = tuple(d.name for d in schema.DIMENSIONS)


def metric_sum(name: str, alias: str = "u") -> sql.Composed:
    """A metric over a rollup row: the sum of its measures' columns (tokens: prompt +
    completion)."""
    return sql.SQL(" + ").join(sql.Identifier(alias, column) for column in METRICS[name].columns)


def key(entity: str) -> sql.Identifier:
    """An entity's key in a rollup row ``u`` joined to its model ``m`` (an author's is its
    model's author)."""
    dimension = schema.DIMENSION[entity]
    if dimension.model_column:
        return sql.Identifier("m", dimension.model_column)
    return sql.Identifier("u", dimension.column)


class _Scopes:
    def where(self) -> tuple[sql.Composed, dict[str, Any]]:
        """`` AND key = %(dimension)s`` for each scope set, with its parameters."""
        scoped = [name for name in ENTITIES if getattr(self, name) is not None]
        clauses = sql.SQL("").join(
            sql.SQL(" AND {} = {}").format(key(name), sql.Placeholder(name)) for name in scoped
        )
        return clauses, {name: getattr(self, name) for name in scoped}


Filters = make_dataclass(
    "Filters",
    [(d.name, int | str | None, field(default=None)) for d in schema.DIMENSIONS],
    bases=(_Scopes,),
    module=__name__,
)
Filters.__doc__ = """Optional scopes, one per dimension; ids already resolved (views resolve slugs
and 404 on unknown ones)."""


def has_usage() -> bool:
    """Anything counted yet (an empty install shows how to send events)."""
    return UsageDaily.objects.exists()


def _needed(entity: str | None, filters: Filters) -> set[str]:
    """The rollup columns a read groups by (``entity``) or filters on."""
    scopes = [name for name in ENTITIES if getattr(filters, name) is not None]
    return {schema.DIMENSION[name].column for name in [entity, *scopes] if name is not None}


def grain_for(window: Window, interval: str | None = None, needed: set[str] | None = None) -> Grain:
    """The smallest grain that answers: hourly for windows not on day boundaries (and hour
    buckets), else the first date grain having every column the read needs, weekly ones only
    for whole weeks read as a total or per week."""
    if not window.days_aligned or interval == "hour":
        return HOURLY
    needed = needed if needed is not None else set(DAILY.columns[1:])
    weeks = interval in (None, "week") and window.whole_weeks
    return next(g for g in BY_SIZE if needed <= set(g.columns[1:]) and (not g.weekly or weeks))


def bounds(window: Window, grain: Grain) -> tuple[Any, Any]:
    """The window as bucket values of ``grain`` (dates for date-bucketed grains)."""
    if grain.date_bucketed:
        return window.start.date(), window.end.date()
    return window.start, window.end


@dataclass(frozen=True)
class Source:
    """`` FROM ... WHERE ...`` over ``grain``; ``params`` holds its bounds (``{prefix}start``,
    ``{prefix}end``) and its filters (under their dimension names)."""

    sql: sql.Composed
    params: dict[str, Any]
    grain: Grain


def source(
    window: Window,
    filters: Filters,
    *,
    public_apps_only: bool = False,
    interval: str | None = None,
    entity: str | None = None,
    columns: frozenset[str] = frozenset(),
    prefix: str = "",
    grain: Grain | None = None,
) -> Source:
    """FROM + WHERE over the right grain (see :func:`grain_for`), or over ``grain`` (a narrow
    rollup: per UTC day, so ``window`` must be whole days, see ``Window.whole_days``). Range scans
    use each grain's primary key (bucket first); scoped reads use the (model, bucket),
    (app, bucket) and (category, bucket) indexes."""
    grain = grain or grain_for(window, interval, _needed(entity, filters) | columns)
    scopes, params = filters.where()
    # Authors come from the model row: join it only when they are read.
    via_model = [d.name for d in schema.DIMENSIONS if d.model_column]
    reads_model_row = entity in via_model or any(getattr(filters, name) is not None for name in via_model)
    join = sql.SQL(" JOIN rankings_llmmodel m ON m.id = u.model_id" if reads_model_row else "")
    # Private apps are few: a hashed anti-join on their ids beats joining every app.
    private = sql.SQL(
        " AND u.app_id NOT IN (SELECT id FROM rankings_app WHERE NOT is_public)" if public_apps_only else ""
    )
    start, end = bounds(window, grain)
    composed = sql.SQL(
        " FROM {table} u{join} WHERE u.bucket >= {start} AND u.bucket < {end}{scopes}{private}"
    ).format(
        table=grain.name,
        join=join,
        start=sql.Placeholder(f"{prefix}start"),
        end=sql.Placeholder(f"{prefix}end"),
        scopes=scopes,
        private=private,
    )
    return Source(composed, {f"{prefix}start": start, f"{prefix}end": end, **params}, grain)
