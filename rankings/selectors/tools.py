"""Tool calls: models (or models x providers, or a model's providers) ranked by the tool
calls of their requests, with the share of calls that failed, by kind (invalid JSON, unknown
tool, schema mismatch, other)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from psycopg import sql

from ingest import schema
from ingest.rollups import read
from ingest.rollups.grains import TOOL_DAILY, read_cursor
from ingest.rollups.read import Filters
from ingest.rollups.windows import Window
from rankings.selectors.entities import entities_of

KINDS = tuple(kind for kind, _ in schema.TOOL_ERROR_KINDS)
GROUPINGS = {"model": ("model",), "provider": ("provider",), "model_provider": ("model", "provider")}


@dataclass
class ToolRow:
    rank: int
    keys: tuple[Any, ...]
    tool_calls: int
    failures: dict[str, int]
    requests: int  # requests that made tool calls
    value: float  # the metric over those requests
    share: float  # of the window's tool calls
    entities: dict[str, Any] = field(default_factory=dict)

    @property
    def errors(self) -> int:
        return sum(self.failures.values())

    @property
    def error_rate(self) -> float:
        return self.errors / self.tool_calls if self.tool_calls else 0.0

    @property
    def kind_rates(self) -> dict[str, float]:
        return {kind: n / self.tool_calls if self.tool_calls else 0.0 for kind, n in self.failures.items()}


@dataclass
class ToolRanking:
    window: Window
    metric: str
    by: str
    rows: list[ToolRow]
    total: int  # tool calls in the window
    count: int


# Tool calls, failures by kind, requests and the metric per key, ranked by tool calls with
# the window's total and the number of keys; the source brings the grain (a range of its
# primary key, or its (model, bucket) index for a model's providers).
_RANKING = sql.SQL(
    "SELECT {keys}, sum(u.tool_calls), {kinds}, sum(u.requests), sum({metric}), "
    "sum(sum(u.tool_calls)) OVER (), count(*) OVER (){source} GROUP BY {positions} "
    "ORDER BY {calls} DESC, {positions} LIMIT %(limit)s OFFSET %(offset)s"
)


def tool_ranking(
    window: Window,
    *,
    by: str = "model",
    metric: str = "tokens",
    filters: Filters | None = None,
    limit: int | None = 10,
    offset: int = 0,
) -> ToolRanking:
    """Entries of ``by`` (``GROUPINGS``) ranked by tool calls in the whole UTC days of
    ``window``."""
    names = GROUPINGS[by]
    window = window.whole_days()
    source = read.source(window, filters or Filters(), grain=TOOL_DAILY)
    query = _RANKING.format(
        keys=sql.SQL(", ").join(read.key(name) for name in names),
        kinds=sql.SQL(", ").join(
            sql.SQL("sum({})").format(sql.Identifier("u", f"tool_errors_{k}")) for k in KINDS
        ),
        metric=read.metric_sum(metric),
        source=source.sql,
        positions=sql.SQL(", ".join(str(n) for n in range(1, len(names) + 1))),
        calls=sql.Literal(len(names) + 1),
    )
    with read_cursor() as cursor:
        cursor.execute(query, {**source.params, "limit": limit, "offset": offset})
        raw = cursor.fetchall()
    n = len(names)
    total = int(raw[0][-2]) if raw else 0
    rows = [
        ToolRow(
            rank=offset + position,
            keys=tuple(r[:n]),
            tool_calls=int(r[n]),
            failures={
                kind: int(count) for kind, count in zip(KINDS, r[n + 1 : n + 1 + len(KINDS)], strict=True)
            },
            requests=int(r[-4]),
            value=float(r[-3]),
            share=int(r[n]) / total if total else 0.0,
        )
        for position, r in enumerate(raw, start=1)
    ]
    for i, name in enumerate(names):
        found = entities_of(name, (row.keys[i] for row in rows))
        for row in rows:
            row.entities[name] = found.get(row.keys[i])
    return ToolRanking(window, metric, by, rows, total, raw[0][-1] if raw else 0)
