"""Reading the rollups: which grain answers a read, and the FROM and WHERE over it. Every
query of ``rankings.selectors`` starts here; a rollup row is ``u``, its model row ``m``.

A window aligned on UTC days reads a daily (or weekly) grain; any other window, or hour
buckets, read the hourly one. Private apps are left out of app listings here; their usage
still counts for models, authors, providers and categories, as on OpenRouter.
"""

from __future__ import annotations

from dataclasses import field, make_dataclass
from typing import Any

from ingest import schema
from ingest.models import UsageDaily
from ingest.rollups.grains import BY_SIZE, DAILY, HOURLY
from ingest.rollups.windows import Window

# Metric -> its SQL over a rollup row (a sum of measures).
METRICS = {metric.name: " + ".join(metric.columns) for metric in schema.METRICS}
ENTITIES = tuple(d.name for d in schema.DIMENSIONS)
# SQL key of each entity in a rollup row ``u`` joined to its model ``m``.
ENTITY_KEY = {d.name: f"m.{d.model_column}" if d.model_column else f"u.{d.column}" for d in schema.DIMENSIONS}
ENTITY_COLUMN = {None: None, **{d.name: d.column for d in schema.DIMENSIONS}}


class _Scopes:
    def sql(self) -> tuple[str, list[Any]]:
        clauses, params = [], []
        for name, column in ENTITY_KEY.items():
            value = getattr(self, name)
            if value is not None:
                clauses.append(f"{column} = %s")
                params.append(value)
        return "".join(f" AND {c}" for c in clauses), params


Filters = make_dataclass(
    "Filters",
    [(d.name, int | str | None, field(default=None)) for d in schema.DIMENSIONS],
    bases=(_Scopes,),
    module=__name__,
)
Filters.__doc__ = """Optional scopes, one per dimension; ids already resolved (views resolve slugs
and 404 on unknown ones)."""


def has_usage() -> bool:
    return UsageDaily.objects.exists()


def needed_columns(entity: str | None, filters: Filters) -> set[str]:
    """The rollup columns a read groups by (``entity``) or filters on."""
    scopes = [name for name in ENTITIES if getattr(filters, name) is not None]
    return {ENTITY_COLUMN[name] for name in [entity, *scopes] if name is not None}


def table(window: Window, interval: str | None = None, needed: set[str] | None = None) -> tuple[str, Any, Any]:
    """The smallest rollup table that answers: hourly for windows not on day boundaries
    (and hour buckets), else the first date table having every column the read needs, weekly
    ones only for whole weeks read as a total or per week."""
    if window.days_aligned and interval != "hour":
        needed = needed if needed is not None else set(DAILY.columns[1:])
        weeks = interval in (None, "week") and window.whole_weeks
        grain = next(g for g in BY_SIZE if needed <= set(g.columns[1:]) and (not g.weekly or weeks))
        return grain.table, window.start.date(), window.end.date()
    return HOURLY.table, window.start, window.end


def source(
    window: Window,
    filters: Filters,
    *,
    public_apps_only: bool = False,
    interval: str | None = None,
    entity: str | None = None,
    columns: frozenset[str] = frozenset(),
) -> tuple[str, list[Any]]:
    """FROM + WHERE over the right grain (see :func:`table`). Range scans use each rollup's
    primary key (bucket first); scoped reads use the (model, bucket) / (app, bucket) /
    (category, bucket) indexes."""
    name, start, end = table(window, interval, needed_columns(entity, filters) | columns)
    where, params = filters.sql()
    # Authors come from the model row; join it only when they are read.
    reads_author = entity == "author" or filters.author is not None
    join = " JOIN rankings_llmmodel m ON m.id = u.model_id" if reads_author else ""
    if public_apps_only:
        # Private apps are few: a hashed anti-join on their ids beats joining every app.
        where += " AND u.app_id NOT IN (SELECT id FROM rankings_app WHERE NOT is_public)"
    sql = f" FROM {name} u{join} WHERE u.bucket >= %s AND u.bucket < %s{where}"
    return sql, [start, end, *params]
