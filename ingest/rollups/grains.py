"""The rollup tables ("grains"): each one's bucket, key, measures and model, in one list that
the write, rebuild, verify and read SQL all follow.

The cube and its narrower tables carry every measure of ``ingest.schema.MEASURES``; the
narrow rollups of tool calls, context length, tags and sessions carry theirs. A table's
primary key is its bucket and dimensions; any number of workers add to the same rows
atomically (``INSERT ... ON CONFLICT DO UPDATE SET x = x + EXCLUDED.x``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import connections, models, router
from psycopg import sql

from ingest import schema
from ingest.models import (
    UsageAppDaily,
    UsageCategoryDaily,
    UsageCategoryWeekly,
    UsageDaily,
    UsageModelDaily,
    UsageModelTotal,
    UsageModelWeekly,
    UsageQuarterHour,
)
from ingest.narrow_models import (
    UsageContextDaily,
    UsageContextTotal,
    UsageSession,
    UsageTagAppDaily,
    UsageTagDaily,
    UsageTagTotal,
    UsageToolDaily,
)

# Raw events the rollups count: all but those sent with a test key (docs/decisions.md,
# "Test keys"). Write, rebuild and verify all read raw rows through Grain.rows, which applies it.
TEST_FLAG = "is_test"
COUNTED = f"NOT {TEST_FLAG}"

# Bucket kinds: quarter-hours (UTC instants), and days and ISO weeks (from Monday) in the zone
# the date rollups are built in (``ingest.rollups.zones``).
QUARTER, DAY, WEEK = "quarter", "day", "week"
_BUCKETS = {
    QUARTER: "date_bin('15 minutes', created_at, TIMESTAMPTZ '2000-01-01 00:00+00')",
    DAY: "(created_at AT TIME ZONE {zone})::date",
    WEEK: "date_trunc('week', created_at AT TIME ZONE {zone})::date",
}


def bucket_sql(kind: str, zone: str) -> sql.Composed:
    """The bucket of a raw-event row for a grain of ``kind``, dates in ``zone``."""
    return sql.SQL(_BUCKETS[kind]).format(zone=sql.Literal(zone))


def names(columns: Iterable[str], alias: str | None = None) -> sql.Composed:
    """Comma-separated column identifiers, qualified with a table ``alias`` when given."""
    return sql.SQL(", ").join(sql.Identifier(alias, c) if alias else sql.Identifier(c) for c in columns)


@dataclass(frozen=True)
class Grain:
    """A rollup table: its model, the bucket expression over raw rows and its key (the
    dimensions of ``ingest.schema`` after the bucket, in write order).

    ``daily``: a daily grain having every column of this one, whose rows it sums. The write
    statement sums this grain from the batch's rows of that grain (fewer than its events)
    instead of grouping the events again; rebuilds and checks derive a weekly grain from that
    table, because raw events are kept only for the retention window while daily rollups are
    kept forever. ``measures``: what its rows sum; ``where``: the raw
    events it counts (SQL over a raw-event row; all by default), of those :data:`COUNTED`.
    """

    model: type[models.Model]
    bucket: str
    dimensions: tuple[str, ...]
    daily: Grain | None = None
    measures: tuple[schema.Measure, ...] = schema.MEASURES
    where: str = ""

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
    def measure_columns(self) -> tuple[str, ...]:
        return tuple(m.column for m in self.measures)

    @property
    def joined(self) -> schema.Dimension | None:
        """Its dimension read through a join (a tag: one row per tag of an event), if any."""
        return next((d for d in map(schema.DIMENSION.get, self.dimensions) if d.join), None)

    def keys(self, zone: str, *, unjoined: bool = False) -> sql.Composed:
        """Its key over raw-event rows (of :meth:`rows`): the bucket (dates in ``zone``), then
        each dimension's value named as its column (``unjoined``: its joined dimension's raw
        column instead, see ``write.from_raw``)."""
        return sql.SQL(", ").join(
            [
                sql.SQL("{} AS bucket").format(bucket_sql(self.bucket, zone)),
                *(
                    sql.Identifier(d.joined_from)
                    if unjoined and d.join
                    else sql.SQL("{} AS {}").format(sql.SQL(d.select), sql.Identifier(d.column))
                    for d in (schema.DIMENSION[name] for name in self.dimensions)
                ),
            ]
        )

    def rows(self, source: sql.Composable, *, unjoined: bool = False) -> sql.Composed:
        """The raw-event rows of ``source`` it counts, with what its dimensions need joined
        (unless ``unjoined``)."""
        rows = sql.SQL(self.joined.join).format(rows=source) if self.joined and not unjoined else source
        conditions = " AND ".join(c for c in (COUNTED, self.where) if c)
        return sql.SQL("{} WHERE {}").format(rows, sql.SQL(conditions))

    @property
    def positions(self) -> sql.SQL:
        """Its key columns by position in a SELECT that lists them first (GROUP/ORDER BY)."""
        return sql.SQL(", ".join(str(n) for n in range(1, len(self.columns) + 1)))

    @property
    def date_bucketed(self) -> bool:
        """Buckets are dates (day or week), not timestamps."""
        return self.bucket != QUARTER

    @property
    def weekly(self) -> bool:
        return self.bucket == WEEK


QUARTERLY = Grain(UsageQuarterHour, QUARTER, schema.CUBE)
DAILY = Grain(UsageDaily, DAY, schema.CUBE)
# Narrower daily tables: per model, variant and category; per model alone (the home
# page's charts); per category alone; per app alone (app rankings and app trending without
# the full cube).
MODEL_DAILY = Grain(UsageModelDaily, DAY, ("model", "variant", "category"))
MODEL_TOTAL = Grain(UsageModelTotal, DAY, ("model",), daily=MODEL_DAILY)
# Per category alone (category trends and rankings: a dozen rows a day).
CATEGORY_DAILY = Grain(UsageCategoryDaily, DAY, ("category",), daily=MODEL_DAILY)
APP_DAILY = Grain(UsageAppDaily, DAY, ("app",), daily=DAILY)
# Per ISO week: the year-long weekly charts (per model; per category and model).
MODEL_WEEKLY = Grain(UsageModelWeekly, WEEK, ("model",), daily=MODEL_TOTAL)
CATEGORY_WEEKLY = Grain(UsageCategoryWeekly, WEEK, ("model", "category"), daily=MODEL_DAILY)

# The narrow rollups, per day (their reads take whole days): tool calls per model and
# provider (requests that made some); usage per model and context length, and per context
# length alone (the home page); per tag and model, per tag alone, and per app and tag (app
# pages, and private apps' share, taken out of public tag readings); sessions per app,
# harness and model (read per session).
_METRICS = {"measures": schema.METRIC_MEASURES}
TOOL_DAILY = Grain(
    UsageToolDaily,
    DAY,
    ("model", "provider"),
    measures=schema.METRIC_MEASURES + schema.TOOL_MEASURES,
    where="tool_calls > 0",
)
CONTEXT_DAILY = Grain(UsageContextDaily, DAY, ("model", "context"), **_METRICS)
CONTEXT_TOTAL = Grain(UsageContextTotal, DAY, ("context",), daily=CONTEXT_DAILY, **_METRICS)
_TAGGED = "tags <> ''"  # an event without tags adds to no tag's row (most events, for many)
TAG_DAILY = Grain(UsageTagDaily, DAY, ("tag", "model"), where=_TAGGED, **_METRICS)
TAG_TOTAL = Grain(UsageTagTotal, DAY, ("tag",), daily=TAG_DAILY, **_METRICS)
TAG_APP_DAILY = Grain(UsageTagAppDaily, DAY, ("app", "tag"), where=_TAGGED, **_METRICS)
SESSIONS = Grain(
    UsageSession,
    DAY,
    ("app", "harness", "session", "model"),
    measures=schema.SESSION_MEASURES,
    where="session_id <> ''",
)
NARROW = (TOOL_DAILY, CONTEXT_DAILY, CONTEXT_TOTAL, TAG_DAILY, TAG_TOTAL, TAG_APP_DAILY, SESSIONS)

# Write order: every statement that touches several grains takes them in this order.
GRAINS = (
    QUARTERLY,
    DAILY,
    MODEL_DAILY,
    MODEL_TOTAL,
    CATEGORY_DAILY,
    APP_DAILY,
    MODEL_WEEKLY,
    CATEGORY_WEEKLY,
    *NARROW,
)
# Date-bucketed grains from the smallest to the full cube: a read takes the first that has
# every column it groups or filters by (see ingest.rollups.read).
BY_SIZE = (MODEL_WEEKLY, MODEL_TOTAL, CATEGORY_DAILY, APP_DAILY, CATEGORY_WEEKLY, MODEL_DAILY, DAILY)
ALL_TABLES = sql.SQL(", ").join(g.name for g in GRAINS)


def read_columns() -> tuple[str, ...]:
    """The raw-event columns the grains read from a raw row (in a key, a measure, a condition
    or a dimension's join), found in their own SQL: what the write statement carries from
    the raw rows it inserts to the grains (text columns it does not need, such as ids and
    origins, would only widen the rows every grain scans)."""
    rendered = " ".join(
        sql.SQL("{} {} {}").format(g.keys("UTC"), g.rows(sql.Identifier("rows")), _measure_sql(g)).as_string(None)
        for g in GRAINS
    )
    used = set(re.findall(r"(?<![.\w])\w+", rendered))  # not a qualified name (tv.id)
    return tuple(c for c in (*schema.RAW_COLUMNS, TEST_FLAG) if c in used)


def _measure_sql(grain: Grain) -> sql.SQL:
    return sql.SQL(" ".join(m.aggregate for m in grain.measures))


def read_cursor():
    """A cursor on the database the router picks for rollup reads (a replica when one is
    configured with DATABASE_REPLICA_URL, else the primary)."""
    return connections[router.db_for_read(UsageDaily)].cursor()
