"""Cost per session: the median and 90th percentile of what a session costs (or of the
metric asked for) by harness x model x number of turns, and how many turns sessions take.

A session is an app's ``session_id`` (kept as its hash) with one model; its turns and cost are the sums of its
rows in the window's whole UTC days (``ingest_usagesession``: one row per day it was
active), so percentiles are computed in SQL at read time over exact per-session sums
(docs/decisions.md). A harness left unnamed is the app. Private apps' sessions never show.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from psycopg import sql

from ingest import schema
from ingest.rollups import read
from ingest.rollups.grains import SESSIONS, read_cursor
from ingest.rollups.read import Filters
from ingest.rollups.windows import Window
from rankings.selectors.entities import entities_of

ALL = "all"
TURN_RANGES = tuple(label for label, _, _ in schema.TURN_RANGES)
# The metrics a session row can sum.
METRICS = tuple(
    m.name
    for m in schema.METRICS
    if set(m.columns) <= {measure.column for measure in schema.SESSION_MEASURES}
)
_TURN_RANGE = sql.SQL(
    "CASE {} END".format(
        " ".join(f"WHEN turns <= {last} THEN '{label}'" for label, _, last in schema.TURN_RANGES if last)
        + f" ELSE '{schema.TURN_RANGES[-1][0]}'"
    )
)


@dataclass
class Stats:
    sessions: int
    total: float  # the metric over every session
    median: float
    p90: float
    median_cost: float
    p90_cost: float
    median_turns: float


@dataclass
class SessionGroup:
    """A harness (a name, or an app when unnamed) with a model: all its sessions and per
    turn range."""

    app_id: int | None
    harness: str
    model_id: int
    all: Stats
    by_turns: dict[str, Stats] = field(default_factory=dict)
    app: Any = None
    model: Any = None


@dataclass
class SessionReport:
    window: Window
    metric: str
    rows: list[SessionGroup]  # a page of harness x model groups
    count: int  # harness x model groups in the window
    overall: Stats | None
    by_turns: dict[str, Stats]  # every session, per turn range


# Per session (app, harness, id, model) its turns, the metric and cost summed over its rows in
# the window (a range of the table's primary key, bucket first, or its (app, bucket) index
# for an app's sessions); the harness x model groups ranked by the metric, and percentiles
# only for the page of groups asked for (per turn range and all their sessions), then per turn
# range and over every session. Each row also carries the number of groups.
_PERCENTILES = sql.SQL(
    "WITH s AS (SELECT u.app_id, u.harness, u.session_key, u.model_id, sum(u.requests)::int8 AS turns, "
    "sum({metric})::float8 AS v, sum(u.cost)::float8 AS c{source}{harness} GROUP BY 1, 2, 3, 4), "
    "r AS MATERIALIZED (SELECT CASE WHEN harness = '' THEN app_id END AS app_id, harness, model_id, "
    "{turn_range} AS turn_range, turns, v, c FROM s), "
    "g AS MATERIALIZED (SELECT app_id, harness, model_id, sum(v) AS total FROM r GROUP BY 1, 2, 3), "
    "page AS (SELECT * FROM g ORDER BY total DESC, harness, coalesce(app_id, 0), model_id "
    "LIMIT %(limit)s OFFSET %(offset)s) "
    "SELECT r.app_id, r.harness, r.model_id, r.turn_range, GROUPING(r.turn_range), {stats} "
    "FROM r JOIN page p ON p.harness = r.harness AND p.model_id = r.model_id "
    "AND p.app_id IS NOT DISTINCT FROM r.app_id "
    "GROUP BY GROUPING SETS ((r.app_id, r.harness, r.model_id, r.turn_range), (r.app_id, r.harness, r.model_id)) "
    "UNION ALL SELECT NULL, NULL, NULL, turn_range, 2 + GROUPING(turn_range), {stats} FROM r "
    "GROUP BY GROUPING SETS ((turn_range), ())"
)
_STATS = sql.SQL(
    "count(*), sum(v), percentile_cont(0.5) WITHIN GROUP (ORDER BY v), "
    "percentile_cont(0.9) WITHIN GROUP (ORDER BY v), percentile_cont(0.5) WITHIN GROUP (ORDER BY c), "
    "percentile_cont(0.9) WITHIN GROUP (ORDER BY c), percentile_cont(0.5) WITHIN GROUP (ORDER BY turns), "
    "(SELECT count(*) FROM g)"
)


def session_report(
    window: Window,
    *,
    metric: str = "cost",
    filters: Filters | None = None,
    harness: str | None = None,
    limit: int | None = 10,
    offset: int = 0,
) -> SessionReport:
    """Sessions active in ``window`` (scoped by ``filters``: a model or an app; and by a named
    ``harness``): the top ``limit`` harness x model groups by the metric, with percentiles of
    ``metric`` (one of ``METRICS``) and of cost per session, overall and per turn range."""
    window = window.whole_days()
    source = read.source(window, filters or Filters(), public_apps_only=True, grain=SESSIONS)
    query = _PERCENTILES.format(
        metric=read.metric_sum(metric),
        source=source.sql,
        harness=sql.SQL(" AND u.harness = %(harness)s" if harness is not None else ""),
        turn_range=_TURN_RANGE,
        stats=_STATS,
    )
    with read_cursor() as cursor:
        cursor.execute(query, {**source.params, "harness": harness, "limit": limit, "offset": offset})
        raw = cursor.fetchall()
    groups: dict[tuple, SessionGroup] = {}
    by_turns: dict[str, Stats] = {}
    overall = None
    count = 0
    for app_id, name, model_id, turns, grouping, *numbers, groups_count in raw:
        count = groups_count
        if not numbers[0]:
            continue  # the overall row of a window without sessions
        stats = Stats(int(numbers[0]), *(float(n) for n in numbers[1:]))
        if grouping < 2:  # a group of the page: one of its turn ranges, or (1) all its sessions
            group = groups.setdefault((app_id, name, model_id), SessionGroup(app_id, name, model_id, stats))
            if grouping == 0:
                group.by_turns[turns] = stats
            else:
                group.all = stats
        elif grouping == 2:
            by_turns[turns] = stats
        else:
            overall = stats
    page = sorted(groups.values(), key=lambda g: (-g.all.total, g.harness, g.app_id or 0, g.model_id))
    apps = entities_of("app", (g.app_id for g in page if g.app_id is not None))
    models = entities_of("model", (g.model_id for g in page))
    for group in page:
        group.app, group.model = apps.get(group.app_id), models.get(group.model_id)
    ordered_turns = {label: by_turns[label] for label in TURN_RANGES if label in by_turns}
    return SessionReport(window, metric, page, count, overall, ordered_turns)
