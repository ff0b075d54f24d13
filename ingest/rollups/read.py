"""Reading the rollups: which grain answers a read, and the FROM and WHERE over it, with the
column maps of ``ingest.schema``. Every query of ``rankings.selectors`` starts here; a rollup
row is ``u``, its model row ``m``.

A window aligned on UTC days reads a daily (or weekly) grain; any other window, or hour
buckets, read the hourly one. Private apps can be left out of app listings here; their usage
still counts for models, authors, providers and categories, as on OpenRouter.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field, make_dataclass
from datetime import date, datetime, timedelta
from typing import Any

from psycopg import sql

from ingest import schema
from ingest.models import UsageDaily
from ingest.rollups import zones
from ingest.rollups.grains import BY_SIZE, QUARTER, QUARTERLY, Grain, names
from ingest.rollups.windows import Window, bucket_starts, local_start, midnight, shift

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


def grain_for(needed: set[str], weekly: bool = False) -> Grain:
    """The smallest date grain having every column a read needs (a weekly one if asked)."""
    return next(g for g in BY_SIZE if needed <= set(g.columns[1:]) and g.weekly == weekly)


@dataclass(frozen=True)
class Piece:
    """A run of buckets of one grain: ``[first, last)`` as its bucket values."""

    grain: Grain
    first: Any
    last: Any


def _cut_inside(cuts: list[datetime], start: datetime, end: datetime) -> bool:
    position = bisect_right(cuts, start)
    return position < len(cuts) and cuts[position] < end


def cover(window: Window, cuts: list[datetime], needed: set[str], *, weeks: bool) -> list[Piece]:
    """The window as runs of the rollups, exact to the quarter-hour: every day (in the zone the
    date rollups are built in) that lies whole inside the window and inside one bucket (no
    ``cuts`` strictly within it) from a date grain, whole weeks of those from a weekly grain
    (``weeks``), the rest (edges and days split by buckets) from the quarter-hour cube. An
    open window's last day is read whole: nothing counted lies after now."""
    zone = zones.built_zone()
    kinds: list[tuple[str, datetime, datetime]] = []  # (kind, start, end) in time order

    def add(kind: str, start: datetime, end: datetime) -> None:
        if kinds and kinds[-1][0] == kind and kinds[-1][2] == start:
            kinds[-1] = (kind, kinds[-1][1], end)
        elif start < end:
            kinds.append((kind, start, end))

    usable_end = window.end
    day = local_start(window.start, "day", zone)
    while day < window.end:
        following = shift(day, "day", 1, zone)
        whole = day >= window.start and (following <= window.end or window.open)
        if whole and not _cut_inside(cuts, day, min(following, window.end)):
            add("day", day, following)
            usable_end = max(usable_end, following)
        else:
            add(QUARTER, max(day, window.start), min(following, window.end))
        day = following
    pieces = []
    weekly = weeks and any(g.weekly and needed <= set(g.columns[1:]) for g in BY_SIZE)
    for kind, start, end in kinds:
        if kind == QUARTER:
            pieces.append(Piece(QUARTERLY, start, end))
            continue
        first, last = _date(start, zone), _date(end, zone)
        monday = first + timedelta(days=-first.weekday() % 7)
        whole_weeks = (last - monday).days // 7
        if window.open and end >= window.end:
            whole_weeks = -(-(last - monday).days // 7)  # the current week holds nothing later
        weeks_end = monday + timedelta(days=7 * max(whole_weeks, 0))
        if (
            weekly
            and weeks_end > monday
            and not _cut_inside(cuts, midnight(monday, zone), midnight(weeks_end, zone))
        ):
            pieces.append(Piece(grain_for(needed), first, monday))
            pieces.append(Piece(grain_for(needed, weekly=True), monday, weeks_end))
            pieces.append(Piece(grain_for(needed), weeks_end, last))
        else:
            pieces.append(Piece(grain_for(needed), first, last))
    # An empty window (the window before one that starts after now: no time of it has gone
    # by) is one empty range of the quarter-hour cube: every read of it answers no rows.
    return [p for p in pieces if p.first < p.last] or [Piece(QUARTERLY, window.start, window.start)]


def _date(moment: datetime, zone: str) -> date:
    return moment.astimezone(zones.info(zone)).date()


def day_bounds(window: Window, zone: str | None = None) -> tuple[date, date]:
    """The days (in ``zone``, default the zone the date rollups are built in) that ``window``
    overlaps, as date bucket bounds ``[first, last)``."""
    zone = zone or zones.built_zone()
    return _date(window.start, zone), _first_day(window.end, zone)


def _first_day(moment: datetime, zone: str) -> date:
    """The first day in ``zone`` that starts at or after ``moment``."""
    day = local_start(moment, "day", zone)
    return _date(day if day == moment else shift(day, "day", 1, zone), zone)


@dataclass(frozen=True)
class Source:
    """`` FROM ... WHERE ...`` over the rollups, as ``u``; ``params`` holds its bounds and its
    filters (under their dimension names); ``position`` is the 1-based bucket of ``starts``
    a row of ``u`` falls in."""

    sql: sql.Composed
    params: dict[str, Any]
    position: sql.Composable
    starts: list[datetime]


def _position(grain: Grain, name: str, alias: str | None = None) -> sql.Composed:
    """The bucket (of the starts in ``%(name)s``, 1-based) of a row of ``grain``: dates are
    compared with the first day in each bucket (``%(name)s_days``)."""
    suffix = "_days" if grain.date_bucketed else ""
    bucket = sql.Identifier(alias, "bucket") if alias else sql.Identifier("bucket")
    return sql.SQL("width_bucket({}, {})").format(bucket, sql.Placeholder(name + suffix))


def source(
    window: Window,
    filters: Filters,
    *,
    public_apps_only: bool = False,
    interval: str | None = None,
    starts: list[datetime] | None = None,
    entity: str | None = None,
    columns: frozenset[str] = frozenset(),
    prefix: str = "",
    grain: Grain | None = None,
) -> Source:
    """FROM + WHERE over the rollups that answer ``window`` exactly (see :func:`cover`), or
    over ``grain`` (a narrow rollup: per day, so ``window`` must be whole days, see
    ``Window.whole_days``); rows grouped by bucket use ``position`` (buckets of ``interval``,
    or the given ``starts``). Range scans use each grain's primary key (bucket first); scoped
    reads use the (model, bucket), (app, bucket) and (category, bucket) indexes."""
    if starts is None:
        starts = bucket_starts(window, interval) if interval else [window.start]
    needed = _needed(entity, filters) | columns
    scopes, params = filters.where()
    # Authors come from the model row: join it only when they are read.
    via_model = [d.name for d in schema.DIMENSIONS if d.model_column]
    reads_model_row = entity in via_model or any(getattr(filters, name) is not None for name in via_model)
    join = sql.SQL(" JOIN rankings_llmmodel m ON m.id = u.model_id" if reads_model_row else "")
    # Private apps are few: a hashed anti-join on their ids beats joining every app.
    private = sql.SQL(
        " AND u.app_id NOT IN (SELECT id FROM rankings_app WHERE NOT is_public)" if public_apps_only else ""
    )
    # A narrow grain's row of date D goes to the bucket holding D in the window's zone (see
    # Window.whole_days); the cube's days are whole days of the built zone inside a bucket.
    zone = window.zone if grain is not None else zones.built_zone()
    name = f"{prefix}starts"
    params.update({name: starts, f"{name}_days": [_first_day(s, zone) for s in starts]})
    if grain is not None:
        pieces = [Piece(grain, *day_bounds(window, zone))]
    else:
        weeks = interval in (None, "week")
        pieces = cover(window, starts[1:], needed, weeks=weeks)
    ranges = []
    for n, piece in enumerate(pieces):
        first, last = f"{prefix}p{n}_first", f"{prefix}p{n}_last"
        params.update({first: piece.first, last: piece.last})
        ranges.append(
            sql.SQL("{table} WHERE bucket >= {first} AND bucket < {last}").format(
                table=piece.grain.name, first=sql.Placeholder(first), last=sql.Placeholder(last)
            )
        )
    if len(pieces) == 1:
        rows = sql.SQL("{table} u").format(table=pieces[0].grain.name)
        where = sql.SQL("u.bucket >= {} AND u.bucket < {}").format(
            sql.Placeholder(f"{prefix}p0_first"), sql.Placeholder(f"{prefix}p0_last")
        )
        position = _position(pieces[0].grain, name, "u")
    else:
        # Each run of a grain, its rows with the columns read and their bucket's position.
        # Every column all the runs' grains have (at least what the read needs).
        listed = names(sorted(set.intersection(*(set(p.grain.columns[1:]) for p in pieces))))
        measures = names(m.column for m in schema.MEASURES)
        rows = sql.SQL("({}) u").format(
            sql.SQL(" UNION ALL ").join(
                sql.SQL("SELECT {columns}, {measures}, {position} AS position FROM {range}").format(
                    columns=listed,
                    measures=measures,
                    position=_position(piece.grain, name),
                    range=range_,
                )
                for piece, range_ in zip(pieces, ranges, strict=True)
            )
        )
        where = sql.SQL("TRUE")
        position = sql.SQL("u.position")
    composed = sql.SQL(" FROM {rows}{join} WHERE {where}{scopes}{private}").format(
        rows=rows, join=join, where=where, scopes=scopes, private=private
    )
    return Source(composed, params, position, starts)
