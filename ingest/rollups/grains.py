"""The rollup tables ("grains"): each one's bucket, key and model, in one list that the
write, rebuild, verify and read SQL all follow.

Every table has the same measures (``ingest.schema.MEASURES``) and its primary key is its
bucket and dimensions; any number of workers add to the same rows atomically
(``INSERT ... ON CONFLICT DO UPDATE SET x = x + EXCLUDED.x``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db import connections, models, router
from psycopg import sql

from ingest import schema
from ingest.models import (
    UsageAppDaily,
    UsageCategoryWeekly,
    UsageDaily,
    UsageHourly,
    UsageModelDaily,
    UsageModelTotal,
    UsageModelWeekly,
)

# Bucket expressions over raw-event rows.
HOUR = sql.SQL("date_trunc('hour', created_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'")
DAY = sql.SQL("(created_at AT TIME ZONE 'UTC')::date")
WEEK = sql.SQL("date_trunc('week', created_at AT TIME ZONE 'UTC')::date")  # ISO weeks: Monday
MEASURES = tuple(m.column for m in schema.MEASURES)


def names(columns: Iterable[str], alias: str | None = None) -> sql.Composed:
    """Comma-separated column identifiers, qualified with a table ``alias`` when given."""
    return sql.SQL(", ").join(sql.Identifier(alias, c) if alias else sql.Identifier(c) for c in columns)


@dataclass(frozen=True)
class Grain:
    """A rollup table: its model, the bucket expression over raw rows and its key (the
    dimensions of ``ingest.schema`` after the bucket, in write order).

    A weekly grain also names the daily grain it sums up (``daily``): rebuilds and checks
    derive it from that table, because raw events are kept only for the retention window
    while daily rollups are kept forever.
    """

    model: type[models.Model]
    bucket: sql.SQL
    dimensions: tuple[str, ...]
    daily: Grain | None = None

    @property
    def table(self) -> str:
        return self.model._meta.db_table

    @property
    def name(self) -> sql.Identifier:
        return sql.Identifier(self.table)

    @property
    def columns(self) -> tuple[str, ...]:
        """Its key columns: the bucket, then its dimensions' columns."""
        return ("bucket", *(schema.DIMENSION[name].column for name in self.dimensions))

    @property
    def positions(self) -> sql.SQL:
        """Its key columns by position in a SELECT that lists them first (GROUP/ORDER BY)."""
        return sql.SQL(", ".join(str(n) for n in range(1, len(self.columns) + 1)))

    @property
    def date_bucketed(self) -> bool:
        """Buckets are dates (day or week), not timestamps."""
        return self.bucket != HOUR

    @property
    def weekly(self) -> bool:
        return self.bucket == WEEK


HOURLY = Grain(UsageHourly, HOUR, schema.CUBE)
DAILY = Grain(UsageDaily, DAY, schema.CUBE)
# Narrower daily tables: per model, variant and category; per model alone (the home
# page's charts); per app alone (app rankings and app trending without the full cube).
MODEL_DAILY = Grain(UsageModelDaily, DAY, ("model", "variant", "category"))
MODEL_TOTAL = Grain(UsageModelTotal, DAY, ("model",))
APP_DAILY = Grain(UsageAppDaily, DAY, ("app",))
# Per ISO week: the year-long weekly charts (per model; per category and model).
MODEL_WEEKLY = Grain(UsageModelWeekly, WEEK, ("model",), daily=MODEL_TOTAL)
CATEGORY_WEEKLY = Grain(UsageCategoryWeekly, WEEK, ("model", "category"), daily=MODEL_DAILY)

# Write order: every statement that touches several grains takes them in this order.
GRAINS = (HOURLY, DAILY, MODEL_DAILY, MODEL_TOTAL, APP_DAILY, MODEL_WEEKLY, CATEGORY_WEEKLY)
# Date-bucketed grains from the smallest to the full cube: a read takes the first that has
# every column it groups or filters by (see ingest.rollups.read).
BY_SIZE = (MODEL_WEEKLY, MODEL_TOTAL, APP_DAILY, CATEGORY_WEEKLY, MODEL_DAILY, DAILY)
ALL_TABLES = sql.SQL(", ").join(g.name for g in GRAINS)


def read_cursor():
    """A cursor on the database the router picks for rollup reads (a replica when one is
    configured with DATABASE_REPLICA_URL, else the primary)."""
    return connections[router.db_for_read(UsageDaily)].cursor()
